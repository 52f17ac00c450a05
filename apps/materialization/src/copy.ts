import { cellConverter } from '@larder/offline-store';
import type { Cell, CellConverter, OfflineStore, PullLatestChunk } from '@larder/offline-store';
import type { OnlineStore, WriteRow } from '@larder/online-store';
import type { typesV1 } from '@larder/proto';
import type { ViewPlan } from './view-plan';

export interface CopyOptions {
  readonly start: Date;
  readonly end: Date;
  /** Entity-key hash shard; absent reads every key. */
  readonly shard?: { index: number; count: number };
  readonly chunkRows: number;
  /** Chunk writes in flight at once: the pipeline depth, and with chunkRows the memory bound. */
  readonly writesInFlight: number;
  readonly writeTimeoutMs: number;
  readonly signal: AbortSignal;
  /** Called after each chunk is read and after each chunk is written. */
  readonly onProgress: (delta: { read: number; written: number }) => void;
}

export interface CopyResult {
  rowsRead: number;
  rowsWritten: number;
  /** Rows the online store kept its newer row for (a stream wrote after the batch's event time). */
  rowsSkipped: number;
}

/** Turns pulled chunks into online write rows; built once per view. */
export function rowBuilder(plan: ViewPlan): (chunk: PullLatestChunk) => WriteRow[] {
  const keyNames = plan.joinKeys.map((k) => k.name);
  const keys: { column: string; convert: CellConverter }[] = plan.joinKeys.map((k) => ({ column: k.name, convert: cellConverter(k.type, { nulls: 'explicit' }) }));
  const features: { name: string; convert: CellConverter }[] = plan.features.map((f) => ({ name: f.name, convert: cellConverter(f.type, { nulls: 'explicit' }) }));
  return (chunk) => {
    const keyColumns = keys.map((k) => chunk.columns[k.column] as Cell[]);
    const featureColumns = features.map((f) => chunk.columns[f.name] as Cell[]);
    const rows: WriteRow[] = new Array(chunk.rowCount);
    for (let r = 0; r < chunk.rowCount; r++) {
      const entityValues: typesV1.Value[] = new Array(keys.length);
      for (let k = 0; k < keys.length; k++) entityValues[k] = keys[k]!.convert(keyColumns[k]![r]!);
      const values: Record<string, typesV1.Value> = {};
      for (let f = 0; f < features.length; f++) values[features[f]!.name] = features[f]!.convert(featureColumns[f]![r]!);
      rows[r] = { entityKey: { joinKeys: keyNames, entityValues }, eventTs: chunk.eventTs[r]!, values };
    }
    return rows;
  };
}

/**
 * Streams the latest row per entity key in [start, end] from the offline store
 * into the online store. Reading stays at most `writesInFlight` chunks ahead of
 * the writes, so memory is bounded whatever the size of the view. The online
 * store's last-writer-wins compare-and-set keeps any newer streamed row.
 */
export async function copyLatest(offline: OfflineStore, online: OnlineStore, plan: ViewPlan, options: CopyOptions): Promise<CopyResult> {
  const result: CopyResult = { rowsRead: 0, rowsWritten: 0, rowsSkipped: 0 };
  const toRows = rowBuilder(plan);
  const inFlight: Promise<void>[] = [];
  let failure: { error: unknown } | undefined;
  const stopIfNeeded = (): void => {
    if (failure) throw failure.error;
    if (options.signal.aborted) throw options.signal.reason;
  };
  try {
    const chunks = offline.pullLatest({
      source: plan.source,
      joinKeys: plan.joinKeys,
      features: plan.features,
      start: options.start,
      end: options.end,
      chunkRows: options.chunkRows,
      ...(options.shard && { shard: options.shard }),
    });
    for await (const chunk of chunks) {
      stopIfNeeded();
      result.rowsRead += chunk.rowCount;
      options.onProgress({ read: chunk.rowCount, written: 0 });
      const rows = toRows(chunk);
      const write = online.write(plan.descriptor, rows, { timeoutMs: options.writeTimeoutMs }).then(
        (r) => {
          result.rowsWritten += r.written;
          result.rowsSkipped += r.skipped;
          options.onProgress({ read: 0, written: r.written });
        },
        (error: unknown) => {
          failure ??= { error };
        },
      );
      inFlight.push(write);
      if (inFlight.length >= options.writesInFlight) await inFlight.shift();
      stopIfNeeded();
    }
  } finally {
    // Never leave writes running behind a failed or cancelled copy.
    await Promise.all(inFlight);
  }
  stopIfNeeded();
  return result;
}
