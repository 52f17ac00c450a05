import { dateFromMillis } from '@larder/offline-store';
import type { AppendRows, BatchSource, Cell } from '@larder/offline-store';
import type { OnlineStore, WriteRow, WriteResult } from '@larder/online-store';
import { tfmdV0, type typesV1 } from '@larder/proto';
import type { RowViolation } from '@larder/validation';
import type { TypedColumn, ViewTarget } from './targets';
import { NULL_VALUE, ValueError, rawToValue, typedCell } from './values';

/** A row that cannot be written, and the column to blame when there is one. */
export class RowProblem extends Error {
  constructor(
    readonly column: string,
    message: string,
  ) {
    super(message);
  }
}

/** A row shaped for one view: entity key, event time and every feature's Value. */
export interface ShapedRow extends WriteRow {
  readonly values: Readonly<Record<string, typesV1.Value>>;
  /** Milliseconds; written offline as the created timestamp. */
  readonly createdTs: number;
}

/** A column of a view and the input field (record key, push column) that holds it. */
export interface FieldColumn extends TypedColumn {
  readonly field: string;
}

/** Where a view's columns are read from in an input: worked out once per view, not per row. */
export interface RecordPlan {
  readonly target: ViewTarget;
  readonly keys: readonly FieldColumn[];
  readonly features: readonly FieldColumn[];
}

export function recordPlan(target: ViewTarget, fieldOf: (column: string) => string): RecordPlan {
  return {
    target,
    keys: target.joinKeys.map((c) => ({ name: c.name, type: c.type, field: fieldOf(c.name) })),
    features: target.features.map((c) => ({ name: c.name, type: c.type, field: fieldOf(c.name) })),
  };
}

/**
 * Reads one column of one input row as a Value of its declared type; throws ValueError.
 * The row comes as an argument rather than in a closure, so no function is made per row
 * on the Kafka path, which runs for every event.
 */
export type ColumnReader<R> = (column: FieldColumn, row: R) => typesV1.Value | undefined;

/** The reader for a decoded message (a plain record). */
export const readRecordField: ColumnReader<Readonly<Record<string, unknown>>> = (column, record) => rawToValue(column.type, record[column.field]);

/**
 * Shapes an input row for a view: every join key must be present and of its
 * type; absent features are written as null; a feature of the wrong type
 * rejects the row (it is never coerced into something else).
 */
export function shapeRow<R>(plan: RecordPlan, read: ColumnReader<R>, row: R, eventTs: number, createdTs: number): ShapedRow {
  const entityValues: typesV1.Value[] = new Array<typesV1.Value>(plan.keys.length);
  for (let k = 0; k < plan.keys.length; k++) {
    const key = plan.keys[k] as FieldColumn;
    let v: typesV1.Value | undefined;
    try {
      v = read(key, row);
    } catch (error) {
      throw new RowProblem(key.name, `join key ${key.name}: ${(error as Error).message}`);
    }
    if (v === undefined || v.val.case === undefined || v.val.case === 'nullVal') throw new RowProblem(key.name, `join key ${key.name} is missing`);
    entityValues[k] = v;
  }
  const values: Record<string, typesV1.Value> = {};
  for (let f = 0; f < plan.features.length; f++) {
    const feature = plan.features[f] as FieldColumn;
    try {
      values[feature.name] = read(feature, row) ?? NULL_VALUE;
    } catch (error) {
      if (error instanceof ValueError) throw new RowProblem(feature.name, `${feature.name}: ${error.message}`);
      throw error;
    }
  }
  return { entityKey: { joinKeys: plan.target.descriptor.joinKeys as string[], entityValues }, eventTs, createdTs, values };
}

/** A row's schema violation as a dead-letter or row-failure reason: the feature, what is wrong, TFDV's anomaly type. */
export function violationReason(view: string, violation: RowViolation): string {
  return `schema of feature view '${view}': ${violation.reason} (${tfmdV0.AnomalyInfo_Type[violation.type] ?? violation.type})`;
}

/** Called for each row breaking a view's schema, with what became of it. */
export type ViolationListener = (target: ViewTarget, violation: RowViolation, outcome: 'dead_letter' | 'counted') => void;

/** A Map key per entity key: the value itself for one primitive join key (no string built per row). */
function keyOf(row: ShapedRow): unknown {
  const values = row.entityKey.entityValues;
  if (values.length === 1) {
    const value = (values[0] as typesV1.Value).val.value;
    const type = typeof value;
    if (type === 'string' || type === 'bigint' || type === 'number' || type === 'boolean') return value;
  }
  let key = '';
  for (const v of values) key += `${v.val.case ?? ''}:${String(v.val.value)}\u0000`;
  return key;
}

/**
 * Last writer wins already holds in the store; keeping only the newest row
 * per entity key of a batch (later rows win ties, as the store applies them
 * in order) saves the store work without changing what is stored.
 */
export function newestPerKey(rows: readonly ShapedRow[]): ShapedRow[] {
  if (rows.length < 2) return [...rows];
  const newest = new Map<unknown, ShapedRow>();
  for (const row of rows) {
    const key = keyOf(row);
    const kept = newest.get(key);
    if (kept === undefined || row.eventTs >= kept.eventTs) newest.set(key, row);
  }
  return [...newest.values()];
}

/** Writes a view's rows online; `skipped` counts rows older than what is stored (or than a newer row of the batch). */
export async function writeOnline(store: OnlineStore, target: ViewTarget, rows: readonly ShapedRow[], timeoutMs?: number): Promise<WriteResult> {
  if (rows.length === 0) return { written: 0, skipped: 0 };
  const newest = newestPerKey(rows);
  const result = await store.write(target.descriptor, newest, timeoutMs === undefined ? undefined : { timeoutMs });
  return { written: result.written, skipped: result.skipped + rows.length - newest.length };
}

/**
 * Rows bound for one batch source. Several views may append to the same
 * source: an input row becomes one offline row holding the columns of all of them.
 */
export class OfflineBatch {
  private readonly columns = new Map<string, TypedColumn>();
  private readonly rows = new Map<number, { eventTs: number; createdTs: number; cells: Map<string, Cell> }>();

  constructor(readonly source: BatchSource) {}

  add(index: number, target: ViewTarget, row: ShapedRow): void {
    let entry = this.rows.get(index);
    if (entry === undefined) {
      entry = { eventTs: row.eventTs, createdTs: row.createdTs, cells: new Map() };
      this.rows.set(index, entry);
    }
    target.joinKeys.forEach((key, i) => {
      this.columns.set(key.name, key);
      entry.cells.set(key.name, typedCell(key.type, row.entityKey.entityValues[i] as typesV1.Value));
    });
    for (const feature of target.features) {
      this.columns.set(feature.name, feature);
      entry.cells.set(feature.name, typedCell(feature.type, row.values[feature.name] ?? NULL_VALUE));
    }
  }

  get size(): number {
    return this.rows.size;
  }

  /** The input row indices in this batch. */
  indices(): number[] {
    return [...this.rows.keys()];
  }

  toAppendRows(): AppendRows {
    const entries = [...this.rows.values()];
    const columns: Record<string, Cell[]> = {};
    for (const name of this.columns.keys()) columns[name] = entries.map((e) => e.cells.get(name) ?? null);
    return {
      columns,
      // Event times are ms with the microseconds as the fraction; the offline stores keep them.
      eventTimestamps: entries.map((e) => dateFromMillis(e.eventTs)),
      createdTimestamps: entries.map((e) => dateFromMillis(e.createdTs)),
    };
  }
}

/** Collects offline rows per destination source. */
export class OfflineBatches {
  private readonly batches = new Map<string, OfflineBatch>();

  add(index: number, target: ViewTarget, row: ShapedRow): void {
    const source = target.offline;
    if (source === undefined) return;
    let batch = this.batches.get(source.name);
    if (batch === undefined) {
      batch = new OfflineBatch(source);
      this.batches.set(source.name, batch);
    }
    batch.add(index, target, row);
  }

  all(): OfflineBatch[] {
    return [...this.batches.values()].filter((b) => b.size > 0);
  }
}
