import type { Registry } from 'prom-client';
import type { ServerInterceptor, ServiceRegistration } from './adapter/types';
import type { ErrorMappings } from './error-mappings';
import { ConfigError, loadConfig } from '@larder/config';
import type { ConfigOf, ConfigOverrides, ConfigPreset } from '@larder/config';
import { createLogger } from './logger';
import type { Logger } from './logger';
import type { ServerConfig, ServerConfigSchema } from './server-config';
import { startServer } from './server';
import { clientSecurityFromConfig } from './tls/client-config';
import type { ClientSecurity } from './tls/client-config';
import { ServerTls } from './tls/server-tls';
import type { ExtraGrpcPort, Hook, ServerHandle } from './server';
import type { MetricsGuard } from './metrics';

export interface ServiceSetup {
  services: readonly ServiceRegistration[];
  interceptors?: readonly ServerInterceptor[];
  /** How the service's domain errors become statuses (StartServerOptions.errorMappings). */
  errorMappings?: ErrorMappings;
  drainHooks?: readonly Hook[];
  closeHooks?: readonly Hook[];
  /** The service's own Prometheus metrics, served beside the rpc metrics on /metrics. */
  metrics?: readonly Registry[];
  /** Who may read /metrics; everyone when absent (see MetricsGuard). */
  metricsGuard?: MetricsGuard;
  /** More ports serving the same services (see StartServerOptions.extraPorts); logged by name. */
  extraPorts?: readonly ExtraGrpcPort[];
}

/** What a service's setup gets. */
export interface ServiceContext<S extends ServerConfigSchema> {
  config: ConfigOf<S>;
  logger: Logger;
  /** The service's TLS (from the `tls` keys), for its own HTTP listeners (createHttpListener); undefined = plaintext. */
  tls: ServerTls | undefined;
  /** TLS and bearer token for clients of other services (from the `client` keys): pass to createClient / RegistryClient's clientOptions. */
  clientSecurity: ClientSecurity;
}

export interface RunServiceOptions<S extends ServerConfigSchema> {
  name: string;
  /** The service's schema, including serverConfigSchema()'s keys. */
  schema: S;
  /** Builds stores and handlers from the loaded configuration. */
  setup: (context: ServiceContext<S>) => Promise<ServiceSetup> | ServiceSetup;
  /** YAML file; defaults to `--config <path>` on the command line, then LARDER_CONFIG. */
  configFile?: string;
  env?: Readonly<Record<string, string | undefined>>;
  argv?: readonly string[];
  overrides?: ConfigOverrides<S>;
  /**
   * Settings below the configuration file, e.g. the stores of the feature repo the
   * service runs in (mains pass @larder/feature-repo's `featureRepoPreset`). May throw a
   * ConfigError naming the bad file and key.
   */
  preset?: (context: { argv: readonly string[]; env: Readonly<Record<string, string | undefined>> }) => Promise<ConfigPreset | undefined>;
  /** Replaced in tests; process.exit otherwise. */
  exit?: (code: number) => void;
  /** Whether to install SIGTERM/SIGINT handlers (default true). */
  handleSignals?: boolean;
  /** Where log lines go; stdout by default. */
  write?: (line: string) => void;
}

/**
 * The main of every Larder service: load configuration, run setup, start the
 * server, log where it listens, and on SIGTERM/SIGINT shut down gracefully
 * and exit 0 (1 when shutdown was forced or a hook failed; 2 on bad
 * configuration). A second signal exits at once with 1.
 */
export async function runService<S extends ServerConfigSchema>(options: RunServiceOptions<S>): Promise<ServerHandle | undefined> {
  const env = options.env ?? process.env;
  const argv = options.argv ?? process.argv.slice(2);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const file = options.configFile ?? flagValue(argv, '--config') ?? env.LARDER_CONFIG;

  let config: ConfigOf<S>;
  let preset: ConfigPreset | undefined;
  try {
    preset = await options.preset?.({ argv, env });
    config = loadConfig(options.schema, {
      ...(preset !== undefined && { preset }),
      ...(file !== undefined && { file }),
      env,
      ...(options.overrides !== undefined && { overrides: options.overrides }),
    });
  } catch (error) {
    const logger = createLogger({ service: options.name, ...(options.write && { write: options.write }) });
    if (error instanceof ConfigError) {
      logger.error(error.message, { issues: error.issues });
      exit(2);
      return undefined;
    }
    throw error;
  }

  // S extends the server schema, so its config has the server keys.
  const serverConfig = config as unknown as ServerConfig;
  const logger = createLogger({ service: options.name, level: serverConfig.log.level, ...(options.write && { write: options.write }) });
  let tls: ServerTls | undefined;
  let clientSecurity: ClientSecurity;
  try {
    tls = ServerTls.fromConfig(serverConfig.tls, { logger });
    clientSecurity = clientSecurityFromConfig(serverConfig.client, logger);
  } catch (error) {
    tls?.close();
    if (error instanceof ConfigError) {
      logger.error(error.message, { issues: error.issues });
      exit(2);
      return undefined;
    }
    throw error;
  }
  let handle: ServerHandle;
  try {
    const setup = await options.setup({ config, logger, tls, clientSecurity });
    handle = await startServer({
      name: options.name,
      services: setup.services,
      config: serverConfig,
      logger,
      ...(setup.interceptors && { interceptors: setup.interceptors }),
      ...(setup.errorMappings && { errorMappings: setup.errorMappings }),
      ...(setup.drainHooks && { drainHooks: setup.drainHooks }),
      ...(setup.closeHooks && { closeHooks: setup.closeHooks }),
      ...(setup.metrics && { metrics: setup.metrics }),
      ...(setup.metricsGuard && { metricsGuard: setup.metricsGuard }),
      ...(setup.extraPorts && { extraPorts: setup.extraPorts }),
      tls,
    });
  } catch (error) {
    tls?.close();
    // Setup may find a setting that only makes sense with others (auth mode none on a
    // public bind): that is bad configuration like any other, exit 2 with the key named.
    if (error instanceof ConfigError) {
      logger.error(error.message, { issues: error.issues });
      exit(2);
      return undefined;
    }
    logger.error('failed to start', { error });
    exit(1);
    return undefined;
  }

  // Where the sockets are bound, not where a local client would dial: a wildcard bind shows as one.
  logger.info('listening', {
    grpc: handle.boundAddress,
    grpcPort: handle.port,
    tls: tls === undefined ? 'off' : tls.requireClientCert ? 'mutual' : 'on',
    metrics: handle.metricsBoundUrl,
    metricsPort: handle.metricsPort,
    ...Object.fromEntries(
      handle.extraPorts.flatMap((p) => [
        [p.name, p.boundAddress],
        [`${p.name}Port`, p.port],
      ]),
    ),
    services: serviceNames(handle),
    configFile: file,
    ...(preset?.description !== undefined && { preset: preset.description }),
  });

  if (options.handleSignals ?? true) {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        logger.warn('second signal; exiting now', { signal });
        exit(1);
        return;
      }
      signalled = true;
      handle.shutdown(signal).then(
        (result) => exit(result.forced || result.errors.length > 0 ? 1 : 0),
        (error: unknown) => {
          logger.error('shutdown failed', { error });
          exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    handle.onClose(() => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    });
  }
  return handle;
}

function serviceNames(handle: ServerHandle): string[] {
  return handle.health.services().filter((s) => s !== '');
}

function flagValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === flag) return argv[i + 1];
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}
