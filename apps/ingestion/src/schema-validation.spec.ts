import { create } from '@bufbuild/protobuf';
import { createOnlineStore } from '@larder/online-store';
import type { OnlineStore, ViewDescriptor } from '@larder/online-store';
import { typesV1 } from '@larder/proto';
import { registryV1 } from '@larder/proto';
import { testServices } from '@larder/testing';
import { schemaFromText } from '@larder/validation';
import { rowBatchInput } from './push';
import { createTopic, produce, readTopic, startIngestion, startTestRegistry, uniqueName, waitFor } from './testing';
import type { RunningIngestion, TestRegistry } from './testing';

jest.setTimeout(90_000);

// Events breaking a view's TFDV schema: to the dead-letter topic with the reason
// (policy dead_letter), or written and counted (policy count), on real Kafka and Redis.
const T = typesV1.ValueType;
const services = testServices();
const brokers = services.kafka.brokers;
const project = uniqueName('schema');
const topic = uniqueName('rides');
const dlq = `${topic}.dlq`;
const BASE = Date.now() - 60_000;
const features = [
  { name: 'conv_rate', valueType: T.DOUBLE },
  { name: 'payment', valueType: T.STRING },
];
const SCHEMA = schemaFromText(`
feature { name: "conv_rate" type: FLOAT presence { min_fraction: 1.0 } float_domain { min: 0 max: 1 } }
feature { name: "payment" type: BYTES domain: "payment" }
string_domain { name: "payment" value: "Cash" value: "Card" }
`);
const descriptor = (view: string): ViewDescriptor => ({
  project,
  name: view,
  joinKeys: ['driver_id'],
  features: features.map((f) => ({ name: f.name, type: f.valueType })),
});

let registry: TestRegistry;
let online: OnlineStore;
let running: RunningIngestion;

beforeAll(async () => {
  await createTopic(brokers, topic);
  await createTopic(brokers, dlq);
  registry = await startTestRegistry();
  await registry.apply({
    project,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [
      {
        name: 'rides',
        timestampField: 'ts',
        kind: { case: 'kafka', value: { bootstrapServers: brokers, topic, messageFormat: { format: { case: 'json', value: {} } } } },
      },
      { name: 'rides_push', timestampField: 'ts', kind: { case: 'push', value: {} } },
      { name: 'strict_push', timestampField: 'ts', kind: { case: 'push', value: {} } },
    ],
    featureViews: [
      { name: 'strict', entities: ['driver'], schema: features, streamSource: 'rides', offline: false, validation: { schema: SCHEMA } },
      {
        name: 'counted',
        entities: ['driver'],
        schema: features,
        streamSource: 'rides_push',
        offline: false,
        validation: { schema: SCHEMA, ingestion: registryV1.IngestionValidationPolicy.COUNT },
      },
      {
        name: 'refusing',
        entities: ['driver'],
        schema: features,
        streamSource: 'strict_push',
        offline: false,
        validation: { schema: SCHEMA, ingestion: registryV1.IngestionValidationPolicy.DEAD_LETTER },
      },
    ],
  });
  online = createOnlineStore({ type: 'redis', url: services.redis.url, keyPrefix: `${project}:` });
  running = await startIngestion({ registryAddress: registry.address, project, online });
}, 120_000);

afterAll(async () => {
  await running?.stop();
  await online?.close();
  await registry?.stop();
});

const key = (id: number) => ({ joinKeys: ['driver_id'], entityValues: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(id) } })] });
const plain = (v: typesV1.Value | undefined): unknown => (v?.val.case === 'nullVal' ? null : v?.val.value);

async function readView(view: string, ids: number[]) {
  const [rows] = await online.read([{ view: descriptor(view), entityKeys: ids.map(key) }]);
  return (rows ?? []).map((row) => (row === undefined ? undefined : { conv: plain(row.values[0]), payment: plain(row.values[1]) }));
}

async function violations(): Promise<Record<string, number>> {
  const metric = await running.ingestion.metrics.schemaViolations.get();
  return Object.fromEntries(metric.values.map((v) => [`${v.labels['view']}/${v.labels['feature']}/${v.labels['type']}/${v.labels['outcome']}`, v.value]));
}

describe('ingestion validates events against the view schema', () => {
  it('sends Kafka events breaking the schema to the dead-letter topic with the reason, and writes the rest', async () => {
    const event = (driver: number, conv: number | null, payment: string, offset = 0) => ({
      value: JSON.stringify({ driver_id: driver, conv_rate: conv, payment, ts: BASE + offset }),
    });
    await produce(brokers, topic, [event(1, 0.5, 'Cash'), event(2, 1.7, 'Cash'), event(3, 0.2, 'Bitcoin'), event(4, null, 'Card'), event(5, 0.9, 'Card', 1)]);
    await waitFor(async () => (await readView('strict', [5]))[0] !== undefined, 30_000, 'the last event online');
    expect(await readView('strict', [1, 2, 3, 4, 5])).toEqual([
      { conv: 0.5, payment: 'Cash' },
      undefined,
      undefined,
      undefined,
      { conv: 0.9, payment: 'Card' },
    ]);
    const letters = await readTopic(brokers, dlq, 3);
    expect(letters.map((l) => [l.headers['larder.error.stage'], l.headers['larder.feature_view'], l.headers['larder.error.reason']])).toEqual([
      ['validate', 'strict', "schema of feature view 'strict': conv_rate: 1.7 is above the domain's maximum 1 (FLOAT_TYPE_BIG_FLOAT)"],
      ['validate', 'strict', `schema of feature view 'strict': payment: "Bitcoin" is not in the domain 'payment' (ENUM_TYPE_UNEXPECTED_STRING_VALUES)`],
      [
        'validate',
        'strict',
        "schema of feature view 'strict': conv_rate is missing; the schema requires it in every example (FEATURE_TYPE_LOW_FRACTION_PRESENT)",
      ],
    ]);
    expect(JSON.parse(letters[1]?.value ?? '{}')).toMatchObject({ driver_id: 3, payment: 'Bitcoin' });
    expect(await violations()).toMatchObject({
      'strict/conv_rate/FLOAT_TYPE_BIG_FLOAT/dead_letter': 1,
      'strict/payment/ENUM_TYPE_UNEXPECTED_STRING_VALUES/dead_letter': 1,
      'strict/conv_rate/FEATURE_TYPE_LOW_FRACTION_PRESENT/dead_letter': 1,
    });
  });

  it('pushes: a view with policy count writes and counts the bad row; a view with dead_letter refuses it with the reason', async () => {
    const rows = create(typesV1.RowBatchSchema, {
      columns: {
        driver_id: { val: [11n, 12n].map((v) => ({ val: { case: 'int64Val' as const, value: v } })) },
        conv_rate: { val: [0.4, -2].map((v) => ({ val: { case: 'doubleVal' as const, value: v } })) },
        payment: { val: ['Card', 'Card'].map((v) => ({ val: { case: 'stringVal' as const, value: v } })) },
      },
      eventTimestamps: [{ seconds: BigInt(Math.floor(BASE / 1000)) }, { seconds: BigInt(Math.floor(BASE / 1000)) }],
    });
    const counted = await running.ingestion.push(project, 'rides_push', () => rowBatchInput(rows), 'online', undefined);
    expect([counted.rowsWritten, counted.failures]).toEqual([2n, []]);
    expect(await readView('counted', [11, 12])).toEqual([
      { conv: 0.4, payment: 'Card' },
      { conv: -2, payment: 'Card' },
    ]);

    const refused = await running.ingestion.push(project, 'strict_push', () => rowBatchInput(rows), 'online', undefined);
    expect(refused.rowsWritten).toBe(1n);
    expect(refused.failures.map((f) => [Number(f.rowIndex), f.column, f.reason])).toEqual([
      [1, 'conv_rate', "schema of feature view 'refusing': conv_rate: -2 is below the domain's minimum 0 (FLOAT_TYPE_SMALL_FLOAT)"],
    ]);
    expect(await readView('refusing', [11, 12])).toEqual([{ conv: 0.4, payment: 'Card' }, undefined]);
    expect(await violations()).toMatchObject({
      'counted/conv_rate/FLOAT_TYPE_SMALL_FLOAT/counted': 1,
      'refusing/conv_rate/FLOAT_TYPE_SMALL_FLOAT/dead_letter': 1,
    });
  });
});
