import { registryV1 } from '@larder/proto';
import { pendingService, serverConfigSchema } from '@larder/rpc';
import type { RunServiceOptions } from '@larder/rpc';

const schema = serverConfigSchema({ grpcPort: 6570, metricsPort: 9470 });

/** How the registry service is configured and built; main.ts runs it, `npm start` embeds it. */
export const registryService: RunServiceOptions<typeof schema> = {
  name: 'registry',
  schema,
  setup: () => ({
    services: [pendingService(registryV1.RegistryService, 'issue #3: registry service, feature repo definitions and the larder CLI')],
  }),
};
