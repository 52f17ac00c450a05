// Historical retrieval with authentication and Permission objects on: a training set needs
// read_offline on every view it touches, with tokens from a real issuer.
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { Code, createClient } from '@larder/rpc';
import type { RpcClient } from '@larder/rpc';
import { offlineV1, statisticsV1 } from '@larder/proto';
import { rpcRejection as failure, TestIssuer } from '@larder/testing';
import { featureRepo, makeData, T0 } from './testing/dataset';
import type { Table } from './testing/dataset';
import { duckdbTestEngine } from './testing/engines';
import type { TestEngine } from './testing/engines';
import { collect, inlineRequests, startHarness } from './testing/harness';
import type { Harness } from './testing/harness';

jest.setTimeout(60_000);

const T = typesV1.ValueType;
const K = registryV1.ObjectKind;
const A = registryV1.Action;
type Retrieval = RpcClient<typeof offlineV1.OfflineRetrievalService>;

const permission = (name: string, init: Omit<MessageInitShape<typeof registryV1.PermissionSchema>, 'name' | '$typeName'>) =>
  create(registryV1.PermissionSchema, { ...init, name } as MessageInitShape<typeof registryV1.PermissionSchema>);

const ROWS: Table = {
  name: 'rows',
  columns: [
    { name: 'driver_id', type: T.INT64 },
    { name: 'customer_id', type: T.STRING },
    { name: 'event_timestamp', type: T.UNIX_TIMESTAMP },
  ],
  rows: [{ driver_id: 1n, customer_id: 'c1', event_timestamp: new Date(T0 + 3_600_000) }],
};

let engine: TestEngine;
let h: Harness;
let issuer: TestIssuer;
const clients: Retrieval[] = [];
let trainer: Retrieval;

function as(token: string | undefined): Retrieval {
  const client = createClient(offlineV1.OfflineRetrievalService, h.retrievalAddress, { ...(token !== undefined && { token }), defaultTimeoutMs: 20_000 });
  clients.push(client);
  return client;
}

const query = (features: string[]) => ({ kind: { case: 'features' as const, value: { val: features } } });

beforeAll(async () => {
  issuer = await TestIssuer.start();
  engine = await duckdbTestEngine();
  const data = makeData();
  const kinds = {
    driver: await engine.load(data.tables.driver),
    customer: await engine.load(data.tables.customer),
    pair: await engine.load(data.tables.pair),
    global: await engine.load(data.tables.global),
  };
  h = await startHarness(
    engine.env,
    (project) => {
      const repo = featureRepo(project, kinds);
      repo.permissions.push(
        permission('trainers-read-drivers', { types: [K.FEATURE_VIEW], namePatterns: ['driver_*'], actions: [A.READ_OFFLINE], policy: { namespaces: ['ml'] } }),
      );
      return repo;
    },
    { LARDER_AUTH_MODES: 'oidc', LARDER_AUTH_OIDC_ISSUER: issuer.issuer, LARDER_AUTH_OIDC_AUDIENCES: 'larder' },
  );
  trainer = as(await issuer.serviceAccountToken({ namespace: 'ml', name: 'trainer' }));
  for (let i = 0; ; i++) {
    const ok = await collect(trainer.getHistoricalFeatures(inlineRequests({ project: h.project, ...query(['driver_stats:trips']) }, ROWS))).then(
      () => true,
      () => false,
    );
    if (ok) break;
    if (i > 100) throw new Error('the permissions never reached offline retrieval');
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  for (const c of clients) c.close();
  await h.close();
  await engine.cleanup();
  await issuer.close();
});

test('a training set over views the caller may read is served', async () => {
  const result = await collect(
    trainer.getHistoricalFeatures(inlineRequests({ project: h.project, ...query(['driver_stats:trips', 'driver_stats:conv_rate']) }, ROWS)),
  );
  expect(result.summary?.rowCount).toBe(1n);
});

test('one view it may not read denies the whole query, by name, before any row is read', async () => {
  expect(
    await failure(
      collect(trainer.getHistoricalFeatures(inlineRequests({ project: h.project, ...query(['driver_stats:trips', 'customer_profile:segment']) }, ROWS))),
    ),
  ).toMatchObject({
    code: Code.PERMISSION_DENIED,
    message: `principal sa:ml/trainer may not read_offline feature_view "customer_profile" in project "${h.project}"`,
  });
  // A feature service reaching that view is denied too: every view it touches counts.
  const services = (await h.registry.listFeatureServices({ project: h.project })).featureServices.map((s) => s.name);
  expect(services.length).toBeGreaterThan(0);
  expect(
    (
      await failure(
        collect(trainer.getHistoricalFeatures(inlineRequests({ project: h.project, kind: { case: 'featureService', value: services[0] as string } }, ROWS))),
      )
    ).code,
  ).toBe(Code.PERMISSION_DENIED);
  // Someone else's identity, and none.
  expect(
    (
      await failure(
        collect(as(await issuer.issue({ sub: 'bob' })).getHistoricalFeatures(inlineRequests({ project: h.project, ...query(['driver_stats:trips']) }, ROWS))),
      )
    ).code,
  ).toBe(Code.PERMISSION_DENIED);
  expect(
    (await failure(collect(as(undefined).getHistoricalFeatures(inlineRequests({ project: h.project, ...query(['driver_stats:trips']) }, ROWS))))).code,
  ).toBe(Code.UNAUTHENTICATED);
});

test('saving the result as a dataset needs CREATE on it', async () => {
  const save = {
    project: h.project,
    ...query(['driver_stats:trips']),
    destination: { savedDatasetName: 'train', storage: { kind: { case: 'file' as const, value: { path: 'train.parquet' } } }, omitRows: true },
  };
  expect(await failure(collect(trainer.getHistoricalFeatures(inlineRequests(save, ROWS))))).toMatchObject({
    code: Code.PERMISSION_DENIED,
    message: `principal sa:ml/trainer may not create saved_dataset "train" in project "${h.project}"`,
  });
});

test('statistics: computed and shown only for what the caller may read offline', async () => {
  const token = await issuer.serviceAccountToken({ namespace: 'ml', name: 'trainer' });
  const stats = createClient(statisticsV1.StatisticsService, h.retrievalAddress, { token, defaultTimeoutMs: 20_000 });
  const bob = createClient(statisticsV1.StatisticsService, h.retrievalAddress, { token: await issuer.issue({ sub: 'bob' }), defaultTimeoutMs: 20_000 });
  try {
    const eventTime = { start: timestampFromMs(T0 - 86_400_000), end: timestampFromMs(T0 + 30 * 86_400_000) };
    const scope = (view: string) => ({ project: h.project, kind: { case: 'featureView' as const, value: { featureView: view, eventTime } } });
    const computed = await stats.computeStatistics({ scope: scope('driver_stats') });
    expect(computed.record?.rowCount).toBeGreaterThan(0n);
    expect(await failure(stats.computeStatistics({ scope: scope('customer_profile') }))).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: `principal sa:ml/trainer may not read_offline feature_view "customer_profile" in project "${h.project}"`,
    });
    // Validation adds nothing to what a caller may see: the view's permission is checked
    // first, so a view (or a service reaching one) the caller may not read is refused
    // whole, with no anomalies of it; a view it may read goes on to validation.
    const denied = {
      code: Code.PERMISSION_DENIED,
      message: `principal sa:ml/trainer may not read_offline feature_view "customer_profile" in project "${h.project}"`,
    };
    expect(await failure(stats.computeStatistics({ scope: scope('customer_profile'), dryRun: true, validation: { enabled: true } }))).toMatchObject(denied);
    const service = { project: h.project, kind: { case: 'featureService' as const, value: { featureService: 'model_v1', eventTime } } };
    expect((await failure(stats.computeStatistics({ scope: service, dryRun: true, validation: { enabled: true } }))).code).toBe(Code.PERMISSION_DENIED);
    expect(await failure(stats.computeStatistics({ scope: scope('driver_stats'), dryRun: true, validation: { enabled: true } }))).toMatchObject({
      code: Code.FAILED_PRECONDITION,
      message: expect.stringContaining("feature view 'driver_stats' has no TFDV schema"),
    });
    const id = computed.record?.id ?? '';
    expect((await stats.listStatistics({ project: h.project })).records.map((r) => r.id)).toContain(id);
    expect((await bob.listStatistics({ project: h.project })).records).toEqual([]);
    const hidden = await failure(bob.getStatistics({ project: h.project, id }));
    const missing = await failure(bob.getStatistics({ project: h.project, id: 'nope' }));
    expect(hidden.code).toBe(Code.NOT_FOUND);
    expect(hidden.message.replace(id, 'ID')).toBe(missing.message.replace('nope', 'ID'));
  } finally {
    stats.close();
    bob.close();
  }
});
