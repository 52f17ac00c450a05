import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { ApiFailure } from './api';
import { ago } from './format';

export function Tags({ tags }: { tags: Record<string, string> | undefined }) {
  const entries = Object.entries(tags ?? {});
  if (entries.length === 0) return null;
  return (
    <ul class="tags" aria-label="tags">
      {entries.map(([k, v]) => (
        <li key={k}>
          <a href={`/search?q=${encodeURIComponent(`tag:${k}=${v}`)}`}>{v === '' ? k : `${k}=${v}`}</a>
        </li>
      ))}
    </ul>
  );
}

export function Time({ iso }: { iso: string | undefined }) {
  if (iso === undefined) return <span>never</span>;
  return (
    <time dateTime={iso} title={iso}>
      {ago(iso)}
    </time>
  );
}

/** Sets the document title and moves focus to the page heading, so screen readers hear the new page. */
export function Page({ title, children, heading }: { title: string; heading?: ComponentChildren; children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Larder`;
    ref.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <>
      <h1 tabIndex={-1} ref={ref}>
        {heading ?? title}
      </h1>
      {children}
    </>
  );
}

export function Loading() {
  return (
    <p class="muted" role="status">
      Loading…
    </p>
  );
}

export function Failure({ error }: { error: ApiFailure }) {
  return (
    <div class="notice bad" role="alert">
      <strong>{error.status === 0 ? 'No answer.' : `Error ${error.status}.`}</strong> {error.message}
    </div>
  );
}
