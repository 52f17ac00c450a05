import { create } from '@bufbuild/protobuf';
import type { RegistrySet } from '@larder/core';
import { createOnlineStore } from '@larder/online-store';
import type { OnlineStore } from '@larder/online-store';
import { registryV1, typesV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import { startRedis } from '@larder/testing';
import { OnlineServing } from './online-serving';
import { driverRepo, startHarness } from './testing';

const T = typesV1.ValueType;
const i64 = (n: number): typesV1.Value => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(n) } });
const f64 = (n: number): typesV1.Value => create(typesV1.ValueSchema, { val: { case: 'doubleVal', value: n } });
const view = (project: string) => ({
  project,
  name: 'driver_stats',
  joinKeys: ['driver_id'],
  features: [
    { name: 'conv_rate', type: T.DOUBLE },
    { name: 'trips', type: T.INT64 },
  ],
});

describe.each(['packed', 'feast'] as const)('online serving when Redis (%s layout) goes away', (layout) => {
  it('answers UNAVAILABLE within the call deadline and recovers by itself when Redis is back', async () => {
    let redis = await startRedis();
    const h = await startHarness({ type: 'redis', url: redis.url, layout });
    const write = () =>
      h.store.write(view(h.project), [
        { entityKey: { joinKeys: ['driver_id'], entityValues: [i64(1)] }, eventTs: Date.now(), values: { conv_rate: f64(0.25), trips: i64(1) } },
      ]);
    const request = {
      project: h.project,
      kind: { case: 'features' as const, value: { val: ['driver_stats:conv_rate'] } },
      entities: { driver_id: { val: [i64(1)] } },
    };
    try {
      await write();
      expect((await h.serving.getOnlineFeatures(request)).results[1]?.values[0]?.val).toEqual({ case: 'doubleVal', value: 0.25 });

      await redis.stop();
      for (const timeoutMs of [300, 1_000]) {
        const started = Date.now();
        let error: unknown;
        try {
          await h.serving.getOnlineFeatures(request, { timeoutMs });
        } catch (e) {
          error = e;
        }
        const elapsed = Date.now() - started;
        expect(error).toBeInstanceOf(RpcError);
        expect([Code[(error as RpcError).code], (error as RpcError).message]).toEqual(['UNAVAILABLE', expect.stringContaining('online store unavailable')]);
        expect(elapsed).toBeLessThan(timeoutMs);
      }

      redis = await startRedis({ port: redis.port });
      const started = Date.now();
      for (;;) {
        try {
          await write();
          const res = await h.serving.getOnlineFeatures(request, { timeoutMs: 500 });
          expect(res.results[1]?.values[0]?.val).toEqual({ case: 'doubleVal', value: 0.25 });
          break;
        } catch (error) {
          if (Date.now() - started > 10_000) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } finally {
      await h.close();
      await redis.stop();
    }
  }, 60_000);
});

describe('compiled plans', () => {
  let store: OnlineStore;
  beforeEach(() => {
    store = createOnlineStore({ type: 'sqlite', path: ':memory:' });
  });
  afterEach(() => store.close());

  function registryOf(project: string) {
    const repo = driverRepo(project);
    const set: RegistrySet = {
      project: create(registryV1.ProjectSchema, { name: project }),
      entities: repo.entities,
      dataSources: repo.dataSources,
      featureViews: repo.featureViews,
      onDemandFeatureViews: repo.onDemandFeatureViews,
      featureServices: repo.featureServices,
      savedDatasets: [],
      permissions: [],
    };
    const source = { version: 1n, sets: 0, registrySet: (name: string) => (source.sets++, name === project ? set : undefined), projectNames: () => [project] };
    return source;
  }

  it('resolves a request shape once per registry version, and reads the store once per request whatever the number of views', async () => {
    const registry = registryOf('p');
    let reads = 0;
    const counting: OnlineStore = {
      ...store,
      read: (requests, options) => (reads++, store.read(requests, options)),
      write: store.write.bind(store),
      deleteView: store.deleteView.bind(store),
      close: store.close.bind(store),
    };
    const serving = new OnlineServing(registry, counting, {
      defaultProject: '',
      maxEntityRows: 100,
      storeTimeoutMs: 1000,
      planCacheSize: 10,
      registryReady: () => true,
    });
    const request = {
      project: '',
      kind: { case: 'featureService' as const, value: 'model_v1' },
      fullFeatureNames: false,
      entities: { driver_id: { val: [i64(1), i64(2)] }, rider_id: { val: [create(typesV1.ValueSchema, { val: { case: 'stringVal', value: 'a' } })] } },
      requestContext: {},
    };
    request.entities.rider_id.val.push(request.entities.rider_id.val[0] as typesV1.Value);
    const req = { ...request, requestContext: { amount: { val: [f64(1), f64(2)] } } } as unknown as Parameters<OnlineServing['getOnlineFeatures']>[0];
    for (let i = 0; i < 5; i++) await serving.getOnlineFeatures(req, undefined);
    expect({ sets: registry.sets, reads, cached: serving.plans.size }).toEqual({ sets: 1, reads: 5, cached: 1 });
    registry.version = 2n;
    await serving.getOnlineFeatures(req, undefined);
    expect(registry.sets).toBe(2);
  });

  it('answers UNAVAILABLE until the registry copy is loaded', async () => {
    const serving = new OnlineServing(registryOf('p'), store, {
      defaultProject: '',
      maxEntityRows: 100,
      storeTimeoutMs: 1000,
      planCacheSize: 10,
      registryReady: () => false,
    });
    await expect(
      serving.getOnlineFeatures(
        { project: '', kind: { case: 'featureService', value: 'model_v1' } } as Parameters<OnlineServing['getOnlineFeatures']>[0],
        undefined,
      ),
    ).rejects.toMatchObject({ code: Code.UNAVAILABLE });
  });
});
