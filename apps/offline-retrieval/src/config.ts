import { DEFAULT_ROW_COST_LIMIT } from '@larder/core';
import { offlineStoreConfigSchema } from '@larder/offline-store';
import { authConfigSchema } from '@larder/auth';
import { duration, int, serverConfigSchema, string } from '@larder/rpc';
import type { ConfigOf } from '@larder/rpc';

/**
 * Per-request budget of on-demand features, in cost units (10-90 ns each): minutes of
 * CPU, as a training set may need. The call's deadline and cancellation bound it too.
 */
export const DEFAULT_ON_DEMAND_REQUEST_COST = 10_000_000_000;

export const offlineRetrievalSchema = {
  ...serverConfigSchema({ grpcPort: 6571, metricsPort: 9471 }),
  ...authConfigSchema(),
  registry: {
    address: string({ default: '127.0.0.1:6570', env: 'LARDER_REGISTRY_ADDRESS', doc: 'The registry service, host:port.' }),
    startupWait: duration({
      default: 5_000,
      env: 'LARDER_REGISTRY_STARTUP_WAIT',
      doc: 'How long to wait at start for the first registry snapshot; calls get UNAVAILABLE until it arrives.',
    }),
  },
  retrieval: {
    project: string({ default: '', env: 'LARDER_PROJECT', doc: "Project of queries that name none; empty means the registry's only project." }),
    maxRowsPerChunk: int({
      default: 10_000,
      min: 1,
      env: 'LARDER_RETRIEVAL_MAX_ROWS_PER_CHUNK',
      doc: 'Rows per streamed chunk when the query asks for none (or more).',
    }),
    maxChunkBytes: int({
      default: 4 * 1024 * 1024,
      min: 1024,
      env: 'LARDER_RETRIEVAL_MAX_CHUNK_BYTES',
      doc: 'Approximate encoded size a result chunk is kept under (well below grpc.maxMessageBytes).',
    }),
    onDemandRowCost: int({
      default: DEFAULT_ROW_COST_LIMIT,
      min: 1,
      env: 'LARDER_RETRIEVAL_ON_DEMAND_ROW_COST',
      doc: 'Cost units one on-demand view may take for one entity row (about 10-90 ns each); more is RESOURCE_EXHAUSTED.',
    }),
    onDemandRequestCost: int({
      default: DEFAULT_ON_DEMAND_REQUEST_COST,
      min: 1,
      env: 'LARDER_RETRIEVAL_ON_DEMAND_REQUEST_COST',
      doc: 'Cost units all on-demand views may take over one request; more is RESOURCE_EXHAUSTED.',
    }),
  },
  statistics: {
    directory: string({
      default: '',
      env: 'LARDER_STATISTICS_DIR',
      doc: 'Folder where computed statistics are kept (one file per record); empty keeps them in memory until the service stops.',
    }),
  },
  offlineStore: offlineStoreConfigSchema(),
};

export type OfflineRetrievalConfig = ConfigOf<typeof offlineRetrievalSchema>;
