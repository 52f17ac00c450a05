import { BigQuery } from '@google-cloud/bigquery';
import { BigQueryOfflineStore, DuckDBOfflineStore, PostgresOfflineStore } from '@larder/offline-store';
import type { OfflineStore } from '@larder/offline-store';
import { duration, int, oneOf, serverConfigSchema, string } from '@larder/rpc';
import type { ConfigOf } from '@larder/rpc';

export const offlineRetrievalSchema = {
  ...serverConfigSchema({ grpcPort: 6571, metricsPort: 9471 }),
  registry: {
    address: string({ default: '127.0.0.1:6570', env: 'LARDER_REGISTRY_ADDRESS', doc: 'The registry service, host:port.' }),
    startupWait: duration({ default: 5_000, env: 'LARDER_REGISTRY_STARTUP_WAIT', doc: 'How long to wait at start for the first registry snapshot; calls get UNAVAILABLE until it arrives.' }),
  },
  retrieval: {
    project: string({ default: '', env: 'LARDER_PROJECT', doc: "Project of queries that name none; empty means the registry's only project." }),
    maxRowsPerChunk: int({ default: 10_000, min: 1, env: 'LARDER_RETRIEVAL_MAX_ROWS_PER_CHUNK', doc: 'Rows per streamed chunk when the query asks for none (or more).' }),
    maxChunkBytes: int({ default: 4 * 1024 * 1024, min: 1024, env: 'LARDER_RETRIEVAL_MAX_CHUNK_BYTES', doc: 'Approximate encoded size a result chunk is kept under (well below grpc.maxMessageBytes).' }),
  },
  offlineStore: {
    type: oneOf(['duckdb', 'postgres', 'bigquery'] as const, { default: 'duckdb', env: 'LARDER_OFFLINE_STORE_TYPE' }),
    duckdbDatabase: string({ default: ':memory:', env: 'LARDER_DUCKDB_DATABASE', doc: 'DuckDB database file; sources are files, so memory is enough unless table sources live in it.' }),
    duckdbThreads: int({ default: 0, min: 0, env: 'LARDER_DUCKDB_THREADS', doc: "DuckDB worker threads; 0 keeps DuckDB's default (all cores)." }),
    duckdbMemoryLimit: string({ default: '', env: 'LARDER_DUCKDB_MEMORY_LIMIT', doc: "e.g. '2GB'; empty keeps DuckDB's default (80% of RAM)." }),
    postgresUrl: string({ default: 'postgres://127.0.0.1:5432/larder', env: 'LARDER_POSTGRES_URL', doc: 'postgres://user:pass@host:port/db' }),
    bigqueryProject: string({ default: '', env: 'LARDER_BIGQUERY_PROJECT', doc: 'GCP project the jobs run in.' }),
    bigqueryDataset: string({ default: 'larder_scratch', env: 'LARDER_BIGQUERY_DATASET', doc: 'Dataset for temporary entity tables.' }),
    bigqueryApiEndpoint: string({ default: '', env: 'LARDER_BIGQUERY_API_ENDPOINT', doc: 'Override of the REST endpoint (an emulator); empty = Google.' }),
  },
};

export type OfflineRetrievalConfig = ConfigOf<typeof offlineRetrievalSchema>;

/** Opens the configured offline engine. */
export async function openOfflineStore(config: OfflineRetrievalConfig['offlineStore']): Promise<OfflineStore> {
  switch (config.type) {
    case 'duckdb': {
      const settings: Record<string, string> = {};
      if (config.duckdbThreads > 0) settings['threads'] = String(config.duckdbThreads);
      if (config.duckdbMemoryLimit !== '') settings['memory_limit'] = config.duckdbMemoryLimit;
      return DuckDBOfflineStore.create({ database: config.duckdbDatabase, config: settings });
    }
    case 'postgres':
      return new PostgresOfflineStore({ connectionString: config.postgresUrl, max: 8 });
    case 'bigquery': {
      const bigquery = new BigQuery({
        ...(config.bigqueryProject !== '' && { projectId: config.bigqueryProject }),
        ...(config.bigqueryApiEndpoint !== '' && { apiEndpoint: config.bigqueryApiEndpoint }),
      });
      return new BigQueryOfflineStore({ bigquery, scratchDataset: config.bigqueryDataset });
    }
  }
}
