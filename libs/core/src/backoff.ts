export interface BackoffOptions {
  /** First delay after a failure, in milliseconds. */
  initialMs: number;
  /** Upper bound of the delay, in milliseconds. */
  maxMs: number;
}

/**
 * How long to wait before retry number `attempt` (0 for the first): exponential
 * from `initialMs` up to `maxMs`, with jitter (half to all of the step) so that
 * the clients of a restarted server, or the instances of one service, do not all
 * come back at the same instant. The one backoff of the code base: reconnecting
 * to the registry or to PostgreSQL, retrying a Kafka batch, waiting for a file lock.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const step = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.round(step / 2 + (random() * step) / 2);
}
