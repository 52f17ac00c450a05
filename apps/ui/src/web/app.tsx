import { useEffect, useState } from 'preact/hooks';
import { isObjectKind } from '../shared/api';
import { Account } from './account';
import { FreshnessPage } from './pages/freshness';
import { Home } from './pages/home';
import { LineagePage } from './pages/lineage';
import { NotFound } from './pages/not-found';
import { ObjectPage } from './pages/object';
import { ProjectPage } from './pages/project';
import { QualityPage } from './pages/quality';
import { Search } from './pages/search';
import { navigate, useLocation } from './router';
import type { Location } from './router';
import { applyTheme, initialTheme } from './theme';

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

function route(location: Location) {
  const parts = location.path.split('/').slice(1).map(decode);
  if (parts.some((p) => p === undefined)) return <NotFound path={location.path} />;
  const [a, b, c, d, ...rest] = parts as string[];
  if (rest.length > 0) return <NotFound path={location.path} />;
  if (a === '' && b === undefined) return <Home />;
  if (a === 'search' && b === undefined) return <Search initial={location.search.get('q') ?? ''} />;
  if (a === 'freshness' && b === undefined) return <FreshnessPage />;
  if (a === 'lineage' && c === undefined) return <LineagePage project={b || undefined} />;
  if (a === 'p' && b && c === undefined) return <ProjectPage key={b} project={b} />;
  if (a === 'quality' && b && c && d === undefined)
    return (
      <QualityPage key={`${location.path}?${location.search.get('record') ?? ''}`} project={b} view={c} record={location.search.get('record') ?? undefined} />
    );
  if (a === 'p' && b && c && d && isObjectKind(c)) return <ObjectPage key={location.path} project={b} kind={c} name={d} />;
  return <NotFound path={location.path} />;
}

const NAV = [
  { href: '/', label: 'Home', match: (p: string) => p === '/' || p.startsWith('/p/') },
  { href: '/search', label: 'Search', match: (p: string) => p === '/search' },
  { href: '/lineage', label: 'Lineage', match: (p: string) => p.startsWith('/lineage') },
  { href: '/freshness', label: 'Freshness', match: (p: string) => p === '/freshness' },
];

export function App() {
  const location = useLocation();
  const [theme, setTheme] = useState(initialTheme);
  useEffect(() => applyTheme(theme, false), []);

  // "/" goes to search from anywhere but a text field, as on most sites.
  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      const target = event.target as HTMLElement;
      if (event.key !== '/' || event.metaKey || event.ctrlKey || event.altKey || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)) return;
      event.preventDefault();
      if (window.location.pathname === '/search') document.getElementById('search-input')?.focus();
      else navigate('/search');
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const toggle = (): void => {
    const next = theme === 'dark' ? 'light' : 'dark';
    applyTheme(next, true);
    setTheme(next);
  };

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/">
          Larder
        </a>
        <nav aria-label="main">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <a href={n.href} aria-current={n.match(location.path) ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <Account />
        <button type="button" class="theme" onClick={toggle} aria-pressed={theme === 'dark'}>
          Dark mode
        </button>
      </header>
      <main id="main">{route(location)}</main>
      <footer class="muted">
        Read-only view of the registry and the services. Press <kbd>/</kbd> to search.
      </footer>
    </>
  );
}
