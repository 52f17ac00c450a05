import { useEffect, useState } from 'preact/hooks';
import { prepareIndex } from '../shared/search';
import type { PreparedIndex, SearchIndex } from '../shared/search';
import { getJson } from './api';

/** An index older than this is fetched again (in the background) when the search page is used. */
const REFRESH_AFTER_MS = 5_000;

let current: { index: PreparedIndex; fetchedAt: number } | undefined;
let loading: Promise<void> | undefined;
const listeners = new Set<(index: PreparedIndex) => void>();

function load(): void {
  if (loading !== undefined) return;
  loading = getJson<SearchIndex>('/api/search-index')
    .then((index) => {
      // The same registry version again: keep the prepared one (and the results on screen).
      if (current === undefined || current.index.registryVersion !== index.registryVersion) current = { index: prepareIndex(index), fetchedAt: Date.now() };
      else current.fetchedAt = Date.now();
      for (const listener of listeners) listener(current.index);
    })
    .catch(() => undefined) // the page keeps asking the server instead
    .finally(() => {
      loading = undefined;
    });
}

/** Fetches the index again when it is older than a few seconds, so changes in the registry reach a page left open. */
export function refreshSearchIndex(): void {
  if (current === undefined || Date.now() - current.fetchedAt > REFRESH_AFTER_MS) load();
}

/**
 * The features this user may see, prepared for searching in the page: every keystroke
 * is answered here, without a round trip. Undefined until the first download (the page
 * asks the server meanwhile).
 */
export function useSearchIndex(): PreparedIndex | undefined {
  const [index, setIndex] = useState(current?.index);
  useEffect(() => {
    listeners.add(setIndex);
    refreshSearchIndex();
    return () => {
      listeners.delete(setIndex);
    };
  }, []);
  return index;
}
