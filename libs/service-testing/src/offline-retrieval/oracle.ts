// The brute-force point-in-time rule, row by row, with no SQL: what every engine
// must return through the service. Mirrors libs/offline-store's own oracle.
import type { Cell } from '@larder/offline-store';
import type { OracleView } from './dataset';

function later(view: OracleView, a: Record<string, Cell>, b: Record<string, Cell>): boolean {
  const ta = (a[view.timestampField] as Date).getTime();
  const tb = (b[view.timestampField] as Date).getTime();
  if (ta !== tb) return ta > tb;
  if (view.createdColumn === undefined) return false;
  const ca = a[view.createdColumn] as Date | null;
  const cb = b[view.createdColumn] as Date | null;
  if (ca === null) return false;
  return cb === null || ca.getTime() > cb.getTime();
}

/**
 * The stored row the join must pick for one entity row, or undefined. `keyColumns`
 * overrides which entity-row column feeds each key (a feature service's join-key map).
 */
export function pick(
  view: OracleView,
  entity: Record<string, Cell>,
  keyColumns: readonly string[] = view.keys.map(([, c]) => c),
): Record<string, Cell> | undefined {
  const t = (entity['event_timestamp'] as Date).getTime();
  let best: Record<string, Cell> | undefined;
  for (const row of view.table.rows) {
    const ts = (row[view.timestampField] as Date).getTime();
    if (ts > t) continue;
    if (view.ttlMs > 0 && ts < t - view.ttlMs) continue;
    const match = view.keys.every(([stored], k) => {
      const a = row[stored] ?? null;
      const b = entity[keyColumns[k] as string] ?? null;
      return a !== null && b !== null && a === b;
    });
    if (!match) continue;
    if (best === undefined || later(view, row, best)) best = row;
  }
  return best;
}

/** The value of a feature (by its stored column) for one entity row. */
export function featureAt(view: OracleView, entity: Record<string, Cell>, stored: string, keyColumns?: readonly string[]): Cell {
  const row = pick(view, entity, keyColumns);
  return row === undefined ? null : (row[stored] ?? null);
}
