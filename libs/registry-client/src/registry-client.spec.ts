import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { RegistryClient } from './registry-client';
import type { RegistryUpdate } from './registry-client';
import { startTestRegistry } from './testing/test-registry';
import type { TestRegistry } from './testing/test-registry';

const project = 'client_spec';

function entity(name: string, description = ''): registryV1.Entity {
  return create(registryV1.EntitySchema, { name, joinKey: `${name}_id`, valueType: typesV1.ValueType.INT64, description });
}

function featureView(name: string, features: string[], ttlSeconds = 3600): registryV1.FeatureView {
  return create(registryV1.FeatureViewSchema, {
    name,
    entities: ['driver'],
    schema: features.map((f) => ({ name: f, valueType: typesV1.ValueType.DOUBLE })),
    ttl: { seconds: BigInt(ttlSeconds) },
    batchSource: 'driver_stats_source',
  });
}

function source(): registryV1.DataSource {
  return create(registryV1.DataSourceSchema, {
    name: 'driver_stats_source',
    timestampField: 'event_timestamp',
    kind: { case: 'file', value: { path: 'data/driver_stats.parquet', format: registryV1.FileFormat.PARQUET } },
  });
}

let registry: TestRegistry;
const clients: RegistryClient[] = [];

function follow(options: { project?: string } = {}): RegistryClient {
  const client = new RegistryClient({ address: registry.address, backoff: { initialMs: 50, maxMs: 400 }, ...options }).start();
  clients.push(client);
  return client;
}

beforeAll(async () => {
  registry = await startTestRegistry();
  await registry.apply({
    project,
    entities: [entity('driver')],
    dataSources: [source()],
    featureViews: [featureView('driver_hourly', ['conv_rate', 'acc_rate'])],
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.closed()));
});

afterAll(async () => {
  await registry.dispose();
});

test('the first snapshot fills the copy with typed objects', async () => {
  const client = follow();
  await client.ready(5000);
  expect(client.version).toBe(await registry.version());
  expect(client.projectNames()).toContain(project);
  expect(client.entity(project, 'driver')?.joinKey).toBe('driver_id');
  expect(client.featureView(project, 'driver_hourly')?.schema.map((f) => f.name)).toEqual(['conv_rate', 'acc_rate']);
  expect(client.dataSource(project, 'driver_stats_source')?.kind.case).toBe('file');
  expect(client.featureViews(project).map((v) => v.name)).toEqual(['driver_hourly']);
  expect(client.featureView(project, 'missing')).toBeUndefined();
  const set = client.registrySet(project);
  expect(set?.entities.map((e) => e.name)).toEqual(['driver']);
  expect(set?.project.name).toBe(project);
  expect(client.connectionState).toBe('connected');
});

test('an applied change is visible in the copy within 100 ms, with version and onChange', async () => {
  const client = follow();
  await client.ready(5000);
  const updates: RegistryUpdate[] = [];
  client.onChange((u) => updates.push(u));

  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    const name = `fresh_view_${i}`;
    const seen = new Promise<number>((resolve) => {
      const off = client.onChange(() => {
        if (client.featureView(project, name)) {
          off();
          resolve(performance.now());
        }
      });
    });
    const started = performance.now();
    const applied = await registry.apply({ project, featureViews: [featureView(name, ['trips'])] });
    const visibleAt = await seen;
    latencies.push(visibleAt - started);
    expect(client.version).toBe(applied.version);
  }
  // Measured from sending the apply to the copy answering: includes the apply itself.
  expect(Math.max(...latencies)).toBeLessThan(100);

  const last = updates.at(-1);
  expect(last?.snapshot).toBe(false);
  expect(last?.version).toBe(client.version);
  expect(last?.previousVersion).toBe(client.version - 1n);
  expect(last?.changes.map((c) => [c.kind, c.name, c.change])).toContainEqual([
    registryV1.ObjectKind.FEATURE_VIEW,
    'fresh_view_4',
    registryV1.ChangeType.CREATE,
  ]);
});

test('updates replace and deletes remove objects in the copy', async () => {
  const client = follow();
  await client.ready(5000);
  const applied = await registry.apply({ project, entities: [entity('driver', 'a person who drives')] });
  await client.waitForVersion(applied.version, 2000);
  expect(client.entity(project, 'driver')?.description).toBe('a person who drives');

  const deleted = await registry.deleteFeatureView(project, 'fresh_view_0');
  await client.waitForVersion(deleted.version, 2000);
  expect(client.featureView(project, 'fresh_view_0')).toBeUndefined();
  expect(client.featureView(project, 'fresh_view_1')).toBeDefined();
});

test('permissions reach the copy, change with it and leave it, also in registrySet', async () => {
  const client = follow();
  await client.ready(5000);
  const grant = (roles: string[]): registryV1.Permission =>
    create(registryV1.PermissionSchema, { name: 'readers', namePatterns: ['driver_*'], actions: [registryV1.Action.READ_ONLINE], policy: { roles } });
  const created = await registry.apply({ project, permissions: [grant(['analysts'])] });
  await client.waitForVersion(created.version, 2000);
  expect(client.permission(project, 'readers')?.policy?.roles).toEqual(['analysts']);
  expect(client.registrySet(project)?.permissions.map((p) => p.name)).toEqual(['readers']);

  const updated = await registry.apply({ project, permissions: [grant(['analysts', 'auditors'])] });
  await client.waitForVersion(updated.version, 2000);
  expect(client.permissions(project).map((p) => p.policy?.roles)).toEqual([['analysts', 'auditors']]);

  const deleted = await registry.deletePermission(project, 'readers');
  await client.waitForVersion(deleted.version, 2000);
  expect(client.permission(project, 'readers')).toBeUndefined();
  expect(client.registrySet(project)?.permissions).toEqual([]);
});

test('a client scoped to one project only sees that project', async () => {
  await registry.apply({ project: 'other_project', entities: [entity('customer')] });
  const scoped = follow({ project: 'other_project' });
  await scoped.ready(5000);
  expect(scoped.projectNames()).toEqual(['other_project']);
  expect(scoped.entity('other_project', 'customer')).toBeDefined();
  expect(scoped.entity(project, 'driver')).toBeUndefined();
});

test('keeps answering while the registry is down, then reconnects and catches up', async () => {
  const client = follow();
  await client.ready(5000);
  const states: string[] = [];
  client.onConnectionChange((s) => states.push(s));
  const before = client.version;

  await registry.stop();
  await waitFor(() => client.connectionState === 'disconnected', 5000);
  // Served from the copy while the registry is gone.
  expect(client.featureView(project, 'driver_hourly')?.name).toBe('driver_hourly');
  expect(client.version).toBe(before);

  await registry.restart();
  // A change committed by the restarted registry reaches the copy once it is back.
  const applied = await registry.apply({ project, featureViews: [featureView('after_restart', ['x'])] });
  await client.waitForVersion(applied.version, 5000);
  expect(client.featureView(project, 'after_restart')).toBeDefined();
  expect(client.featureView(project, 'driver_hourly')).toBeDefined();
  expect(client.connectionState).toBe('connected');
  expect(client.reconnectCount).toBeGreaterThan(0);
  expect(states).toContain('disconnected');
  expect(states.at(-1)).toBe('connected');
});

test('connect() rejects with a clear error when no registry answers', async () => {
  await expect(RegistryClient.connect({ address: '127.0.0.1:1', timeoutMs: 300, backoff: { initialMs: 50, maxMs: 100 } })).rejects.toThrow(
    /timed out after 300 ms waiting for the first registry snapshot/,
  );
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
