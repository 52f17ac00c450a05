// Event times: milliseconds since the epoch in a double, whose fraction carries the
// microseconds (Feast keeps them, and so must a row read back). Plain numbers keep the hot
// paths allocation-free; one rule makes them comparable: a time is always the double
// `micros / 1000` of a whole number of microseconds, so two computations of the same
// instant give the same number and 1 us apart still compare in order. Exact to the
// microsecond until 2109 (2^42 ms); later, up to 2255 (2^53 us), within 1 us.
import { InvalidRowError } from './errors';

/** The canonical event time of a whole number of microseconds since the epoch. */
export function eventMsFromMicros(micros: number): number {
  return micros / 1000;
}

/** Whole microseconds since the epoch of an event time. */
export function eventMicros(ms: number): number {
  return Math.round(ms * 1000);
}

/** The event time of a Timestamp's parts; nanoseconds below a microsecond are dropped. */
export function eventMsFromParts(seconds: number, nanos: number): number {
  return (seconds * 1_000_000 + Math.floor(nanos / 1000)) / 1000;
}

/** Whether ms is a storable event time: canonical, not before 1970, at most 2^53 microseconds. */
export function isEventMs(ms: number): boolean {
  if (!(ms >= 0)) return false;
  const micros = Math.round(ms * 1000);
  return micros <= Number.MAX_SAFE_INTEGER && micros / 1000 === ms;
}

/** Throws InvalidRowError naming the view unless ms is a storable event time. */
export function checkEventTs(view: string, ms: number): void {
  if (!isEventMs(ms)) {
    throw new InvalidRowError(view, `eventTs must be non-negative milliseconds since the epoch in whole microseconds (micros / 1000), got ${ms}`);
  }
}
