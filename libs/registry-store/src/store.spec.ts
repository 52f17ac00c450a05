import { create } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import { issuesOf, issuesTrailer } from './errors';
import type { RegistryStore } from './registry-store';
import { fileBackend, postgresBackend } from './testing/backends';
import type { Backend } from './testing/backends';
import { driverRequest, featureService, featureView, fileSource, permission, storeRejection as rejection } from './testing/fixtures';

const K = registryV1.ObjectKind;
const C = registryV1.ChangeType;
const S = registryV1.MaterializationStatus;

function diffSummary(res: registryV1.ApplyRegistryResponse): string[] {
  return res.diffs.map((d) => `${K[d.kind]} ${d.name} ${C[d.change]}`);
}

describe.each([
  ['file', fileBackend],
  ['postgres', postgresBackend],
] as const)('%s registry store', (_name, makeBackend) => {
  let backend: Backend;
  let store: RegistryStore;

  beforeEach(async () => {
    backend = makeBackend();
    store = await backend.open();
  });
  afterEach(async () => {
    await backend.cleanup();
  });

  test('an empty registry is at version 0', async () => {
    expect(await store.version()).toEqual({ version: 0n, updatedTime: undefined });
    expect((await store.listProjects()).value).toEqual([]);
  });

  test('apply creates the project and its objects in one version, in kind then name order', async () => {
    const res = await store.apply(driverRequest('rides'));
    expect(res.applied).toBe(true);
    expect(res.version).toBe(1n);
    expect(diffSummary(res)).toEqual([
      'PROJECT rides CREATE',
      'ENTITY driver CREATE',
      'DATA_SOURCE driver_hourly CREATE',
      'FEATURE_VIEW driver_stats_0 CREATE',
      'FEATURE_VIEW driver_stats_1 CREATE',
      'FEATURE_SERVICE driver_service CREATE',
    ]);
    const { value: view, version } = await store.getObject(K.FEATURE_VIEW, 'rides', 'driver_stats_1');
    expect(version).toBe(1n);
    expect(view.schema.map((f) => f.name)).toEqual(['f0', 'f1', 'f2']);
    expect(view.meta).toMatchObject({ project: 'rides', registryVersion: 1n });
    expect(view.meta?.createdTime).toBeDefined();
    expect((await store.getProject('rides')).value.name).toBe('rides');
    expect((await store.version()).version).toBe(1n);
    expect((await store.version()).updatedTime).toBeDefined();
  });

  test('applying the same definitions again changes nothing and keeps the version', async () => {
    await store.apply(driverRequest('rides'));
    const again = await store.apply(driverRequest('rides'));
    expect(again.applied).toBe(false);
    expect(again.version).toBe(1n);
    expect(again.diffs.every((d) => d.change === C.UNCHANGED)).toBe(true);
    expect((await store.version()).version).toBe(1n);
  });

  test('an update reports the changed fields, bumps the version and keeps created_time', async () => {
    await store.apply(driverRequest('rides'));
    const created = (await store.getObject(K.FEATURE_VIEW, 'rides', 'driver_stats_0')).value.meta?.createdTime;
    const req = driverRequest('rides');
    req.featureViews[0] = featureView('driver_stats_0', { ttlSeconds: 3600, tags: { team: 'pricing' } });
    const res = await store.apply(req);
    expect(res.version).toBe(2n);
    const diff = res.diffs.find((d) => d.name === 'driver_stats_0');
    expect(diff?.change).toBe(C.UPDATE);
    expect(diff?.changedFields).toContain('tags.team');
    expect(diff?.changedFields.some((f) => f.startsWith('ttl'))).toBe(true);
    expect(res.diffs.find((d) => d.name === 'driver_stats_1')?.change).toBe(C.UNCHANGED);
    const { value } = await store.getObject(K.FEATURE_VIEW, 'rides', 'driver_stats_0');
    expect(value.ttl?.seconds).toBe(3600n);
    expect(value.meta?.registryVersion).toBe(2n);
    expect(value.meta?.createdTime).toEqual(created);
  });

  test('plan_only returns the diff and writes nothing', async () => {
    await store.apply(driverRequest('rides'));
    const req = driverRequest('rides', 3, { planOnly: true });
    const res = await store.apply(req);
    expect(res.applied).toBe(false);
    expect(res.version).toBe(1n);
    expect(res.diffs.find((d) => d.name === 'driver_stats_2')?.change).toBe(C.CREATE);
    await expect(store.getObject(K.FEATURE_VIEW, 'rides', 'driver_stats_2')).rejects.toMatchObject({ kind: 'NOT_FOUND' });
    expect((await store.version()).version).toBe(1n);
  });

  test('prune deletes what the request leaves out, except saved datasets; without prune nothing is deleted', async () => {
    const first = driverRequest('rides', 3);
    first.savedDatasets.push(
      create(registryV1.SavedDatasetSchema, {
        name: 'training_set',
        features: ['driver_stats_0:f0'],
        storage: { kind: { case: 'postgresTable', value: 'training_set' } },
      }),
    );
    await store.apply(first);

    const partial = driverRequest('rides', 1);
    expect((await store.apply(partial)).diffs.some((d) => d.change === C.DELETE)).toBe(false);
    expect((await store.listObjects(K.FEATURE_VIEW, 'rides')).value).toHaveLength(3);

    partial.prune = true;
    const res = await store.apply(partial);
    expect(diffSummary(res).filter((d) => d.endsWith('DELETE'))).toEqual(['FEATURE_VIEW driver_stats_1 DELETE', 'FEATURE_VIEW driver_stats_2 DELETE']);
    expect((await store.listObjects(K.FEATURE_VIEW, 'rides')).value.map((v) => v.name)).toEqual(['driver_stats_0']);
    expect((await store.listObjects(K.SAVED_DATASET, 'rides')).value.map((d) => d.name)).toEqual(['training_set']);
  });

  test('invalid definitions are INVALID_ARGUMENT naming the object and field, and nothing is written', async () => {
    const req = driverRequest('rides');
    req.featureViews.push(featureView('broken_view', { source: 'no_such_source' }));
    const error = await rejection(store.apply(req));
    expect(error.kind).toBe('INVALID');
    expect(error.message).toMatch(/^feature view 'broken_view': batch_source: references data source 'no_such_source', which is not defined/);
    // The trailer names the object and field for clients that hold the definitions.
    expect(issuesOf({ metadata: issuesTrailer(error.issues) })).toEqual([
      {
        kind: K.FEATURE_VIEW,
        name: 'broken_view',
        field: 'batch_source',
        message: expect.stringMatching(/^feature view 'broken_view' references data source 'no_such_source'/),
      },
    ]);
    expect((await store.version()).version).toBe(0n);
    await expect(store.getProject('rides')).rejects.toMatchObject({ kind: 'NOT_FOUND' });

    const dup = driverRequest('rides');
    dup.featureViews.push(featureView('driver_stats_0'));
    const dupError = await rejection(store.apply(dup));
    expect(dupError.kind).toBe('INVALID');
    expect(dupError.message).toBe('feature-view "driver_stats_0": defined more than once in the request (featureViews)');
  });

  test('references to objects already stored resolve', async () => {
    await store.apply(driverRequest('rides'));
    const res = await store.apply(create(registryV1.ApplyRegistryRequestSchema, { project: 'rides', featureViews: [featureView('later_view')] }));
    expect(diffSummary(res)).toContain('FEATURE_VIEW later_view CREATE');
  });

  test('get and list: name prefix and tag filters, NOT_FOUND for unknown projects and objects', async () => {
    const req = driverRequest('rides', 3);
    req.featureViews[2] = featureView('other_view', { tags: { team: 'pricing' } });
    await store.apply(req);
    await store.apply(driverRequest('second', 1));

    const byPrefix = await store.listObjects(K.FEATURE_VIEW, 'rides', create(registryV1.ObjectFilterSchema, { namePrefix: 'driver_' }));
    expect(byPrefix.value.map((v) => v.name)).toEqual(['driver_stats_0', 'driver_stats_1']);
    expect(byPrefix.version).toBe(2n);
    const byTag = await store.listObjects(K.FEATURE_VIEW, 'rides', create(registryV1.ObjectFilterSchema, { tags: { team: 'pricing' } }));
    expect(byTag.value.map((v) => v.name)).toEqual(['other_view']);
    expect((await store.listProjects()).value.map((p) => p.name)).toEqual(['rides', 'second']);
    expect((await store.listProjects(create(registryV1.ObjectFilterSchema, { namePrefix: 'sec' }))).value.map((p) => p.name)).toEqual(['second']);

    const missingObject = await rejection(store.getObject(K.ENTITY, 'rides', 'rider'));
    expect(missingObject.kind).toBe('NOT_FOUND');
    expect(missingObject.message).toBe('entity "rider" in project "rides" not found');
    const missingProject = await rejection(store.listObjects(K.ENTITY, 'nope'));
    expect(missingProject.kind).toBe('NOT_FOUND');
    expect(missingProject.message).toContain('project "nope"');
    const sets = await store.registrySets('rides');
    expect(sets.value[0]?.featureViews).toHaveLength(3);
  });

  test('deletes refuse to leave dangling references, then succeed and bump the version', async () => {
    await store.apply(driverRequest('rides'));
    const refused = await rejection(store.deleteObject(K.FEATURE_VIEW, 'rides', 'driver_stats_0'));
    expect(refused.kind).toBe('PRECONDITION');
    expect(refused.message).toContain('driver_service');

    expect(await store.deleteObject(K.FEATURE_SERVICE, 'rides', 'driver_service')).toBe(2n);
    expect(await store.deleteObject(K.FEATURE_VIEW, 'rides', 'driver_stats_0')).toBe(3n);
    await expect(store.deleteObject(K.FEATURE_VIEW, 'rides', 'driver_stats_0')).rejects.toMatchObject({ kind: 'NOT_FOUND' });
    expect((await store.listObjects(K.FEATURE_VIEW, 'rides')).value.map((v) => v.name)).toEqual(['driver_stats_1']);

    expect(await store.deleteProject('rides')).toBe(4n);
    await expect(store.getProject('rides')).rejects.toMatchObject({ kind: 'NOT_FOUND' });
    await expect(store.deleteProject('rides')).rejects.toMatchObject({ kind: 'NOT_FOUND' });
  });

  test('expected_version: a stale version is ABORTED and nothing is written', async () => {
    await store.apply(driverRequest('rides'));
    const stale = driverRequest('rides', 3, { expectedVersion: 0n });
    const error = await rejection(store.apply(stale));
    expect(error.kind).toBe('CONFLICT');
    expect(error.message).toContain('version 1');
    await expect(store.getObject(K.FEATURE_VIEW, 'rides', 'driver_stats_2')).rejects.toMatchObject({ kind: 'NOT_FOUND' });
    await expect(store.deleteObject(K.FEATURE_SERVICE, 'rides', 'driver_service', 0n)).rejects.toMatchObject({ kind: 'CONFLICT' });

    const fresh = driverRequest('rides', 3, { expectedVersion: 1n });
    expect((await store.apply(fresh)).version).toBe(2n);
  });

  test('the change feed delivers every committed version in order; replay and snapshot agree', async () => {
    const seen: registryV1.WatchRegistryResponse[] = [];
    const unsubscribe = store.subscribe((change) => seen.push(change));
    await store.apply(driverRequest('rides'));
    await store.apply(driverRequest('rides')); // unchanged: no version
    await store.apply(driverRequest('rides', 3));
    await store.deleteObject(K.FEATURE_SERVICE, 'rides', 'driver_service');
    await waitFor(() => seen.length >= 3);
    unsubscribe();

    expect(seen.map((c) => c.version)).toEqual([1n, 2n, 3n]);
    expect(seen.every((c) => !c.snapshot)).toBe(true);
    expect(seen[0]?.changes.map((c) => `${K[c.kind]} ${c.name} ${C[c.change]}`)).toContain('FEATURE_VIEW driver_stats_1 CREATE');
    expect(seen[1]?.changes.map((c) => `${c.name} ${C[c.change]}`)).toEqual(['driver_stats_2 CREATE']);
    const created = seen[1]?.changes[0];
    expect(created?.object.case).toBe('featureView');
    expect(seen[2]?.changes.map((c) => `${c.name} ${C[c.change]} ${c.object.case}`)).toEqual(['driver_service DELETE undefined']);

    expect((await store.changesSince(1n))?.map((c) => c.version)).toEqual([2n, 3n]);
    expect(await store.changesSince(3n)).toEqual([]);
    expect(await store.changesSince(9n)).toBeUndefined();

    const snapshot = await store.snapshot();
    expect(snapshot.snapshot).toBe(true);
    expect(snapshot.version).toBe(3n);
    expect(snapshot.changes.map((c) => `${K[c.kind]} ${c.name}`)).toEqual([
      'PROJECT rides',
      'ENTITY driver',
      'DATA_SOURCE driver_hourly',
      'FEATURE_VIEW driver_stats_0',
      'FEATURE_VIEW driver_stats_1',
      'FEATURE_VIEW driver_stats_2',
    ]);
    expect(snapshot.changes.every((c) => c.change === C.CREATE && c.object.case !== undefined)).toBe(true);
  });

  test('a second instance sees the first one’s commits, in order', async () => {
    const replica = await backend.another();
    const seen: bigint[] = [];
    replica.subscribe((change) => seen.push(change.version));
    await store.apply(driverRequest('rides'));
    await store.apply(driverRequest('rides', 3));
    await store.apply(driverRequest('rides', 4));
    await waitFor(() => seen.length >= 3);
    expect(seen).toEqual([1n, 2n, 3n]);
    expect((await replica.getObject(K.FEATURE_VIEW, 'rides', 'driver_stats_3')).version).toBe(3n);
    // The replica writes too, against the latest version.
    expect((await replica.apply(driverRequest('rides', 5, { expectedVersion: 3n }))).version).toBe(4n);
    await expect(store.apply(driverRequest('rides', 6, { expectedVersion: 3n }))).rejects.toMatchObject({ kind: 'CONFLICT' });
  });

  test('materialization state: one record per view, the watermark only moves forward', async () => {
    await store.apply(driverRequest('rides'));
    const update = (jobId: string, status: registryV1.MaterializationStatus, watermark?: number) =>
      store.updateMaterializationState(
        create(registryV1.UpdateMaterializationStateRequestSchema, {
          project: 'rides',
          featureView: 'driver_stats_0',
          jobId,
          status,
          ...(watermark !== undefined && { watermark: { seconds: BigInt(watermark) } }),
          ...(status === S.FAILED && { error: 'offline store unavailable' }),
        }),
      );
    await update('job-1', S.RUNNING);
    expect((await update('job-1', S.SUCCEEDED, 2000)).watermark?.seconds).toBe(2000n);
    // A late report from an older job does not move the watermark back.
    expect((await update('job-0', S.SUCCEEDED, 1000)).watermark?.seconds).toBe(2000n);
    const failed = await update('job-2', S.FAILED);
    expect(failed).toMatchObject({ lastJobId: 'job-2', lastJobStatus: S.FAILED, lastError: 'offline store unavailable' });
    expect(failed.watermark?.seconds).toBe(2000n);
    for (let i = 0; i < 20; i++) await update(`job-${i + 3}`, S.SUCCEEDED, 3000 + i);

    const states = await store.getMaterializationState('rides');
    expect(states.map((s) => s.featureView)).toEqual(['driver_stats_0', 'driver_stats_1']);
    expect(states[0]).toMatchObject({ lastJobId: 'job-22', lastJobStatus: S.SUCCEEDED, lastError: '' });
    expect(states[0]?.watermark?.seconds).toBe(3019n);
    expect(states[1]?.watermark).toBeUndefined();
    expect(states[1]?.lastJobId).toBe('');
    // Materialization reports are not registry changes.
    expect((await store.version()).version).toBe(1n);

    await expect(store.getMaterializationState('rides', ['nope'])).rejects.toMatchObject({ kind: 'NOT_FOUND' });
    await expect(update('', S.RUNNING)).rejects.toMatchObject({ kind: 'INVALID' });
    await expect(update('job-x', S.SUCCEEDED)).rejects.toMatchObject({ kind: 'INVALID', message: expect.stringContaining('watermark') });

    // A deleted view takes its record with it; a re-created one starts over.
    await store.deleteObject(K.FEATURE_SERVICE, 'rides', 'driver_service');
    await store.deleteObject(K.FEATURE_VIEW, 'rides', 'driver_stats_0');
    await store.apply(driverRequest('rides', 2, { featureServices: [] }));
    expect((await store.getMaterializationState('rides', ['driver_stats_0']))[0]?.watermark).toBeUndefined();
  });

  test('permissions: create, unchanged, update with changed fields, prune, get/list/delete, and the change feed', async () => {
    const seen: registryV1.WatchRegistryResponse[] = [];
    const unsubscribe = store.subscribe((change) => seen.push(change));
    const first = await store.apply(
      driverRequest('rides', 1, { permissions: [permission('driver-readers'), permission('writers', { actions: [registryV1.Action.WRITE_ONLINE] })] }),
    );
    expect(diffSummary(first).filter((d) => d.startsWith('PERMISSION'))).toEqual(['PERMISSION driver-readers CREATE', 'PERMISSION writers CREATE']);
    const { value: stored, version } = await store.getObject(K.PERMISSION, 'rides', 'driver-readers');
    expect(version).toBe(1n);
    expect(stored).toMatchObject({
      namePatterns: ['driver_*'],
      requiredTags: { team: 'rides' },
      actions: [registryV1.Action.DESCRIBE, registryV1.Action.READ_ONLINE],
    });
    expect(stored.policy).toMatchObject({ roles: ['rides-analysts'], serviceAccounts: ['serving/kserve-rides'] });
    expect(stored.meta).toMatchObject({ project: 'rides', registryVersion: 1n });

    const same = await store.apply(
      driverRequest('rides', 1, { permissions: [permission('driver-readers'), permission('writers', { actions: [registryV1.Action.WRITE_ONLINE] })] }),
    );
    expect(same.applied).toBe(false);
    expect(diffSummary(same).filter((d) => d.startsWith('PERMISSION'))).toEqual(['PERMISSION driver-readers UNCHANGED', 'PERMISSION writers UNCHANGED']);

    const changed = permission('driver-readers', { actions: [registryV1.Action.DESCRIBE], policy: { roles: ['rides-analysts', 'auditors'] } });
    const update = await store.apply(driverRequest('rides', 1, { permissions: [changed], prune: true }));
    expect(update.version).toBe(2n);
    expect(update.diffs.filter((d) => d.kind === K.PERMISSION).map((d) => [d.name, C[d.change], ...d.changedFields])).toEqual([
      ['driver-readers', 'UPDATE', 'actions', 'policy.roles', 'policy.service_accounts'],
      ['writers', 'DELETE'],
    ]);
    expect((await store.listObjects(K.PERMISSION, 'rides')).value.map((p) => p.name)).toEqual(['driver-readers']);
    expect((await store.getObject(K.PERMISSION, 'rides', 'driver-readers')).value.meta?.createdTime).toEqual(stored.meta?.createdTime);
    expect((await store.listObjects(K.PERMISSION, 'rides', create(registryV1.ObjectFilterSchema, { namePrefix: 'x' }))).value).toEqual([]);

    expect(await store.deleteObject(K.PERMISSION, 'rides', 'driver-readers')).toBe(3n);
    await expect(store.getObject(K.PERMISSION, 'rides', 'driver-readers')).rejects.toMatchObject({
      kind: 'NOT_FOUND',
      message: 'permission "driver-readers" in project "rides" not found',
    });
    await expect(store.deleteObject(K.PERMISSION, 'rides', 'driver-readers')).rejects.toMatchObject({ kind: 'NOT_FOUND' });

    await waitFor(() => seen.length >= 3);
    unsubscribe();
    const permissionChanges = seen.map((v) => v.changes.filter((c) => c.kind === K.PERMISSION).map((c) => `${c.name} ${C[c.change]} ${c.object.case}`));
    expect(permissionChanges).toEqual([
      ['driver-readers CREATE permission', 'writers CREATE permission'],
      ['driver-readers UPDATE permission', 'writers DELETE undefined'],
      ['driver-readers DELETE undefined'],
    ]);
    const carried = seen[1]?.changes.find((c) => c.name === 'driver-readers')?.object;
    expect(carried?.case === 'permission' && carried.value.policy?.roles).toEqual(['rides-analysts', 'auditors']);
    expect((await store.changesSince(1n))?.map((c) => c.version)).toEqual([2n, 3n]);
  });

  test('permissions are in snapshots, in registry sets, and read back by a second instance', async () => {
    await store.apply(
      driverRequest('rides', 1, {
        permissions: [permission('zz-last'), permission('all-readers', { types: [], namePatterns: [], requiredTags: {}, policy: { anyAuthenticated: true } })],
      }),
    );
    const snapshot = await store.snapshot();
    expect(snapshot.changes.map((c) => `${K[c.kind]} ${c.name} ${c.object.case}`).slice(-2)).toEqual([
      'PERMISSION all-readers permission',
      'PERMISSION zz-last permission',
    ]);
    expect((await store.registrySets('rides')).value[0]?.permissions.map((p) => p.name)).toEqual(['all-readers', 'zz-last']);
    const replica = await backend.another();
    const { value } = await replica.getObject(K.PERMISSION, 'rides', 'all-readers');
    expect(value.policy?.anyAuthenticated).toBe(true);
    expect(value.types).toEqual([]);
    expect((await replica.listObjects(K.PERMISSION, 'rides')).value.map((p) => p.name)).toEqual(['all-readers', 'zz-last']);
    // Deleting the project takes its permissions with it.
    await store.deleteProject('rides');
    await store.apply(driverRequest('rides', 1));
    expect((await store.listObjects(K.PERMISSION, 'rides')).value).toEqual([]);
  });

  test('an invalid permission is INVALID_ARGUMENT naming the permission and field, and nothing is written', async () => {
    const bad = driverRequest('rides', 1, { permissions: [permission('p', { actions: [registryV1.Action.DESCRIBE, registryV1.Action.UNSPECIFIED] })] });
    const error = await rejection(store.apply(bad));
    expect(error.kind).toBe('INVALID');
    expect(error.message).toMatch(/^permission 'p': actions\[1\]: has ACTION_UNSPECIFIED \(not set\); use one of describe, create/);
    expect(issuesOf({ metadata: issuesTrailer(error.issues) })).toEqual([
      { kind: K.PERMISSION, name: 'p', field: 'actions[1]', message: expect.stringMatching(/^permission 'p' has ACTION_UNSPECIFIED/) },
    ]);
    expect((await store.version()).version).toBe(0n);

    const hostile = driverRequest('rides', 1, { permissions: [permission('p', { namePatterns: Array.from({ length: 50_000 }, () => '*'.repeat(300)) })] });
    const hostileError = await rejection(store.apply(hostile));
    expect(hostileError.kind).toBe('INVALID');
    expect(hostileError.message).toMatch(/name_patterns: has 50000 name patterns, more than the 64 allowed/);
    expect(hostileError.message.length).toBeLessThan(1000);

    const dup = driverRequest('rides', 1, { permissions: [permission('p'), permission('p')] });
    expect((await rejection(store.apply(dup))).message).toBe('permission "p": defined more than once in the request (permissions)');
    expect((await store.version()).version).toBe(0n);
  });

  test('a project created empty and objects with kinds of every sort round-trip', async () => {
    const req = create(registryV1.ApplyRegistryRequestSchema, {
      project: 'bare',
      projectSpec: { description: 'nothing yet', tags: { env: 'dev' }, owner: 'me' },
    });
    const res = await store.apply(req);
    expect(diffSummary(res)).toEqual(['PROJECT bare CREATE']);
    expect((await store.getProject('bare')).value).toMatchObject({ description: 'nothing yet', owner: 'me', tags: { env: 'dev' } });
    const more = driverRequest('bare', 1, { projectSpec: { description: 'now with views', tags: { env: 'dev' }, owner: 'me' } });
    more.dataSources.push(fileSource('second_source'));
    more.featureServices.push(featureService('all', ['driver_stats_0']));
    const updated = await store.apply(more);
    expect(updated.diffs[0]).toMatchObject({ kind: K.PROJECT, change: C.UPDATE, changedFields: ['description'] });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
