import { BigQuery } from '@google-cloud/bigquery';
import { ConfigError, int, oneOf, string, stringList } from '@larder/config';
import type { ConfigOf } from '@larder/config';
import { BigQueryOfflineStore } from './bigquery-store';
import { DuckDBOfflineStore } from './duckdb-store';
import { PostgresOfflineStore } from './postgres-store';
import type { OfflineStore } from './types';

/**
 * The offline-store keys every service that reads or writes offline data
 * shares (retrieval, materialization, ingestion), under the same names and
 * environment variables.
 */
export function offlineStoreConfigSchema() {
  return {
    type: oneOf(['duckdb', 'postgres', 'bigquery'] as const, { default: 'duckdb', env: 'LARDER_OFFLINE_STORE_TYPE' }),
    duckdbDatabase: string({
      default: ':memory:',
      env: 'LARDER_DUCKDB_DATABASE',
      doc: 'DuckDB database file; file sources need none, so memory is enough unless table sources live in it.',
    }),
    duckdbThreads: int({ default: 0, min: 0, env: 'LARDER_DUCKDB_THREADS', doc: "DuckDB worker threads; 0 keeps DuckDB's default (all cores)." }),
    duckdbMemoryLimit: string({ default: '', env: 'LARDER_DUCKDB_MEMORY_LIMIT', doc: "e.g. '2GB'; empty keeps DuckDB's default (80% of RAM)." }),
    duckdbTempDirectory: string({
      default: '',
      env: 'LARDER_DUCKDB_TEMP_DIRECTORY',
      doc: "Where DuckDB spills joins and sorts larger than memory_limit; empty keeps DuckDB's default ('<database>.tmp', or '.tmp' in the working directory for ':memory:').",
    }),
    duckdbChunkDirectory: string({
      default: '',
      env: 'LARDER_DUCKDB_CHUNK_DIRECTORY',
      doc: 'Folder under which Parquet result chunks are written (one private folder per call, removed when it ends); empty: a new folder in the system temporary directory.',
    }),
    readRoots: stringList({
      default: ['.'],
      env: 'LARDER_OFFLINE_READ_ROOTS',
      doc:
        'Folders (comma-separated) whose files DuckDB may read: file sources, entity files, and the `.appended` folders ' +
        'ingestion writes beside sources. Any other path, a symlink or glob leading out, or a URL is PERMISSION_DENIED. ' +
        "Default: the service's working directory.",
    }),
    writeRoot: string({
      default: '.',
      env: 'LARDER_OFFLINE_WRITE_ROOT',
      doc: "Folder DuckDB writes results and saved datasets under; overwrite replaces only files Larder wrote there. Default: the service's working directory.",
    }),
    postgresUrl: string({ default: 'postgres://127.0.0.1:5432/larder', env: 'LARDER_POSTGRES_URL', doc: 'postgres://user:pass@host:port/db' }),
    bigqueryProject: string({ default: '', env: 'LARDER_BIGQUERY_PROJECT', doc: 'GCP project the jobs run in.' }),
    bigqueryDataset: string({ default: 'larder_scratch', env: 'LARDER_BIGQUERY_DATASET', doc: 'Dataset for temporary tables.' }),
    bigqueryLocation: string({ default: '', env: 'LARDER_BIGQUERY_LOCATION' }),
    bigqueryApiEndpoint: string({ default: '', env: 'LARDER_BIGQUERY_API_ENDPOINT', doc: 'Override of the REST endpoint (an emulator); empty = Google.' }),
  } as const;
}

export type OfflineStoreSettings = ConfigOf<ReturnType<typeof offlineStoreConfigSchema>>;

/** Opens the configured engine; `poolSize` bounds PostgreSQL connections. */
export async function openOfflineStore(settings: OfflineStoreSettings, options: { poolSize?: number } = {}): Promise<OfflineStore> {
  switch (settings.type) {
    case 'duckdb': {
      const config: Record<string, string> = {};
      if (settings.duckdbThreads > 0) config['threads'] = String(settings.duckdbThreads);
      if (settings.duckdbMemoryLimit !== '') config['memory_limit'] = settings.duckdbMemoryLimit;
      if (settings.duckdbTempDirectory !== '') config['temp_directory'] = settings.duckdbTempDirectory;
      return DuckDBOfflineStore.create({
        database: settings.duckdbDatabase,
        config,
        roots: { read: settings.readRoots, write: settings.writeRoot },
        ...(settings.duckdbChunkDirectory !== '' && { chunkDirectory: settings.duckdbChunkDirectory }),
      });
    }
    case 'postgres':
      return new PostgresOfflineStore({ connectionString: settings.postgresUrl, ...(options.poolSize !== undefined && { max: options.poolSize }) });
    case 'bigquery':
      return new BigQueryOfflineStore({
        bigquery: bigqueryClient(settings),
        scratchDataset: settings.bigqueryDataset,
        ...(settings.bigqueryLocation !== '' && { location: settings.bigqueryLocation }),
      });
  }
}

/**
 * The BigQuery client the settings describe. An API endpoint (an emulator) comes with no
 * Google credentials, so nothing could supply the project: it must be set, and Google's
 * auth library is kept from probing the GCE metadata server (and warning that it is not
 * there) in every process that opens the store.
 */
export function bigqueryClient(
  settings: Pick<OfflineStoreSettings, 'bigqueryProject' | 'bigqueryApiEndpoint'>,
  env: NodeJS.ProcessEnv = process.env,
): BigQuery {
  const emulator = settings.bigqueryApiEndpoint !== '';
  if (emulator && settings.bigqueryProject === '') {
    throw new ConfigError([
      {
        key: 'offlineStore.bigqueryProject',
        problem:
          `is empty, but offlineStore.bigqueryApiEndpoint is set (${settings.bigqueryApiEndpoint}): an endpoint such as ` +
          `an emulator has no Google credentials to take a project from; set the project the endpoint serves`,
        source: 'environment variable LARDER_BIGQUERY_PROJECT or the config file',
      },
    ]);
  }
  if (emulator && (env['METADATA_SERVER_DETECTION'] ?? '') === '' && (env['GOOGLE_APPLICATION_CREDENTIALS'] ?? '') === '')
    env['METADATA_SERVER_DETECTION'] = 'none';
  return new BigQuery({
    ...(settings.bigqueryProject !== '' && { projectId: settings.bigqueryProject }),
    ...(emulator && { apiEndpoint: settings.bigqueryApiEndpoint }),
  });
}
