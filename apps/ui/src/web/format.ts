/** "3 min ago", "in 2 h": times are shown relative to now, with the ISO time as a tooltip. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (iso === undefined) return 'never';
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  const abs = Math.abs(seconds);
  const text =
    abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 86400 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`;
  return seconds >= 0 ? `${text} ago` : `in ${text}`;
}

export function elapsedText(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Proto JSON durations ("86400s") as people write them in a repo ("1d"). */
export function ttl(value: unknown): string {
  if (typeof value !== 'string') return 'no limit';
  const seconds = Number(value.replace(/s$/, ''));
  if (!Number.isFinite(seconds) || seconds === 0) return 'no limit';
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

export function valueType(value: unknown): string {
  return typeof value === 'string' ? value.replace(/^VALUE_TYPE_/, '').toLowerCase() : '-';
}

export function stateClass(state: string): string {
  if (state === 'SUCCEEDED' || state === 'RUNNING') return 'ok';
  if (state === 'FAILED' || state === 'CANCELLED') return 'bad';
  return 'neutral';
}
