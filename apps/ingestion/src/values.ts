import { typesV1 } from '@larder/proto';
import { valueTypeName } from '@larder/core';
import { valueToCell } from '@larder/offline-store';
import { eventMsFromMicros, eventMsFromParts } from '@larder/online-store';
import type { Cell } from '@larder/offline-store';

const T = typesV1.ValueType;
type Value = typesV1.Value;
type ValueCase = NonNullable<Value['val']['case']>;

/** A value that does not fit its column; the message names what was expected and found. */
export class ValueError extends Error {}

// Values are plain objects: protobuf-es v2 messages are, and a literal is far
// cheaper than create() on the hot path (10 values per event at 50k events/s).
const value = (val: Value['val']): Value => ({ $typeName: 'larder.types.v1.Value', val }) as Value;
export const NULL_VALUE: Value = value({ case: 'nullVal', value: typesV1.Null.UNSPECIFIED });

const SCALAR_CASE: Partial<Record<typesV1.ValueType, ValueCase>> = {
  [T.BYTES]: 'bytesVal',
  [T.STRING]: 'stringVal',
  [T.INT32]: 'int32Val',
  [T.INT64]: 'int64Val',
  [T.DOUBLE]: 'doubleVal',
  [T.FLOAT]: 'floatVal',
  [T.BOOL]: 'boolVal',
  [T.UNIX_TIMESTAMP]: 'unixTimestampVal',
};
const LIST: Partial<Record<typesV1.ValueType, { case: ValueCase; typeName: string; element: typesV1.ValueType }>> = {
  [T.BYTES_LIST]: { case: 'bytesListVal', typeName: 'larder.types.v1.BytesList', element: T.BYTES },
  [T.STRING_LIST]: { case: 'stringListVal', typeName: 'larder.types.v1.StringList', element: T.STRING },
  [T.INT32_LIST]: { case: 'int32ListVal', typeName: 'larder.types.v1.Int32List', element: T.INT32 },
  [T.INT64_LIST]: { case: 'int64ListVal', typeName: 'larder.types.v1.Int64List', element: T.INT64 },
  [T.DOUBLE_LIST]: { case: 'doubleListVal', typeName: 'larder.types.v1.DoubleList', element: T.DOUBLE },
  [T.FLOAT_LIST]: { case: 'floatListVal', typeName: 'larder.types.v1.FloatList', element: T.FLOAT },
  [T.BOOL_LIST]: { case: 'boolListVal', typeName: 'larder.types.v1.BoolList', element: T.BOOL },
  [T.UNIX_TIMESTAMP_LIST]: { case: 'unixTimestampListVal', typeName: 'larder.types.v1.Int64List', element: T.UNIX_TIMESTAMP },
};

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INTEGER = /^-?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function describe(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'a list';
  if (raw instanceof Uint8Array) return 'bytes';
  if (raw instanceof Date) return 'a timestamp';
  if (typeof raw === 'string') return `string ${JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw)}`;
  // A bigint is an integer a decoder kept exact (JSON beyond 2^53, Avro and Protobuf longs): a number to the sender.
  if (typeof raw === 'number' || typeof raw === 'bigint') return `number ${String(raw)}`;
  if (typeof raw === 'boolean') return `boolean ${String(raw)}`;
  return typeof raw;
}

/** `INT64`, as the contract's messages spell types. */
export const typeLabel = (type: typesV1.ValueType): string => valueTypeName(type).toUpperCase();

const mismatch = (type: typesV1.ValueType, raw: unknown): ValueError => new ValueError(`expected ${typeLabel(type)}, got ${describe(raw)}`);

/** A number that may be seconds, milliseconds or microseconds since the epoch, as milliseconds (by magnitude). */
export function epochToMillis(n: number): number {
  const abs = Math.abs(n);
  if (abs < 1e11) return n * 1000; // seconds: until the year 5138
  if (abs < 1e14) return n; // milliseconds
  return n / 1000; // microseconds
}

const ZONELESS = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/;

/**
 * A point in time as milliseconds since the epoch, microseconds kept in the fraction
 * (sub-microsecond digits dropped): a Date, epoch seconds /
 * milliseconds / microseconds (by magnitude), an RFC 3339 string (a string
 * without a zone is UTC), or a google.protobuf.Timestamp-like object.
 */
export function toMillis(raw: unknown): number {
  let ms: number;
  if (raw instanceof Date) ms = raw.getTime();
  else if (typeof raw === 'number') ms = epochToMillis(raw);
  else if (typeof raw === 'bigint') ms = epochToMillis(Number(raw));
  else if (typeof raw === 'string') {
    const text = raw.trim();
    if (INTEGER.test(text) || /^-?\d+\.\d+$/.test(text)) ms = epochToMillis(Number(text));
    else {
      ms = Date.parse(ZONELESS.test(text) ? `${text.replace(' ', 'T')}${text.length === 10 ? 'T00:00:00' : ''}Z` : text);
      // Date.parse stops at milliseconds; the fraction's 4th to 6th digits are microseconds.
      const fraction = /:\d\d\.\d{3}(\d{1,3})/.exec(text);
      if (fraction !== null) ms += Number(fraction[1]!.padEnd(3, '0')) / 1000;
    }
  } else if (typeof raw === 'object' && raw !== null && 'seconds' in raw) {
    const ts = raw as { seconds: bigint | number | string; nanos?: number };
    return checkedEventMs(eventMsFromParts(Number(ts.seconds), ts.nanos ?? 0), raw);
  } else {
    throw new ValueError(`expected a timestamp, got ${describe(raw)}`);
  }
  return checkedEventMs(eventMsFromMicros(Math.round(ms * 1000)), raw);
}

/** An event time (ms with microseconds in the fraction, as the online store keeps it), or a ValueError. */
function checkedEventMs(ms: number, raw: unknown): number {
  if (!Number.isFinite(ms)) throw new ValueError(`expected a timestamp, got ${describe(raw)}`);
  return ms;
}

/** A decoded message field (JSON, Avro, Protobuf) as a Value of the declared type; null and undefined become a null Value. */
export function rawToValue(type: typesV1.ValueType, raw: unknown): Value {
  if (raw === null || raw === undefined) return NULL_VALUE;
  const list = LIST[type];
  if (list !== undefined) {
    if (!Array.isArray(raw)) throw mismatch(type, raw);
    const val = raw.map((item: unknown, i) => {
      if (item === null || item === undefined) throw new ValueError(`expected ${typeLabel(type)}, got null at element ${i}`);
      return scalar(list.element, item);
    });
    return value({ case: list.case, value: { $typeName: list.typeName, val } } as Value['val']);
  }
  const c = SCALAR_CASE[type];
  if (c === undefined) throw new ValueError(`cannot write values of type ${typeLabel(type)}`);
  return value({ case: c, value: scalar(type, raw) } as Value['val']);
}

function scalar(type: typesV1.ValueType, raw: unknown): unknown {
  switch (type) {
    case T.STRING:
      if (typeof raw === 'string') return raw;
      break;
    case T.BYTES:
      if (raw instanceof Uint8Array) return raw;
      if (typeof raw === 'string') return new Uint8Array(Buffer.from(raw, 'base64'));
      break;
    case T.BOOL:
      if (typeof raw === 'boolean') return raw;
      break;
    case T.DOUBLE:
    case T.FLOAT:
      if (typeof raw === 'number') return finite(raw);
      if (typeof raw === 'bigint') return finite(Number(raw));
      break;
    case T.INT32: {
      const n = typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : typeof raw === 'string' && INTEGER.test(raw) ? Number(raw) : NaN;
      if (Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX) return n;
      break;
    }
    case T.INT64: {
      const n =
        typeof raw === 'bigint'
          ? raw
          : typeof raw === 'number' && Number.isSafeInteger(raw)
            ? BigInt(raw)
            : typeof raw === 'string' && INTEGER.test(raw)
              ? BigInt(raw)
              : undefined;
      // Beyond int64 no store can hold it (the encoders would throw later, an internal error).
      if (n !== undefined && n >= INT64_MIN && n <= INT64_MAX) return n;
      break;
    }
    case T.UNIX_TIMESTAMP:
      try {
        return BigInt(Math.floor(toMillis(raw) / 1000));
      } catch {
        break;
      }
    default:
      break;
  }
  throw mismatch(type, raw);
}

/**
 * NaN and ±Infinity are refused as feature values: stored, they would be
 * served to models as if measured, and JSON (the HTTP gateway, Feast's
 * clients) has no way to write them. A missing value is null. JSON numbers
 * beyond the double range (1e400) read as Infinity and are refused too.
 */
function finite(n: number): number {
  if (Number.isFinite(n)) return n;
  throw new ValueError(`${String(n)} is not a finite number (NaN and ±Infinity are not stored; send null for a missing value)`);
}

function checkFinite(v: Value): Value {
  const { case: c, value: raw } = v.val;
  if (c === 'doubleVal' || c === 'floatVal') finite(raw);
  else if (c === 'doubleListVal' || c === 'floatListVal') {
    raw.val.forEach((n, i) => {
      if (!Number.isFinite(n)) throw new ValueError(`${String(n)} at element ${i} is not a finite number (NaN and ±Infinity are not stored)`);
    });
  }
  return v;
}

/**
 * A typed Value (gRPC Push / WriteToOnlineStore) checked against the declared
 * type. Lossless widenings are accepted (INT32 into INT64 or DOUBLE, FLOAT
 * into DOUBLE); anything else of another type is rejected, not converted.
 */
export function checkValue(type: typesV1.ValueType, v: Value | undefined): Value {
  const got = v?.val.case;
  if (v === undefined || got === undefined || got === 'nullVal') return NULL_VALUE;
  const expected = SCALAR_CASE[type] ?? LIST[type]?.case;
  if (got === expected) return checkFinite(v);
  if (type === T.INT64 && got === 'int32Val') return value({ case: 'int64Val', value: BigInt(v.val.value as number) });
  if (type === T.DOUBLE && (got === 'int32Val' || got === 'floatVal')) return value({ case: 'doubleVal', value: finite(v.val.value as number) });
  throw new ValueError(`expected ${typeLabel(type)}, got ${caseTypeName(got)}`);
}

function caseTypeName(c: ValueCase): string {
  for (const [type, name] of Object.entries(SCALAR_CASE)) if (name === c) return typeLabel(Number(type) as typesV1.ValueType);
  for (const [type, list] of Object.entries(LIST)) if (list?.case === c) return typeLabel(Number(type) as typesV1.ValueType);
  return c;
}

/** A Value as an offline-store cell of the declared type. */
export function typedCell(type: typesV1.ValueType, v: Value): Cell {
  const raw = valueToCell(v);
  if (raw === null) return null;
  if (type === T.INT32 || type === T.FLOAT || type === T.DOUBLE) return Number(raw);
  if (type === T.INT64) return BigInt(raw as bigint);
  if (type === T.INT32_LIST || type === T.FLOAT_LIST || type === T.DOUBLE_LIST) return (raw as unknown[]).map(Number);
  return raw as Cell;
}
