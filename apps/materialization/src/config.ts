import { FUTURE_SKEW_SETTING } from '@larder/core';
import { offlineStoreConfigSchema } from '@larder/offline-store';
import { onlineStoreConfigSchema } from '@larder/online-store';
import { authConfigSchema } from '@larder/auth';
import { duration, int, serverConfigSchema, string } from '@larder/rpc';
import type { ConfigOf } from '@larder/rpc';

// The registry and online-store keys are the same as online serving's, so one
// larder.yaml (or one set of LARDER_* variables) points both at the same data.
export const materializationSchema = {
  ...serverConfigSchema({ grpcPort: 6572, metricsPort: 9472 }),
  ...authConfigSchema(),
  registry: {
    address: string({ default: '127.0.0.1:6570', env: 'LARDER_REGISTRY_ADDRESS', doc: 'The registry service, host:port.' }),
    startupWait: duration({ default: 5_000, env: 'LARDER_REGISTRY_STARTUP_WAIT', doc: 'How long to wait at start for the first registry snapshot.' }),
  },
  materialization: {
    project: string({ default: '', env: 'LARDER_PROJECT', doc: "Project of requests that name none; empty means the registry's only project." }),
    shards: int({
      default: 1,
      min: 1,
      max: 64,
      env: 'LARDER_MATERIALIZATION_SHARDS',
      doc: 'Entity-key hash shards each view is split into, read and written side by side.',
    }),
    leaseDuration: duration({
      default: 60_000,
      min: 1_000,
      max: 3_600_000,
      env: 'LARDER_MATERIALIZATION_LEASE_DURATION',
      doc: "How long a job's lease on a view in the registry lasts unless renewed (renewed every third of it); a replica that dies blocks its views at most this long.",
    }),
    viewConcurrency: int({
      default: 2,
      min: 1,
      max: 64,
      env: 'LARDER_MATERIALIZATION_VIEW_CONCURRENCY',
      doc: 'Groups of views materialized at the same time; views with the same join keys are copied together as one group (one merged write per entity).',
    }),
    chunkRows: int({
      default: 5_000,
      min: 1,
      max: 1_000_000,
      env: 'LARDER_MATERIALIZATION_CHUNK_ROWS',
      doc: 'Rows per chunk read from the offline store and written online.',
    }),
    writesInFlight: int({
      default: 4,
      min: 1,
      max: 64,
      env: 'LARDER_MATERIALIZATION_WRITES_IN_FLIGHT',
      doc: 'Chunk writes in flight per shard (the pipeline depth; bounds memory).',
    }),
    writeTimeout: duration({ default: 30_000, min: 1, env: 'LARDER_MATERIALIZATION_WRITE_TIMEOUT', doc: 'Deadline of one chunk write to the online store.' }),
    maxFutureSkew: duration(FUTURE_SKEW_SETTING),
    jobHistory: int({
      default: 200,
      min: 1,
      max: 100_000,
      env: 'LARDER_MATERIALIZATION_JOB_HISTORY',
      doc: 'Finished jobs kept in memory for GetJob/ListJobs.',
    }),
  },
  offlineStore: offlineStoreConfigSchema(),
  onlineStore: onlineStoreConfigSchema(),
};

export type MaterializationConfig = ConfigOf<typeof materializationSchema>;
