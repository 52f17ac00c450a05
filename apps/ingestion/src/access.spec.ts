import { create } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ingestionV1, registryV1, typesV1 } from '@larder/proto';
import { RegistryState } from '@larder/registry-client';
import { openRegistryStore } from '@larder/registry-store';
import { consumerRef, INGESTION_ACCESS, INGESTION_HTTP_ACCESS, pushChecks } from './access';
import type { AccessCheck, IngestionRule } from './access';

const T = typesV1.ValueType;
const PROJECT = 'rides';
let dir = '';
let copy: RegistryState;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-ingestion-access-'));
  const store = await openRegistryStore(path.join(dir, 'registry.json'));
  const schema = [{ name: 'trips', valueType: T.INT64 }];
  await store.apply(
    create(registryV1.ApplyRegistryRequestSchema, {
      project: PROJECT,
      entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
      dataSources: [
        { name: 'stats_file', timestampField: 'event_timestamp', kind: { case: 'file', value: { path: 'stats.parquet' } } },
        { name: 'stats_push', tags: { team: 'rides' }, kind: { case: 'push', value: { batchSource: 'stats_file' } } },
        { name: 'idle_push', kind: { case: 'push', value: { batchSource: 'stats_file' } } },
      ],
      featureViews: [
        { name: 'hourly', entities: ['driver'], schema, batchSource: 'stats_file', streamSource: 'stats_push', tags: { team: 'rides' } },
        { name: 'daily', entities: ['driver'], schema, batchSource: 'stats_file', streamSource: 'stats_push' },
        { name: 'batch_only', entities: ['driver'], schema, batchSource: 'stats_file' },
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

const flat = (checks: readonly AccessCheck[]): string[] =>
  checks.flatMap((c) => c.objects.map((o) => `${c.action} ${o.project}/${o.type}/${o.name}${o.tags === undefined ? '' : ` ${JSON.stringify(o.tags)}`}`));

function ruleOf(method: string): IngestionRule {
  const rule = INGESTION_ACCESS[method];
  if (rule === undefined) throw new Error(`no access rule for IngestionService.${method}`);
  return rule;
}

function checksOf(method: string, request: unknown, project = PROJECT): AccessCheck[] {
  const rule = ruleOf(method);
  if (rule.kind !== 'checks') throw new Error(`${method} is ${rule.kind}`);
  return rule.checks(request as never, project, copy);
}

describe('ingestion access', () => {
  it('has a rule for every rpc of the service, against its own request message', () => {
    for (const method of ingestionV1.IngestionService.methods) {
      const rule = ruleOf(method.localName);
      if (rule.kind === 'checks') expect(`${method.localName}: ${rule.input.typeName}`).toBe(`${method.localName}: ${method.input.typeName}`);
    }
    expect(Object.keys(INGESTION_ACCESS).length).toBe(ingestionV1.IngestionService.methods.length);
    expect(ruleOf('getConsumerStatus').kind).toBe('filtered');
    expect(INGESTION_HTTP_ACCESS).toEqual({ 'POST /push': 'push', 'POST /write-to-online-store': 'write_online', 'GET /health': 'open' });
  });

  it('a push writes the views fed by the push source, per the mode', () => {
    const push = (mode: ingestionV1.PushMode) => create(ingestionV1.PushRequestSchema, { project: PROJECT, pushSource: 'stats_push', mode });
    const views = ['rides/feature_view/daily {}', 'rides/feature_view/hourly {"team":"rides"}'];
    expect(flat(checksOf('push', push(ingestionV1.PushMode.UNSPECIFIED)))).toEqual(views.map((v) => `write_online ${v}`));
    expect(flat(checksOf('push', push(ingestionV1.PushMode.ONLINE)))).toEqual(views.map((v) => `write_online ${v}`));
    expect(flat(checksOf('push', push(ingestionV1.PushMode.OFFLINE)))).toEqual(views.map((v) => `write_offline ${v}`));
    expect(flat(checksOf('push', push(ingestionV1.PushMode.ONLINE_AND_OFFLINE)))).toEqual([
      ...views.map((v) => `write_online ${v}`),
      ...views.map((v) => `write_offline ${v}`),
    ]);
  });

  it('a push source feeding no view, or unknown, is checked on itself, never on nothing', () => {
    expect(flat(pushChecks(PROJECT, 'idle_push', 'online', copy))).toEqual(['write_online rides/data_source/idle_push {}']);
    expect(flat(pushChecks(PROJECT, 'nope', 'offline', copy))).toEqual(['write_offline rides/data_source/nope']);
    expect(flat(pushChecks('elsewhere', 'stats_push', 'online', copy))).toEqual(['write_online elsewhere/data_source/stats_push']);
  });

  it('a direct online write needs WRITE_ONLINE on its view', () => {
    const req = create(ingestionV1.WriteToOnlineStoreRequestSchema, { project: PROJECT, featureView: 'hourly' });
    expect(flat(checksOf('writeToOnlineStore', req))).toEqual(['write_online rides/feature_view/hourly {"team":"rides"}']);
    expect(flat(checksOf('writeToOnlineStore', { ...req, featureView: 'ghost' }))).toEqual(['write_online rides/feature_view/ghost']);
  });

  it('a consumer status is judged as the Kafka source it reports on', () => {
    const status = create(ingestionV1.ConsumerStatusSchema, { project: PROJECT, dataSource: 'stats_push' });
    expect(consumerRef(status, copy)).toEqual({ project: PROJECT, type: 'data_source', name: 'stats_push', tags: { team: 'rides' } });
  });
});
