// The JSON shape of Feast's feature server (`POST /get-online-features`), written by
// the online-serving HTTP gateway and by `larder get-online-features --output json`.
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { GetOnlineFeaturesResponse } from './gen/larder/serving/v1/online_serving_service_pb';
import { FieldStatus } from './gen/larder/types/v1/feature_pb';
import type { Value } from './gen/larder/types/v1/value_pb';

// Feast calls status 0 INVALID where our proto says UNSPECIFIED.
const STATUS_NAMES: Record<number, string> = {
  [FieldStatus.PRESENT]: 'PRESENT',
  [FieldStatus.NULL_VALUE]: 'NULL_VALUE',
  [FieldStatus.NOT_FOUND]: 'NOT_FOUND',
  [FieldStatus.OUTSIDE_MAX_AGE]: 'OUTSIDE_MAX_AGE',
};

/** JSON has no NaN or infinities: they go as strings, as protobuf's JSON mapping writes them. */
function double(n: number): number | string {
  if (Number.isFinite(n)) return n;
  return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
}

/** The shortest decimal that reads back as the same float32: 0.123, not 0.12300000339746475. */
function float32(n: number): number | string {
  if (!Number.isFinite(n)) return double(n);
  for (let digits = 1; digits <= 9; digits++) {
    const short = Number(n.toPrecision(digits));
    if (Math.fround(short) === n) return short;
  }
  return n;
}

/** A number while it is exact in a double, the decimal string past that. */
function int64(n: bigint): number | string {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** A Value as Feast's feature server writes it: native JSON, null for unset and null, bytes in base64. */
export function valueToJson(value: Value): unknown {
  const val = value.val;
  switch (val.case) {
    case undefined:
    case 'nullVal':
      return null;
    case 'int64Val':
    case 'unixTimestampVal':
      return int64(val.value);
    case 'doubleVal':
      return double(val.value);
    case 'floatVal':
      return float32(val.value);
    case 'bytesVal':
      return base64(val.value);
    case 'stringVal':
    case 'int32Val':
    case 'boolVal':
      return val.value;
    case 'int64ListVal':
    case 'unixTimestampListVal':
      return val.value.val.map(int64);
    case 'doubleListVal':
      return val.value.val.map(double);
    case 'floatListVal':
      return val.value.val.map(float32);
    case 'bytesListVal':
      return val.value.val.map(base64);
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
export function onlineResponseToJson(response: GetOnlineFeaturesResponse): unknown {
  return {
    metadata: { feature_names: response.metadata?.featureNames?.val ?? [] },
    results: response.results.map((r) => ({
      values: r.values.map(valueToJson),
      statuses: r.statuses.map((s) => STATUS_NAMES[s] ?? 'INVALID'),
      event_timestamps: r.eventTimestamps.map(timestampToJson),
    })),
  };
}

/**
 * A double as Python's `repr` prints it, which is what Feast's feature server sends
 * (its JSON encoder is Python's json module): the shortest digits that read back as the
 * same double (JavaScript finds the same ones), a `.0` on whole numbers, and an exponent
 * (`1e-05`, `1.5e+16`) when the decimal point would fall more than 16 places left of
 * the end or 4 places right of the first digit.
 */
export function pythonFloatRepr(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const sign = n < 0 ? '-' : '';
  const [mantissa, exp] = Math.abs(n).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const point = Number(exp) + 1; // digits before the decimal point
  if (point > 16 || point < -3) {
    const e = point - 1;
    const rest = digits.length > 1 ? `.${digits.slice(1)}` : '';
    return `${sign}${digits[0] as string}${rest}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** A double as Feast writes it in JSON: Python's repr, NaN and infinities as strings. */
function feastDouble(n: number): string {
  return Number.isFinite(n) ? pythonFloatRepr(n) : JSON.stringify(double(n));
}

/** One list of doubles, as Feast writes it: all numbers, or (any non-finite) each finite one still a number. */
const feastDoubles = (list: readonly number[]): string => `[${list.map(feastDouble).join(',')}]`;
const ints = (list: readonly (number | bigint)[]): string => `[${list.map(String).join(',')}]`;

/**
 * A Value exactly as Feast 0.67's feature server writes it: float32 widened to the
 * double it is (0.10000000149011612), whole doubles with `.0`, int64 of any size as a
 * number, bytes in base64, unset and null as null.
 */
export function valueToFeastJsonText(value: Value): string {
  const val = value.val;
  switch (val.case) {
    case undefined:
    case 'nullVal':
      return 'null';
    case 'int64Val':
    case 'unixTimestampVal':
    case 'int32Val':
      return String(val.value);
    case 'doubleVal':
    case 'floatVal':
      return feastDouble(val.value);
    case 'boolVal':
      return val.value ? 'true' : 'false';
    case 'stringVal':
      return JSON.stringify(val.value);
    case 'bytesVal':
      return JSON.stringify(base64(val.value));
    case 'int64ListVal':
    case 'unixTimestampListVal':
    case 'int32ListVal':
      return ints(val.value.val);
    case 'doubleListVal':
    case 'floatListVal':
      return feastDoubles(val.value.val);
    case 'boolListVal':
      return JSON.stringify(val.value.val);
    case 'stringListVal':
      return JSON.stringify(val.value.val);
    case 'bytesListVal':
      return JSON.stringify(val.value.val.map(base64));
  }
}

/**
 * The body Feast 0.67's `POST /get-online-features` sends for this response, byte for
 * byte: `results` before `metadata`, compact separators, Feast's numbers (see
 * valueToFeastJsonText). Strings are escaped by JSON.stringify, which escapes what
 * Python's json.dumps(ensure_ascii=False) does.
 */
export function onlineResponseToFeastJsonText(response: GetOnlineFeaturesResponse): string {
  const results = response.results.map((r) => {
    const values = r.values.map(valueToFeastJsonText).join(',');
    const statuses = JSON.stringify(r.statuses.map((s) => STATUS_NAMES[s] ?? 'INVALID'));
    // Feast leaves out an empty event_timestamps list.
    const times = r.eventTimestamps.length === 0 ? '' : `,"event_timestamps":${JSON.stringify(r.eventTimestamps.map(timestampToJson))}`;
    return `{"values":[${values}],"statuses":${statuses}${times}}`;
  });
  const metadata =
    response.metadata === undefined
      ? ''
      : `,"metadata":${JSON.stringify(response.metadata.featureNames === undefined ? {} : { feature_names: response.metadata.featureNames.val })}`;
  return `{"results":[${results.join(',')}]${metadata}}`;
}
