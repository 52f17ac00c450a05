import { servingV1 } from '@larder/proto';
import { pendingService, serverConfigSchema } from '@larder/rpc';
import type { RunServiceOptions } from '@larder/rpc';

const schema = serverConfigSchema({ grpcPort: 6566, metricsPort: 9466 });

/** How the online-serving service is configured and built; main.ts runs it, `npm start` embeds it. */
export const onlineServingService: RunServiceOptions<typeof schema> = {
  name: 'online-serving',
  schema,
  setup: () => ({
    services: [pendingService(servingV1.OnlineServingService, 'issue #4: online serving')],
  }),
};
