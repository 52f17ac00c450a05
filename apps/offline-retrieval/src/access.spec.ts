import { create } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveFeatures } from '@larder/core';
import type { FeatureRequest } from '@larder/core';
import { offlineV1, registryV1, statisticsV1, typesV1 } from '@larder/proto';
import { RegistryState } from '@larder/registry-client';
import { openRegistryStore } from '@larder/registry-store';
import { featureRequestOfQuery, OFFLINE_ACCESS, STATISTICS_ACCESS, trainingSetObjects, saveChecks } from './access';
import { requestedObjects } from '@larder/auth';
import type { AccessCheck } from './access';
import type { ObjectRef } from '@larder/auth';

const T = typesV1.ValueType;
const PROJECT = 'risk';
let dir = '';
let copy: RegistryState;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-offline-access-'));
  const store = await openRegistryStore(path.join(dir, 'registry.json'));
  await store.apply(
    create(registryV1.ApplyRegistryRequestSchema, {
      project: PROJECT,
      entities: [{ name: 'customer', joinKey: 'customer_id', valueType: T.INT64 }],
      dataSources: [
        { name: 'scores', timestampField: 'ts', kind: { case: 'file', value: { path: 'scores.parquet', format: registryV1.FileFormat.PARQUET } } },
        { name: 'txn', kind: { case: 'request', value: { schema: [{ name: 'amount', valueType: T.DOUBLE }] } } },
      ],
      featureViews: [
        { name: 'risk_scores', entities: ['customer'], batchSource: 'scores', tags: { team: 'risk' }, schema: [{ name: 'score', valueType: T.DOUBLE }] },
        { name: 'limits', entities: ['customer'], batchSource: 'scores', schema: [{ name: 'limit', valueType: T.DOUBLE }] },
      ],
      onDemandFeatureViews: [
        {
          name: 'scaled',
          tags: { team: 'risk' },
          sources: [
            { source: { case: 'requestSource', value: 'txn' } },
            { source: { case: 'featureView', value: { featureView: 'limits', features: ['limit'] } } },
          ],
          outputs: [{ name: 'headroom', valueType: T.DOUBLE, expression: 'limits.limit - txn.amount' }],
        },
      ],
      featureServices: [{ name: 'risk_model', tags: { team: 'risk' }, projections: [{ featureView: 'risk_scores' }, { featureView: 'scaled' }] }],
      savedDatasets: [
        { name: 'train_2024', features: ['risk_scores:score'], tags: { team: 'risk' }, storage: { kind: { case: 'file', value: { path: 'train.parquet' } } } },
      ],
    }),
  );
  copy = new RegistryState();
  copy.apply(await store.snapshot());
  await store.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const names = (refs: readonly ObjectRef[]): string[] => refs.map((r) => `${r.type}/${r.name}${r.tags === undefined ? '' : ` ${JSON.stringify(r.tags)}`}`);
const flat = (checks: readonly AccessCheck[]): string[] => checks.flatMap((c) => names(c.objects).map((n) => `${c.action} ${n}`));

function resolved(request: FeatureRequest) {
  const set = copy.registrySet(PROJECT);
  if (set === undefined) throw new Error('no project');
  return resolveFeatures(set, request, { fullFeatureNames: true });
}

describe('offline retrieval access', () => {
  it('maps every rpc of the service to read_offline, against its own request message', () => {
    for (const method of offlineV1.OfflineRetrievalService.methods) {
      expect(`${method.localName}: ${OFFLINE_ACCESS[method.localName]?.input.typeName}`).toBe(`${method.localName}: ${method.input.typeName}`);
      expect(OFFLINE_ACCESS[method.localName]?.action).toBe('read_offline');
    }
    expect(Object.keys(OFFLINE_ACCESS).length).toBe(offlineV1.OfflineRetrievalService.methods.length);
    for (const method of statisticsV1.StatisticsService.methods) {
      expect(`${method.localName}: ${STATISTICS_ACCESS[method.localName]?.input.typeName}`).toBe(`${method.localName}: ${method.input.typeName}`);
    }
    expect(Object.keys(STATISTICS_ACCESS).length).toBe(statisticsV1.StatisticsService.methods.length);
  });

  it('takes the query from the first message of the inline stream and from a source request', () => {
    const query = create(offlineV1.HistoricalQuerySchema, { project: PROJECT, kind: { case: 'featureService', value: 'risk_model' } });
    const inline = OFFLINE_ACCESS['getHistoricalFeatures'];
    const fromSource = OFFLINE_ACCESS['getHistoricalFeaturesFromSource'];
    expect(inline?.query(create(offlineV1.GetHistoricalFeaturesRequestSchema, { message: { case: 'query', value: query } }) as never)).toBe(query);
    expect(inline?.query(create(offlineV1.GetHistoricalFeaturesRequestSchema, { message: { case: 'entityRows', value: {} } }) as never)).toBeUndefined();
    expect(fromSource?.query(create(offlineV1.GetHistoricalFeaturesFromSourceRequestSchema, { query }) as never)).toBe(query);
    expect(featureRequestOfQuery(query)).toEqual({ featureService: 'risk_model' });
  });

  it('a feature service query reads the service and every view behind it, the views behind an on-demand view too', () => {
    const request: FeatureRequest = { featureService: 'risk_model' };
    expect(names(requestedObjects(PROJECT, request, copy))).toEqual(['feature_service/risk_model {"team":"risk"}']);
    expect(names(trainingSetObjects(request, resolved(request), copy)).sort()).toEqual([
      'feature_service/risk_model {"team":"risk"}',
      'feature_view/limits {}',
      'feature_view/risk_scores {"team":"risk"}',
      'on_demand_feature_view/scaled {"team":"risk"}',
    ]);
  });

  it('refs name their views before resolution; an unknown one is named as sent', () => {
    expect(names(requestedObjects(PROJECT, { refs: ['risk_scores:score', 'scaled:headroom', 'hidden:x', 'risk_scores:score'] }, copy))).toEqual([
      'feature_view/risk_scores {"team":"risk"}',
      'on_demand_feature_view/scaled {"team":"risk"}',
      'feature_view/hidden',
    ]);
  });

  it('saving a new dataset needs CREATE with its tags; replacing one needs UPDATE with the stored and new tags', () => {
    const query = (name: string) =>
      create(offlineV1.HistoricalQuerySchema, {
        project: PROJECT,
        destination: { savedDatasetName: name, savedDatasetTags: { team: 'mine' }, storage: { kind: { case: 'file', value: { path: 'out.parquet' } } } },
      });
    expect(flat(saveChecks(PROJECT, query('fresh'), copy))).toEqual(['create saved_dataset/fresh {"team":"mine"}']);
    expect(flat(saveChecks(PROJECT, query('train_2024'), copy))).toEqual([
      'update saved_dataset/train_2024 {"team":"risk"}',
      'update saved_dataset/train_2024 {"team":"mine"}',
    ]);
    expect(saveChecks(PROJECT, create(offlineV1.HistoricalQuerySchema, { project: PROJECT }), copy)).toEqual([]);
  });
});
