import type { Cell, HistoricalResult, HistoricalView, InlineEntities, SourceLocation } from '../types';
import type { Dataset, ViewSpec } from './dataset';
import { viewBatchSource } from './engines';

/** Drains a result into row objects, checking chunk bookkeeping on the way. */
export async function collectRows(result: HistoricalResult): Promise<{ rows: Record<string, Cell>[]; chunkSizes: number[] }> {
  const rows: Record<string, Cell>[] = [];
  const chunkSizes: number[] = [];
  for await (const chunk of result) {
    if (chunk.firstRow !== rows.length) throw new Error(`chunk starts at ${chunk.firstRow}, expected ${rows.length}`);
    chunkSizes.push(chunk.rowCount);
    for (let r = 0; r < chunk.rowCount; r++) {
      const row: Record<string, Cell> = {};
      result.schema.columns.forEach((column, c) => {
        row[column.name] = chunk.columns[c]![r]!;
      });
      rows.push(row);
    }
  }
  return { rows, chunkSizes };
}

export function historicalViews(views: readonly ViewSpec[], locations: ReadonlyMap<string, SourceLocation>): HistoricalView[] {
  return views.map((view) => ({
    name: view.name,
    source: viewBatchSource(view, locations.get(view.name)!),
    joinKeys: view.joinKeys,
    features: view.features,
    ttlMs: view.ttlMs,
  }));
}

/** The dataset's entity rows as inline batches of `batchRows`. */
export function datasetEntities(dataset: Dataset, batchRows = 64): InlineEntities {
  const batches: Record<string, Cell[]>[] = [];
  for (let start = 0; start < dataset.entityRows.length; start += batchRows) {
    const rows = dataset.entityRows.slice(start, start + batchRows);
    batches.push(Object.fromEntries(dataset.entityColumns.map((c) => [c.name, rows.map((r) => r[c.name] ?? null)])));
  }
  return { kind: 'rows', columns: dataset.entityColumns, timestampColumn: 'event_timestamp', batches };
}
