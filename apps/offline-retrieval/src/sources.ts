import type { BatchSource, OfflineStore, SourceLocation } from '@larder/offline-store';
import { registryV1 } from '@larder/proto';
import type { offlineV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';

type Engine = OfflineStore['engine'];

const ENGINE_OF_KIND: Readonly<Record<string, Engine>> = { file: 'duckdb', bigquery: 'bigquery', postgres: 'postgres' };

function fileLocation(file: registryV1.FileSource): SourceLocation {
  const format = file.format === registryV1.FileFormat.CSV ? 'csv' : file.format === registryV1.FileFormat.PARQUET ? 'parquet' : undefined;
  return { kind: 'file', path: file.path, ...(format !== undefined && { format }) };
}

function tableOrQuery(location: registryV1.BigQuerySource['location'] | registryV1.PostgresSource['location']): SourceLocation | undefined {
  if (location.case === 'table' && location.value !== '') return { kind: 'table', table: location.value };
  if (location.case === 'query' && location.value !== '') return { kind: 'query', query: location.value };
  return undefined;
}

/**
 * Where the configured engine reads a source's rows. A source of another engine's
 * kind cannot be joined here (DuckDB reads files, PostgreSQL and BigQuery their own
 * tables), which is a deployment mistake, not a malformed request.
 */
export function locationFor(engine: Engine, kind: registryV1.DataSource['kind'] | offlineV1.EntitySource['location'], what: string): SourceLocation {
  if (kind.case === undefined) throw new RpcError(Code.INVALID_ARGUMENT, `${what}: no location set (file, bigquery or postgres)`);
  const owner = ENGINE_OF_KIND[kind.case];
  if (owner === undefined) {
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      `${what} is a ${kind.case} source; historical retrieval reads file, bigquery or postgres sources (set a batch_source on push and Kafka sources)`,
    );
  }
  if (owner !== engine) {
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      `${what} is a ${kind.case} source, but this offline-retrieval service runs on ${engine}, which reads ${engine === 'duckdb' ? 'file' : engine} sources only`,
    );
  }
  const location =
    kind.case === 'file'
      ? fileLocation(kind.value as registryV1.FileSource)
      : tableOrQuery((kind.value as registryV1.BigQuerySource | registryV1.PostgresSource).location);
  if (location === undefined || (location.kind === 'file' && location.path === ''))
    throw new RpcError(Code.INVALID_ARGUMENT, `${what}: its ${kind.case} location is empty`);
  // Whether the file exists is the store's to say, after it has checked the path lies under its roots.
  return location;
}

/**
 * Where historical retrieval reads a view: its batch_source, else (a stream-fed view
 * without one) the batch_source its stream source appends to, which is where ingestion
 * writes its rows offline.
 */
export function viewSourceOf(
  engine: Engine,
  sources: ReadonlyMap<string, registryV1.DataSource>,
  view: Pick<registryV1.FeatureView, 'name' | 'batchSource' | 'streamSource'>,
): BatchSource {
  if (view.batchSource !== '') return batchSourceOf(engine, sources, view.batchSource, view.name);
  if (view.streamSource === '')
    throw new RpcError(Code.FAILED_PRECONDITION, `feature view '${view.name}' has no batch_source to read for historical retrieval`);
  const stream = sources.get(view.streamSource);
  const via = stream?.kind.case === 'push' || stream?.kind.case === 'kafka' ? stream.kind.value.batchSource : '';
  if (via === '') {
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      `feature view '${view.name}' has no batch_source, and its stream source '${view.streamSource}' names none: historical retrieval needs a batch source to read`,
    );
  }
  return batchSourceOf(engine, sources, view.streamSource, view.name);
}

/** A registry data source as the offline store reads it; push and Kafka sources are read through their batch_source. */
export function batchSourceOf(engine: Engine, sources: ReadonlyMap<string, registryV1.DataSource>, name: string, view: string): BatchSource {
  let source = sources.get(name);
  if (source === undefined) throw new RpcError(Code.FAILED_PRECONDITION, `feature view '${view}' reads data source '${name}', which is not in the registry`);
  const via = source.kind.case === 'push' || source.kind.case === 'kafka' ? source.kind.value.batchSource : undefined;
  if (via !== undefined) {
    if (via === '')
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        `feature view '${view}' reads ${source.kind.case} source '${name}', which has no batch_source for historical retrieval`,
      );
    const batch = sources.get(via);
    if (batch === undefined)
      throw new RpcError(Code.FAILED_PRECONDITION, `${source.kind.case} source '${name}' names batch_source '${via}', which is not in the registry`);
    source = { ...batch, timestampField: batch.timestampField || source.timestampField } as registryV1.DataSource;
  }
  const fieldMapping = Object.keys(source.fieldMapping).length > 0 ? { ...source.fieldMapping } : undefined;
  return {
    name: source.name,
    location: locationFor(engine, source.kind, `data source '${source.name}' (of feature view '${view}')`),
    timestampField: source.timestampField,
    ...(source.createdTimestampColumn !== '' && { createdTimestampColumn: source.createdTimestampColumn }),
    ...(fieldMapping !== undefined && { fieldMapping }),
  };
}

/**
 * A table name a client sends (entity table, destination): one to three dot-separated
 * parts (BigQuery `project.dataset.table`, PostgreSQL `schema.table`), each quoted as an
 * identifier by the store. Quoting alone would keep SQL out; the check gives a precise
 * error instead of an engine failure for names no table can have.
 */
export function checkTableName(field: string, name: string, engine: 'postgres' | 'bigquery'): void {
  const parts = name.split('.');
  const most = engine === 'bigquery' ? 3 : 2;
  const part = engine === 'bigquery' ? /^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd} $-]{1,1024}$/u : /^[\p{L}\p{N}_$]{1,63}$/u;
  if (parts.length > most || parts.some((p) => !part.test(p))) {
    const form = engine === 'bigquery' ? "'dataset.table' or 'project.dataset.table'" : "'table' or 'schema.table'";
    throw new RpcError(
      Code.INVALID_ARGUMENT,
      `${field}: ${JSON.stringify(name.slice(0, 200))} is not a table name; give ${form}, each part letters, digits and underscores`,
    );
  }
}
