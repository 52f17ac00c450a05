// The brute-force reference: DESIGN's point-in-time rule written as plainly as
// possible, row by row, with no SQL. Engines must agree with it exactly.
import type { Cell } from '../types';
import type { Dataset, ViewSpec } from './dataset';

function same(a: Cell, b: Cell): boolean {
  if (a === null || b === null) return false; // a null key matches nothing
  return a === b;
}

function stored(view: ViewSpec, name: string): string {
  const entry = Object.entries(view.fieldMapping ?? {}).find(([, mapped]) => mapped === name);
  return entry ? entry[0] : name;
}

/** Per entity row (in order): entity columns, then each view's features by output name. */
export function pointInTimeOracle(dataset: Dataset, views: readonly ViewSpec[] = dataset.views): Record<string, Cell>[] {
  return dataset.entityRows.map((entity) => {
    const out: Record<string, Cell> = { ...entity };
    const t = (entity['event_timestamp'] as Date).getTime();
    for (const view of views) {
      let best: Record<string, Cell> | undefined;
      for (const row of view.table.rows) {
        const ts = (row[view.timestampField] as Date).getTime();
        if (ts > t) continue;
        if (view.ttlMs > 0 && ts < t - view.ttlMs) continue;
        if (!view.joinKeys.every((k) => same(row[stored(view, k.name)]!, entity[k.entityColumn ?? k.name]!))) continue;
        if (!best || later(view, row, best)) best = row;
      }
      for (const f of view.features) out[f.outputName ?? f.name] = best ? (best[stored(view, f.name)] ?? null) : null;
    }
    return out;
  });
}

function later(view: ViewSpec, a: Record<string, Cell>, b: Record<string, Cell>): boolean {
  const ta = (a[view.timestampField] as Date).getTime();
  const tb = (b[view.timestampField] as Date).getTime();
  if (ta !== tb) return ta > tb;
  if (!view.createdTimestampColumn) return false;
  const ca = a[view.createdTimestampColumn] as Date | null;
  const cb = b[view.createdTimestampColumn] as Date | null;
  if (ca === null) return false;
  return cb === null || ca.getTime() > cb.getTime();
}

/** The latest row per entity key with event time in [start, end]: keys -> row. */
export function pullLatestOracle(view: ViewSpec, start: Date, end: Date): Map<string, Record<string, Cell>> {
  const latest = new Map<string, Record<string, Cell>>();
  for (const row of view.table.rows) {
    const ts = (row[view.timestampField] as Date).getTime();
    if (ts < start.getTime() || ts > end.getTime()) continue;
    const keyCells = view.joinKeys.map((k) => row[stored(view, k.name)]!);
    if (keyCells.some((c) => c === null)) continue;
    const key = keyString(keyCells);
    const best = latest.get(key);
    if (!best || later(view, row, best)) latest.set(key, row);
  }
  return latest;
}

export function keyString(cells: readonly Cell[]): string {
  return JSON.stringify(cells.map((c) => (typeof c === 'bigint' ? `${c}n` : c)));
}
