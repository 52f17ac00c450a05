import { create } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveFeatures } from '@larder/core';
import type { FeatureRequest } from '@larder/core';
import { feastServing, registryV1, servingV1 } from '@larder/proto';
import { RegistryState } from '@larder/registry-client';
import { openRegistryStore } from '@larder/registry-store';
import { FEAST_ONLINE_ACCESS, ONLINE_ACCESS, ONLINE_HTTP_ACCESS, servedObjects } from './access';
import { requestedObjects } from '@larder/auth';
import type { ObjectRef } from '@larder/auth';
import { driverRepo } from './testing';

const PROJECT = 'rides';
let dir = '';
let copy: RegistryState;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-online-access-'));
  const store = await openRegistryStore(path.join(dir, 'registry.json'));
  const repo = driverRepo(PROJECT);
  (repo.featureViews[0] as registryV1.FeatureView).tags = { team: 'rides' };
  (repo.featureServices[0] as registryV1.FeatureService).tags = { team: 'rides', tier: 'gold' };
  await store.apply(create(registryV1.ApplyRegistryRequestSchema, repo));
  copy = new RegistryState();
  copy.apply(await store.snapshot());
  await store.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const names = (refs: readonly ObjectRef[]): string[] => refs.map((r) => `${r.type}/${r.name}${r.tags === undefined ? '' : ` ${JSON.stringify(r.tags)}`}`);

describe('online serving access', () => {
  it('maps every rpc of the service, against its own request message', () => {
    for (const method of servingV1.OnlineServingService.methods) {
      expect(`${method.localName}: ${ONLINE_ACCESS[method.localName]?.input.typeName}`).toBe(`${method.localName}: ${method.input.typeName}`);
    }
    expect(Object.keys(ONLINE_ACCESS).length).toBe(servingV1.OnlineServingService.methods.length);
    expect(ONLINE_ACCESS['getOnlineFeatures']?.action).toBe('read_online');
    expect(ONLINE_HTTP_ACCESS['POST /get-online-features']).toBe('read_online');
    for (const method of feastServing.ServingService.methods) {
      expect(`${method.localName}: ${FEAST_ONLINE_ACCESS[method.localName]?.input.typeName}`).toBe(`${method.localName}: ${method.input.typeName}`);
    }
    expect(Object.keys(FEAST_ONLINE_ACCESS).length).toBe(feastServing.ServingService.methods.length);
  });

  it('a list of refs names each view once, on-demand views as such, with their tags', () => {
    const request: FeatureRequest = { refs: ['driver_stats:conv_rate', 'driver_stats:trips', 'adjusted:scaled', 'customer_stats:segment'] };
    expect(names(requestedObjects(PROJECT, request, copy))).toEqual([
      'feature_view/driver_stats {"team":"rides"}',
      'on_demand_feature_view/adjusted {}',
      'feature_view/customer_stats {}',
    ]);
  });

  it('an unknown view or project is named as sent, without tags; a malformed ref is left to the resolver', () => {
    expect(requestedObjects(PROJECT, { refs: ['secret_view:x', 'no-colon'] }, copy)).toEqual([{ project: PROJECT, type: 'feature_view', name: 'secret_view' }]);
    expect(requestedObjects('other', { featureService: 'model_v1' }, copy)).toEqual([{ project: 'other', type: 'feature_service', name: 'model_v1' }]);
  });

  it('a feature service request is about the service alone, before and after resolution', () => {
    const request: FeatureRequest = { featureService: 'model_v1' };
    const set = copy.registrySet(PROJECT);
    if (set === undefined) throw new Error('no project');
    const resolved = resolveFeatures(set, request, { fullFeatureNames: true });
    expect(resolved.views.length).toBeGreaterThan(1);
    const expected = ['feature_service/model_v1 {"team":"rides","tier":"gold"}'];
    expect(names(requestedObjects(PROJECT, request, copy))).toEqual(expected);
    expect(names(servedObjects(request, resolved, copy))).toEqual(expected);
  });

  it('a plan of refs reads the views behind an on-demand view too', () => {
    const request: FeatureRequest = { refs: ['adjusted:scaled'] };
    const set = copy.registrySet(PROJECT);
    if (set === undefined) throw new Error('no project');
    const resolved = resolveFeatures(set, request, { fullFeatureNames: false });
    expect(names(requestedObjects(PROJECT, request, copy))).toEqual(['on_demand_feature_view/adjusted {}']);
    expect(names(servedObjects(request, resolved, copy))).toEqual(['feature_view/driver_stats {"team":"rides"}', 'on_demand_feature_view/adjusted {}']);
  });
});
