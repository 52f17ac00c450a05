import { offlineV1 } from '@larder/proto';
import { pendingService, serverConfigSchema } from '@larder/rpc';
import type { RunServiceOptions } from '@larder/rpc';

const schema = serverConfigSchema({ grpcPort: 6571, metricsPort: 9471 });

/** How the offline-retrieval service is configured and built; main.ts runs it, `npm start` embeds it. */
export const offlineRetrievalService: RunServiceOptions<typeof schema> = {
  name: 'offline-retrieval',
  schema,
  setup: () => ({
    services: [pendingService(offlineV1.OfflineRetrievalService, 'issue #5: offline retrieval')],
  }),
};
