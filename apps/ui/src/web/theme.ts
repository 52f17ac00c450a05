export type Theme = 'light' | 'dark';

const KEY = 'larder-theme';

/** The saved choice, else the system's. */
export function initialTheme(): Theme {
  const saved = window.localStorage.getItem(KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function applyTheme(theme: Theme, save: boolean): void {
  document.documentElement.dataset['theme'] = theme;
  if (save) window.localStorage.setItem(KEY, theme);
}
