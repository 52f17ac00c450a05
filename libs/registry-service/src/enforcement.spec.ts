// The registry with authentication and Permission objects on, over TLS, with tokens from a
// real issuer: who may read, list, watch, apply and delete what.
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1, typesV1 } from '@larder/proto';
import { Code, createClient } from '@larder/rpc';
import type { RpcClient, ServerHandle } from '@larder/rpc';
import { createTestCertificates, rpcRejection as failure, runInProcess, TestIssuer, waitUntil } from '@larder/testing';
import type { TestCertificates } from '@larder/testing';
import { registryService } from './service';

const T = typesV1.ValueType;
const K = registryV1.ObjectKind;
const A = registryV1.Action;
type Registry = RpcClient<typeof registryV1.RegistryService>;

let dir = '';
let certs: TestCertificates;
let issuer: TestIssuer;
let handle: ServerHandle;
const logs: string[] = [];
const clients: Registry[] = [];

function as(token: string | undefined): Registry {
  const client = createClient(registryV1.RegistryService, handle.address, {
    tls: { caFile: certs.ca.certFile },
    ...(token !== undefined && { token }),
    defaultTimeoutMs: 10_000,
  }) as Registry;
  clients.push(client);
  return client;
}

const view = (name: string, tags: Record<string, string>, description = '') => ({
  name,
  entities: ['customer'],
  batchSource: 'scores',
  tags,
  description,
  schema: [{ name: 'score', valueType: T.DOUBLE }],
});

function riskRepo(extra: Partial<{ views: ReturnType<typeof view>[]; permissions: registryV1.Permission[] }> = {}): registryV1.ApplyRegistryRequest {
  return create(registryV1.ApplyRegistryRequestSchema, {
    project: 'risk',
    entities: [{ name: 'customer', joinKey: 'customer_id', valueType: T.INT64 }],
    dataSources: [{ name: 'scores', timestampField: 'ts', kind: { case: 'file', value: { path: 'scores.parquet', format: registryV1.FileFormat.PARQUET } } }],
    featureViews: extra.views ?? [view('risk_scores', { team: 'risk' }), view('ops_load', { team: 'ops' })],
    permissions: extra.permissions ?? PERMISSIONS,
  });
}

const permission = (name: string, init: Omit<MessageInitShape<typeof registryV1.PermissionSchema>, 'name' | '$typeName'>) =>
  create(registryV1.PermissionSchema, { ...init, name } as MessageInitShape<typeof registryV1.PermissionSchema>);

const PERMISSIONS = [
  // alice reads risk_* views by name.
  permission('alice-reads-risk', { types: [K.FEATURE_VIEW], namePatterns: ['risk_*'], actions: [A.DESCRIBE], policy: { users: ['alice'] } }),
  // The risk engineers edit views tagged as theirs, and see the project.
  permission('risk-edits', {
    types: [K.FEATURE_VIEW],
    requiredTags: { team: 'risk' },
    actions: [A.DESCRIBE, A.CREATE, A.UPDATE, A.DELETE],
    policy: { roles: ['risk-eng'] },
  }),
  permission('risk-sees-project', { types: [K.PROJECT, K.ENTITY, K.DATA_SOURCE], actions: [A.DESCRIBE], policy: { roles: ['risk-eng'] } }),
  // The materialization service reports progress.
  permission('materializer', { types: [K.FEATURE_VIEW], actions: [A.MATERIALIZE, A.DESCRIBE], policy: { serviceAccounts: ['larder/larder-materialization'] } }),
];

let root: Registry;
let alice: Registry;
let eve: Registry;
let bob: Registry;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-registry-perms-'));
  certs = await createTestCertificates({ dir: path.join(dir, 'certs') });
  issuer = await TestIssuer.start();
  handle = await runInProcess(
    registryService,
    {
      LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'),
      LARDER_LOG_LEVEL: 'info',
      LARDER_TLS_CERT_FILE: certs.server.certFile,
      LARDER_TLS_KEY_FILE: certs.server.keyFile,
      LARDER_AUTH_MODES: 'oidc',
      LARDER_AUTH_OIDC_ISSUER: issuer.issuer,
      LARDER_AUTH_OIDC_AUDIENCES: 'larder',
      LARDER_AUTH_OPERATORS: 'user:root',
    },
    logs,
  );
  root = as(await issuer.issue({ sub: 'root' }));
  alice = as(await issuer.issue({ sub: 'alice' }));
  eve = as(await issuer.issue({ sub: 'eve', groups: ['risk-eng'] }));
  bob = as(await issuer.issue({ sub: 'bob' }));
  await root.applyRegistry(riskRepo());
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await handle.shutdown('test over');
  await issuer.close();
  await rm(dir, { recursive: true, force: true });
});

const auditLines = (): Record<string, unknown>[] => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'audit');

describe('authentication', () => {
  it('refuses a missing, expired, wrong-audience or badly signed token with the reason', async () => {
    expect(await failure(as(undefined).getProject({ name: 'risk' }))).toMatchObject({ code: Code.UNAUTHENTICATED, message: 'missing bearer token' });
    expect(await failure(as(await issuer.issue({ sub: 'alice', expiresIn: -120 })).getProject({ name: 'risk' }))).toMatchObject({
      code: Code.UNAUTHENTICATED,
      message: 'token expired',
    });
    expect(await failure(as(await issuer.issue({ sub: 'alice', aud: 'elsewhere' })).getProject({ name: 'risk' }))).toMatchObject({
      code: Code.UNAUTHENTICATED,
    });
    expect((await failure(as(await issuer.issue({ sub: 'alice', aud: 'elsewhere' })).getProject({ name: 'risk' }))).message).toMatch(/audience/);
    expect(await failure(as(await issuer.issue({ sub: 'alice', unpublishedKey: true })).getProject({ name: 'risk' }))).toMatchObject({
      code: Code.UNAUTHENTICATED,
    });
  });
});

describe('reads', () => {
  it('DESCRIBE decides Get: allowed, denied with the action and object named, and a hidden name answers like a missing one', async () => {
    expect((await alice.getFeatureView({ project: 'risk', name: 'risk_scores' })).featureView?.name).toBe('risk_scores');
    expect(await failure(alice.getFeatureView({ project: 'risk', name: 'ops_load' }))).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: 'principal user:alice may not describe feature_view "ops_load" in project "risk"',
    });
    // Outside her grant, a name that does not exist is denied exactly as one that does.
    expect(await failure(alice.getFeatureView({ project: 'risk', name: 'ops_ghost' }))).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: 'principal user:alice may not describe feature_view "ops_ghost" in project "risk"',
    });
    // Inside it, a missing view is simply not found.
    expect((await failure(alice.getFeatureView({ project: 'risk', name: 'risk_ghost' }))).code).toBe(Code.NOT_FOUND);
    expect((await failure(bob.getProject({ name: 'risk' }))).code).toBe(Code.PERMISSION_DENIED);
  });

  it('lists and discovery hold only what the caller may describe', async () => {
    expect((await root.listFeatureViews({ project: 'risk' })).featureViews.map((v) => v.name)).toEqual(['ops_load', 'risk_scores']);
    expect((await alice.listFeatureViews({ project: 'risk' })).featureViews.map((v) => v.name)).toEqual(['risk_scores']);
    expect((await bob.listFeatureViews({ project: 'risk' })).featureViews).toEqual([]);
    expect((await bob.listProjects({})).projects).toEqual([]);
    expect((await alice.searchFeatures({ query: 'score' })).features.map((f) => f.featureView)).toEqual(['risk_scores']);
    expect((await alice.listFeatures({ project: 'risk' })).features.map((f) => f.featureView)).toEqual(['risk_scores']);
    expect((await alice.listPermissions({ project: 'risk' })).permissions).toEqual([]);
    expect((await root.listPermissions({ project: 'risk' })).permissions.map((p) => p.name).sort()).toEqual(PERMISSIONS.map((p) => p.name).sort());
  });
});

describe('writes', () => {
  it('apply is checked per object: an engineer edits her team’s view but cannot create another team’s; nothing is written then', async () => {
    const before = (await root.getRegistryVersion({})).version;
    const mine = riskRepo({ views: [view('risk_scores', { team: 'risk' }, 'edited by eve')], permissions: [] });
    mine.permissions = [];
    const edited = await eve.applyRegistry({ ...mine, featureViews: mine.featureViews, entities: [], dataSources: [], permissions: [] });
    expect(edited.applied).toBe(true);
    expect((await root.getFeatureView({ project: 'risk', name: 'risk_scores' })).featureView?.description).toBe('edited by eve');

    const theirs = create(registryV1.ApplyRegistryRequestSchema, { project: 'risk', featureViews: [view('ops_new', { team: 'ops' })] });
    expect(await failure(eve.applyRegistry(theirs))).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: 'principal user:eve may not create feature_view "ops_new" in project "risk"',
    });
    // Retagging her view into another team's is an update of the other team's object too.
    const retag = create(registryV1.ApplyRegistryRequestSchema, { project: 'risk', featureViews: [view('risk_scores', { team: 'ops' }, 'edited by eve')] });
    expect((await failure(eve.applyRegistry(retag))).code).toBe(Code.PERMISSION_DENIED);
    expect((await root.listFeatureViews({ project: 'risk' })).featureViews.map((v) => v.name)).toEqual(['ops_load', 'risk_scores']);
    expect((await root.getRegistryVersion({})).version).toBe(before + 1n);
  });

  it('permissions need MANAGE_PERMISSIONS; deletes need DELETE', async () => {
    const grab = create(registryV1.ApplyRegistryRequestSchema, {
      project: 'risk',
      permissions: [permission('eve-all', { actions: [A.DESCRIBE], policy: { users: ['eve'] } })],
    });
    expect(await failure(eve.applyRegistry(grab))).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: 'principal user:eve may not manage_permissions permission "eve-all" in project "risk"',
    });
    expect((await failure(alice.deleteFeatureView({ project: 'risk', name: 'risk_scores' }))).code).toBe(Code.PERMISSION_DENIED);
    expect((await failure(eve.deleteFeatureView({ project: 'risk', name: 'ops_load' }))).code).toBe(Code.PERMISSION_DENIED);
    expect((await failure(eve.deletePermission({ project: 'risk', name: 'alice-reads-risk' }))).code).toBe(Code.PERMISSION_DENIED);
    expect((await failure(eve.deleteProject({ name: 'risk' }))).code).toBe(Code.PERMISSION_DENIED);
    expect((await root.getFeatureView({ project: 'risk', name: 'ops_load' })).featureView?.name).toBe('ops_load');
  });

  it('materialization state is written by the materialization service’s identity only', async () => {
    const materializer = as(await issuer.serviceAccountToken({ namespace: 'larder', name: 'larder-materialization' }));
    const report = { project: 'risk', featureView: 'risk_scores', jobId: 'j1', status: registryV1.MaterializationStatus.RUNNING };
    expect((await materializer.updateMaterializationState(report)).state?.featureView).toBe('risk_scores');
    expect(await failure(alice.updateMaterializationState({ ...report, jobId: 'j2' }))).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: 'principal user:alice may not materialize feature_view "risk_scores" in project "risk"',
    });
  });

  it('a project without permissions answers its operators only: the bootstrap', async () => {
    const fresh = create(registryV1.ApplyRegistryRequestSchema, { project: 'fresh' });
    expect(await failure(eve.applyRegistry(fresh))).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: 'principal user:eve may not create project "fresh"',
    });
    expect((await root.applyRegistry(fresh)).applied).toBe(true);
    expect((await failure(eve.getProject({ name: 'fresh' }))).code).toBe(Code.PERMISSION_DENIED);
  });

  it('every write and every denial is one audit line with identity, action, objects and outcome', () => {
    const lines = auditLines();
    const denial = lines.find((l) => l['identity'] === 'user:eve' && l['action'] === 'create' && l['outcome'] === 'denied');
    expect(denial).toMatchObject({ service: 'registry', reason: 'principal user:eve may not create feature_view "ops_new" in project "risk"' });
    const write = lines.find((l) => l['identity'] === 'user:eve' && l['action'] === 'update' && l['outcome'] === 'success');
    expect(JSON.stringify(write?.['objects'])).toContain('risk_scores');
    expect(lines.some((l) => l['identity'] === 'sa:larder/larder-materialization' && l['action'] === 'materialize' && l['outcome'] === 'success')).toBe(true);
    expect(lines.some((l) => l['identity'] === 'unauthenticated' && l['action'] === 'authenticate' && l['outcome'] === 'denied')).toBe(true);
  });
});

describe('the change feed', () => {
  it('shows each watcher only what it may describe, and a new snapshot when its permissions change', async () => {
    const seen: registryV1.WatchRegistryResponse[] = [];
    const abort = new AbortController();
    const watching = (async () => {
      try {
        for await (const message of alice.watchRegistry({ project: 'risk' }, { signal: abort.signal, timeoutMs: 60_000 })) seen.push(message);
      } catch {
        // cancelled at the end
      }
    })();
    const names = (m: registryV1.WatchRegistryResponse | undefined) => (m?.changes ?? []).map((c) => c.name).sort();
    await waitUntil(async () => seen.length > 0, { timeoutMs: 10_000, what: 'the watch stream' });
    expect(seen[0]?.snapshot).toBe(true);
    expect(names(seen[0])).toEqual(['risk_scores']);

    // A change she may see, then one she may not.
    await root.applyRegistry(create(registryV1.ApplyRegistryRequestSchema, { project: 'risk', featureViews: [view('risk_limits', { team: 'risk' })] }));
    await root.applyRegistry(create(registryV1.ApplyRegistryRequestSchema, { project: 'risk', featureViews: [view('ops_more', { team: 'ops' })] }));
    await waitUntil(async () => seen.length >= 3, { timeoutMs: 10_000, what: 'the watch stream' });
    expect(names(seen[1])).toEqual(['risk_limits']);
    expect(names(seen[2])).toEqual([]);

    // Granted the ops views, she gets a snapshot holding them.
    await root.applyRegistry(
      create(registryV1.ApplyRegistryRequestSchema, {
        project: 'risk',
        permissions: [permission('alice-reads-ops', { types: [K.FEATURE_VIEW], namePatterns: ['ops_*'], actions: [A.DESCRIBE], policy: { users: ['alice'] } })],
      }),
    );
    await waitUntil(async () => seen.some((m, i) => i > 2 && m.snapshot), { timeoutMs: 10_000, what: 'the watch stream' });
    const snapshot = seen.find((m, i) => i > 2 && m.snapshot);
    expect(names(snapshot)).toEqual(['ops_load', 'ops_more', 'risk_limits', 'risk_scores']);
    abort.abort();
    await watching;
  });
});
