import { create } from '@bufbuild/protobuf';
import { DurationSchema, type Duration } from '@bufbuild/protobuf/wkt';

/**
 * A duration as written in a definition: seconds as a number, or a string of
 * number+unit parts (`'1d'`, `'2h30m'`, `'90s'`, `'500ms'`, `'-1h'`). Negative
 * values parse, so validation can reject them with a precise message.
 */
export type DurationInput = number | string;

const UNIT_SECONDS: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 };
const PART = /(\d+(?:\.\d+)?)(ms|w|d|h|m|s)/y;

/** The pattern a duration string must match (also used by the JSON Schema). */
export const DURATION_PATTERN = '^-?(\\d+(\\.\\d+)?(ms|w|d|h|m|s))+$';

/** Seconds in a duration input, or undefined when it cannot be parsed. */
export function durationSeconds(input: DurationInput): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) ? input : undefined;
  const text = input.trim();
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  if (body === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < body.length) {
    const start = PART.lastIndex;
    const match = PART.exec(body);
    if (match === null || match.index !== start) return undefined;
    total += Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number);
  }
  return negative ? -total : total;
}

/** A google.protobuf.Duration from seconds (fractions kept to the nanosecond). */
export function durationFromSeconds(seconds: number): Duration {
  const whole = Math.trunc(seconds);
  const nanos = Math.round((seconds - whole) * 1e9);
  return create(DurationSchema, { seconds: BigInt(whole), nanos });
}

/** Parses a duration input; throws a RangeError naming the input when it is not one. */
export function parseDuration(input: DurationInput): Duration {
  const seconds = durationSeconds(input);
  if (seconds === undefined) {
    throw new RangeError(`'${String(input)}' is not a duration: use seconds or units like '1d', '2h30m', '45s', '500ms'`);
  }
  return durationFromSeconds(seconds);
}
