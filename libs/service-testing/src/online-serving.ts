// Test harness: a real registry service, a real online-serving service (gRPC + HTTP), both in-process on port 0.
// The caller passes the two service definitions (a lib never imports an app).
import { create } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createOnlineStore } from '@larder/online-store';
import type { OnlineStore } from '@larder/online-store';
import { registryV1, servingV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { RpcClient, RunServiceOptions, ServerConfigSchema } from '@larder/rpc';
import { onlineStoreUnderTest, runInProcess } from '@larder/testing';
import type { OnlineStoreUnderTest } from '@larder/testing';

const T = typesV1.ValueType;

export type StoreUnderTest = OnlineStoreUnderTest;

export interface Harness {
  project: string;
  registry: RpcClient<typeof registryV1.RegistryService>;
  serving: RpcClient<typeof servingV1.OnlineServingService>;
  /** The serving service's gRPC address (for health probes). */
  servingAddress: string;
  /** serving.feastGrpcPort's address, when the env sets LARDER_FEAST_GRPC_PORT. */
  feastGrpcAddress: string | undefined;
  /** /metrics, /healthz and /readyz, when the env enables them (LARDER_METRICS_ENABLED=true). */
  metricsUrl: string | undefined;
  httpUrl: string;
  /** A store over the same backend, to write test rows. */
  store: OnlineStore;
  apply(request: Partial<registryV1.ApplyRegistryRequest>): Promise<bigint>;
  close(): Promise<void>;
}

export function driverRepo(project: string): Omit<registryV1.ApplyRegistryRequest, '$typeName' | '$unknown'> {
  const r = create(registryV1.ApplyRegistryRequestSchema, {
    project,
    entities: [
      { name: 'driver', joinKey: 'driver_id', valueType: T.INT64 },
      { name: 'customer', joinKey: 'customer_id', valueType: T.STRING },
    ],
    dataSources: [
      { name: 'src', timestampField: 'ts', kind: { case: 'file', value: { path: 'x.parquet', format: registryV1.FileFormat.PARQUET } } },
      { name: 'txn', kind: { case: 'request', value: { schema: [{ name: 'amount', valueType: T.DOUBLE }] } } },
    ],
    featureViews: [
      {
        name: 'driver_stats',
        entities: ['driver'],
        batchSource: 'src',
        ttl: create(DurationSchema, { seconds: 3600n }),
        schema: [
          { name: 'conv_rate', valueType: T.DOUBLE },
          { name: 'trips', valueType: T.INT64 },
        ],
      },
      {
        name: 'customer_stats',
        entities: ['customer'],
        batchSource: 'src',
        schema: [
          { name: 'lifetime_value', valueType: T.DOUBLE },
          { name: 'segment', valueType: T.STRING },
          { name: 'trips', valueType: T.INT64 },
        ],
      },
      { name: 'pair_stats', entities: ['driver', 'customer'], batchSource: 'src', schema: [{ name: 'rides', valueType: T.INT64 }] },
    ],
    onDemandFeatureViews: [
      {
        name: 'adjusted',
        sources: [
          { source: { case: 'requestSource', value: 'txn' } },
          { source: { case: 'featureView', value: { featureView: 'driver_stats', features: ['conv_rate'] } } },
        ],
        outputs: [{ name: 'scaled', valueType: T.DOUBLE, expression: 'driver_stats.conv_rate * txn.amount' }],
      },
    ],
    featureServices: [
      {
        name: 'model_v1',
        projections: [
          { featureView: 'driver_stats', alias: 'd', features: ['conv_rate'] },
          { featureView: 'customer_stats', features: ['segment'], joinKeyMap: { customer_id: 'rider_id' } },
          { featureView: 'adjusted' },
        ],
      },
    ],
  });
  const { $typeName: _t, $unknown: _u, ...rest } = r as typeof r & { $unknown?: unknown };
  return rest;
}

/** The services a harness runs, as their apps define them. */
export interface ServingServices<R extends ServerConfigSchema, S extends ServerConfigSchema> {
  registry: RunServiceOptions<R>;
  serving: RunServiceOptions<S>;
}

export async function startServingHarness<R extends ServerConfigSchema, S extends ServerConfigSchema>(
  services: ServingServices<R, S>,
  backend: StoreUnderTest,
  env: Record<string, string> = {},
): Promise<Harness> {
  const { registry: registryService, serving: onlineServingService } = services;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-serving-'));
  const project = `p${Math.random().toString(36).slice(2, 10)}`;
  const logs: string[] = [];
  const base = { LARDER_LOG_LEVEL: 'info' };
  const registryHandle = await runInProcess(registryService, { ...base, LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json') }, logs);
  const registry = createClient(registryV1.RegistryService, registryHandle.address);
  const apply = async (request: Partial<registryV1.ApplyRegistryRequest>): Promise<bigint> => {
    const res = await registry.applyRegistry({ ...driverRepo(project), ...request, project });
    return res.version;
  };
  await apply({});
  const onlineStore = onlineStoreUnderTest(backend, dir);
  const servingLogs: string[] = [];
  const servingHandle = await runInProcess(
    onlineServingService,
    { ...base, LARDER_HTTP_HOST: '127.0.0.1', LARDER_HTTP_PORT: '0', LARDER_REGISTRY_ADDRESS: registryHandle.address, ...onlineStore.env, ...env },
    servingLogs,
  );
  const httpLine = servingLogs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'http gateway listening');
  const store = createOnlineStore(onlineStore.config);
  const serving = createClient(servingV1.OnlineServingService, servingHandle.address);
  return {
    project,
    registry,
    serving,
    servingAddress: servingHandle.address,
    feastGrpcAddress: servingHandle.extraPorts.find((p) => p.name === 'feastGrpc')?.address,
    metricsUrl: servingHandle.metricsUrl,
    httpUrl: String(httpLine?.['http'] ?? ''),
    store,
    apply,
    close: async () => {
      serving.close();
      registry.close();
      await servingHandle.shutdown('test over');
      await registryHandle.shutdown('test over');
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
