import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { futureTimeProblem, timestampMs, TimestampRangeError } from '@larder/core';
import { Code, RpcError } from '@larder/rpc';

/**
 * A request's window times, checked before anything runs: inside the
 * Timestamp range (2^62 s gave an Invalid Date, then INTERNAL), and not
 * further ahead of now than the allowed skew. A window ending in the future
 * would report a future watermark, which the registry refuses (and which
 * would make incremental runs skip the rows written meanwhile).
 */
export function checkWindowTimes(times: Readonly<Record<string, Timestamp | undefined>>, nowMs: number, maxFutureSkewMs: number): void {
  for (const [field, ts] of Object.entries(times)) {
    if (ts === undefined) continue;
    let ms: number;
    try {
      ms = timestampMs(ts, field);
    } catch (error) {
      if (error instanceof TimestampRangeError) throw new RpcError(Code.INVALID_ARGUMENT, error.message);
      throw error;
    }
    const problem = futureTimeProblem(field, ms, nowMs, maxFutureSkewMs);
    if (problem !== undefined)
      throw new RpcError(Code.INVALID_ARGUMENT, `${field}: ${problem}; materialize up to now, or raise the skew if this server's clock is behind`);
  }
}
