import { create } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { valueTypeName } from '@larder/core';
import type { TypedName } from '@larder/core';
import { typesV1 } from '@larder/proto';
import type { servingV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';

const T = typesV1.ValueType;
type Value = typesV1.Value;
type Val = Value['val'];

const STATUS_NAMES: Record<number, string> = { 0: 'INVALID', 1: 'PRESENT', 2: 'NULL_VALUE', 3: 'NOT_FOUND', 4: 'OUTSIDE_MAX_AGE' };

function bad(where: string, type: typesV1.ValueType, got: unknown): RpcError {
  const shown = JSON.stringify(got);
  return new RpcError(Code.INVALID_ARGUMENT, `${where}: expected ${valueTypeName(type)} but got ${shown === undefined ? typeof got : shown.length > 40 ? `${shown.slice(0, 40)}...` : shown}`);
}

function integer(where: string, type: typesV1.ValueType, raw: unknown): bigint {
  if (typeof raw === 'number' && Number.isInteger(raw)) return BigInt(raw);
  if (typeof raw === 'string' && /^-?\d+$/.test(raw)) return BigInt(raw);
  throw bad(where, type, raw);
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
    case T.FLOAT:
      if (typeof raw !== 'number') throw bad(where, type, raw);
      return type === T.DOUBLE ? { case: 'doubleVal', value: raw } : { case: 'floatVal', value: raw };
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
  const caseName = ({
    [T.BYTES_LIST]: 'bytesListVal',
    [T.STRING_LIST]: 'stringListVal',
    [T.INT32_LIST]: 'int32ListVal',
    [T.INT64_LIST]: 'int64ListVal',
    [T.DOUBLE_LIST]: 'doubleListVal',
    [T.FLOAT_LIST]: 'floatListVal',
    [T.BOOL_LIST]: 'boolListVal',
    [T.UNIX_TIMESTAMP_LIST]: 'unixTimestampListVal',
  } as Record<number, string>)[type] as string;
  return create(typesV1.ValueSchema, { val: { case: caseName, value: { val: items } } as Val });
}

/** JSON columns -> Value columns for the named fields; columns not in `fields` are left out (Feast ignores them too). */
export function columnsFromJson(where: string, json: unknown, fields: readonly TypedName[]): Record<string, Value[]> {
  if (json === undefined || json === null) return {};
  if (typeof json !== 'object' || Array.isArray(json)) throw new RpcError(Code.INVALID_ARGUMENT, `${where}: expected an object of column name -> list of values`);
  const out: Record<string, Value[]> = {};
  const columns = json as Record<string, unknown>;
  for (const [name, values] of Object.entries(columns)) {
    if (!Array.isArray(values)) throw new RpcError(Code.INVALID_ARGUMENT, `${where}['${name}']: expected a list with one value per entity row`);
    const field = fields.find((f) => f.name === name);
    if (field === undefined) continue;
    out[name] = values.map((raw, i) => valueFromJson(`${where}['${name}'][${i}]`, field.valueType, raw));
  }
  return out;
}

function number(n: number): number | string {
  if (Number.isFinite(n)) return n;
  return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
}

function int64(n: bigint): number | string {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}

/** A Value as Feast's feature server writes it: native JSON, null for unset and null, bytes in base64. */
export function valueToJson(v: Value): unknown {
  const val = v.val;
  switch (val.case) {
    case undefined:
    case 'nullVal':
      return null;
    case 'int64Val':
    case 'unixTimestampVal':
      return int64(val.value);
    case 'doubleVal':
    case 'floatVal':
      return number(val.value);
    case 'bytesVal':
      return Buffer.from(val.value).toString('base64');
    case 'stringVal':
    case 'int32Val':
    case 'boolVal':
      return val.value;
    case 'int64ListVal':
    case 'unixTimestampListVal':
      return val.value.val.map(int64);
    case 'doubleListVal':
    case 'floatListVal':
      return val.value.val.map(number);
    case 'bytesListVal':
      return val.value.val.map((b) => Buffer.from(b).toString('base64'));
    default:
      return [...val.value.val];
  }
}

/** RFC 3339 in UTC with as many fraction digits as needed (none, 3, 6 or 9), as protobuf JSON does. */
export function timestampToJson(ts: Timestamp): string {
  const base = new Date(Number(ts.seconds) * 1000).toISOString().slice(0, 19);
  const nanos = ts.nanos;
  if (nanos === 0) return `${base}Z`;
  if (nanos % 1_000_000 === 0) return `${base}.${String(nanos / 1_000_000).padStart(3, '0')}Z`;
  if (nanos % 1_000 === 0) return `${base}.${String(nanos / 1_000).padStart(6, '0')}Z`;
  return `${base}.${String(nanos).padStart(9, '0')}Z`;
}

/** The response in the JSON shape of Feast's `POST /get-online-features`. */
export function responseToJson(response: servingV1.GetOnlineFeaturesResponse): unknown {
  return {
    metadata: { feature_names: response.metadata?.featureNames?.val ?? [] },
    results: response.results.map((r) => ({
      values: r.values.map(valueToJson),
      statuses: r.statuses.map((s) => STATUS_NAMES[s] ?? 'INVALID'),
      event_timestamps: r.eventTimestamps.map(timestampToJson),
    })),
  };
}

