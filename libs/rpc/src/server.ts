import type { DescService, Message } from '@bufbuild/protobuf';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { ServerOptions } from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { healthV1, reflectionV1, reflectionV1alpha } from '@larder/proto';
import { serviceDefinition } from './adapter/definition';
import { serviceHandlers } from './adapter/server-adapter';
import type { ServerRuntime } from './adapter/server-adapter';
import type { AnyHandler, ServerInterceptor, ServiceRegistration } from './adapter/types';
import { CallTracker } from './call-tracker';
import { Code } from './code';
import type { ErrorMappings } from './error-mappings';
import { HealthRegistry, ServingStatus } from './health';
import { createLogger } from './logger';
import type { Logger } from './logger';
import { RpcMetrics, startMetricsEndpoint } from './metrics';
import type { MetricsEndpoint, MetricsGuard } from './metrics';
import { observeCalls } from './observe';
import { DescriptorIndex, reflectionV1alphaImpl, reflectionV1Impl } from './reflection';
import { RpcError } from './rpc-error';
import { dialHost, hostPort } from './http/listen';
import { bindHost } from './server-config';
import type { ServerConfig } from './server-config';
import { ServerTls } from './tls/server-tls';

const FORCED_CLOSE_HOOK_MS = 5000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export type Hook = (signal: AbortSignal) => Promise<void> | void;

export interface StartServerOptions {
  /** The service's name in logs and metrics, e.g. "online-serving". */
  name: string;
  services: readonly ServiceRegistration[];
  config: ServerConfig;
  logger?: Logger;
  /** Run in order around each call, after logging/metrics and the shutdown gate. */
  interceptors?: readonly ServerInterceptor[];
  /**
   * How this server's domain errors become statuses (see ErrorMappings). Per server,
   * never process-wide: services sharing a process keep their own codes.
   */
  errorMappings?: ErrorMappings;
  /** Run during drain, alongside waiting for in-flight calls (e.g. stop Kafka consumers). */
  drainHooks?: readonly Hook[];
  /** The service's own Prometheus metrics, served beside the rpc metrics on /metrics. */
  metrics?: readonly Registry[];
  /** Who may read /metrics (e.g. auth.metricsReaders); everyone when absent. */
  metricsGuard?: MetricsGuard | undefined;
  /** Run after drain (e.g. close stores), in reverse order of registration. */
  closeHooks?: readonly Hook[];
  /** Extra grpc-js server options. */
  grpcOptions?: ServerOptions;
  /**
   * The service's TLS (runService makes it from the `tls` keys); made from config.tls when
   * absent. Used by the gRPC port and the metrics endpoint; stopped when the server stops.
   */
  tls?: ServerTls | undefined;
  /**
   * More ports for the same server (online serving's Feast port): each serves every
   * service above with the same TLS, interceptors, health and shutdown as grpc.port.
   */
  extraPorts?: readonly ExtraGrpcPort[];
}

/** Another address the gRPC server listens on, named for logs (`feastGrpc`). */
export interface ExtraGrpcPort {
  name: string;
  /** Address to bind; resolve an empty setting with bindHost first. */
  host: string;
  /** 0 picks a free port. */
  port: number;
}

/** An extra port as bound. */
export interface BoundGrpcPort {
  readonly name: string;
  readonly port: number;
  /** "host:port" to dial (127.0.0.1 for a wildcard bind). */
  readonly address: string;
  /** "host:port" the socket is bound to, for logs. */
  readonly boundAddress: string;
}

export type LifecycleState = 'serving' | 'draining' | 'closing' | 'stopped';

export interface ShutdownResult {
  reason: string;
  /** True when the grace period ran out and remaining work was cancelled. */
  forced: boolean;
  /** Errors thrown by drain or close hooks. */
  errors: unknown[];
  durationMs: number;
}

export interface ServerHandle {
  readonly name: string;
  /** The bound gRPC port (useful with port 0). */
  readonly port: number;
  /** "host:port" to dial, with 127.0.0.1 for a wildcard bind. */
  readonly address: string;
  /** "host:port" the gRPC socket is bound to (the configured host, the port grpc-js bound), for logs. */
  readonly boundAddress: string;
  /** "host:port" the metrics socket is bound to, as it reports it; undefined when metrics are disabled. */
  readonly metricsBound: string | undefined;
  /** The bound metrics port, or undefined when metrics are disabled. */
  readonly metricsPort: number | undefined;
  readonly metricsUrl: string | undefined;
  /** "https://host:port" (or http) of the bound metrics socket, for listening lines. */
  readonly metricsBoundUrl: string | undefined;
  /** The TLS of the gRPC port and the HTTP listeners; undefined for plaintext. */
  readonly tls: ServerTls | undefined;
  /** StartServerOptions.extraPorts as bound, in the same order. */
  readonly extraPorts: readonly BoundGrpcPort[];
  readonly health: HealthRegistry;
  readonly metrics: RpcMetrics;
  readonly logger: Logger;
  readonly state: LifecycleState;
  /** Calls in flight, internal ones included. */
  inFlight(): number;
  onDrain(hook: Hook): void;
  onClose(hook: Hook): void;
  /**
   * NOT_SERVING -> refuse new calls (UNAVAILABLE) -> wait for in-flight calls
   * and drain hooks -> close the port -> close hooks -> stopped; cancels what
   * is left when the grace period runs out. Idempotent.
   */
  shutdown(reason?: string): Promise<ShutdownResult>;
}

/** Binds a gRPC server with health, reflection, metrics and graceful shutdown. */
export async function startServer(options: StartServerOptions): Promise<ServerHandle> {
  const { config, name } = options;
  const logger = options.logger ?? createLogger({ service: name, level: config.log.level });
  const metrics = new RpcMetrics({ labels: { service: name } });
  for (const registry of options.metrics ?? []) {
    for (const metric of registry.getMetricsAsArray()) metrics.registry.registerMetric(metric as never);
  }
  const tracker = new CallTracker();
  const health = new HealthRegistry(
    options.services.map((s) => s.service.typeName),
    ServingStatus.NOT_SERVING,
  );
  const runtime: ServerRuntime = {
    logger,
    observer: observeCalls({ metrics, ...(options.errorMappings && { errorMappings: options.errorMappings }) }),
    gate: tracker,
    interceptors: options.interceptors ?? [],
    ...(options.errorMappings && { errorMappings: options.errorMappings }),
  };

  const server = new Server({
    'grpc.max_receive_message_length': config.grpc.maxMessageBytes,
    'grpc.max_send_message_length': config.grpc.maxMessageBytes,
    ...options.grpcOptions,
  });
  // Health and reflection answer without the application's interceptors (authentication among
  // them): probes and service listings carry no credentials and reveal nothing of the data.
  const builtIn: ServerRuntime = { ...runtime, interceptors: [] };
  const add = (service: DescService, impl: unknown, drainable: boolean, encoders: object = {}, decoders: object = {}): void => {
    server.addService(
      serviceDefinition(
        service,
        encoders as Record<string, (message: Message) => Uint8Array>,
        decoders as Record<string, (bytes: Uint8Array) => Message | undefined>,
      ),
      serviceHandlers(service, impl as Record<string, AnyHandler | undefined>, drainable ? runtime : builtIn, { drainable }),
    );
  };
  for (const { service, impl, encoders, decoders } of options.services) add(service, impl, true, encoders, decoders);
  add(healthV1.Health, health.impl(), false);
  if (config.grpc.reflection) {
    const index = new DescriptorIndex([
      ...options.services.map((s) => s.service),
      healthV1.Health,
      reflectionV1.ServerReflection,
      reflectionV1alpha.ServerReflection,
    ]);
    add(reflectionV1.ServerReflection, reflectionV1Impl(index), false);
    add(reflectionV1alpha.ServerReflection, reflectionV1alphaImpl(index), false);
  }

  const tls = 'tls' in options ? options.tls : ServerTls.fromConfig(config.tls, { logger });
  const grpcHost = bindHost(config.grpc.host, config);
  // Every port of the server goes through here, so an extra one is secured like grpc.port.
  const bind = (what: string, host: string, wanted: number): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      server.bindAsync(hostPort(host, wanted), tls?.grpcCredentials() ?? ServerCredentials.createInsecure(), (error, bound) => {
        if (error) reject(new Error(`cannot bind ${what} on ${hostPort(host, wanted)}: ${error.message}`, { cause: error }));
        else resolve(bound);
      });
    });
  let port: number;
  const extraPorts: BoundGrpcPort[] = [];
  try {
    port = await bind('gRPC', grpcHost, config.grpc.port);
    for (const extra of options.extraPorts ?? []) {
      const bound = await bind(`gRPC (${extra.name})`, extra.host, extra.port);
      extraPorts.push({ name: extra.name, port: bound, address: hostPort(dialHost(extra.host), bound), boundAddress: hostPort(extra.host, bound) });
    }
  } catch (error) {
    server.forceShutdown();
    tls?.close();
    throw error;
  }

  let state: LifecycleState = 'serving';
  let endpoint: MetricsEndpoint | undefined;
  if (config.metrics.enabled) {
    try {
      endpoint = await startMetricsEndpoint({
        registry: metrics.registry,
        host: bindHost(config.metrics.host, config),
        port: config.metrics.port,
        tls,
        live: () => state !== 'stopped',
        ready: () => health.getStatus('') === ServingStatus.SERVING,
        notReadyReason: () =>
          state === 'serving'
            ? notReady()
                .map(([service, reason]) => `${service}: ${reason}`)
                .join('; ') || undefined
            : `server is ${state}`,
        guard: options.metricsGuard,
      });
    } catch (error) {
      server.forceShutdown();
      tls?.close();
      throw new Error(`cannot bind metrics on ${hostPort(bindHost(config.metrics.host, config), config.metrics.port)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  // Services whose readiness check gives a reason are NOT_SERVING, and so is the whole
  // server (''); shutdown() takes over once draining starts.
  const checked = options.services.filter((s) => s.readiness !== undefined);
  const notReady = (): [string, string][] =>
    checked.flatMap((s) => {
      const reason = s.readiness?.notReadyReason();
      return reason === undefined ? [] : [[s.service.typeName, reason] as [string, string]];
    });
  let lastReasons = '';
  const applyReadiness = (): void => {
    if (state !== 'serving') return;
    const reasons = notReady();
    const down = new Set(reasons.map(([service]) => service));
    for (const service of health.services()) {
      const serving = service === '' ? reasons.length === 0 : !down.has(service);
      health.setStatus(service, serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }
    const text = reasons.map(([service, reason]) => `${service}: ${reason}`).join('; ');
    if (text !== lastReasons) {
      if (text !== '') logger.warn('not ready', { reasons: text });
      else logger.info('ready');
      lastReasons = text;
    }
  };
  const unsubscribe = checked.map((s) => s.readiness?.onReadinessChange(applyReadiness));
  applyReadiness();

  const drainHooks = [...(options.drainHooks ?? [])];
  const closeHooks = [...(options.closeHooks ?? [])];
  let shutdownPromise: Promise<ShutdownResult> | undefined;

  const runShutdown = async (reason: string): Promise<ShutdownResult> => {
    const started = Date.now();
    const grace = config.shutdown.gracePeriod;
    const errors: unknown[] = [];
    const force = new AbortController();
    logger.info('shutting down', { reason, gracePeriodMs: grace, inFlight: tracker.drainableCount() });

    state = 'draining';
    for (const stop of unsubscribe) stop?.();
    health.shutdown();
    tracker.stopAccepting();

    const forceNow = (): void => {
      if (force.signal.aborted) return;
      logger.warn('grace period over; cancelling remaining work', { inFlight: tracker.size() });
      tracker.abortAll(new RpcError(Code.UNAVAILABLE, 'server is shutting down'));
      server.forceShutdown();
      force.abort();
    };
    const timer = setTimeout(forceNow, grace);
    const forced = new Promise<void>((resolve) => force.signal.addEventListener('abort', () => resolve(), { once: true }));
    const runHook = async (hook: Hook): Promise<void> => {
      try {
        await hook(force.signal);
      } catch (error) {
        errors.push(error);
        logger.error('shutdown hook failed', { error });
      }
    };

    await Promise.race([Promise.all([tracker.drained(), ...drainHooks.map(runHook)]), forced]);
    // Internal streams (health Watch, reflection) would hold the port open.
    tracker.abortAll(new RpcError(Code.UNAVAILABLE, 'server is shutting down'), 'internal');
    await Promise.race([new Promise<void>((resolve) => server.tryShutdown(() => resolve())), forced]);

    state = 'closing';
    for (const hook of [...closeHooks].reverse()) {
      // Once forced, a hung close hook must not keep the process alive forever.
      if (!force.signal.aborted) await Promise.race([runHook(hook), forced.then(() => delay(FORCED_CLOSE_HOOK_MS))]);
      else await Promise.race([runHook(hook), delay(FORCED_CLOSE_HOOK_MS)]);
    }
    await endpoint?.close();
    tls?.close();
    clearTimeout(timer);
    state = 'stopped';
    const result: ShutdownResult = { reason, forced: force.signal.aborted, errors, durationMs: Date.now() - started };
    logger.info('stopped', { reason, forced: result.forced, hookErrors: errors.length, durationMs: result.durationMs });
    return result;
  };

  return {
    name,
    port,
    address: hostPort(dialHost(grpcHost), port),
    boundAddress: hostPort(grpcHost, port),
    metricsBound: endpoint?.bound,
    metricsPort: endpoint?.port,
    metricsUrl: endpoint?.url,
    metricsBoundUrl: endpoint?.boundUrl,
    tls,
    extraPorts,
    health,
    metrics,
    logger,
    get state() {
      return state;
    },
    inFlight: () => tracker.size(),
    onDrain: (hook) => void drainHooks.push(hook),
    onClose: (hook) => void closeHooks.push(hook),
    shutdown: (reason = 'shutdown requested') => (shutdownPromise ??= runShutdown(reason)),
  };
}
