// Stops engine work when the caller gives up, so a cancelled or timed-out call frees the CPU at once.

/** Runs `stop` once if `signal` aborts (at once if it already has); the returned function unhooks it. */
export function whenAborted(signal: AbortSignal | undefined, stop: () => void): () => void {
  if (signal === undefined) return () => undefined;
  if (signal.aborted) {
    stop();
    return () => undefined;
  }
  const listener = (): void => stop();
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

/** The abort's reason when the call was aborted (the engine's own "interrupted" error says less), else the error. */
export function abortReason(signal: AbortSignal | undefined, error: unknown): unknown {
  return signal?.aborted === true ? (signal.reason ?? error) : error;
}
