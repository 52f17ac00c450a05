import { defaultRegistryPath, openRegistryStore } from '@larder/registry-store';
import { allowListProblems, ENDPOINT_SETTINGS, FUTURE_SKEW_SETTING, LOOPBACK_ENDPOINTS } from '@larder/core';
import { ConfigError, duration, serverConfigSchema, string, stringList } from '@larder/rpc';
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
  // Hosts a data source may name; an apply naming another is refused (see the README).
  endpoints: {
    kafkaBrokers: stringList({ default: LOOPBACK_ENDPOINTS, env: ENDPOINT_SETTINGS.kafkaBrokers.env, doc: 'Kafka brokers a source may list, as host:port patterns (* or *.domain hosts, * ports).' }),
    schemaRegistries: stringList({ default: LOOPBACK_ENDPOINTS, env: ENDPOINT_SETTINGS.schemaRegistries.env, doc: 'Schema registries a source may name, as host:port patterns.' }),
  },
};

/** How the registry service is configured and built; main.ts runs it, `npm start` embeds it. */
export const registryService: RunServiceOptions<typeof schema> = {
  name: 'registry',
  schema,
  setup: async ({ config, logger }) => {
    const problems = allowListProblems(config.endpoints);
    if (problems.length > 0) throw new ConfigError(problems.map(({ key, problem }) => ({ key, problem, source: 'configuration' })));
    const store = await openRegistryStore(config.registry.location);
    const streams = new WatchStreams();
    logger.info('registry store open', { location: store.location, version: String((await store.version()).version) });
    return {
      services: [registryHandlers(store, streams, { maxFutureSkewMs: config.registry.maxFutureSkew, endpoints: config.endpoints })],
      // Watch streams never end on their own; end them so the drain can finish.
      drainHooks: [() => streams.endAll('registry is shutting down; reconnect to another replica')],
      closeHooks: [() => store.close()],
    };
  },
};

