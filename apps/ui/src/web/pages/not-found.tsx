import { Page } from '../components';

/** A 404 that says what was asked for and where to look instead. */
export function NotFoundBody({ what, detail, search }: { what: string; detail?: string; search?: string }) {
  return (
    <Page title="Not found" heading={`Not found: ${what}`}>
      <div class="notice warn" role="alert">
        <p>
          Larder has no {what}.{detail ? ` The registry says: ${detail}` : ''}
        </p>
      </div>
      <p>It may have been renamed or deleted, or the link may be misspelled. From here you can:</p>
      <ul>
        {search !== undefined && (
          <li>
            <a href={`/search?q=${encodeURIComponent(search)}`}>search for “{search}”</a>
          </li>
        )}
        <li>
          <a href="/">see every project</a>
        </li>
        <li>
          <a href="/freshness">check materialization and ingestion</a>
        </li>
      </ul>
    </Page>
  );
}

export function NotFound({ path }: { path: string }) {
  return <NotFoundBody what={`page at ${path}`} />;
}
