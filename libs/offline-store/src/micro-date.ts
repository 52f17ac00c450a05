// Timestamps with microseconds. Engines store event times to the microsecond (so does
// Feast), but a JS Date stops at the millisecond. A MicroDate is a Date that also carries
// the microseconds below its millisecond: every `instanceof Date` check and every
// millisecond consumer (getTime, toISOString, messages) keeps working unchanged, and the
// readers and writers of each engine use the extra digits. Our own class rather than
// @google-cloud/precise-date: that one keeps its digits in strings and BigInts (slower to
// make one per row on the streaming paths), and changes toISOString, which messages use.

/** A Date carrying the microseconds below its millisecond. */
export class MicroDate extends Date {
  /** Microseconds past getTime(), 0..999. */
  readonly subMillisMicros: number;

  constructor(ms: number, subMillisMicros: number) {
    super(ms);
    this.subMillisMicros = subMillisMicros;
  }
}

/** The Date of a whole number of microseconds since the epoch (a plain Date when they fall on a millisecond). */
export function dateFromMicros(micros: number | bigint): Date {
  if (typeof micros === 'bigint') {
    const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
    const sub = Number(micros - ms * 1000n);
    return sub === 0 ? new Date(Number(ms)) : new MicroDate(Number(ms), sub);
  }
  const ms = Math.floor(micros / 1000);
  const sub = micros - ms * 1000;
  return sub === 0 ? new Date(ms) : new MicroDate(ms, sub);
}

/** The Date of milliseconds whose fraction carries microseconds (the online store's event-time numbers). */
export function dateFromMillis(ms: number): Date {
  return Number.isInteger(ms) ? new Date(ms) : dateFromMicros(Math.round(ms * 1000));
}

/** Microseconds below a Date's millisecond: 0 for a plain Date. */
export function subMillisMicros(date: Date): number {
  return date instanceof MicroDate ? date.subMillisMicros : 0;
}

/** Whole microseconds since the epoch. */
export function epochMicros(date: Date): number {
  return date.getTime() * 1000 + subMillisMicros(date);
}

/** Whole microseconds since the epoch, as a BigInt (DuckDB's TIMESTAMP). */
export function epochMicrosBigInt(date: Date): bigint {
  return BigInt(date.getTime()) * 1000n + BigInt(subMillisMicros(date));
}

/** Milliseconds since the epoch with the microseconds as the fraction (micros / 1000). */
export function epochMillis(date: Date): number {
  const sub = subMillisMicros(date);
  return sub === 0 ? date.getTime() : (date.getTime() * 1000 + sub) / 1000;
}

/** ISO 8601 in UTC with six fraction digits: `2026-01-01T00:00:00.123456Z`. */
export function isoMicros(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, -1)}${String(subMillisMicros(date)).padStart(3, '0')}Z`;
}

// Date and time, an optional fraction, an optional zone (Z, +hh, +hh:mm, +hhmm, +hh:mm:ss), optional BC.
const TIMESTAMP_TEXT = /^([+-]?\d{4,6})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?)?\s*(Z|[+-]\d\d(?::?\d\d(?::?\d\d)?)?)?( BC)?$/i;

/**
 * A timestamp written as text (ISO 8601, PostgreSQL's output, BigQuery's), digits past
 * the millisecond kept to the microsecond (finer ones dropped). Text without a zone is
 * UTC. Undefined when the text is not of that form.
 */
export function parseTimestampText(text: string): Date | undefined {
  const m = TIMESTAMP_TEXT.exec(text.trim());
  if (!m) return undefined;
  let year = Number(m[1]);
  if (m[9]) year = 1 - year; // 1 BC is year 0
  const utc = new Date(0);
  utc.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  utc.setUTCHours(Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), 0);
  let ms = utc.getTime();
  // setUTC* rolls 2026-02-30 over into March; such text is no timestamp.
  if (Number.isNaN(ms) || utc.getUTCMonth() !== Number(m[2]) - 1 || utc.getUTCDate() !== Number(m[3])) return undefined;
  const zone = m[8];
  if (zone && zone.toUpperCase() !== 'Z') {
    const [h = '0', min = '0', s = '0'] = zone.slice(1).match(/\d\d/g) ?? [];
    const offset = (Number(h) * 3600 + Number(min) * 60 + Number(s)) * 1000;
    ms += zone.startsWith('-') ? offset : -offset;
  }
  const fraction = (m[7] ?? '').slice(0, 6).padEnd(6, '0');
  return dateFromMicros(ms * 1000 + Number(fraction));
}

/** A protobuf Timestamp's instant to the microsecond (nanoseconds below one dropped, as no engine keeps them). */
export function dateFromTimestamp(ts: { seconds: bigint; nanos: number }): Date {
  return dateFromMicros(ts.seconds * 1_000_000n + BigInt(Math.floor(ts.nanos / 1000)));
}

/** A Date's seconds and nanos for a protobuf Timestamp, its microseconds included. */
export function timestampParts(date: Date): { seconds: bigint; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 + subMillisMicros(date) * 1000 };
}
