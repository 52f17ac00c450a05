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
  /** Removes every stored row of the view, leaving other views (also on the same entity keys) intact. */
  deleteView(view: ViewDescriptor): Promise<void>;
  close(): Promise<void>;
}
