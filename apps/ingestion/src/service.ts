import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createOnlineStore, onlineStoreConfig } from '@larder/online-store';
import { followPermissions, startServiceAuth } from '@larder/auth';
import { RegistryClient } from '@larder/registry-client';
import { allowListProblems } from '@larder/core';
import { bindHost, ConfigError } from '@larder/rpc';
import type { RunServiceOptions } from '@larder/rpc';
import { consumerSettings, ingestionSchema, openIngestionOfflineStore } from './config';
import { startHttpEndpoint } from './http';
import type { HttpEndpoint } from './http';
import { WriteAccess } from './enforce';
import { Ingestion } from './ingestion';
import { IngestionMetrics } from './metrics';

/** How the ingestion service is configured and built; main.ts runs it, `npm start` embeds it. */
export const ingestionService: RunServiceOptions<typeof ingestionSchema> = {
  name: 'ingestion',
  schema: ingestionSchema,
  setup: async ({ config, logger, tls, clientSecurity }) => {
    const problems = allowListProblems(config.endpoints);
    if (problems.length > 0) throw new ConfigError(problems.map(({ key, problem }) => ({ key, problem, source: 'configuration' })));
    const hosts = [
      bindHost(config.grpc.host, config),
      bindHost(config.metrics.host, config),
      ...(config.http.enabled ? [bindHost(config.http.host, config)] : []),
    ];
    const auth = startServiceAuth({ service: 'ingestion', auth: config.auth, hosts, clientCaFile: config.tls.clientCaFile, logger });
    const metrics = new IngestionMetrics();
    if (config.onlineStore.type === 'sqlite' && config.onlineStore.path !== ':memory:') {
      mkdirSync(path.dirname(config.onlineStore.path), { recursive: true });
    }
    const online = createOnlineStore(onlineStoreConfig(config.onlineStore));
    const offline = await openIngestionOfflineStore(config.offlineStore);
    const project = config.ingestion.project;
    const registry = new RegistryClient({
      address: config.registry.address,
      logger,
      clientOptions: clientSecurity,
      maxMessageBytes: config.grpc.maxMessageBytes,
      ...(project !== '' && { project }),
    }).start();
    let ready = false;
    registry.onChange(() => {
      ready = true;
    });
    const ingestion = new Ingestion({
      registry,
      registryReady: () => ready,
      online,
      offline,
      logger,
      project,
      basePath: config.ingestion.basePath === '' ? process.cwd() : path.resolve(config.ingestion.basePath),
      storeTimeoutMs: config.ingestion.storeTimeout,
      maxFutureSkewMs: config.ingestion.maxFutureSkew,
      kafka: config.kafka.enabled ? consumerSettings(config) : undefined,
      endpoints: config.endpoints,
      metrics,
      access: new WriteAccess(registry, followPermissions(registry, auth.authenticator.enabled), auth.audit),
    });
    try {
      await registry.ready(config.registry.startupWait);
      ready = true;
    } catch {
      logger.warn('no registry snapshot yet; pushes get UNAVAILABLE and consumers start when it arrives', { registry: config.registry.address });
    }
    await ingestion.start();
    let http: HttpEndpoint | undefined;
    if (config.http.enabled) {
      http = await startHttpEndpoint(ingestion, {
        host: bindHost(config.http.host, config),
        port: config.http.port,
        logger,
        limits: config.http,
        tls,
        principal: (req, res) => auth.httpPrincipal(req, res),
      });
      logger.info('http push endpoint listening', { http: http.boundUrl, httpPort: http.port, maxBodyBytes: config.http.maxBodyBytes });
    }
    logger.info('stores open', { online: config.onlineStore.type, offline: config.offlineStore.type });
    return {
      // NOT_SERVING (and /readyz 503) while the registry copy cannot load or follow.
      services: [{ ...ingestion.service(), readiness: registry }],
      interceptors: [auth.interceptor],
      ...(auth.metricsGuard !== undefined && { metricsGuard: auth.metricsGuard }),
      drainHooks: [async () => http?.close(), () => ingestion.stop()],
      closeHooks: [() => online.close(), async () => offline?.close(), async () => registry.close(), () => auth.close()],
      metrics: [metrics.registry],
    };
  },
};
