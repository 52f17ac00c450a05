import { materializationV1 } from '@larder/proto';
import { pendingService, serverConfigSchema } from '@larder/rpc';
import type { RunServiceOptions } from '@larder/rpc';

const schema = serverConfigSchema({ grpcPort: 6572, metricsPort: 9472 });

/** How the materialization service is configured and built; main.ts runs it, `npm start` embeds it. */
export const materializationService: RunServiceOptions<typeof schema> = {
  name: 'materialization',
  schema,
  setup: () => ({
    services: [pendingService(materializationV1.MaterializationService, 'issue #6: materialization')],
  }),
};
