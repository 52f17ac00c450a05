import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { create, createFileRegistry, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  file_google_protobuf_timestamp,
  timestampFromMs,
} from '@bufbuild/protobuf/wkt';
import { Type as AvroType } from 'avsc';
import { DuckDBOfflineStore } from '@larder/offline-store';
import type { BatchSource, Cell } from '@larder/offline-store';
import { createOnlineStore, eventMsFromMicros } from '@larder/online-store';
import type { OnlineStore, ViewDescriptor } from '@larder/online-store';
import type { registryV1 } from '@larder/proto';
import { ingestionV1, typesV1 } from '@larder/proto';
import { testServices } from '@larder/testing';
import { createTopic, produce, readTopic, startIngestion, startTestRegistry, uniqueName, waitFor } from './testing';
import type { RunningIngestion, TestRegistry } from './testing';

jest.setTimeout(90_000);

const T = typesV1.ValueType;
const services = testServices();
const brokers = services.kafka.brokers;
const project = uniqueName('kafka');
const topics = { json: uniqueName('json'), avro: uniqueName('avro'), registry: uniqueName('avro_sr'), proto: uniqueName('proto'), late: uniqueName('added') };
const dlq = `${topics.json}.dead`;
const BASE = Date.UTC(2026, 0, 1, 12);
const features = [
  { name: 'conv_rate', valueType: T.DOUBLE },
  { name: 'trips', valueType: T.INT64 },
  { name: 'name', valueType: T.STRING },
];
const descriptor = (view: string): ViewDescriptor => ({
  project,
  name: view,
  joinKeys: ['driver_id'],
  features: features.map((f) => ({ name: f.name, type: f.valueType })),
});

// Protobuf: acme.rides.v1.TripEvent with renamed fields and a Timestamp.
const tripFile = create(FileDescriptorProtoSchema, {
  name: 'acme/rides/v1/trip.proto',
  package: 'acme.rides.v1',
  syntax: 'proto3',
  dependency: ['google/protobuf/timestamp.proto'],
  messageType: [
    {
      name: 'TripEvent',
      field: [
        { name: 'driver', number: 1, type: FieldDescriptorProto_Type.INT64, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: 'driver' },
        { name: 'conv', number: 2, type: FieldDescriptorProto_Type.DOUBLE, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: 'conv' },
        { name: 'trips', number: 3, type: FieldDescriptorProto_Type.INT64, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: 'trips' },
        { name: 'name', number: 4, type: FieldDescriptorProto_Type.STRING, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: 'name' },
        {
          name: 'ts',
          number: 5,
          type: FieldDescriptorProto_Type.MESSAGE,
          typeName: '.google.protobuf.Timestamp',
          label: FieldDescriptorProto_Label.OPTIONAL,
          jsonName: 'ts',
        },
      ],
    },
  ],
});
const descriptorSet = toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: [file_google_protobuf_timestamp.proto, tripFile] }));
const tripEvent = createFileRegistry(create(FileDescriptorSetSchema, { file: [file_google_protobuf_timestamp.proto, tripFile] })).getMessage(
  'acme.rides.v1.TripEvent',
);

const avroSchema = {
  type: 'record',
  name: 'Trip',
  fields: [
    { name: 'driver_id', type: 'long' },
    { name: 'conv_rate', type: 'double' },
    { name: 'trips', type: 'long' },
    { name: 'name', type: ['null', 'string'], default: null },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};
const avroType = AvroType.forSchema(avroSchema as never);
const SCHEMA_ID = 7;

let registry: TestRegistry;
let online: OnlineStore;
let offline: DuckDBOfflineStore;
let running: RunningIngestion;
let schemaServer: http.Server;
let schemaRequests = 0;
let dir: string;
let batchSource: BatchSource;

function kafkaSource(
  name: string,
  topic: string,
  format: MessageInitShape<typeof registryV1.KafkaMessageFormatSchema>['format'],
  extra: MessageInitShape<typeof registryV1.KafkaSourceSchema> = {},
  fieldMapping: Record<string, string> = {},
): MessageInitShape<typeof registryV1.DataSourceSchema> {
  return {
    name,
    timestampField: 'ts',
    fieldMapping,
    kind: { case: 'kafka' as const, value: { bootstrapServers: brokers, topic, messageFormat: { format } as never, ...extra } },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'larder-ingestion-kafka-'));
  schemaServer = http.createServer((req, res) => {
    schemaRequests++;
    if (req.url === `/schemas/ids/${SCHEMA_ID}`) {
      res.writeHead(200, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(JSON.stringify({ schema: JSON.stringify(avroSchema) }));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_code: 40403, message: 'Schema not found' }));
    }
  });
  await new Promise<void>((resolve) => schemaServer.listen(0, '127.0.0.1', resolve));
  const schemaUrl = `http://127.0.0.1:${(schemaServer.address() as AddressInfo).port}`;

  offline = await DuckDBOfflineStore.create();
  const parquet = path.join(dir, 'trips.parquet');
  await offline.run(
    `COPY (SELECT 0::BIGINT AS driver_id, 0.0::DOUBLE AS conv_rate, 0::BIGINT AS trips, ''::VARCHAR AS name, ` +
      `TIMESTAMP '2000-01-01' AS ts, TIMESTAMP '2000-01-01' AS created) TO '${parquet}' (FORMAT parquet)`,
  );
  batchSource = { name: 'trips_batch', location: { kind: 'file', path: parquet }, timestampField: 'ts', createdTimestampColumn: 'created' };

  await Promise.all([...Object.values(topics), dlq, `${topics.registry}.dlq`].map((t) => createTopic(brokers, t)));
  registry = await startTestRegistry();
  await registry.apply({
    project,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [
      { name: 'trips_batch', timestampField: 'ts', createdTimestampColumn: 'created', kind: { case: 'file', value: { path: parquet } } },
      kafkaSource('json_src', topics.json, { case: 'json', value: {} }, { deadLetterTopic: dlq, watermarkDelay: { seconds: 60n }, batchSource: 'trips_batch' }),
      kafkaSource('avro_src', topics.avro, { case: 'avro', value: { schema: { case: 'inlineSchema', value: JSON.stringify(avroSchema) } } }),
      kafkaSource('avro_sr_src', topics.registry, { case: 'avro', value: { schema: { case: 'schemaRegistryUrl', value: schemaUrl } } }),
      kafkaSource(
        'proto_src',
        topics.proto,
        { case: 'protobuf', value: { messageType: 'acme.rides.v1.TripEvent', descriptorSet } },
        {},
        { driver: 'driver_id', conv: 'conv_rate' },
      ),
    ],
    featureViews: [
      { name: 'json_view', entities: ['driver'], schema: features, streamSource: 'json_src' },
      { name: 'avro_view', entities: ['driver'], schema: features, streamSource: 'avro_src' },
      { name: 'avro_sr_view', entities: ['driver'], schema: features, streamSource: 'avro_sr_src' },
      { name: 'proto_view', entities: ['driver'], schema: features, streamSource: 'proto_src' },
    ],
  });
  online = createOnlineStore({ type: 'redis', url: services.redis.url, keyPrefix: `${project}:` });
  running = await startIngestion({ registryAddress: registry.address, project, online, offline });
}, 120_000);

afterAll(async () => {
  await running?.stop();
  await online?.close();
  await offline?.close();
  await registry?.stop();
  await new Promise((resolve) => schemaServer?.close(resolve));
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const key = (id: number) => ({ joinKeys: ['driver_id'], entityValues: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(id) } })] });

const plain = (v: typesV1.Value | undefined): unknown => (v?.val.case === 'nullVal' ? null : v?.val.value);

async function readView(view: string, ids: number[]) {
  const [rows] = await online.read([{ view: descriptor(view), entityKeys: ids.map(key) }]);
  return (rows ?? []).map((row) =>
    row === undefined ? undefined : { eventTs: row.eventTs, conv: plain(row.values[0]), trips: plain(row.values[1]), name: plain(row.values[2]) },
  );
}

async function historical(at: { id: number; ts: number }[]): Promise<Cell[][]> {
  const result = await offline.getHistoricalFeatures({
    entities: {
      kind: 'rows',
      columns: [
        { name: 'driver_id', type: T.INT64 },
        { name: 'event_timestamp', type: T.UNIX_TIMESTAMP },
      ],
      timestampColumn: 'event_timestamp',
      batches: [{ driver_id: at.map((a) => BigInt(a.id)), event_timestamp: at.map((a) => new Date(a.ts)) }],
    },
    views: [
      {
        name: 'json_view',
        source: batchSource,
        joinKeys: [{ name: 'driver_id', type: T.INT64 }],
        features: [
          { name: 'conv_rate', type: T.DOUBLE },
          { name: 'trips', type: T.INT64 },
        ],
      },
    ],
  });
  const rows: Cell[][] = [];
  for await (const chunk of result) for (let r = 0; r < chunk.rowCount; r++) rows.push(chunk.columns.map((c) => c[r] ?? null));
  return rows;
}

const json = (value: unknown): { value: string } => ({ value: typeof value === 'string' ? value : JSON.stringify(value) });

describe('Kafka sources', () => {
  it('JSON: writes online by event time, dead-letters what cannot be used without stalling, keeps late events out of the offline store', async () => {
    await produce(brokers, topics.json, [
      json({ driver_id: 1, conv_rate: 0.5, trips: 10, name: 'a', ts: new Date(BASE).toISOString() }),
      json('{not json'),
      json({ driver_id: 2, conv_rate: 'high', trips: 1, name: 'b', ts: BASE }),
      json({ driver_id: 3, conv_rate: 0.3, trips: '3', name: null, ts: BASE / 1000 }),
      // Out of order but within the watermark delay: older than what is stored online.
      json({ driver_id: 1, conv_rate: 0.1, trips: 1, name: 'old', ts: BASE - 10_000 }),
      // Beyond the 60 s watermark delay: late.
      json({ driver_id: 4, conv_rate: 0.4, trips: 4, name: 'late', ts: BASE - 120_000 }),
      json({ driver_id: 1, conv_rate: 0.9, trips: 11, name: 'new', ts: BASE + 5_000 }),
      json({ driver_id: 5, conv_rate: 0.55, trips: 55, name: 'newest', ts: BASE + 10_000 }),
      json({ driver_id: 5, conv_rate: 0.11, trips: 11, name: 'older', ts: BASE + 1_000 }),
    ]);
    await waitFor(async () => (await readView('json_view', [5]))[0]?.trips === 55n, 30_000, 'the JSON events online');
    const [one, two, three, four, five] = await readView('json_view', [1, 2, 3, 4, 5]);
    expect(one).toEqual({ eventTs: BASE + 5_000, conv: 0.9, trips: 11n, name: 'new' });
    expect(two).toBeUndefined();
    expect(three).toEqual({ eventTs: BASE, conv: 0.3, trips: 3n, name: null });
    expect(four).toEqual({ eventTs: BASE - 120_000, conv: 0.4, trips: 4n, name: 'late' });
    expect(five).toEqual({ eventTs: BASE + 10_000, conv: 0.55, trips: 55n, name: 'newest' });

    const letters = await readTopic(brokers, dlq, 3);
    expect(letters.map((l) => l.headers['larder.error.stage'])).toEqual(['decode', 'validate', 'late']);
    expect(letters[0]?.value).toBe('{not json');
    expect(letters[0]?.headers['larder.error.reason']).toMatch(/^invalid JSON/);
    expect(letters[1]?.headers['larder.error.reason']).toBe('conv_rate: expected DOUBLE, got string "high"');
    expect(letters[1]?.headers['larder.feature_view']).toBe('json_view');
    expect(letters[2]?.headers['larder.error.reason']).toMatch(/^late: event time 2026-01-01T11:58:00.000Z is before the watermark/);
    expect(letters.map((l) => l.headers['larder.source.offset'])).toEqual(['1', '2', '5']);

    // Offline: what retrieval sees at each time; the late event is not there.
    const rows = await historical([
      { id: 1, ts: BASE - 5_000 },
      { id: 1, ts: BASE + 1_000 },
      { id: 1, ts: BASE + 6_000 },
      { id: 4, ts: BASE },
    ]);
    expect(rows.map((r) => [r[0], r[2], r[3]])).toEqual([
      [1n, 0.1, 1n],
      [1n, 0.5, 10n],
      [1n, 0.9, 11n],
      [4n, null, null],
    ]);

    const [status] = running.ingestion.consumers?.statuses(project, 'json_src') ?? [];
    expect(status).toMatchObject({
      project,
      dataSource: 'json_src',
      topic: topics.json,
      deadLetterTopic: dlq,
      deadLetterCount: 3n,
      state: ingestionV1.ConsumerState.RUNNING,
    });
    await waitFor(() => running.ingestion.consumers?.statuses(project, 'json_src')[0]?.partitions[0]?.committedOffset === 9n, 10_000, 'offset 9 committed');
    expect(running.ingestion.consumers?.statuses(project, 'json_src')[0]?.partitions[0]).toMatchObject({
      partition: 0,
      committedOffset: 9n,
      logEndOffset: 9n,
      lag: 0n,
      deadLetterCount: 3n,
    });
  });

  it('Avro with an inline schema', async () => {
    await produce(brokers, topics.avro, [{ value: avroType.toBuffer({ driver_id: 21, conv_rate: 0.21, trips: 21, name: 'avro', ts: BASE }) }]);
    await waitFor(async () => (await readView('avro_view', [21]))[0] !== undefined, 30_000, 'the Avro event online');
    expect((await readView('avro_view', [21]))[0]).toEqual({ eventTs: BASE, conv: 0.21, trips: 21n, name: 'avro' });
  });

  it('Avro in the Confluent wire format, the schema fetched from the schema registry once', async () => {
    const framed = (record: object, id = SCHEMA_ID) => {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(id, 1);
      return Buffer.concat([header, avroType.toBuffer(record)]);
    };
    await produce(brokers, topics.registry, [
      { value: framed({ driver_id: 31, conv_rate: 0.31, trips: 31, name: null, ts: BASE }) },
      { value: framed({ driver_id: 32, conv_rate: 0.32, trips: 32, name: 'sr', ts: BASE }) },
      { value: framed({ driver_id: 33, conv_rate: 0.33, trips: 33, name: 'x', ts: BASE }, 99) },
    ]);
    await waitFor(async () => (await readView('avro_sr_view', [32]))[0] !== undefined, 30_000, 'the registry-framed events online');
    expect(await readView('avro_sr_view', [31, 32, 33])).toEqual([
      { eventTs: BASE, conv: 0.31, trips: 31n, name: null },
      { eventTs: BASE, conv: 0.32, trips: 32n, name: 'sr' },
      undefined,
    ]);
    const [letter] = await readTopic(brokers, `${topics.registry}.dlq`, 1);
    expect(letter?.headers['larder.error.reason']).toMatch(/schema id 99 is not in the schema registry/);
    expect(schemaRequests).toBe(2); // id 7 once (cached), id 99 once
  });

  it('Protobuf with the message type from the descriptor set in the registry, and a field mapping', async () => {
    if (tripEvent === undefined) throw new Error('TripEvent missing');
    // 789 us and 123 ns past BASE + 41 ms: the microseconds are kept, the nanoseconds dropped.
    const ts = { ...timestampFromMs(BASE + 41), nanos: timestampFromMs(BASE + 41).nanos + 789_123 };
    const message = create(tripEvent, { driver: 41n, conv: 0.41, trips: 41n, name: 'proto', ts } as never);
    await produce(brokers, topics.proto, [{ value: Buffer.from(toBinary(tripEvent, message)) }]);
    await waitFor(async () => (await readView('proto_view', [41]))[0] !== undefined, 30_000, 'the Protobuf event online');
    expect((await readView('proto_view', [41]))[0]).toEqual({ eventTs: eventMsFromMicros((BASE + 41) * 1000 + 789), conv: 0.41, trips: 41n, name: 'proto' });
  });

  it('a Kafka source added to the registry starts consuming without a restart; removing its view stops it', async () => {
    expect(running.ingestion.consumers?.statuses(project, 'added_src')).toEqual([]);
    await registry.apply({
      project,
      dataSources: [kafkaSource('added_src', topics.late, { case: 'json', value: {} })],
      featureViews: [{ name: 'added_view', entities: ['driver'], schema: features, streamSource: 'added_src' }],
    });
    await produce(brokers, topics.late, [json({ driver_id: 51, conv_rate: 0.51, trips: 51, name: 'added', ts: BASE })]);
    await waitFor(async () => (await readView('added_view', [51]))[0] !== undefined, 30_000, 'the new source consumed');
    expect(running.ingestion.consumers?.statuses(project, 'added_src')).toHaveLength(1);
    const version = await running.registry.service.deleteFeatureView({ project, name: 'added_view' });
    await running.registry.waitForVersion(version.version);
    await running.ingestion.consumers?.settled();
    expect(running.ingestion.consumers?.statuses(project, 'added_src')).toEqual([]);
  });

  it('counts events and dead letters in Prometheus metrics', async () => {
    const text = await running.ingestion.metrics.registry.metrics();
    expect(text).toMatch(new RegExp(`larder_ingestion_events_total\\{project="${project}",source="json_src",topic="${topics.json}",partition="0"\\} 9`));
    expect(text).toMatch(new RegExp(`larder_ingestion_dead_letters_total\\{project="${project}",source="json_src",topic="${topics.json}",stage="late"\\} 1`));
    expect(text).toMatch(new RegExp(`larder_ingestion_consumer_lag\\{project="${project}",source="json_src",topic="${topics.json}",partition="0"\\} 0`));
    expect(text).toMatch(/larder_ingestion_events_per_second\{.*source="json_src".*\} [0-9.]+/);
  });
});
