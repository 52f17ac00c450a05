// Client mistakes in GetHistoricalFeatures that once came back INTERNAL: entity timestamps
// beyond the Timestamp range, and file formats the service does not know. Each is sent to
// the real service (DuckDB engine) and must be INVALID_ARGUMENT naming the field.
import { existsSync } from 'node:fs';
import { create } from '@bufbuild/protobuf';
import { offlineV1, typesV1 } from '@larder/proto';
import { Code } from '@larder/rpc';
import { featureRepo, makeData } from './testing/dataset';
import type { SourceKind } from './testing/dataset';
import { duckdbTestEngine } from './testing/engines';
import type { TestEngine } from './testing/engines';
import { collect, rpcError, startHarness } from './testing/harness';
import type { Harness } from './testing/harness';

jest.setTimeout(60_000);

const data = makeData();
let engine: TestEngine;
let harness: Harness;
let entitySource: SourceKind;

beforeAll(async () => {
  engine = await duckdbTestEngine();
  const kinds = {
    driver: await engine.load(data.tables.driver),
    customer: await engine.load(data.tables.customer),
    pair: await engine.load(data.tables.pair),
    global: await engine.load(data.tables.global),
  };
  entitySource = await engine.load(data.tables.entities);
  harness = await startHarness(engine.env, (project) => featureRepo(project, kinds));
}, 120_000);

afterAll(async () => {
  await harness?.close();
  await engine?.cleanup();
});

const query = { kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } } };

async function* rows(seconds: bigint[]): AsyncGenerator<offlineV1.GetHistoricalFeaturesRequest> {
  yield create(offlineV1.GetHistoricalFeaturesRequestSchema, { message: { case: 'query', value: query } });
  yield create(offlineV1.GetHistoricalFeaturesRequestSchema, {
    message: {
      case: 'entityRows',
      value: {
        columns: { driver_id: { val: seconds.map((_, i) => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(1001 + i) } })) } },
        eventTimestamps: seconds.map((s) => ({ seconds: s, nanos: 0 })),
      },
    },
  });
}

test('an entity timestamp of 2^62 seconds is INVALID_ARGUMENT naming the row', async () => {
  const error = await rpcError(() => collect(harness.retrieval.getHistoricalFeatures(rows([1_704_067_200n, 2n ** 62n]))));
  expect([error.code, error.message]).toEqual([
    Code.INVALID_ARGUMENT,
    'entity_rows[0].event_timestamps[1]: 4611686018427387904 seconds is outside the Timestamp range (years 0001 to 9999)',
  ]);
});

test('an unknown entity-source file format is INVALID_ARGUMENT naming the field', async () => {
  if (entitySource.case !== 'file') throw new Error('the DuckDB test engine loads tables as files');
  const source = create(offlineV1.EntitySourceSchema, {
    location: { case: 'file', value: { ...entitySource.value, format: 99 } } as unknown as offlineV1.EntitySource['location'],
  });
  const error = await rpcError(() => collect(harness.retrieval.getHistoricalFeaturesFromSource({ query, entitySource: source })));
  expect(error.code).toBe(Code.INVALID_ARGUMENT);
  expect(error.message).toMatch(/^entity_source\.file\.format: unknown file format 99; /);
});

test('an unknown destination file format is INVALID_ARGUMENT naming the field; nothing is written', async () => {
  const storage = engine.destination('unknown-format');
  if (storage.kind.case !== 'file') throw new Error('the DuckDB test engine writes files');
  const bad = { ...storage, kind: { case: 'file' as const, value: { ...storage.kind.value, format: 99 } } };
  const source = create(offlineV1.EntitySourceSchema, { location: entitySource as offlineV1.EntitySource['location'] });
  const error = await rpcError(() =>
    collect(harness.retrieval.getHistoricalFeaturesFromSource({ query: { ...query, destination: { storage: bad as never } }, entitySource: source })),
  );
  expect(error.code).toBe(Code.INVALID_ARGUMENT);
  expect(existsSync(storage.kind.value.path)).toBe(false);
  expect(error.message).toMatch(/^query\.destination\.storage\.file\.format: unknown file format 99; /);
});
