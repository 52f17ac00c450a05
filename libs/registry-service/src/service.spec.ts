import { create } from '@bufbuild/protobuf';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { registryV1, typesV1 } from '@larder/proto';
import { Code, createClient } from '@larder/rpc';
import type { RpcClient, ServerHandle } from '@larder/rpc';
import { rpcRejection as failure, runInProcess, testServices } from '@larder/testing';
import { registryService } from './service';

const K = registryV1.ObjectKind;
const C = registryV1.ChangeType;
const T = typesV1.ValueType;

type Registry = RpcClient<typeof registryV1.RegistryService>;

interface Running {
  handle: ServerHandle;
  client: Registry;
}

const running: Running[] = [];
let dir = '';

async function start(location: string): Promise<Running> {
  const handle = await runInProcess(registryService, { LARDER_REGISTRY_LOCATION: location, LARDER_LOG_LEVEL: 'error' });
  const r = { handle, client: createClient(registryV1.RegistryService, handle.address) as Registry };
  running.push(r);
  return r;
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-registry-svc-'));
});
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.client.close();
    await r.handle.shutdown('test over');
  }
  await rm(dir, { recursive: true, force: true });
});

function driverApply(
  project: string,
  views: string[],
  init: { prune?: boolean; planOnly?: boolean; expectedVersion?: bigint } = {},
): registryV1.ApplyRegistryRequest {
  return create(registryV1.ApplyRegistryRequestSchema, {
    project,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [{ name: 'trips', timestampField: 'ts', kind: { case: 'file', value: { path: 'trips.parquet', format: registryV1.FileFormat.PARQUET } } }],
    featureViews: views.map((name) => ({
      name,
      entities: ['driver'],
      batchSource: 'trips',
      owner: 'ml-team',
      tags: { team: 'rides' },
      schema: [
        { name: 'conv_rate', valueType: T.DOUBLE, description: 'conversion rate' },
        { name: 'trips_today', valueType: T.INT64, description: 'trips so far today' },
      ],
    })),
    ...init,
  });
}

test('apply, read, list, delete and version over a real socket, with precise error codes', async () => {
  const { client } = await start(path.join(dir, 'registry.json'));
  expect((await client.getRegistryVersion({})).version).toBe(0n);

  const applied = await client.applyRegistry(driverApply('rides', ['driver_stats', 'driver_daily']));
  expect(applied).toMatchObject({ version: 1n, applied: true });
  expect(applied.diffs.map((d) => `${K[d.kind]} ${d.name} ${C[d.change]}`)).toEqual([
    'PROJECT rides CREATE',
    'ENTITY driver CREATE',
    'DATA_SOURCE trips CREATE',
    'FEATURE_VIEW driver_daily CREATE',
    'FEATURE_VIEW driver_stats CREATE',
  ]);
  const version = await client.getRegistryVersion({});
  expect(version.version).toBe(1n);
  expect(version.updatedTime).toBeDefined();

  const view = await client.getFeatureView({ project: 'rides', name: 'driver_stats' });
  expect(view.featureView?.schema.map((f) => f.name)).toEqual(['conv_rate', 'trips_today']);
  expect(view.registryVersion).toBe(1n);
  expect((await client.listFeatureViews({ project: 'rides', filter: { namePrefix: 'driver_s' } })).featureViews.map((v) => v.name)).toEqual(['driver_stats']);
  expect((await client.listFeatureViews({ project: 'rides', entity: 'rider' })).featureViews).toEqual([]);
  expect((await client.listFeatureViews({ project: 'rides', entity: 'driver' })).featureViews).toHaveLength(2);
  expect((await client.listEntities({ project: 'rides' })).entities.map((e) => e.joinKey)).toEqual(['driver_id']);
  expect((await client.getDataSource({ project: 'rides', name: 'trips' })).dataSource?.kind.case).toBe('file');
  expect((await client.listProjects({})).projects.map((p) => p.name)).toEqual(['rides']);

  const planned = await client.applyRegistry(driverApply('rides', ['driver_stats'], { prune: true, planOnly: true }));
  expect(planned).toMatchObject({ version: 1n, applied: false });
  expect(planned.diffs.filter((d) => d.change === C.DELETE).map((d) => d.name)).toEqual(['driver_daily']);

  // INVALID_ARGUMENT names the object and the field.
  const bad = driverApply('rides', ['driver_stats']);
  bad.featureViews[0]!.batchSource = 'no_such_source';
  const invalid = await failure(client.applyRegistry(bad));
  expect(invalid.code).toBe(Code.INVALID_ARGUMENT);
  expect(invalid.message).toMatch(/driver_stats/);
  expect(invalid.message).toMatch(/batch_source/);
  expect((await failure(client.applyRegistry(driverApply('', [])))).message).toBe('project: required');
  expect((await failure(client.getFeatureView({ project: 'rides', name: '' }))).code).toBe(Code.INVALID_ARGUMENT);

  // NOT_FOUND for unknown objects and projects.
  const missing = await failure(client.getFeatureView({ project: 'rides', name: 'nope' }));
  expect(missing.code).toBe(Code.NOT_FOUND);
  expect(missing.message).toBe('feature-view "nope" in project "rides" not found');
  expect((await failure(client.listEntities({ project: 'nobody' }))).code).toBe(Code.NOT_FOUND);
  expect((await failure(client.getProject({ name: 'nobody' }))).code).toBe(Code.NOT_FOUND);

  // ABORTED on a stale expected_version; FAILED_PRECONDITION on a delete that leaves references.
  const stale = await failure(client.applyRegistry(driverApply('rides', ['driver_stats', 'driver_daily', 'third'], { expectedVersion: 0n })));
  expect(stale.code).toBe(Code.ABORTED);
  expect((await failure(client.deleteEntity({ project: 'rides', name: 'driver' }))).code).toBe(Code.FAILED_PRECONDITION);

  expect((await client.deleteFeatureView({ project: 'rides', name: 'driver_daily', expectedVersion: 1n })).version).toBe(2n);
  expect((await failure(client.deleteFeatureView({ project: 'rides', name: 'driver_daily' }))).code).toBe(Code.NOT_FOUND);
  expect((await client.deleteProject({ name: 'rides' })).version).toBe(3n);
  expect((await client.listProjects({})).projects).toEqual([]);
});

test('WatchRegistry: a snapshot first, then every committed change in order; since_version replays; project narrows', async () => {
  const { client } = await start(path.join(dir, 'registry.json'));
  await client.applyRegistry(driverApply('rides', ['driver_stats']));
  await client.applyRegistry(driverApply('other', ['other_stats']));

  const abort = new AbortController();
  const stream = client.watchRegistry({ project: 'rides', sinceVersion: 0n }, { signal: abort.signal })[Symbol.asyncIterator]();
  const snapshot = (await stream.next()).value as registryV1.WatchRegistryResponse;
  expect(snapshot).toMatchObject({ version: 2n, snapshot: true });
  expect(snapshot.changes.map((c) => `${c.project} ${K[c.kind]} ${c.name}`)).toEqual([
    'rides PROJECT rides',
    'rides ENTITY driver',
    'rides DATA_SOURCE trips',
    'rides FEATURE_VIEW driver_stats',
  ]);

  const started = Date.now();
  await client.applyRegistry(driverApply('rides', ['driver_stats', 'second']));
  const next = (await stream.next()).value as registryV1.WatchRegistryResponse;
  const latencyMs = Date.now() - started;
  expect(next).toMatchObject({ version: 3n, snapshot: false });
  expect(next.changes.map((c) => `${c.name} ${C[c.change]} ${c.object.case}`)).toEqual(['second CREATE featureView']);
  expect(latencyMs).toBeLessThan(1_000);

  // Another project's change moves the version but carries nothing for this watcher.
  await client.applyRegistry(driverApply('other', ['other_stats', 'more']));
  const elsewhere = (await stream.next()).value as registryV1.WatchRegistryResponse;
  expect(elsewhere).toMatchObject({ version: 4n, changes: [] });
  await client.deleteFeatureView({ project: 'rides', name: 'second' });
  const deleted = (await stream.next()).value as registryV1.WatchRegistryResponse;
  expect(deleted.changes.map((c) => `${c.name} ${C[c.change]}`)).toEqual(['second DELETE']);
  abort.abort();
  await stream.return?.(undefined);

  // Replay from a version the registry still holds: no snapshot, just what came after.
  const replay = client.watchRegistry({ sinceVersion: 2n }, {})[Symbol.asyncIterator]();
  const versions: bigint[] = [];
  for (let i = 0; i < 3; i++) {
    const message = (await replay.next()).value as registryV1.WatchRegistryResponse;
    expect(message.snapshot).toBe(false);
    versions.push(message.version);
  }
  expect(versions).toEqual([3n, 4n, 5n]);
  await replay.return?.(undefined);

  // A version the registry never had starts over with a snapshot.
  const future = client.watchRegistry({ sinceVersion: 99n }, {})[Symbol.asyncIterator]();
  expect((await future.next()).value).toMatchObject({ version: 5n, snapshot: true });
  await future.return?.(undefined);
});

test('shutdown ends open watch streams with UNAVAILABLE and drains without being forced', async () => {
  const r = await start(path.join(dir, 'registry.json'));
  const stream = r.client.watchRegistry({}, {})[Symbol.asyncIterator]();
  expect((await stream.next()).value).toMatchObject({ snapshot: true, version: 0n });
  const ended = failure(stream.next());
  const result = await r.handle.shutdown('test');
  expect(result.forced).toBe(false);
  expect((await ended).message).toMatch(/shutting down/);
  expect((await ended).code).toBe(Code.UNAVAILABLE);
  running.splice(running.indexOf(r), 1);
  r.client.close();
});

test('materialization state and discovery rpcs', async () => {
  const { client } = await start(path.join(dir, 'registry.json'));
  await client.applyRegistry(driverApply('rides', ['driver_stats', 'driver_daily']));
  await client.updateMaterializationState({
    project: 'rides',
    featureView: 'driver_stats',
    jobId: 'job-2',
    status: registryV1.MaterializationStatus.SUCCEEDED,
    watermark: { seconds: 2000n },
  });
  const late = await client.updateMaterializationState({
    project: 'rides',
    featureView: 'driver_stats',
    jobId: 'job-1',
    status: registryV1.MaterializationStatus.SUCCEEDED,
    watermark: { seconds: 1000n },
  });
  expect(late.state?.watermark?.seconds).toBe(2000n);
  const states = await client.getMaterializationState({ project: 'rides' });
  expect(states.states.map((s) => [s.featureView, s.lastJobId])).toEqual([
    ['driver_daily', ''],
    ['driver_stats', 'job-1'],
  ]);
  expect((await failure(client.updateMaterializationState({ project: 'rides', featureView: 'nope', jobId: 'j', status: 1 }))).code).toBe(Code.NOT_FOUND);

  // A forged watermark ahead of now (it would make incremental runs skip data) and 2^62 s are
  // INVALID_ARGUMENT naming the field; the stored watermark stays.
  const forged = await failure(
    client.updateMaterializationState({
      project: 'rides',
      featureView: 'driver_stats',
      jobId: 'job-9',
      status: registryV1.MaterializationStatus.SUCCEEDED,
      watermark: { seconds: BigInt(Date.UTC(9999, 0, 1) / 1000) },
    }),
  );
  expect(forged.code).toBe(Code.INVALID_ARGUMENT);
  expect(forged.message).toMatch(
    /^watermark: watermark 9999-01-01T00:00:00\.000Z is ahead of now \(.*\) by more than the allowed 5 min \(LARDER_MAX_FUTURE_SKEW\)$/,
  );
  const huge = await failure(
    client.updateMaterializationState({
      project: 'rides',
      featureView: 'driver_stats',
      jobId: 'job-9',
      status: registryV1.MaterializationStatus.SUCCEEDED,
      watermark: { seconds: 2n ** 62n },
    }),
  );
  expect([huge.code, huge.message]).toEqual([
    Code.INVALID_ARGUMENT,
    'watermark: 4611686018427387904 seconds is outside the Timestamp range (years 0001 to 9999)',
  ]);
  const window = await failure(
    client.updateMaterializationState({
      project: 'rides',
      featureView: 'driver_stats',
      jobId: 'job-9',
      status: registryV1.MaterializationStatus.RUNNING,
      intervalEnd: { seconds: BigInt(Math.floor(Date.now() / 1000) + 3600) },
    }),
  );
  expect([window.code, window.message.split(' ')[0]]).toEqual([Code.INVALID_ARGUMENT, 'interval_end:']);
  const kept = (await client.getMaterializationState({ project: 'rides', featureViews: ['driver_stats'] })).states[0];
  expect([kept?.watermark?.seconds, kept?.lastJobId]).toEqual([2000n, 'job-1']);
  // Up to the skew ahead is clock drift, accepted.
  const nearly = await client.updateMaterializationState({
    project: 'rides',
    featureView: 'driver_daily',
    jobId: 'job-3',
    status: registryV1.MaterializationStatus.SUCCEEDED,
    watermark: { seconds: BigInt(Math.floor(Date.now() / 1000) + 60) },
  });
  expect(nearly.state?.lastJobId).toBe('job-3');
  expect((await client.getRegistryVersion({})).version).toBe(1n);

  const listed = await client.listFeatures({ project: 'rides', valueType: T.INT64 });
  expect(listed.features.map((f) => `${f.featureView}:${f.name}`)).toEqual(['driver_daily:trips_today', 'driver_stats:trips_today']);
  expect(listed.features[0]).toMatchObject({ owner: 'ml-team', entities: ['driver'], description: 'trips so far today' });
  const found = await client.searchFeatures({ query: 'conversion' });
  expect(found.features.map((f) => f.name)).toEqual(['conv_rate', 'conv_rate']);
  expect(found.registryVersion).toBe(1n);
});

test('two registry replicas on PostgreSQL: a watcher on one sees an apply through the other', async () => {
  const schema = `registry_svc_${randomBytes(4).toString('hex')}`;
  const url = new URL(testServices().postgres.url);
  url.searchParams.set('schema', schema);
  try {
    const a = await start(url.toString());
    const b = await start(url.toString());
    const stream = b.client.watchRegistry({}, {})[Symbol.asyncIterator]();
    expect((await stream.next()).value).toMatchObject({ snapshot: true, version: 0n });
    const started = Date.now();
    await a.client.applyRegistry(driverApply('rides', ['driver_stats']));
    const change = (await stream.next()).value as registryV1.WatchRegistryResponse;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(change.version).toBe(1n);
    expect(change.changes.map((c) => c.name)).toContain('driver_stats');
    await stream.return?.(undefined);
    expect((await b.client.getFeatureView({ project: 'rides', name: 'driver_stats' })).registryVersion).toBe(1n);
    // Optimistic concurrency through the service.
    expect((await failure(b.client.applyRegistry(driverApply('rides', ['x'], { expectedVersion: 0n })))).code).toBe(Code.ABORTED);
  } finally {
    for (const r of running.splice(0)) {
      r.client.close();
      await r.handle.shutdown('test over');
    }
    const admin = new Client({ connectionString: testServices().postgres.url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});
