import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createOnlineStore, onlineStoreConfig } from '@larder/online-store';
import { feastServing, servingV1, wire } from '@larder/proto';
import { followPermissions, principalOf, startServiceAuth } from '@larder/auth';
import { RegistryClient } from '@larder/registry-client';
import { bindHost, ConfigError, implement } from '@larder/rpc';
import type { ExtraGrpcPort } from '@larder/rpc';
import { encodeGetOnlineFeaturesResponse } from './response-encoder';
import type { RunServiceOptions } from '@larder/rpc';
import { onlineServingSchema } from './config';
import { ReadAccess } from './enforce';
import { onlineServingErrorMappings } from './errors';
import { encodeFeastResponse, feastServingHandlers } from './feast-grpc';
import { startHttpGateway } from './http';
import type { HttpGateway } from './http';
import { OnlineServing } from './online-serving';
import { ServingValueMetrics } from './value-metrics';

/** How the online-serving service is configured and built; main.ts runs it, `npm start` embeds it. */
export const onlineServingService: RunServiceOptions<typeof onlineServingSchema> = {
  name: 'online-serving',
  schema: onlineServingSchema,
  setup: async ({ config, logger, tls, clientSecurity }) => {
    if (config.onlineStore.type === 'sqlite' && config.onlineStore.path !== ':memory:') {
      mkdirSync(path.dirname(config.onlineStore.path), { recursive: true });
    }
    const feastPort = feastGrpcPort(config.serving);
    const hosts = [
      bindHost(config.grpc.host, config),
      bindHost(config.metrics.host, config),
      ...(config.http.enabled ? [bindHost(config.http.host, config)] : []),
      ...(feastPort ? [bindHost(feastPort.host, config)] : []),
    ];
    const auth = startServiceAuth({ service: 'online-serving', auth: config.auth, hosts, clientCaFile: config.tls.clientCaFile, logger });
    const store = createOnlineStore(onlineStoreConfig(config.onlineStore));
    const registry = new RegistryClient({
      address: config.registry.address,
      logger,
      clientOptions: clientSecurity,
      maxMessageBytes: config.grpc.maxMessageBytes,
      ...(config.serving.project !== '' && { project: config.serving.project }),
    }).start();
    let ready = false;
    // Every applied stream message, the first snapshot included, comes through here.
    registry.onChange(() => {
      ready = true;
    });
    try {
      await registry.ready(config.registry.startupWait);
      ready = true;
    } catch {
      logger.warn('no registry snapshot yet; answering UNAVAILABLE until it arrives', { registry: config.registry.address });
    }
    const valueMetrics = config.serving.valueMetrics ? new ServingValueMetrics() : undefined;
    const serving = new OnlineServing(registry, store, {
      defaultProject: config.serving.project,
      maxEntityRows: config.serving.maxEntityRows,
      storeTimeoutMs: config.serving.storeTimeout,
      planCacheSize: config.serving.planCacheSize,
      registryReady: () => ready,
      onDemandRowCost: config.serving.onDemandRowCost,
      onDemandRequestCost: config.serving.onDemandRequestCost,
      // Decisions compiled once per registry version, checked once per plan and caller.
      access: new ReadAccess(registry, followPermissions(registry, auth.authenticator.enabled), auth.audit),
      ...(valueMetrics !== undefined && { valueMetrics }),
    });
    const errorMappings = onlineServingErrorMappings();
    let http: HttpGateway | undefined;
    if (config.http.enabled) {
      http = await startHttpGateway(serving, {
        host: bindHost(config.http.host, config),
        port: config.http.port,
        logger,
        limits: config.http,
        principal: (req, res) => auth.httpPrincipal(req, res),
        tls,
        jsonFormat: config.http.jsonFormat,
        errorMappings,
      });
      logger.info('http gateway listening', { http: http.boundUrl, httpPort: http.port, maxBodyBytes: config.http.maxBodyBytes });
    }
    logger.info('online store open', {
      type: config.onlineStore.type,
      ...(config.onlineStore.type === 'redis' ? { layout: config.onlineStore.redisLayout } : { path: config.onlineStore.path }),
    });
    return {
      services: [
        implement(
          servingV1.OnlineServingService,
          { getOnlineFeatures: (request, ctx) => serving.getOnlineFeatures(request, ctx, principalOf(ctx), ctx.requestId) },
          // NOT_SERVING (and /readyz 503) while the registry copy cannot load or follow.
          {
            encoders: { getOnlineFeatures: encodeGetOnlineFeaturesResponse },
            decoders: { getOnlineFeatures: wire.decodeGetOnlineFeaturesRequest },
            readiness: registry,
          },
        ),
        // Feast's ServingService on the same port, for clients generated from Feast's proto.
        ...(config.serving.feastGrpc
          ? [
              implement(feastServing.ServingService, feastServingHandlers(serving), {
                encoders: { getOnlineFeatures: encodeFeastResponse },
                readiness: registry,
              }),
            ]
          : []),
      ],
      interceptors: [auth.interceptor],
      errorMappings,
      ...(valueMetrics !== undefined && { metrics: [valueMetrics.registry] }),
      // One server on both ports: the Feast port has the Larder contract, health, TLS and auth too.
      ...(feastPort && { extraPorts: [{ ...feastPort, host: bindHost(feastPort.host, config) }] }),
      ...(auth.metricsGuard !== undefined && { metricsGuard: auth.metricsGuard }),
      drainHooks: [async () => http?.close()],
      closeHooks: [() => store.close(), () => registry.close(), () => auth.close()],
    };
  },
};

/** The Feast port of serving.feastGrpcPort, if one is set; a port without the contract is a mistake. */
function feastGrpcPort(serving: { feastGrpc: boolean; feastGrpcPort: number; feastGrpcHost: string }): ExtraGrpcPort | undefined {
  if (serving.feastGrpcPort < 0) return undefined;
  if (!serving.feastGrpc) {
    throw new ConfigError([
      {
        key: 'serving.feastGrpcPort',
        problem: `is ${serving.feastGrpcPort} but serving.feastGrpc is false, so nothing would answer Feast's clients there; set serving.feastGrpc: true or serving.feastGrpcPort: -1`,
        source: 'serving.feastGrpcPort and serving.feastGrpc together',
      },
    ]);
  }
  return { name: 'feastGrpc', host: serving.feastGrpcHost, port: serving.feastGrpcPort };
}
