import { defaultRegistryPath, openRegistryStore } from '@larder/registry-store';
import { allowListProblems, ENDPOINT_SETTINGS, FUTURE_SKEW_SETTING, LOOPBACK_ENDPOINTS } from '@larder/core';
import { authConfigSchema, startServiceAuth } from '@larder/auth';
import { bindHost, ConfigError, duration, serverConfigSchema, string, stringList } from '@larder/rpc';
import type { RunServiceOptions } from '@larder/rpc';
import { guardRegistry, RegistryAccess } from './guard';
import { registryHandlers } from './handlers';
import { registryErrorMappings } from './store-errors';
import { WatchStreams } from './watch';

const schema = {
  ...serverConfigSchema({ grpcPort: 6570, metricsPort: 9470 }),
  ...authConfigSchema(),
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
    kafkaBrokers: stringList({
      default: LOOPBACK_ENDPOINTS,
      env: ENDPOINT_SETTINGS.kafkaBrokers.env,
      doc: 'Kafka brokers a source may list, as host:port patterns (* or *.domain hosts, * ports).',
    }),
    schemaRegistries: stringList({
      default: LOOPBACK_ENDPOINTS,
      env: ENDPOINT_SETTINGS.schemaRegistries.env,
      doc: 'Schema registries a source may name, as host:port patterns.',
    }),
  },
};

/** How the registry service is configured and built; main.ts runs it, `npm start` embeds it. */
export const registryService: RunServiceOptions<typeof schema> = {
  name: 'registry',
  schema,
  setup: async ({ config, logger }) => {
    const problems = allowListProblems(config.endpoints);
    if (problems.length > 0) throw new ConfigError(problems.map(({ key, problem }) => ({ key, problem, source: 'configuration' })));
    const auth = startServiceAuth({
      service: 'registry',
      auth: config.auth,
      hosts: [bindHost(config.grpc.host, config), bindHost(config.metrics.host, config)],
      clientCaFile: config.tls.clientCaFile,
      logger,
    });
    const store = await openRegistryStore(config.registry.location);
    const streams = new WatchStreams();
    // The permissions (and the objects' tags) as committed, version by version.
    const access = await RegistryAccess.follow(store, auth.authenticator.enabled);
    logger.info('registry store open', { location: store.location, version: String((await store.version()).version) });
    const handlers = registryHandlers(store, streams, { maxFutureSkewMs: config.registry.maxFutureSkew, endpoints: config.endpoints });
    return {
      services: [guardRegistry(handlers, { access, store, audit: auth.audit })],
      interceptors: [auth.interceptor],
      errorMappings: registryErrorMappings(),
      ...(auth.metricsGuard !== undefined && { metricsGuard: auth.metricsGuard }),
      // Watch streams never end on their own; end them so the drain can finish.
      drainHooks: [() => streams.endAll('registry is shutting down; reconnect to another replica')],
      closeHooks: [() => store.close(), () => access.close(), () => auth.close()],
    };
  },
};
