import type { tfmdV0, typesV1 } from '@larder/proto';
import type { StatisticsRequest } from './statistics/types';

/**
 * A cell as the offline store hands it over (and accepts it), by ValueType:
 * BYTES Uint8Array, STRING string, INT32/DOUBLE/FLOAT number, INT64 bigint,
 * BOOL boolean, UNIX_TIMESTAMP Date, lists arrays of those, null for no value.
 * Entity and event timestamps are Dates, MicroDates (see micro-date.ts) where they carry
 * microseconds below the millisecond.
 */
export type Cell = Uint8Array | string | number | bigint | boolean | Date | readonly Cell[] | null;

/**
 * A column of cells. Engines may hand a column of numbers without nulls as a typed array
 * (a copy of the engine's vector): the same cells, without a heap number per value.
 */
export type CellColumn = readonly Cell[] | Float64Array | Float32Array | Int32Array;

/** Where a batch source's rows live. `table` and `query` are in the engine's own SQL dialect. */
export type SourceLocation = { kind: 'file'; path: string; format?: 'parquet' | 'csv' } | { kind: 'table'; table: string } | { kind: 'query'; query: string };

/** A batch source, already resolved from the registry (see batchSourceFromProto). */
export interface BatchSource {
  /** For error messages. */
  name: string;
  location: SourceLocation;
  /** The event-time column, as named in the stored data (before field mapping). */
  timestampField: string;
  /** Optional created-time column (tie-break), as named in the stored data. */
  createdTimestampColumn?: string;
  /** Stored column name -> the name join keys and features use. */
  fieldMapping?: Readonly<Record<string, string>>;
}

/** A join key of a view, with the entity-row column that carries it. */
export interface JoinKeySpec {
  /** The key's name in the view (after field mapping). */
  name: string;
  /** The entity-row column holding it (join-key map); defaults to `name`. */
  entityColumn?: string;
  type: typesV1.ValueType;
}

/** A feature to retrieve, with its output column name (`feature` or `view__feature`). */
export interface FeatureSpec {
  /** The feature's name in the view (after field mapping). */
  name: string;
  /** Output column name; defaults to `name`. */
  outputName?: string;
  type: typesV1.ValueType;
}

/** One feature view in a historical query. */
export interface HistoricalView {
  /** The view's name (or alias), for error messages. */
  name: string;
  source: BatchSource;
  /** Empty for a view without entities (one global timeline). */
  joinKeys: readonly JoinKeySpec[];
  features: readonly FeatureSpec[];
  /** Time to live in milliseconds; 0 or absent means no limit. */
  ttlMs?: number;
}

/** An entity-row column handed in inline. */
export interface EntityColumn {
  name: string;
  type: typesV1.ValueType;
}

/**
 * Entity rows handed in from Node, in batches (a client stream, say); each batch
 * maps column name -> values, the timestamp column holding Dates. Batches are
 * loaded into a temporary table in the engine one at a time.
 */
export interface InlineEntities {
  kind: 'rows';
  columns: readonly EntityColumn[];
  timestampColumn: string;
  batches: Iterable<EntityBatch> | AsyncIterable<EntityBatch>;
}

export type EntityBatch = Readonly<Record<string, readonly Cell[]>>;

/**
 * Entity rows already in the engine (a table, query or file). Each row gets a
 * row index (0, 1, ...), which is the output order: ascending `orderColumn`
 * when one is named (nulls last; rows with equal values in an unspecified order
 * among themselves). Without it the order is the engine's read order, which only
 * DuckDB files define (file order); a PostgreSQL or BigQuery table has none, so
 * the order (and so each row's index) is unspecified there.
 */
export interface SourceEntities {
  kind: 'source';
  location: SourceLocation;
  /** Defaults to `event_timestamp`. */
  timestampColumn?: string;
  /** A column of the entity rows that orders them (and numbers them); optional. */
  orderColumn?: string;
}

export type EntityInput = InlineEntities | SourceEntities;

export interface HistoricalRequest {
  entities: EntityInput;
  views: readonly HistoricalView[];
  /** Rows per streamed chunk; default 10,000. */
  chunkRows?: number;
  /** Aborting it stops the engine's work (query interrupted or cancelled) and fails the call with its reason. */
  signal?: AbortSignal;
}

export type ColumnRole = 'join_key' | 'passthrough' | 'timestamp' | 'feature';

export interface ResultColumn {
  name: string;
  type: typesV1.ValueType;
  role: ColumnRole;
}

/** Entity columns in input order (the timestamp column among them), then features in request order. */
export interface ResultSchema {
  columns: readonly ResultColumn[];
  timestampColumn: string;
}

/** A run of consecutive output rows; columns in schema order. */
export interface ResultChunk {
  /** Index of the chunk's first row, which is its entity row's index in the input. */
  firstRow: number;
  rowCount: number;
  columns: Cell[][];
}

export interface HistoricalResult extends AsyncIterable<ResultChunk> {
  readonly schema: ResultSchema;
  /** Entity rows (= output rows). */
  readonly rowCount: number;
  /** Drops temporary tables; called automatically when iteration ends or breaks. */
  close(): Promise<void>;
}

/** One column of a Parquet result: a store column, renamed and cast to its value type. */
export interface ParquetColumn {
  /** The store column (ResultSchema) it reads. */
  readonly column: string;
  /** Its name in the file. */
  readonly as: string;
  readonly type: typesV1.ValueType;
}

/** How a join's result is cut into Parquet files. */
export interface ParquetOutput {
  /** The file's columns, in order, from the join's schema. */
  columns(schema: ResultSchema): readonly ParquetColumn[];
  /** Rows per file at most. */
  readonly maxRows: number;
  /** Bytes per file at most (a single row larger than this still goes alone). */
  readonly maxBytes: number;
}

/** One complete Parquet file of consecutive output rows. */
export interface ParquetPart {
  readonly firstRow: number;
  readonly rowCount: number;
  readonly bytes: Uint8Array;
}

export interface HistoricalParquet extends AsyncIterable<ParquetPart> {
  readonly schema: ResultSchema;
  readonly rowCount: number;
  /** Drops the engine's copy and the files; called automatically when iteration ends or breaks. */
  close(): Promise<void>;
}

/** The row-index column every table output gets unless the destination names another. */
export const DEFAULT_ROW_INDEX_COLUMN = 'row_index';

/**
 * Where exportHistoricalFeatures writes: a Parquet/CSV file (DuckDB; rows in output
 * order) or a table (all three engines). A table has no order of its own, so it gets a
 * row-index column: the row's 0-based index in the output order (its entity row's
 * index, see SourceEntities), named `rowIndexColumn` (default `row_index`).
 */
export type Destination =
  | { kind: 'file'; path: string; format?: 'parquet' | 'csv'; overwrite?: boolean }
  | { kind: 'table'; table: string; overwrite?: boolean; rowIndexColumn?: string };

export interface ExportResult {
  schema: ResultSchema;
  rowCount: number;
  /** The row-index column written (table destinations). */
  rowIndexColumn?: string;
}

export interface PullLatestRequest {
  source: BatchSource;
  joinKeys: readonly JoinKeySpec[];
  features: readonly FeatureSpec[];
  /** Inclusive window on event time. */
  start: Date;
  end: Date;
  /** Shard i of n by a hash of the entity key, so replicas can split a job. */
  shard?: { index: number; count: number };
  chunkRows?: number;
}

/** Columns: join keys, then features (by FeatureSpec.outputName ?? name). One row per entity key. */
export interface PullLatestChunk {
  rowCount: number;
  columns: Record<string, CellColumn>;
  /** Event time per row, ms since the epoch: a typed column, not a Date per row. */
  eventTs: Float64Array;
  /** Created time per row in ms; NaN when the source has no created column or the cell is null. */
  createdTs: Float64Array;
}

/**
 * Rows to append to a batch source. Columns by the names the view uses (after
 * field mapping); columns of the source that are not given are written as null.
 */
export interface AppendRows {
  columns: Readonly<Record<string, readonly Cell[]>>;
  eventTimestamps: readonly Date[];
  createdTimestamps?: readonly Date[];
}

/** What a source check found, and which declared part of the source it is about. */
export interface SourceProblem {
  /** Which declared part of the source or view the problem is about. */
  about: { kind: 'timestamp_field' } | { kind: 'created_timestamp_column' } | { kind: 'join_key'; name: string } | { kind: 'feature'; name: string };
  message: string;
}

/** What one view reads from a source. */
export interface SourceUse {
  joinKeys: readonly JoinKeySpec[];
  features: readonly FeatureSpec[];
}

/** A source check: a problem reading the source itself, else the problems of each view (in order). */
export interface SourceCheck {
  relation: string | undefined;
  views: SourceProblem[][];
}

/** One offline engine. */
export interface OfflineStore {
  readonly engine: 'duckdb' | 'postgres' | 'bigquery';
  /** Point-in-time join, streamed back in input order. */
  getHistoricalFeatures(request: HistoricalRequest): Promise<HistoricalResult>;
  /**
   * The same join as Parquet files written by the engine, streamed as each is written
   * (DuckDB only: the other engines leave it undefined).
   */
  getHistoricalParquet?(request: HistoricalRequest, output: ParquetOutput): Promise<HistoricalParquet>;
  /** The same join, written into the engine (file or table) instead of streamed. */
  exportHistoricalFeatures(request: HistoricalRequest, destination: Destination): Promise<ExportResult>;
  /** Latest row per entity key with event time in [start, end]. */
  pullLatest(request: PullLatestRequest): AsyncIterable<PullLatestChunk>;
  /** Appends rows where historical retrieval and pullLatest read them. Returns rows written. */
  append(source: BatchSource, rows: AppendRows): Promise<number>;
  /**
   * Checks that a source can be read as its views declare it: the table, query or files
   * exist and have the timestamp, created, join-key and feature columns, of fitting types.
   * Reads the source's description once for all its views (for apply-time checks).
   */
  verifySource(source: BatchSource, views: readonly SourceUse[]): Promise<SourceCheck>;
  /**
   * TFDV-compatible statistics of a source's rows in a window (or of a table, query or
   * file), computed by SQL aggregates in the engine; no row comes back to Node.
   */
  computeStatistics(request: StatisticsRequest): Promise<tfmdV0.DatasetFeatureStatisticsList>;
  close(): Promise<void>;
}
