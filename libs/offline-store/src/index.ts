// @larder/offline-store: point-in-time retrieval, pull-latest and appends over
// DuckDB (embedded default), PostgreSQL and BigQuery, behind one interface.
export type * from './types';
export { DEFAULT_ROW_INDEX_COLUMN } from './types';
export {
  OfflineStoreError,
  MissingColumnError,
  ColumnTypeError,
  JoinKeyTypeError,
  EmptyEntitySetError,
  DuplicateColumnError,
  UnsupportedRequestError,
  InvalidRequestError,
  DestinationExistsError,
  NoSourceFilesError,
  EngineError,
  PathDeniedError,
  DestinationNotReplaceableError,
  columnName,
} from './errors';
export type { EngineFailure } from './errors';
export { cellConverter, cellToValue, toCell, valueToCell } from './cells';
export type { CellConverter } from './cells';
export {
  MicroDate,
  dateFromMicros,
  dateFromMillis,
  dateFromTimestamp,
  epochMicros,
  epochMillis,
  isoMicros,
  parseTimestampText,
  subMillisMicros,
  timestampParts,
} from './micro-date';
export { DuckDBOfflineStore, appendFolder } from './duckdb-store';
export type { DuckDBOfflineStoreOptions } from './duckdb-store';
export type { FileRoots } from './paths';
export { PostgresOfflineStore, postgresType } from './postgres-store';
export type { PostgresOfflineStoreOptions } from './postgres-store';
export { BigQueryOfflineStore, bigqueryField } from './bigquery-store';
export type { BigQueryOfflineStoreOptions } from './bigquery-store';
export { bigqueryClient, offlineStoreConfigSchema, openOfflineStore, type OfflineStoreSettings } from './config';
export { resolveStatisticsOptions, STATISTICS_OPTION_LIMITS } from './statistics';
export type { StatisticsInput, StatisticsOptions, StatisticsRequest, ResolvedStatisticsOptions } from './statistics';
