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
