import { create } from '@bufbuild/protobuf';
import { valueTypeName } from '@larder/core';
import type { TypedName } from '@larder/core';
import { feastJson, typesV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';

const T = typesV1.ValueType;
type Value = typesV1.Value;
type Val = Value['val'];

/** A JSON value as it was sent; integers beyond 2^53 are bigints here, which JSON.stringify refuses. */
function show(got: unknown): string | undefined {
  if (typeof got === 'bigint') return String(got);
  if (Array.isArray(got)) return `[${got.map((item) => show(item) ?? 'null').join(',')}]`;
  return JSON.stringify(got, (_key, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
}

function bad(where: string, type: typesV1.ValueType, got: unknown): RpcError {
  const shown = show(got);
  return new RpcError(
    Code.INVALID_ARGUMENT,
    `${where}: expected ${valueTypeName(type)} but got ${shown === undefined ? typeof got : shown.length > 40 ? `${shown.slice(0, 40)}...` : shown}`,
  );
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function integer(where: string, type: typesV1.ValueType, raw: unknown): bigint {
  // The body's integers beyond 2^53 arrive as bigints (parseJsonLossless); a number is exact only up to there.
  let v: bigint | undefined;
  if (typeof raw === 'bigint') v = raw;
  else if (typeof raw === 'number' && Number.isSafeInteger(raw)) v = BigInt(raw);
  else if (typeof raw === 'string' && /^-?\d+$/.test(raw)) v = BigInt(raw);
  // Beyond int64 the protobuf encoder would throw later, an INTERNAL error (HTTP 500).
  if (v === undefined || v < INT64_MIN || v > INT64_MAX) throw bad(where, type, raw);
  return v;
}

function scalar(where: string, type: typesV1.ValueType, raw: unknown): Val {
  switch (type) {
    case T.INT64:
      return { case: 'int64Val', value: integer(where, type, raw) };
    case T.UNIX_TIMESTAMP:
      return { case: 'unixTimestampVal', value: integer(where, type, raw) };
    case T.INT32: {
      const v = integer(where, type, raw);
      if (v < -(2n ** 31n) || v >= 2n ** 31n) throw bad(where, type, raw);
      return { case: 'int32Val', value: Number(v) };
    }
    case T.DOUBLE:
    case T.FLOAT: {
      const n = typeof raw === 'bigint' ? Number(raw) : raw;
      if (typeof n !== 'number') throw bad(where, type, raw);
      return type === T.DOUBLE ? { case: 'doubleVal', value: n } : { case: 'floatVal', value: n };
    }
    case T.STRING:
      if (typeof raw !== 'string') throw bad(where, type, raw);
      return { case: 'stringVal', value: raw };
    case T.BYTES:
      if (typeof raw !== 'string') throw bad(where, type, raw);
      return { case: 'bytesVal', value: Buffer.from(raw, 'base64') };
    case T.BOOL:
      if (typeof raw !== 'boolean') throw bad(where, type, raw);
      return { case: 'boolVal', value: raw };
    default:
      throw bad(where, type, raw);
  }
}

const LIST_ELEMENT: ReadonlyMap<typesV1.ValueType, typesV1.ValueType> = new Map([
  [T.BYTES_LIST, T.BYTES],
  [T.STRING_LIST, T.STRING],
  [T.INT32_LIST, T.INT32],
  [T.INT64_LIST, T.INT64],
  [T.DOUBLE_LIST, T.DOUBLE],
  [T.FLOAT_LIST, T.FLOAT],
  [T.BOOL_LIST, T.BOOL],
  [T.UNIX_TIMESTAMP_LIST, T.UNIX_TIMESTAMP],
]);

/** A JSON value as a Value of the declared type (null -> null_val); throws INVALID_ARGUMENT naming `where`. */
export function valueFromJson(where: string, type: typesV1.ValueType, raw: unknown): Value {
  if (raw === null) return create(typesV1.ValueSchema, { val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } });
  const element = LIST_ELEMENT.get(type);
  if (element === undefined) return create(typesV1.ValueSchema, { val: scalar(where, type, raw) });
  if (!Array.isArray(raw)) throw bad(where, type, raw);
  const items = raw.map((item, i) => scalar(`${where}[${i}]`, element, item).value);
  const caseName = (
    {
      [T.BYTES_LIST]: 'bytesListVal',
      [T.STRING_LIST]: 'stringListVal',
      [T.INT32_LIST]: 'int32ListVal',
      [T.INT64_LIST]: 'int64ListVal',
      [T.DOUBLE_LIST]: 'doubleListVal',
      [T.FLOAT_LIST]: 'floatListVal',
      [T.BOOL_LIST]: 'boolListVal',
      [T.UNIX_TIMESTAMP_LIST]: 'unixTimestampListVal',
    } as Record<number, string>
  )[type] as string;
  return create(typesV1.ValueSchema, { val: { case: caseName, value: { val: items } } as Val });
}

// Stands for each value of a column the plan does not use: serving never reads them,
// but it counts their rows and names them, as it does for the same request over gRPC.
const UNUSED_VALUE: Value = create(typesV1.ValueSchema);

/**
 * JSON columns -> Value columns for the named fields. Columns not in `fields` are not
 * converted (Feast ignores them too) but keep their length, so the checks that serving
 * shares with gRPC (row counts, missing join keys) answer with the same message.
 */
export function columnsFromJson(where: string, json: unknown, fields: readonly TypedName[]): Record<string, Value[]> {
  if (json === undefined || json === null) return {};
  if (typeof json !== 'object' || Array.isArray(json))
    throw new RpcError(Code.INVALID_ARGUMENT, `${where}: expected an object of column name -> list of values`);
  const out: Record<string, Value[]> = {};
  const columns = json as Record<string, unknown>;
  for (const [name, values] of Object.entries(columns)) {
    if (!Array.isArray(values)) throw new RpcError(Code.INVALID_ARGUMENT, `${where}['${name}']: expected a list with one value per entity row`);
    const field = fields.find((f) => f.name === name);
    if (field === undefined) {
      out[name] = new Array<Value>(values.length).fill(UNUSED_VALUE);
      continue;
    }
    out[name] = values.map((raw, i) => valueFromJson(`${where}['${name}'][${i}]`, field.valueType, raw));
  }
  return out;
}

/** The response in the JSON shape of Feast's `POST /get-online-features` (one writer, shared with the CLI). */
export const responseToJson = feastJson.onlineResponseToJson;
export const responseToFeastJsonText = feastJson.onlineResponseToFeastJsonText;
