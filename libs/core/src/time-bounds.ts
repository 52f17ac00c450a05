// Bounds on client-given times. A time far in the future is never a fact
// yet: stored as an event time it would win "last writer wins" forever, and
// as a materialization watermark it would make incremental runs skip data.

/** How far ahead of the receiving server's clock a time may be by default (clocks drift). */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;

/**
 * The one setting for that bound, shared by every service's config schema
 * (ingestion push and Kafka, materialization ranges, the registry's
 * watermarks): `futureSkew: duration(FUTURE_SKEW_SETTING)`.
 */
export const FUTURE_SKEW_SETTING = {
  default: DEFAULT_MAX_FUTURE_SKEW_MS,
  min: 0,
  env: 'LARDER_MAX_FUTURE_SKEW',
  doc: "How far ahead of this server's clock an event time, a materialization end time or a watermark may be (clock skew between writers and servers); later ones are refused.",
} as const;

/** Why `ms` is too far ahead of `nowMs`, or undefined when it is not. */
export function futureTimeProblem(what: string, ms: number, nowMs: number, maxSkewMs: number): string | undefined {
  if (ms - nowMs <= maxSkewMs) return undefined;
  return `${what} ${isoOrMs(ms)} is ahead of now (${new Date(nowMs).toISOString()}) by more than the allowed ${formatSkew(maxSkewMs)} (LARDER_MAX_FUTURE_SKEW)`;
}

// google.protobuf.Timestamp's documented range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/** A client's Timestamp outside what a Timestamp may hold, or with bad nanos. */
export class TimestampRangeError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/**
 * A google.protobuf.Timestamp as epoch milliseconds, or a TimestampRangeError
 * naming `field`. protobuf-es's timestampDate gives an Invalid Date for
 * 2^62 seconds, which would surface later as a RangeError (INTERNAL).
 */
export function timestampMs(ts: { readonly seconds: bigint; readonly nanos: number }, field: string): number {
  if (ts.seconds < MIN_SECONDS || ts.seconds > MAX_SECONDS) {
    throw new TimestampRangeError(field, `${ts.seconds} seconds is outside the Timestamp range (years 0001 to 9999)`);
  }
  if (!Number.isInteger(ts.nanos) || ts.nanos < 0 || ts.nanos > 999_999_999) {
    throw new TimestampRangeError(field, `nanos must be in [0, 999999999], got ${ts.nanos}`);
  }
  return Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000);
}

function isoOrMs(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms` : date.toISOString();
}

function formatSkew(ms: number): string {
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms > 0 && ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
