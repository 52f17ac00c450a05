import { useEffect, useState } from 'preact/hooks';
import type { ApiError } from '../shared/api';

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError,
  ) {
    super(body.error);
  }
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, { headers: { accept: 'application/json' }, ...(signal === undefined ? {} : { signal }) });
  // A body cut short (the request was cancelled) rejects here, never passes for an answer.
  if (response.ok) return (await response.json()) as T;
  const body = (await response.json().catch((error: unknown) => {
    if (signal?.aborted) throw error;
    return { error: `the UI server answered ${response.status}` };
  })) as ApiError;
  // Not signed in, or the session ran out: sign in (again) and come back to this page.
  if (response.status === 401 && body.login === '/auth/login') {
    window.location.assign(`/auth/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
  }
  throw new ApiFailure(response.status, body);
}

export type Loaded<T> = { state: 'loading' } | { state: 'ok'; data: T } | { state: 'error'; error: ApiFailure };

/**
 * Fetches `path` (again when it changes, and every `pollMs` when set) and keeps the
 * last answer on screen while a refresh is in flight, so a live page never blinks.
 */
export function useApi<T>(path: string, pollMs?: number): Loaded<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' });
  useEffect(() => {
    setLoaded({ state: 'loading' });
    const abort = new AbortController();
    let timer: number | undefined;
    const load = (): void => {
      getJson<T>(path, abort.signal)
        .then(
          (data) => {
            if (!abort.signal.aborted) setLoaded({ state: 'ok', data });
          },
          (error: unknown) => {
            if (abort.signal.aborted) return;
            setLoaded({ state: 'error', error: error instanceof ApiFailure ? error : new ApiFailure(0, { error: 'the UI server cannot be reached' }) });
          },
        )
        .finally(() => {
          if (pollMs !== undefined && !abort.signal.aborted) timer = window.setTimeout(load, pollMs);
        });
    };
    load();
    return () => {
      abort.abort();
      window.clearTimeout(timer);
    };
  }, [path, pollMs]);
  return loaded;
}
