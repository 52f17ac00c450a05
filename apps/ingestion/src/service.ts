import { ingestionV1 } from '@larder/proto';
import { pendingService, serverConfigSchema } from '@larder/rpc';
import type { RunServiceOptions } from '@larder/rpc';

const schema = serverConfigSchema({ grpcPort: 6573, metricsPort: 9473 });

/** How the ingestion service is configured and built; main.ts runs it, `npm start` embeds it. */
export const ingestionService: RunServiceOptions<typeof schema> = {
  name: 'ingestion',
  schema,
  setup: () => ({
    services: [pendingService(ingestionV1.IngestionService, 'issue #7: ingestion')],
  }),
};
