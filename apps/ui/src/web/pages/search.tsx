import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { SearchResult } from '../../shared/api';
import { parseSearch, searchPrepared } from '../../shared/search';
import { ApiFailure, getJson } from '../api';
import { Failure, Page, Tags } from '../components';
import { navigate, objectHref } from '../router';
import { refreshSearchIndex, useSearchIndex } from '../search-index';

const RESULTS_SHOWN = 50;

/**
 * Search as you type. The page holds an index of every feature this user may see
 * (downloaded once, refreshed in the background) and answers each keystroke itself,
 * in a millisecond or two. Until the index has arrived, each keystroke asks the server
 * and cancels the question before it, so the answer on screen is always for the text
 * in the box. The text is in the URL (replaced, not pushed), so a search is a link.
 */
export function Search({ initial }: { initial: string }) {
  const [query, setQuery] = useState(initial);
  const index = useSearchIndex();
  const [fetched, setFetched] = useState<SearchResult | undefined>(undefined);
  const [fetchError, setFetchError] = useState<ApiFailure | undefined>(undefined);
  // The text the page last answered for, results or error: what the screen reflects.
  const [fetchedFor, setFetchedFor] = useState<string | undefined>(undefined);
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLOListElement>(null);

  useEffect(() => {
    input.current?.focus();
  }, []);

  const local = useMemo((): { result?: SearchResult; error?: ApiFailure } | undefined => {
    if (index === undefined) return undefined;
    const parsed = parseSearch(query);
    if (!parsed.ok) return { error: new ApiFailure(400, { error: parsed.message, field: parsed.field }) };
    const started = performance.now();
    const features = searchPrepared(index, parsed.filters, RESULTS_SHOWN);
    // A user-timing entry per search: what `npm run bench -- ui` reads to time the search
    // itself. The browser keeps such entries forever, so a long session keeps the last ones.
    if (performance.getEntriesByName('larder-search').length >= 1000) performance.clearMeasures('larder-search');
    performance.measure('larder-search', { start: started });
    return { result: { query, filters: parsed.filters, features, registryVersion: index.registryVersion } };
  }, [index, query]);
  const result = local !== undefined ? local.result : fetched;
  const error = local !== undefined ? local.error : fetchError;
  const answered = local !== undefined ? query : fetchedFor;

  useEffect(() => {
    if (index !== undefined) return undefined;
    const abort = new AbortController();
    getJson<SearchResult>(`/api/search?q=${encodeURIComponent(query)}`, abort.signal).then(
      (r) => {
        // An answer to text no longer in the box is dropped.
        if (abort.signal.aborted) return;
        setFetched(r);
        setFetchError(undefined);
        setFetchedFor(query);
      },
      (e: unknown) => {
        if (abort.signal.aborted) return;
        setFetchError(e instanceof ApiFailure ? e : new ApiFailure(0, { error: 'the UI server cannot be reached' }));
        setFetchedFor(query);
      },
    );
    return () => abort.abort();
  }, [query, index]);

  const onInput = (event: Event): void => {
    const value = (event.target as HTMLInputElement).value;
    setQuery(value);
    refreshSearchIndex();
    navigate(value === '' ? '/search' : `/search?q=${encodeURIComponent(value)}`, true);
  };

  // Arrow keys move between the box and the results; Enter follows the focused link.
  const onKeyDown = (event: KeyboardEvent): void => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const links = [...(list.current?.querySelectorAll<HTMLAnchorElement>('a.hit') ?? [])];
    const at = links.indexOf(document.activeElement as HTMLAnchorElement);
    event.preventDefault();
    if (event.key === 'ArrowDown') links[Math.min(at + 1, links.length - 1)]?.focus();
    else if (at <= 0) input.current?.focus();
    else links[at - 1]?.focus();
  };

  return (
    <Page title="Search features">
      <div onKeyDown={onKeyDown}>
        <label for="search-input">Features by name, description or tag</label>
        <input
          id="search-input"
          ref={input}
          type="search"
          value={query}
          onInput={onInput}
          maxLength={256}
          autoComplete="off"
          spellcheck={false}
          aria-describedby="search-help"
          aria-controls="search-results"
        />
        <p id="search-help" class="muted">
          Narrow with <code>tag:team=risk</code>, <code>owner:alice@example.com</code>, <code>entity:driver</code>, <code>type:int64</code>,{' '}
          <code>project:driver_stats</code>. ↓ and ↑ move through the results.
        </p>
        {error && <Failure error={error} />}
        <p role="status" class="muted" aria-live="polite">
          {result === undefined
            ? error === undefined
              ? 'Searching…'
              : ''
            : `${result.features.length}${result.features.length === RESULTS_SHOWN ? '+' : ''} features`}
        </p>
        <ol id="search-results" class="hits" ref={list} data-query={answered} data-index={index === undefined ? 'loading' : 'ready'}>
          {result?.features.map((f) => (
            <li key={`${f.project}/${f.featureView}/${f.name}`}>
              <a
                class="hit"
                href={`${objectHref(f.project, f.onDemand ? 'on-demand-feature-view' : 'feature-view', f.featureView)}#feature-${encodeURIComponent(f.name)}`}
              >
                <span class="ref">
                  {f.featureView}:{f.name}
                </span>{' '}
                <span class="type">{f.valueType}</span>
              </a>
              <span class="muted">
                {' '}
                {f.project} · {f.entities.join(', ') || 'no entity'}
                {f.owner && ` · ${f.owner}`}
              </span>
              {f.description && <p class="description">{f.description}</p>}
              <Tags tags={f.tags} />
            </li>
          ))}
        </ol>
      </div>
    </Page>
  );
}
