import { create } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1, typesV1 } from '@larder/proto';
import { RegistryState } from '@larder/registry-client';
import { openRegistryStore } from '@larder/registry-store';
import type { RegistryStore } from '@larder/registry-store';
import { applyChecks, featureInfoRef, REGISTRY_ACCESS, visibleChanges } from './access';
import type { AccessCheck, RegistryRule } from './access';
import type { ObjectRef } from '@larder/auth';

const T = typesV1.ValueType;

let dir = '';
let store: RegistryStore;
let copy: RegistryState;

/** The risk team's project as applied, `edit`ed. */
function riskApply(edit: (req: registryV1.ApplyRegistryRequest) => void = () => undefined): registryV1.ApplyRegistryRequest {
  const req = create(registryV1.ApplyRegistryRequestSchema, {
    project: 'risk',
    projectSpec: { tags: { team: 'risk' } },
    entities: [{ name: 'customer', joinKey: 'customer_id', valueType: T.INT64 }],
    dataSources: [{ name: 'scores', timestampField: 'ts', kind: { case: 'file', value: { path: 'scores.parquet', format: registryV1.FileFormat.PARQUET } } }],
    featureViews: ['risk_scores', 'risk_limits'].map((name) => ({
      name,
      entities: ['customer'],
      batchSource: 'scores',
      tags: { team: 'risk' },
      schema: [{ name: 'score', valueType: T.DOUBLE }],
    })),
    featureServices: [{ name: 'risk_model', tags: { team: 'risk' }, projections: [{ featureView: 'risk_scores' }] }],
  });
  edit(req);
  return req;
}

async function refreshCopy(): Promise<void> {
  copy = new RegistryState();
  copy.apply(await store.snapshot());
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-registry-access-'));
  store = await openRegistryStore(path.join(dir, 'registry.json'));
  await store.apply(riskApply());
  await refreshCopy();
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function ruleOf(method: string): RegistryRule {
  const rule = REGISTRY_ACCESS[method];
  if (rule === undefined) throw new Error(`no access rule for RegistryService.${method}`);
  return rule;
}

function checksOf(method: string, request: unknown): AccessCheck[] {
  const rule = ruleOf(method);
  if (rule.kind !== 'checks') throw new Error(`${method} is ${rule.kind}, not checked per request`);
  return rule.checks(request as never, copy);
}

/** The checks as `action type/name[tag=value]` strings, sorted, for readable assertions. */
function flat(checks: readonly AccessCheck[]): string[] {
  return checks
    .flatMap(({ action, objects }) =>
      objects.map((o: ObjectRef) => `${action} ${o.project}/${o.type}/${o.name}${o.tags === undefined ? '' : ` ${JSON.stringify(o.tags)}`}`),
    )
    .sort();
}

describe('the RegistryService access table', () => {
  it('has a rule for every rpc of the service, and no rule for an rpc it lacks', () => {
    const methods = registryV1.RegistryService.methods.map((m) => m.localName);
    expect(methods.filter((m) => REGISTRY_ACCESS[m] === undefined)).toEqual([]);
    expect(Object.keys(REGISTRY_ACCESS).filter((m) => !methods.includes(m))).toEqual([]);
  });

  it('checks each per-request rpc against that rpc’s own request message', () => {
    for (const method of registryV1.RegistryService.methods) {
      const rule = ruleOf(method.localName);
      if (rule.kind === 'checks') expect(`${method.localName}: ${rule.input.typeName}`).toBe(`${method.localName}: ${method.input.typeName}`);
    }
  });

  it('reads need DESCRIBE on the object named, with its stored tags', () => {
    expect(flat(checksOf('getFeatureView', create(registryV1.GetFeatureViewRequestSchema, { project: 'risk', name: 'risk_scores' })))).toEqual([
      'describe risk/feature_view/risk_scores {"team":"risk"}',
    ]);
    expect(flat(checksOf('getProject', create(registryV1.GetProjectRequestSchema, { name: 'risk' })))).toEqual(['describe risk/project/risk {"team":"risk"}']);
    expect(flat(checksOf('getEntity', create(registryV1.GetEntityRequestSchema, { project: 'risk', name: 'customer' })))).toEqual([
      'describe risk/entity/customer {}',
    ]);
  });

  it('names an object that does not exist without tags, as the caller sent it', () => {
    expect(flat(checksOf('getFeatureService', create(registryV1.GetFeatureServiceRequestSchema, { project: 'risk', name: 'nope' })))).toEqual([
      'describe risk/feature_service/nope',
    ]);
    expect(flat(checksOf('deleteSavedDataset', create(registryV1.DeleteSavedDatasetRequestSchema, { project: 'elsewhere', name: 'x' })))).toEqual([
      'delete elsewhere/saved_dataset/x',
    ]);
  });

  it('deleting a project needs DELETE on it and on everything in it', () => {
    expect(flat(checksOf('deleteProject', create(registryV1.DeleteProjectRequestSchema, { name: 'risk' })))).toEqual([
      'delete risk/data_source/scores {}',
      'delete risk/entity/customer {}',
      'delete risk/feature_service/risk_model {"team":"risk"}',
      'delete risk/feature_view/risk_limits {"team":"risk"}',
      'delete risk/feature_view/risk_scores {"team":"risk"}',
      'delete risk/project/risk {"team":"risk"}',
    ]);
  });

  it('permissions: DESCRIBE to read one, MANAGE_PERMISSIONS to delete one', () => {
    expect(flat(checksOf('getPermission', create(registryV1.GetPermissionRequestSchema, { project: 'risk', name: 'readers' })))).toEqual([
      'describe risk/permission/readers',
    ]);
    expect(flat(checksOf('deletePermission', create(registryV1.DeletePermissionRequestSchema, { project: 'risk', name: 'readers' })))).toEqual([
      'manage_permissions risk/permission/readers',
    ]);
  });

  it('a materialization report needs MATERIALIZE on its view', () => {
    const report = create(registryV1.UpdateMaterializationStateRequestSchema, { project: 'risk', featureView: 'risk_limits', jobId: 'j1' });
    expect(flat(checksOf('updateMaterializationState', report))).toEqual(['materialize risk/feature_view/risk_limits {"team":"risk"}']);
  });

  it('lists, discovery, materialization state and the change feed are narrowed, not denied', () => {
    for (const m of [
      'listProjects',
      'listFeatureViews',
      'listSavedDatasets',
      'listPermissions',
      'listFeatures',
      'searchFeatures',
      'watchRegistry',
      'getMaterializationState',
    ]) {
      expect(`${m}: ${ruleOf(m).kind}`).toBe(`${m}: filtered`);
    }
    expect(ruleOf('getRegistryVersion').kind).toBe('authenticated');
    expect(ruleOf('applyRegistry').kind).toBe('apply');
  });
});

describe('applyChecks', () => {
  async function planOf(req: registryV1.ApplyRegistryRequest): Promise<AccessCheck[]> {
    const plan = await store.apply(create(registryV1.ApplyRegistryRequestSchema, { ...req, planOnly: true }));
    return applyChecks(req, plan.diffs, copy);
  }

  it('a new project needs CREATE on it and on each object, with the tags they will carry', async () => {
    const req = riskApply((r) => {
      r.project = 'fraud';
      r.projectSpec = create(registryV1.ProjectSchema, { tags: { team: 'fraud' } });
    });
    expect(flat(await planOf(req))).toEqual([
      'create fraud/data_source/scores {}',
      'create fraud/entity/customer {}',
      'create fraud/feature_service/risk_model {"team":"risk"}',
      'create fraud/feature_view/risk_limits {"team":"risk"}',
      'create fraud/feature_view/risk_scores {"team":"risk"}',
      'create fraud/project/fraud {"team":"fraud"}',
    ]);
  });

  it('an unchanged apply needs DESCRIBE only (the answer shows what exists)', async () => {
    const checks = await planOf(riskApply());
    expect(new Set(checks.map((c) => c.action))).toEqual(new Set(['describe']));
    expect(flat(checks)).toContain('describe risk/project/risk {"team":"risk"}');
    expect(flat(checks)).toContain('describe risk/feature_view/risk_scores {"team":"risk"}');
  });

  it('a retag needs UPDATE with the stored tags and with the new ones', async () => {
    const req = riskApply();
    (req.featureViews[0] as registryV1.FeatureView).tags = { team: 'mine' };
    const checks = flat(await planOf(req));
    expect(checks.filter((c) => c.startsWith('update'))).toEqual([
      'update risk/feature_view/risk_scores {"team":"mine"}',
      'update risk/feature_view/risk_scores {"team":"risk"}',
    ]);
  });

  it('pruning needs DELETE on each object it removes, with its stored tags', async () => {
    const req = riskApply((r) => {
      r.prune = true;
      r.featureServices = [];
    });
    const checks = flat(await planOf(req));
    expect(checks.filter((c) => c.startsWith('delete'))).toEqual(['delete risk/feature_service/risk_model {"team":"risk"}']);
  });

  it('a plan-only apply needs DESCRIBE on what it names, and nothing else', async () => {
    const req = riskApply((r) => {
      r.prune = true;
      r.featureServices = [];
      r.planOnly = true;
    });
    const plan = await store.apply(req);
    const checks = applyChecks(req, plan.diffs, copy);
    expect(new Set(checks.map((c) => c.action))).toEqual(new Set(['describe']));
    expect(flat(checks)).toContain('describe risk/feature_service/risk_model {"team":"risk"}');
  });
});

describe('narrowing answers', () => {
  it('the change feed keeps only the objects the caller may describe', async () => {
    const snapshot = await store.snapshot();
    const onlyScores = visibleChanges(snapshot, (ref) => ref.type === 'feature_view' && ref.name === 'risk_scores');
    expect(onlyScores.changes.map((c) => c.name)).toEqual(['risk_scores']);
    expect(onlyScores.version).toBe(snapshot.version);
    expect(onlyScores.snapshot).toBe(true);
    // The predicate sees the tags the objects carry.
    const risky = visibleChanges(snapshot, (ref) => ref.tags?.['team'] === 'risk');
    expect(risky.changes.map((c) => c.name).sort()).toEqual(['risk', 'risk_limits', 'risk_model', 'risk_scores']);
  });

  it('a deleted object is judged by its name alone', async () => {
    await store.deleteObject(registryV1.ObjectKind.FEATURE_SERVICE, 'risk', 'risk_model');
    const [deletion] = (await store.changesSince((await store.version()).version - 1n)) ?? [];
    expect(deletion?.changes.map((c) => c.change)).toEqual([registryV1.ChangeType.DELETE]);
    const seen: ObjectRef[] = [];
    visibleChanges(deletion as registryV1.WatchRegistryResponse, (ref) => (seen.push(ref), true));
    expect(seen).toEqual([{ project: 'risk', type: 'feature_service', name: 'risk_model' }]);
  });

  it('a discovered feature is judged as its view', async () => {
    const info = create(registryV1.FeatureInfoSchema, { project: 'risk', featureView: 'risk_scores', name: 'score' });
    expect(featureInfoRef(info, copy)).toEqual({ project: 'risk', type: 'feature_view', name: 'risk_scores', tags: { team: 'risk' } });
    expect(featureInfoRef({ ...info, onDemand: true, featureView: 'odfv' }, copy)).toEqual({ project: 'risk', type: 'on_demand_feature_view', name: 'odfv' });
  });
});
