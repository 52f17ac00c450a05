import type { typesV1 } from '@larder/proto';

/** One feature of a view as the store sees it: a name and its declared type. */
export interface FeatureSpec {
  readonly name: string;
  readonly type: typesV1.ValueType;
}

/**
 * What the store needs to know about a feature view. Deliberately small so that the
 * serving and ingestion code can build it from the registry without this lib depending
 * on the registry.
 */
export interface ViewDescriptor {
  readonly project: string;
  readonly name: string;
  /** The view's current features, in schema order. */
  readonly features: readonly FeatureSpec[];
  readonly joinKeys: readonly string[];
  /**
   * Stored rows of this view expire this many seconds after their last write.
   * Unset or 0: they never expire. See the README for how Redis applies it per hash.
   */
  readonly keyTtlSeconds?: number;
}

/** An entity key: join key names and values in parallel (any order; stores sort them). */
export type EntityKeyInput = Pick<typesV1.EntityKey, 'joinKeys' | 'entityValues'>;

export interface ViewRead {
  readonly view: ViewDescriptor;
  /** Feature names to return, in this order; all of the view's features when omitted. */
  readonly features?: readonly string[];
  readonly entityKeys: readonly EntityKeyInput[];
}

/** What is stored for one entity key of one view. */
export interface StoredRow {
  /** Event time of the stored row, milliseconds since the Unix epoch. */
  readonly eventTs: number;
  /**
   * One entry per requested feature, in request order. `undefined` when the row holds
   * no value for that feature (a feature added after the row was written, or one the
   * writer left out); a stored null is a Value with `nullVal`.
   */
  readonly values: (typesV1.Value | undefined)[];
}

/** Per entity key of the request, in order: the stored row, or undefined when nothing is stored. */
export type ViewReadResult = (StoredRow | undefined)[];

export interface WriteRow {
  readonly entityKey: EntityKeyInput;
  /** Event time, whole milliseconds since the Unix epoch (a non-negative safe integer). */
  readonly eventTs: number;
  /** Values by feature name; a feature left out is stored as "no value". */
  readonly values: Readonly<Record<string, typesV1.Value | undefined>>;
}

export interface WriteResult {
  /** Rows that were stored. */
  written: number;
  /** Rows not stored because a row with a newer event time was already there. */
  skipped: number;
}

/** An entity key value as a cell: string, bytes, int32 (number), int64 (bigint) or unix_timestamp (Date). */
export type EntityCell = string | Uint8Array | number | bigint | Date;

/**
 * A feature value as a cell, by the feature's declared type: number (INT32, FLOAT,
 * DOUBLE), bigint (INT64), boolean, string, Uint8Array (BYTES), Date or bigint seconds
 * (UNIX_TIMESTAMP), an array of those (lists); null stores an explicit null.
 */
export type FeatureCell = string | Uint8Array | number | bigint | boolean | Date | readonly FeatureCell[] | null;

/** The rows of one view in an EntityBatch, column-major. */
export interface ViewColumns {
  readonly view: ViewDescriptor;
  /** Event time per row, whole ms since the Unix epoch. */
  readonly eventTs: ArrayLike<number>;
  /** One column per feature of view.features, in that order; a Float64Array fits a DOUBLE column without nulls. */
  readonly columns: readonly ArrayLike<FeatureCell>[];
  /** Per entity of the batch: its row in these columns, or -1 when the batch has no row of this view for it. */
  readonly rowOf: Int32Array;
}

/**
 * Rows of several views that share their join keys, grouped by entity: entity i has key
 * (keyColumns[0][i], ...) and, in each view, the row rowOf[i] (or none). Redis writes
 * all the views of an entity with one compare-and-set.
 */
export interface EntityBatch {
  /** Entities in the batch. */
  readonly size: number;
  /** Join key names, the same for every view of the batch. */
  readonly joinKeys: readonly string[];
  /** One column per join key, in joinKeys order, `size` cells each. */
  readonly keyColumns: readonly ArrayLike<EntityCell>[];
  readonly views: readonly ViewColumns[];
}

export interface CallOptions {
  /** Fail with StoreUnavailableError when the store has not answered within this many ms. */
  readonly timeoutMs?: number;
}

/**
 * The online store: the latest row per (view, entity key). Writes are last-writer-wins by
 * event time: a row replaces the stored one when its eventTs is greater than or equal to
 * the stored eventTs (an equal timestamp overwrites: replays and corrections land).
 */
export interface OnlineStore {
  /**
   * Reads several views at once; the result has one entry per request, each with one
   * entry per entity key. Redis answers it in one pipelined round trip.
   */
  read(requests: readonly ViewRead[], options?: CallOptions): Promise<ViewReadResult[]>;
  /** Writes rows of one view, last-writer-wins per entity key. */
  write(view: ViewDescriptor, rows: readonly WriteRow[], options?: CallOptions): Promise<WriteResult>;
  /**
   * Writes rows of several views per entity key, last-writer-wins per (view, entity key)
   * as write() does; one result per view of the batch, in order. Optional so that
   * wrappers of a store need not offer it: materialization falls back to write().
   */
  writeEntities?(batch: EntityBatch, options?: CallOptions): Promise<WriteResult[]>;
  /** Removes every stored row of the view, leaving other views (also on the same entity keys) intact. */
  deleteView(view: ViewDescriptor): Promise<void>;
  close(): Promise<void>;
}
