import { cellConverter } from '@larder/offline-store';
import type { Cell, CellColumn, OfflineStore, PullLatestChunk } from '@larder/offline-store';
import type { EntityBatch, EntityCell, FeatureCell, OnlineStore, ViewColumns, WriteResult, WriteRow } from '@larder/online-store';
import type { typesV1 } from '@larder/proto';
import { nullNonFinite } from './finite';
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
  /** NaN and ±Infinity feature values written as null (see finite.ts). */
  valuesNulled: number;
}

/** One view of a merged copy: its window and its own progress. */
export interface MergedView {
  readonly plan: ViewPlan;
  readonly start: Date;
  readonly end: Date;
  readonly onProgress: CopyOptions['onProgress'];
  /** Stops this view alone (its lease was lost); the job's cancel aborts every view's. */
  readonly signal: AbortSignal;
}

export type MergedCopyOptions = Pick<CopyOptions, 'shard' | 'chunkRows' | 'writesInFlight' | 'writeTimeoutMs'>;

/** A view's outcome: its result, or why it stopped. */
export type MergedOutcome = { ok: true; result: CopyResult } | { ok: false; error: unknown };

/** One view's pulled rows, read a chunk at a time with the next chunk already on its way. */
class ViewStream {
  chunk: PullLatestChunk | undefined;
  pos = 0;
  done = false;
  keys: CellColumn[] = [];
  eventTs: Float64Array<ArrayBufferLike> = new Float64Array(0);
  features: CellColumn[] = [];
  valuesNulled = 0;
  private next: Promise<IteratorResult<PullLatestChunk>> | undefined;
  private readonly iterator: AsyncIterator<PullLatestChunk>;

  constructor(
    readonly index: number,
    readonly view: MergedView,
    chunks: AsyncIterable<PullLatestChunk>,
  ) {
    this.iterator = chunks[Symbol.asyncIterator]();
  }

  get exhausted(): boolean {
    return this.chunk === undefined || this.pos >= this.chunk.rowCount;
  }

  /** Until the stream has a row to offer or is done; returns the rows newly read. */
  async fill(): Promise<number> {
    let read = 0;
    while (!this.done && this.exhausted) {
      const result = await (this.next ?? this.iterator.next());
      this.next = undefined;
      if (result.done) {
        this.done = true;
        this.chunk = undefined;
        break;
      }
      const chunk = result.value;
      this.chunk = chunk;
      this.pos = 0;
      read += chunk.rowCount;
      const plan = this.view.plan;
      this.keys = plan.joinKeys.map((k) => chunk.columns[k.name]!);
      this.features = plan.features.map((f) => {
        const checked = nullNonFinite(chunk.columns[f.name]!, f.type);
        this.valuesNulled += checked.nulled;
        return checked.column;
      });
      this.eventTs = chunk.eventTs;
      // Let the engine produce the next chunk while this one is merged and written.
      this.next = this.iterator.next();
      this.next.catch(() => undefined);
    }
    return read;
  }

  /** Stops the pull (closes the engine's cursor), waiting for a chunk still on its way. */
  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.next?.catch(() => undefined);
    await this.iterator.return?.();
  }
}

function compareCells(a: Cell, b: Cell): number {
  if (typeof a === 'bigint' || typeof a === 'number' || typeof a === 'string') return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
  if (a instanceof Uint8Array) return Buffer.compare(a, b as Uint8Array);
  if (a instanceof Date) return a.getTime() - (b as Date).getTime();
  return 0;
}

/** Order of the head rows of two streams by entity key. */
function compareHeads(a: ViewStream, b: ViewStream): number {
  const keys = a.keys.length;
  for (let k = 0; k < keys; k++) {
    const c = compareCells(a.keys[k]![a.pos]!, b.keys[k]![b.pos]!);
    if (c !== 0) return c;
  }
  return 0;
}

/**
 * Entities from the streams' current chunks, merged by key: each entity takes the head
 * row of every stream whose head has its key. Ends at `limit` entities or as soon as a
 * stream's chunk runs out (its next chunk may hold smaller keys). Streams that arrive
 * in key order merge fully; any other order still writes every row exactly once, only
 * in more, smaller entity groups.
 */
function mergeBatch(streams: readonly ViewStream[], joinKeys: readonly string[], limit: number): EntityBatch {
  const rowOf = streams.map(() => new Int32Array(limit).fill(-1));
  const keyColumns: EntityCell[][] = joinKeys.map(() => new Array<EntityCell>());
  const equal: number[] = [];
  let size = 0;
  while (size < limit) {
    let best = 0;
    equal.length = 0;
    equal.push(0);
    for (let s = 1; s < streams.length; s++) {
      const c = compareHeads(streams[s]!, streams[best]!);
      if (c < 0) {
        best = s;
        equal.length = 0;
        equal.push(s);
      } else if (c === 0) equal.push(s);
    }
    const head = streams[best]!;
    for (let k = 0; k < keyColumns.length; k++) keyColumns[k]!.push(head.keys[k]![head.pos] as EntityCell);
    let ranOut = false;
    for (const s of equal) {
      const stream = streams[s]!;
      rowOf[s]![size] = stream.pos++;
      if (stream.exhausted) ranOut = true;
    }
    size++;
    if (ranOut) break;
  }
  const views: ViewColumns[] = streams.map((stream, s) => ({
    view: stream.view.plan.descriptor,
    eventTs: stream.eventTs,
    columns: stream.features as ArrayLike<FeatureCell>[],
    rowOf: rowOf[s]!,
  }));
  return { size, joinKeys, keyColumns, views };
}

/** For online stores without writeEntities: the batch as per-view WriteRows. */
async function writeByView(online: OnlineStore, batch: EntityBatch, plans: readonly ViewPlan[], timeoutMs: number): Promise<WriteResult[]> {
  return Promise.all(
    batch.views.map((columns, v) => {
      const plan = plans[v]!;
      const keyConverters = plan.joinKeys.map((k) => cellConverter(k.type, { nulls: 'explicit' }));
      const converters = plan.features.map((f) => cellConverter(f.type, { nulls: 'explicit' }));
      const keyNames = plan.joinKeys.map((k) => k.name);
      const rows: WriteRow[] = [];
      for (let i = 0; i < batch.size; i++) {
        const row = columns.rowOf[i]!;
        if (row < 0) continue;
        const values: Record<string, typesV1.Value> = {};
        plan.features.forEach((f, j) => (values[f.name] = converters[j]!(columns.columns[j]![row] as Cell)));
        const entityValues = keyConverters.map((convert, k) => convert(batch.keyColumns[batch.joinKeys.indexOf(keyNames[k]!)]![i] as Cell));
        rows.push({ entityKey: { joinKeys: keyNames, entityValues }, eventTs: columns.eventTs[row]!, values });
      }
      return rows.length === 0 ? { written: 0, skipped: 0 } : online.write(plan.descriptor, rows, { timeoutMs });
    }),
  );
}

/**
 * Copies the latest row per entity key of several views that share their join keys, in
 * one pass: the views' streams are merged by entity key and each batch of entities is
 * written with all its views at once (OnlineStore.writeEntities: on Redis one
 * compare-and-set per entity instead of one per view row). At most `writesInFlight`
 * batches are in flight and every stream holds at most two chunks, so memory stays
 * bounded. One outcome per view, in order: a failed read or write fails every view
 * still copying, a view's aborted signal stops that view (after the writes in flight
 * have settled, as the others go on).
 */
export async function copyViewsLatest(
  offline: OfflineStore,
  online: OnlineStore,
  views: readonly MergedView[],
  options: MergedCopyOptions,
): Promise<MergedOutcome[]> {
  const results: CopyResult[] = views.map(() => ({ rowsRead: 0, rowsWritten: 0, rowsSkipped: 0, valuesNulled: 0 }));
  const errors: ({ error: unknown } | undefined)[] = views.map(() => undefined);
  const outcomes = (): MergedOutcome[] => views.map((_, v) => (errors[v] ? { ok: false, error: errors[v].error } : { ok: true, result: results[v]! }));
  if (views.length === 0) return [];
  const joinKeys = views[0]!.plan.joinKeys.map((k) => k.name);
  const streams = views.map(
    (view, index) =>
      new ViewStream(
        index,
        view,
        offline.pullLatest({
          source: view.plan.source,
          joinKeys: view.plan.joinKeys,
          features: view.plan.features,
          start: view.start,
          end: view.end,
          chunkRows: options.chunkRows,
          ...(options.shard && { shard: options.shard }),
        }),
      ),
  );
  const inFlight: Promise<void>[] = [];
  let failure: { error: unknown } | undefined;
  const write = online.writeEntities?.bind(online);
  /** Views whose signal fired leave the merge; their in-flight rows still settle. */
  const dropAborted = async (): Promise<void> => {
    for (const stream of streams) {
      const signal = stream.view.signal;
      if (signal.aborted && errors[stream.index] === undefined) {
        errors[stream.index] = { error: signal.reason };
        await stream.close();
      }
    }
  };
  try {
    for (;;) {
      await dropAborted();
      const reads = await Promise.all(streams.map((s) => (s.done || !s.exhausted ? 0 : s.fill())));
      if (failure) break;
      reads.forEach((read, v) => {
        if (read === 0) return;
        results[v]!.rowsRead += read;
        views[v]!.onProgress({ read, written: 0 });
      });
      await dropAborted();
      const active = streams.filter((s) => !s.done);
      if (active.length === 0) break;
      const batch = mergeBatch(active, joinKeys, options.chunkRows);
      const plans = active.map((s) => s.view.plan);
      const pending = write ? write(batch, { timeoutMs: options.writeTimeoutMs }) : writeByView(online, batch, plans, options.writeTimeoutMs);
      inFlight.push(
        pending.then(
          (written) => {
            written.forEach((r, j) => {
              const v = active[j]!.index;
              results[v]!.rowsWritten += r.written;
              results[v]!.rowsSkipped += r.skipped;
              views[v]!.onProgress({ read: 0, written: r.written });
            });
          },
          (error: unknown) => {
            failure ??= { error };
          },
        ),
      );
      if (inFlight.length >= options.writesInFlight) await inFlight.shift();
      if (failure) break;
    }
  } catch (error) {
    failure ??= { error };
  } finally {
    // Never leave writes running behind a failed or cancelled copy, nor cursors open.
    await Promise.all(inFlight);
    await Promise.all(streams.map((s) => s.close()));
  }
  for (const stream of streams) {
    results[stream.index]!.valuesNulled = stream.valuesNulled;
    if (errors[stream.index] !== undefined) continue;
    // A view whose signal fired while its last rows were written still reports the stop.
    if (stream.view.signal.aborted) errors[stream.index] = { error: stream.view.signal.reason };
    else if (failure) errors[stream.index] = failure;
  }
  return outcomes();
}

/** Views merged into one copy at most: each is a stream (a query) of its own. */
export const MAX_MERGED_VIEWS = 8;

interface Arrival {
  readonly plan: ViewPlan;
  readonly options: CopyOptions;
  resolve(result: CopyResult): void;
  reject(error: unknown): void;
}

/** Views sharing join keys (names and types) can be written per entity together. */
const groupKey = (plan: ViewPlan): string =>
  plan.joinKeys
    .map((k) => `${k.name}\u0000${k.type}`)
    .sort()
    .join('\u0001');

/**
 * Lets the views of a job that share their join keys be copied together while each
 * view keeps its own run (state, progress, watermark): every view calls copy() as it
 * would copy alone, and once every view of its group has called it (or
 * left without), one merged copy runs and each view gets its own result. The job
 * runs a group's views at the same time (see groups) and calls leave() when a view's
 * run ends, whatever the way, so a view that never copies (cancelled, nothing to
 * read, a failed registry call) does not hold the others up.
 */
export class GroupedCopier {
  readonly groups: readonly (readonly ViewPlan[])[];
  private readonly groupOf = new Map<ViewPlan, Set<ViewPlan>>();
  /** Per group, per shard: the views that called copy() and wait for the rest. */
  private readonly waiting = new Map<Set<ViewPlan>, Map<string, Arrival[]>>();

  constructor(
    private readonly offline: OfflineStore,
    private readonly online: OnlineStore,
    plans: readonly ViewPlan[],
    maxViews = MAX_MERGED_VIEWS,
  ) {
    const byKey = new Map<string, ViewPlan[][]>();
    const groups: ViewPlan[][] = [];
    for (const plan of plans) {
      const key = groupKey(plan);
      let list = byKey.get(key);
      if (list === undefined) byKey.set(key, (list = []));
      let group = list[list.length - 1];
      if (group === undefined || group.length >= maxViews) {
        list.push((group = []));
        groups.push(group);
      }
      group.push(plan);
    }
    this.groups = groups;
    for (const group of groups) {
      const members = new Set(group);
      for (const plan of group) this.groupOf.set(plan, members);
      this.waiting.set(members, new Map());
    }
  }

  copy(plan: ViewPlan, options: CopyOptions): Promise<CopyResult> {
    const members = this.groupOf.get(plan);
    if (members === undefined) return Promise.reject(new Error(`view ${plan.name} is not part of this job`));
    const shard = options.shard ? `${options.shard.index}/${options.shard.count}` : '';
    const byShard = this.waiting.get(members)!;
    let arrivals = byShard.get(shard);
    if (arrivals === undefined) byShard.set(shard, (arrivals = []));
    const result = new Promise<CopyResult>((resolve, reject) => arrivals.push({ plan, options, resolve, reject }));
    this.startReady(members);
    return result;
  }

  /** The view's run is over: the group no longer waits for it. */
  leave(plan: ViewPlan): void {
    const members = this.groupOf.get(plan);
    if (members === undefined || !members.delete(plan)) return;
    this.startReady(members);
  }

  private startReady(members: Set<ViewPlan>): void {
    const byShard = this.waiting.get(members)!;
    for (const [shard, arrivals] of byShard) {
      const arrived = new Set(arrivals.map((a) => a.plan));
      if (![...members].every((m) => arrived.has(m))) continue;
      byShard.delete(shard);
      void this.run(arrivals);
    }
  }

  private async run(arrivals: readonly Arrival[]): Promise<void> {
    const first = arrivals[0]!.options;
    try {
      const outcomes = await copyViewsLatest(
        this.offline,
        this.online,
        arrivals.map((a) => ({ plan: a.plan, start: a.options.start, end: a.options.end, onProgress: a.options.onProgress, signal: a.options.signal })),
        {
          chunkRows: first.chunkRows,
          writesInFlight: first.writesInFlight,
          writeTimeoutMs: first.writeTimeoutMs,
          ...(first.shard && { shard: first.shard }),
        },
      );
      arrivals.forEach((a, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) a.resolve(outcome.result);
        else a.reject(outcome.error);
      });
    } catch (error) {
      for (const a of arrivals) a.reject(error);
    }
  }
}
