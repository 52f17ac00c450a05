import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1, typesV1 } from '@larder/proto';
import { Code, createClient } from '@larder/rpc';
import type { RpcClient, ServerHandle } from '@larder/rpc';
import { rpcRejection as failure, runInProcess } from '@larder/testing';
import { registryService } from './service';

// Permission objects through the RegistryService: CRUD, apply/plan/prune, the
// change stream, and hostile applies. (Enforcement of permissions is tested
// with the authorizer; here the registry runs with authentication off.)

const K = registryV1.ObjectKind;
const C = registryV1.ChangeType;
const A = registryV1.Action;

type Registry = RpcClient<typeof registryV1.RegistryService>;
type PermissionInit = MessageInitShape<typeof registryV1.PermissionSchema>;

let dir = '';
let handle: ServerHandle;
let client: Registry;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-registry-perm-'));
  handle = await runInProcess(registryService, { LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'), LARDER_LOG_LEVEL: 'error' });
  client = createClient(registryV1.RegistryService, handle.address) as Registry;
});
afterEach(async () => {
  client.close();
  await handle.shutdown('test over');
  await rm(dir, { recursive: true, force: true });
});

function grant(name: string, init: Partial<PermissionInit> = {}): PermissionInit {
  const defaults: PermissionInit = {
    name,
    types: [K.FEATURE_VIEW, K.FEATURE_SERVICE],
    namePatterns: ['driver_*'],
    requiredTags: { team: 'rides' },
    actions: [A.DESCRIBE, A.READ_ONLINE],
    policy: { roles: ['rides-analysts'], serviceAccounts: ['serving/kserve-rides'] },
    description: 'who reads driver features',
  };
  return { ...defaults, ...init } as PermissionInit;
}

function apply(permissions: PermissionInit[], init: { prune?: boolean; planOnly?: boolean } = {}): registryV1.ApplyRegistryRequest {
  return create(registryV1.ApplyRegistryRequestSchema, {
    project: 'rides',
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: typesV1.ValueType.INT64 }],
    dataSources: [{ name: 'trips', timestampField: 'ts', kind: { case: 'file', value: { path: 'trips.parquet', format: registryV1.FileFormat.PARQUET } } }],
    featureViews: [
      {
        name: 'driver_stats',
        entities: ['driver'],
        batchSource: 'trips',
        schema: [{ name: 'conv_rate', valueType: typesV1.ValueType.DOUBLE, description: 'driver readers rate' }],
      },
    ],
    permissions,
    ...init,
  });
}

const summary = (res: registryV1.ApplyRegistryResponse): string[] =>
  res.diffs.filter((d) => d.kind === K.PERMISSION).map((d) => [d.name, C[d.change], ...d.changedFields].join(' '));

test('apply, plan, get, list, prune and delete permissions over a real socket', async () => {
  const created = await client.applyRegistry(
    apply([grant('driver-readers'), grant('pushers', { actions: [A.WRITE_ONLINE], policy: { namespaces: ['ingest'] } })]),
  );
  expect(created).toMatchObject({ version: 1n, applied: true });
  expect(summary(created)).toEqual(['driver-readers CREATE', 'pushers CREATE']);

  const got = await client.getPermission({ project: 'rides', name: 'driver-readers' });
  expect(got.registryVersion).toBe(1n);
  expect(got.permission).toMatchObject({
    name: 'driver-readers',
    types: [K.FEATURE_VIEW, K.FEATURE_SERVICE],
    namePatterns: ['driver_*'],
    requiredTags: { team: 'rides' },
    actions: [A.DESCRIBE, A.READ_ONLINE],
    policy: { roles: ['rides-analysts'], serviceAccounts: ['serving/kserve-rides'], anyAuthenticated: false },
    meta: { project: 'rides', registryVersion: 1n },
  });
  expect((await client.listPermissions({ project: 'rides' })).permissions.map((p) => p.name)).toEqual(['driver-readers', 'pushers']);
  expect((await client.listPermissions({ project: 'rides', filter: { namePrefix: 'push' } })).permissions.map((p) => p.name)).toEqual(['pushers']);

  // A plan names the changed fields and writes nothing; prune deletes the one left out.
  const planned = await client.applyRegistry(
    apply([grant('driver-readers', { actions: [A.DESCRIBE, A.READ_ONLINE, A.READ_OFFLINE], policy: { anyAuthenticated: true } })], {
      prune: true,
      planOnly: true,
    }),
  );
  expect(planned).toMatchObject({ version: 1n, applied: false });
  expect(summary(planned)).toEqual(['driver-readers UPDATE actions policy.roles policy.service_accounts policy.any_authenticated', 'pushers DELETE']);
  expect((await client.listPermissions({ project: 'rides' })).permissions).toHaveLength(2);

  const pruned = await client.applyRegistry(apply([grant('driver-readers')], { prune: true }));
  expect(summary(pruned)).toEqual(['driver-readers UNCHANGED', 'pushers DELETE']);
  expect(pruned.version).toBe(2n);

  expect((await client.deletePermission({ project: 'rides', name: 'driver-readers', expectedVersion: 2n })).version).toBe(3n);
  const gone = await failure(client.getPermission({ project: 'rides', name: 'driver-readers' }));
  expect([gone.code, gone.message]).toEqual([Code.NOT_FOUND, 'permission "driver-readers" in project "rides" not found']);
  expect((await failure(client.deletePermission({ project: 'rides', name: 'driver-readers' }))).code).toBe(Code.NOT_FOUND);
  expect((await failure(client.deletePermission({ project: 'rides', name: 'x', expectedVersion: 1n }))).code).toBe(Code.ABORTED);
  expect((await failure(client.listPermissions({ project: 'nobody' }))).code).toBe(Code.NOT_FOUND);
  expect((await failure(client.getPermission({ project: 'rides', name: '' }))).message).toBe('name: required');
  expect((await failure(client.listPermissions({ project: '' }))).message).toBe('project: required');
});

test('WatchRegistry carries permissions in the snapshot and in each change', async () => {
  await client.applyRegistry(apply([grant('driver-readers')]));
  const abort = new AbortController();
  const stream = client.watchRegistry({ project: 'rides' }, { signal: abort.signal })[Symbol.asyncIterator]();
  const snapshot = (await stream.next()).value as registryV1.WatchRegistryResponse;
  const inSnapshot = snapshot.changes.find((c) => c.kind === K.PERMISSION);
  expect(inSnapshot?.object.case === 'permission' && inSnapshot.object.value.policy?.roles).toEqual(['rides-analysts']);

  await client.applyRegistry(apply([grant('driver-readers', { policy: { users: ['alice'] } })]));
  const update = (await stream.next()).value as registryV1.WatchRegistryResponse;
  expect(update.changes.map((c) => `${K[c.kind]} ${c.name} ${C[c.change]} ${c.object.case}`)).toEqual(['PERMISSION driver-readers UPDATE permission']);
  await client.deletePermission({ project: 'rides', name: 'driver-readers' });
  const deleted = (await stream.next()).value as registryV1.WatchRegistryResponse;
  expect(deleted.changes.map((c) => `${K[c.kind]} ${c.name} ${C[c.change]} ${c.object.case}`)).toEqual(['PERMISSION driver-readers DELETE undefined']);
  abort.abort();
  await stream.return?.(undefined);
});

test('discovery lists and searches features only, whatever permissions say', async () => {
  await client.applyRegistry(apply([grant('driver-readers')]));
  const found = await client.searchFeatures({ query: 'driver readers' });
  expect(found.features.map((f) => `${f.featureView}:${f.name}`)).toEqual(['driver_stats:conv_rate']);
  expect((await client.listFeatures({ project: 'rides' })).features.map((f) => f.name)).toEqual(['conv_rate']);
});

test('hostile permissions are INVALID_ARGUMENT naming the field, and nothing is stored', async () => {
  const refusals: Array<[PermissionInit, RegExp]> = [
    [grant('p', { actions: [] }), /^permission 'p': actions: grants no actions; list at least one of describe/],
    [grant('p', { actions: [A.UNSPECIFIED] }), /^permission 'p': actions\[0\]: has ACTION_UNSPECIFIED \(not set\)/],
    [grant('p', { actions: [12345 as registryV1.Action] }), /^permission 'p': actions\[0\]: has unknown action 12345/],
    [grant('p', { types: [K.UNSPECIFIED] }), /^permission 'p': types\[0\]: has OBJECT_KIND_UNSPECIFIED/],
    [grant('p', { policy: {} }), /^permission 'p': policy: names no one/],
    [grant('p', { namePatterns: ['(a+)+$'] }), /^permission 'p': name_patterns\[0\]: has name pattern '\(a\+\)\+\$' with characters other than/],
    [
      grant('p', { namePatterns: Array.from({ length: 20_000 }, (_, i) => `view_${i}`) }),
      /^permission 'p': name_patterns: has 20000 name patterns, more than the 64 allowed/,
    ],
    [
      grant('p', { namePatterns: ['a'.repeat(2_000_000)] }),
      /^permission 'p': name_patterns\[0\]: has a name pattern of 2000000 characters, more than the 256 allowed/,
    ],
    [
      grant('p', { requiredTags: Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`t${i}`, 'x'])) }),
      /^permission 'p': required_tags: has 5000 required tags/,
    ],
    [
      grant('p', { policy: { users: Array.from({ length: 100_000 }, (_, i) => `user-${i}`) } }),
      /^permission 'p': policy.users: lists 100000 users, more than the 256 allowed/,
    ],
    [
      grant('p', { policy: { certificateSubjects: ['CN=a\r\nforged: line'] } }),
      /^permission 'p': policy.certificate_subjects\[0\]: has certificate subject .* containing control characters/,
    ],
    [
      grant('p', { policy: { serviceAccounts: ['../../etc/passwd'] } }),
      /^permission 'p': policy.service_accounts\[0\]: has service account '..\/..\/etc\/passwd', which is not '<namespace>\/<name>'/,
    ],
    [grant('bad name!'), /^permission 'bad name!': name: has an invalid name/],
  ];
  for (const [permission, expected] of refusals) {
    const error = await failure(client.applyRegistry(apply([permission])));
    expect([error.code, error.message]).toEqual([Code.INVALID_ARGUMENT, expect.stringMatching(expected)]);
    // Nothing a client sent in bulk is echoed back in bulk.
    expect(error.message.length).toBeLessThan(2_000);
  }
  expect((await client.getRegistryVersion({})).version).toBe(0n);
  // The service still answers after the attacks.
  expect((await client.applyRegistry(apply([grant('p')]))).applied).toBe(true);
});
