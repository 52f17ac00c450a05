import type { Readable, Writable } from 'node:stream';

const HIGH_WATER = 16;

/**
 * Incoming messages of a call as an AsyncIterable that ends with the
 * caller's half-close and throws the abort reason once the call is aborted.
 * Unlike Readable's own iterator, leaving early does not destroy the stream,
 * so a bidi handler can stop reading and keep writing.
 */
export function readMessages<T>(stream: Readable, signal: AbortSignal): AsyncIterable<T> {
  let taken = false;
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      if (taken) throw new Error('the request stream can be read only once');
      taken = true;
      const queue: T[] = [];
      let ended = false;
      let failure: { error: unknown } | undefined;
      let wake: (() => void) | undefined;
      const notify = (): void => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      const onData = (message: T): void => {
        queue.push(message);
        if (queue.length >= HIGH_WATER) stream.pause();
        notify();
      };
      const onEnd = (): void => {
        ended = true;
        notify();
      };
      const onError = (error: unknown): void => {
        failure ??= { error };
        notify();
      };
      const onClose = (): void => {
        if (!ended) failure ??= { error: new Error('the request stream closed before it ended') };
        notify();
      };
      const cleanup = (): void => {
        stream.off('data', onData);
        stream.off('end', onEnd);
        stream.off('error', onError);
        stream.off('close', onClose);
        signal.removeEventListener('abort', notify);
        // Unread messages are dropped rather than left to stall flow control.
        if (!stream.destroyed) stream.resume();
      };
      stream.on('data', onData);
      stream.on('end', onEnd);
      stream.on('error', onError);
      stream.on('close', onClose);
      signal.addEventListener('abort', notify);
      return {
        async next(): Promise<IteratorResult<T>> {
          for (;;) {
            if (signal.aborted) {
              cleanup();
              throw signal.reason;
            }
            if (queue.length > 0) {
              const value = queue.shift() as T;
              if (queue.length < HIGH_WATER / 2 && stream.isPaused()) stream.resume();
              return { value, done: false };
            }
            if (failure) {
              cleanup();
              throw failure.error;
            }
            if (ended) {
              cleanup();
              return { value: undefined, done: true };
            }
            await new Promise<void>((resolve) => (wake = resolve));
          }
        },
        async return(): Promise<IteratorResult<T>> {
          cleanup();
          return { value: undefined, done: true };
        },
      };
    },
  };
}

/** Resolves when the stream drains or the signal aborts, whichever is first. */
export function drained(stream: Writable, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    signal.addEventListener('abort', done);
  });
}

/** Resolves with the next item, or with undefined when the signal aborts first. */
export function nextOrAbort<T>(iterator: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T> | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    iterator.next().then(
      (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
