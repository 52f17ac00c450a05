import { defaultRegistryPath, openRegistryStore } from '@larder/registry-store';
import { FUTURE_SKEW_SETTING } from '@larder/core';
import { duration, serverConfigSchema, string } from '@larder/rpc';
import type { RunServiceOptions } from '@larder/rpc';
import { registryHandlers } from './handlers';
import { WatchStreams } from './watch';

const schema = {
  ...serverConfigSchema({ grpcPort: 6570, metricsPort: 9470 }),
  registry: {
    location: string({
      default: defaultRegistryPath(),
      env: 'LARDER_REGISTRY_LOCATION',
      doc: 'Where definitions live: a file path (the embedded registry) or postgres://…[?schema=name].',
    }),
    maxFutureSkew: duration(FUTURE_SKEW_SETTING),
  },
};

/** How the registry service is configured and built; main.ts runs it, `npm start` embeds it. */
export const registryService: RunServiceOptions<typeof schema> = {
  name: 'registry',
  schema,
  setup: async ({ config, logger }) => {
    const store = await openRegistryStore(config.registry.location);
    const streams = new WatchStreams();
    logger.info('registry store open', { location: store.location, version: String((await store.version()).version) });
    return {
      services: [registryHandlers(store, streams, { maxFutureSkewMs: config.registry.maxFutureSkew })],
      // Watch streams never end on their own; end them so the drain can finish.
      drainHooks: [() => streams.endAll('registry is shutting down; reconnect to another replica')],
      closeHooks: [() => store.close()],
    };
  },
};

