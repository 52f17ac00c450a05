import os from 'node:os';
import path from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { DuckDBOfflineStore, PostgresOfflineStore, BigQueryOfflineStore } from '@larder/offline-store';
import type { OfflineStore } from '@larder/offline-store';
import type { OnlineStoreConfig } from '@larder/online-store';
import { duration, int, oneOf, serverConfigSchema, string } from '@larder/rpc';
import type { ConfigOf } from '@larder/rpc';

// The registry and online-store keys are the same as online serving's, so one
// larder.yaml (or one set of LARDER_* variables) points both at the same data.
export const materializationSchema = {
  ...serverConfigSchema({ grpcPort: 6572, metricsPort: 9472 }),
  registry: {
    address: string({ default: '127.0.0.1:6570', env: 'LARDER_REGISTRY_ADDRESS', doc: 'The registry service, host:port.' }),
    startupWait: duration({ default: 5_000, env: 'LARDER_REGISTRY_STARTUP_WAIT', doc: 'How long to wait at start for the first registry snapshot.' }),
  },
  materialization: {
    project: string({ default: '', env: 'LARDER_PROJECT', doc: "Project of requests that name none; empty means the registry's only project." }),
    shards: int({ default: 1, min: 1, max: 64, env: 'LARDER_MATERIALIZATION_SHARDS', doc: 'Entity-key hash shards each view is split into, read and written side by side.' }),
    viewConcurrency: int({ default: 2, min: 1, max: 64, env: 'LARDER_MATERIALIZATION_VIEW_CONCURRENCY', doc: 'Views of one job materialized at the same time.' }),
    chunkRows: int({ default: 5_000, min: 1, max: 1_000_000, env: 'LARDER_MATERIALIZATION_CHUNK_ROWS', doc: 'Rows per chunk read from the offline store and written online.' }),
    writesInFlight: int({ default: 4, min: 1, max: 64, env: 'LARDER_MATERIALIZATION_WRITES_IN_FLIGHT', doc: 'Chunk writes in flight per shard (the pipeline depth; bounds memory).' }),
    writeTimeout: duration({ default: 30_000, min: 1, env: 'LARDER_MATERIALIZATION_WRITE_TIMEOUT', doc: 'Deadline of one chunk write to the online store.' }),
    jobHistory: int({ default: 200, min: 1, max: 100_000, env: 'LARDER_MATERIALIZATION_JOB_HISTORY', doc: 'Finished jobs kept in memory for GetJob/ListJobs.' }),
  },
  offlineStore: {
    type: oneOf(['duckdb', 'postgres', 'bigquery'] as const, { default: 'duckdb', env: 'LARDER_OFFLINE_STORE_TYPE' }),
    postgresUrl: string({ default: 'postgres://postgres@127.0.0.1:5432/postgres', env: 'LARDER_OFFLINE_POSTGRES_URL', doc: 'PostgreSQL offline store.' }),
    bigqueryProject: string({ default: '', env: 'LARDER_BIGQUERY_PROJECT', doc: 'BigQuery project id.' }),
    bigqueryDataset: string({ default: 'larder_scratch', env: 'LARDER_BIGQUERY_DATASET', doc: 'BigQuery dataset for temporary tables.' }),
    bigqueryLocation: string({ default: '', env: 'LARDER_BIGQUERY_LOCATION' }),
    bigqueryApiEndpoint: string({ default: '', env: 'LARDER_BIGQUERY_API_ENDPOINT', doc: 'Emulator endpoint; empty for the real BigQuery.' }),
  },
  onlineStore: {
    type: oneOf(['sqlite', 'redis'] as const, { default: 'sqlite', env: 'LARDER_ONLINE_STORE_TYPE' }),
    path: string({ default: path.join(os.homedir(), '.larder', 'online.db'), env: 'LARDER_ONLINE_STORE_PATH', doc: 'SQLite database file.' }),
    redisUrl: string({ default: 'redis://127.0.0.1:6379', env: 'LARDER_REDIS_URL', doc: 'redis://[user:pass@]host:port[/db]' }),
    redisLayout: oneOf(['packed', 'feast'] as const, { default: 'packed', env: 'LARDER_REDIS_LAYOUT' }),
    redisKeyPrefix: string({ default: 'larder:', env: 'LARDER_REDIS_KEY_PREFIX', doc: 'Packed layout: start of every key.' }),
  },
};

export type MaterializationConfig = ConfigOf<typeof materializationSchema>;

export function onlineStoreConfig(config: MaterializationConfig['onlineStore']): OnlineStoreConfig {
  return config.type === 'redis'
    ? { type: 'redis', url: config.redisUrl, layout: config.redisLayout, keyPrefix: config.redisKeyPrefix }
    : { type: 'sqlite', path: config.path };
}

export async function openOfflineStore(config: MaterializationConfig['offlineStore']): Promise<OfflineStore> {
  switch (config.type) {
    case 'duckdb':
      return DuckDBOfflineStore.create();
    case 'postgres':
      return new PostgresOfflineStore({ connectionString: config.postgresUrl });
    case 'bigquery': {
      const bigquery = new BigQuery({
        ...(config.bigqueryProject !== '' && { projectId: config.bigqueryProject }),
        ...(config.bigqueryApiEndpoint !== '' && { apiEndpoint: config.bigqueryApiEndpoint }),
      });
      return new BigQueryOfflineStore({ bigquery, scratchDataset: config.bigqueryDataset, ...(config.bigqueryLocation !== '' && { location: config.bigqueryLocation }) });
    }
  }
}
