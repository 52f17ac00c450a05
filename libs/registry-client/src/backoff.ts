export interface BackoffOptions {
  /** First delay after a failure, in milliseconds. */
  initialMs: number;
  /** Upper bound of the delay, in milliseconds. */
  maxMs: number;
}

/**
 * Exponential backoff with jitter (half to all of the step), so that every
 * service of a deployment does not reconnect to a restarted registry at the
 * same instant.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const step = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** Resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
