// Helpers that make messages actionable: list what exists, guess the typo.

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** The closest candidate within a third of the name's length, for "did you mean". */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best !== undefined || name.length < 3) return best;
  // A truncated name (`conv` for `conv_rate`) is far by edits but obvious to a person.
  const lower = name.toLowerCase();
  const prefixed = [...candidates].filter((c) => c.toLowerCase().startsWith(lower));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** `; defined entities: a, b (did you mean 'a'?)` or `; no entities are defined`. */
export function knownList(what: string, name: string, candidates: readonly string[]): string {
  const named = candidates.filter((c) => c !== '');
  if (named.length === 0) return `; no ${what} are defined`;
  const sorted = [...named].sort();
  const shown = sorted.length > 20 ? `${sorted.slice(0, 20).join(', ')}, ... (${sorted.length} in all)` : sorted.join(', ');
  const guess = closest(name, named);
  return `; defined ${what}: ${shown}${guess === undefined ? '' : ` (did you mean '${guess}'?)`}`;
}
