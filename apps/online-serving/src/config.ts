import { DEFAULT_ROW_COST_LIMIT } from '@larder/core';
import { authConfigSchema } from '@larder/auth';
import { onlineStoreConfigSchema } from '@larder/online-store';
import { bool, duration, httpLimitsSchema, int, oneOf, serverConfigSchema, string } from '@larder/rpc';
import type { ConfigOf } from '@larder/rpc';

/** Per-request budget of on-demand features: a second or two of CPU at most. */
export const DEFAULT_ONLINE_ON_DEMAND_REQUEST_COST = 20_000_000;

export const onlineServingSchema = {
  ...serverConfigSchema({ grpcPort: 6566, metricsPort: 9466 }),
  ...authConfigSchema(),
  registry: {
    address: string({ default: '127.0.0.1:6570', env: 'LARDER_REGISTRY_ADDRESS', doc: 'The registry service, host:port.' }),
    startupWait: duration({
      default: 5_000,
      env: 'LARDER_REGISTRY_STARTUP_WAIT',
      doc: 'How long to wait at start for the first registry snapshot; calls get UNAVAILABLE until it arrives.',
    }),
  },
  serving: {
    project: string({ default: '', env: 'LARDER_PROJECT', doc: "Project of requests that name none; empty means the registry's only project." }),
    maxEntityRows: int({ default: 10_000, min: 1, env: 'LARDER_SERVING_MAX_ENTITY_ROWS', doc: 'Most entity rows one request may carry.' }),
    storeTimeout: duration({
      default: 1_000,
      min: 1,
      env: 'LARDER_SERVING_STORE_TIMEOUT',
      doc: 'Deadline of an online-store read when the call has none (or a later one).',
    }),
    planCacheSize: int({ default: 1_000, min: 1, env: 'LARDER_SERVING_PLAN_CACHE_SIZE', doc: 'Compiled request shapes kept per registry version.' }),
    onDemandRowCost: int({
      default: DEFAULT_ROW_COST_LIMIT,
      min: 1,
      env: 'LARDER_SERVING_ON_DEMAND_ROW_COST',
      doc: 'Cost units one on-demand view may take for one entity row (about 10-90 ns each); more is RESOURCE_EXHAUSTED.',
    }),
    feastGrpc: bool({ default: true, env: 'LARDER_SERVING_FEAST_GRPC', doc: "Also answer Feast's feast.serving.ServingService on the gRPC port." }),
    feastGrpcPort: int({
      default: -1,
      min: -1,
      max: 65535,
      env: 'LARDER_FEAST_GRPC_PORT',
      doc: "A second gRPC port for Feast's clients (6566 is Feast's default), with every service, TLS and auth of grpc.port; -1 = none, 0 = a free one.",
    }),
    feastGrpcHost: string({ default: '', env: 'LARDER_FEAST_GRPC_HOST', doc: 'Address serving.feastGrpcPort binds to; empty = bind.host.' }),
    valueMetrics: bool({
      default: true,
      env: 'LARDER_SERVING_VALUE_METRICS',
      doc: 'Count served values of views with a TFDV schema that are out of its domain, missing or stale (larder_serving_feature_anomalies_total).',
    }),
    onDemandRequestCost: int({
      default: DEFAULT_ONLINE_ON_DEMAND_REQUEST_COST,
      min: 1,
      env: 'LARDER_SERVING_ON_DEMAND_REQUEST_COST',
      doc: 'Cost units all on-demand views may take over one request; more is RESOURCE_EXHAUSTED.',
    }),
  },
  onlineStore: onlineStoreConfigSchema(),
  http: {
    enabled: bool({ default: true, env: 'LARDER_HTTP_ENABLED', doc: 'Serve the Feast-compatible HTTP/JSON gateway.' }),
    host: string({ default: '', env: 'LARDER_HTTP_HOST', doc: 'Address the HTTP/JSON gateway binds to; empty = bind.host.' }),
    port: int({ default: 6567, min: 0, max: 65535, env: 'LARDER_HTTP_PORT', doc: 'HTTP/JSON port; 0 picks a free one.' }),
    jsonFormat: oneOf(['larder', 'feast'], {
      default: 'larder',
      env: 'LARDER_HTTP_JSON_FORMAT',
      doc: "Numbers in answers: larder (0.1, 1, int64 past 2^53 as a string) or feast (exactly as Feast's feature server: float32 widened, 1.0, every int64 a number); ?format= overrides per request.",
    }),
    ...httpLimitsSchema('LARDER_HTTP_'),
  },
};

export type OnlineServingConfig = ConfigOf<typeof onlineServingSchema>;
