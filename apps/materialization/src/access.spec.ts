import { create } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { materializationV1, registryV1, typesV1 } from '@larder/proto';
import { RegistryState } from '@larder/registry-client';
import { openRegistryStore } from '@larder/registry-store';
import { jobObjects, MATERIALIZATION_ACCESS, startChecks } from './access';
import type { AccessCheck } from './access';
import type { ObjectRef } from '@larder/auth';

const T = typesV1.ValueType;
const PROJECT = 'rides';
let dir = '';
let copy: RegistryState;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-materialization-access-'));
  const store = await openRegistryStore(path.join(dir, 'registry.json'));
  const schema = [{ name: 'trips', valueType: T.INT64 }];
  await store.apply(
    create(registryV1.ApplyRegistryRequestSchema, {
      project: PROJECT,
      entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
      dataSources: [
        { name: 'stats_file', timestampField: 'event_timestamp', kind: { case: 'file', value: { path: 'stats.parquet' } } },
        { name: 'stats_push', kind: { case: 'push', value: { batchSource: 'stats_file' } } },
      ],
      featureViews: [
        { name: 'hourly', entities: ['driver'], schema, batchSource: 'stats_file', tags: { team: 'rides' } },
        { name: 'daily', entities: ['driver'], schema, batchSource: 'stats_file' },
        { name: 'offline_only', entities: ['driver'], schema, batchSource: 'stats_file', online: false },
      ],
    }),
  );
  await store.apply(create(registryV1.ApplyRegistryRequestSchema, { project: 'empty' }));
  copy = new RegistryState();
  copy.apply(await store.snapshot());
  await store.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const refs = (objects: readonly ObjectRef[]): string[] =>
  objects.map((o) => `${o.project}/${o.type}/${o.name}${o.tags === undefined ? '' : ` ${JSON.stringify(o.tags)}`}`);
const flat = (checks: readonly AccessCheck[]): string[] => checks.flatMap((c) => refs(c.objects).map((r) => `${c.action} ${r}`));

describe('materialization access', () => {
  it('has a rule for every rpc of the service, against its own request message', () => {
    for (const method of materializationV1.MaterializationService.methods) {
      expect(`${method.localName}: ${MATERIALIZATION_ACCESS[method.localName]?.input.typeName}`).toBe(`${method.localName}: ${method.input.typeName}`);
    }
    expect(Object.keys(MATERIALIZATION_ACCESS).length).toBe(materializationV1.MaterializationService.methods.length);
    expect(MATERIALIZATION_ACCESS['cancelJob']).toMatchObject({ kind: 'job', action: 'materialize' });
    expect(MATERIALIZATION_ACCESS['getJob']).toMatchObject({ kind: 'job', action: 'describe' });
    expect(MATERIALIZATION_ACCESS['listJobs']?.kind).toBe('filtered');
  });

  it('a job over named views needs MATERIALIZE on each, once', () => {
    expect(flat(startChecks(PROJECT, ['hourly', 'daily', 'hourly'], copy))).toEqual([
      'materialize rides/feature_view/hourly {"team":"rides"}',
      'materialize rides/feature_view/daily {}',
    ]);
    expect(flat(startChecks(PROJECT, ['ghost'], copy))).toEqual(['materialize rides/feature_view/ghost']);
  });

  it('a job over every view needs MATERIALIZE on each online view it would write; with none, on the project', () => {
    expect(flat(startChecks(PROJECT, [], copy))).toEqual(['materialize rides/feature_view/daily {}', 'materialize rides/feature_view/hourly {"team":"rides"}']);
    expect(flat(startChecks('empty', [], copy))).toEqual(['materialize empty/project/empty']);
  });

  it('a job is judged by the views it writes', () => {
    const job = create(materializationV1.JobSchema, { id: 'j1', project: PROJECT, views: [{ featureView: 'hourly' }, { featureView: 'daily' }] });
    expect(refs(jobObjects(job, copy))).toEqual(['rides/feature_view/hourly {"team":"rides"}', 'rides/feature_view/daily {}']);
  });
});
