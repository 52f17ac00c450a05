// Values and times a hostile or careless writer could pin or poison the store with:
// event times in the future, timestamps beyond the Timestamp range, NaN and ±Infinity.
// Each goes through the real service (gRPC, HTTP, Kafka) and is refused, leaving no trace.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createOnlineStore } from '@larder/online-store';
import type { OnlineStore, ViewDescriptor } from '@larder/online-store';
import { ingestionV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { RpcClient, ServerHandle } from '@larder/rpc';
import { freePort, runInProcess, testServices } from '@larder/testing';
import { ingestionService } from './service';
import { createTopic, produce, readTopic, startIngestion, startTestRegistry, uniqueName, waitFor } from './testing';
import type { RunningIngestion, TestRegistry } from './testing';

jest.setTimeout(90_000);

const T = typesV1.ValueType;
const services = testServices();
const project = uniqueName('bounds');
const topic = uniqueName('bounds_json');
const dlq = `${topic}.dead`;
const YEAR_9999 = Date.UTC(9999, 0, 1);
const descriptor: ViewDescriptor = {
  project,
  name: 'stats',
  joinKeys: ['driver_id'],
  features: [
    { name: 'conv_rate', type: T.DOUBLE },
    { name: 'rates', type: T.DOUBLE_LIST },
  ],
};
const streamed: ViewDescriptor = { ...descriptor, name: 'streamed' };

let dir: string;
let registry: TestRegistry;
let ingestion: ServerHandle;
let consumers: RunningIngestion;
let push: RpcClient<typeof ingestionV1.IngestionService>;
let online: OnlineStore;
let httpUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'larder-bounds-'));
  await Promise.all([topic, dlq].map((t) => createTopic(services.kafka.brokers, t)));
  registry = await startTestRegistry();
  await registry.apply({
    project,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [
      { name: 'stats_file', timestampField: 'event_timestamp', kind: { case: 'file', value: { path: path.join(dir, 'stats.parquet') } } },
      { name: 'stats_push', kind: { case: 'push', value: { batchSource: 'stats_file' } } },
      {
        name: 'stats_kafka',
        timestampField: 'ts',
        kind: {
          case: 'kafka',
          value: { bootstrapServers: services.kafka.brokers, topic, messageFormat: { format: { case: 'json', value: {} } }, deadLetterTopic: dlq },
        },
      },
    ],
    featureViews: [
      {
        name: 'stats',
        entities: ['driver'],
        schema: descriptor.features.map((f) => ({ name: f.name, valueType: f.type })),
        batchSource: 'stats_file',
        streamSource: 'stats_push',
      },
      {
        name: 'streamed',
        entities: ['driver'],
        schema: descriptor.features.map((f) => ({ name: f.name, valueType: f.type })),
        streamSource: 'stats_kafka',
        online: true,
        offline: false,
      },
    ],
  });
  const redis = { LARDER_ONLINE_STORE_TYPE: 'redis', LARDER_REDIS_URL: services.redis.url, LARDER_REDIS_KEY_PREFIX: `${project}:` };
  online = createOnlineStore({ type: 'redis', url: services.redis.url, keyPrefix: `${project}:` });
  const httpPort = await freePort();
  httpUrl = `http://127.0.0.1:${httpPort}`;
  ingestion = await runInProcess(ingestionService, {
    ...redis,
    LARDER_REGISTRY_ADDRESS: registry.address,
    LARDER_KAFKA_ENABLED: 'false',
    LARDER_INGESTION_HTTP_HOST: '127.0.0.1',
    LARDER_INGESTION_HTTP_PORT: String(httpPort),
    LARDER_LOG_LEVEL: 'warn',
  });
  push = createClient(ingestionV1.IngestionService, ingestion.address, { defaultTimeoutMs: 10_000 });
  consumers = await startIngestion({ registryAddress: registry.address, project, online });
}, 120_000);

afterAll(async () => {
  push?.close();
  await consumers?.stop();
  await ingestion?.shutdown('test done');
  await online?.close();
  await registry?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const int64 = (n: number) => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(n) } });
const double = (n: number) => create(typesV1.ValueSchema, { val: { case: 'doubleVal', value: n } });
const doubles = (ns: number[]) => create(typesV1.ValueSchema, { val: { case: 'doubleListVal', value: { val: ns } } });

function batch(ids: number[], rates: typesV1.Value[], lists: typesV1.Value[], eventTimestamps: { seconds: bigint; nanos: number }[]) {
  return create(typesV1.RowBatchSchema, { columns: { driver_id: { val: ids.map(int64) }, conv_rate: { val: rates }, rates: { val: lists } }, eventTimestamps });
}

const at = (ms: number) => ({ seconds: BigInt(Math.floor(ms / 1000)), nanos: 0 });

async function stored(view: ViewDescriptor, ids: number[]): Promise<({ eventTs: number; conv: unknown } | undefined)[]> {
  const [rows] = await online.read([{ view, entityKeys: ids.map((id) => ({ joinKeys: ['driver_id'], entityValues: [int64(id)] })) }]);
  return (rows ?? []).map((row) => (row === undefined ? undefined : { eventTs: row.eventTs, conv: row.values[0]?.val.value }));
}

describe('event times ahead of now', () => {
  it('gRPC Push: a year-9999 event time is a row failure naming the time and the setting, stored nowhere, and does not pin the key', async () => {
    const out = await push.push({
      pushSource: 'stats_push',
      rows: batch([1], [double(0.1)], [doubles([])], [at(YEAR_9999)]),
      mode: ingestionV1.PushMode.ONLINE,
    });
    expect(out.rowsWritten).toBe(0n);
    expect(out.failures).toHaveLength(1);
    expect(out.failures[0]?.reason).toMatch(
      /^event timestamp: event time 9999-01-01T00:00:00\.000Z is ahead of now \(.*\) by more than the allowed 5 min \(LARDER_MAX_FUTURE_SKEW\)$/,
    );
    expect(await stored(descriptor, [1])).toEqual([undefined]);
    // A later real write is taken (it would have been "stale" behind a stored year 9999).
    const now = Date.now();
    expect(
      await push.push({ pushSource: 'stats_push', rows: batch([1], [double(0.2)], [doubles([])], [at(now)]), mode: ingestionV1.PushMode.ONLINE }),
    ).toMatchObject({ rowsWritten: 1n, rowsSkippedStale: 0n });
    expect(await stored(descriptor, [1])).toEqual([{ eventTs: Math.floor(now / 1000) * 1000, conv: 0.2 }]);
  });

  it('gRPC Push: 2^62 seconds is a row failure naming rows.event_timestamps[i], not INTERNAL', async () => {
    const out = await push.push({
      pushSource: 'stats_push',
      rows: batch([2, 3], [double(1), double(2)], [doubles([]), doubles([])], [at(Date.now()), { seconds: 2n ** 62n, nanos: 0 }]),
      mode: ingestionV1.PushMode.ONLINE,
    });
    expect(out.rowsWritten).toBe(1n);
    expect(out.failures.map((f) => [f.rowIndex, f.reason])).toEqual([
      [1n, 'event timestamp: rows.event_timestamps[1]: 4611686018427387904 seconds is outside the Timestamp range (years 0001 to 9999)'],
    ]);
    expect((await stored(descriptor, [3]))[0]).toBeUndefined();
  });

  it('HTTP /push: a year-9999 event time gets 422 naming the row, stored nowhere', async () => {
    const res = await fetch(`${httpUrl}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        push_source_name: 'stats_push',
        df: { driver_id: [4], conv_rate: [0.4], rates: [[]], event_timestamp: ['9999-12-31T00:00:00Z'] },
        to: 'online',
      }),
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { rows_written: number; failures: { row_index: number; reason: string }[] };
    expect(body.rows_written).toBe(0);
    expect(body.failures[0]?.reason).toMatch(/^event timestamp: event time 9999-12-31T00:00:00\.000Z is ahead of now/);
    expect(await stored(descriptor, [4])).toEqual([undefined]);
  });
});

describe('NaN and ±Infinity', () => {
  it('gRPC Push: NaN, Infinity and a NaN list element are row failures naming the feature; finite rows are written', async () => {
    const now = at(Date.now());
    const out = await push.push({
      pushSource: 'stats_push',
      rows: batch(
        [10, 11, 12, 13],
        [double(NaN), double(-Infinity), double(0.5), double(0.6)],
        [doubles([]), doubles([]), doubles([1, NaN]), doubles([1, 2])],
        [now, now, now, now],
      ),
      mode: ingestionV1.PushMode.ONLINE,
    });
    expect(out.rowsWritten).toBe(1n);
    expect(out.failures.map((f) => [f.rowIndex, f.column, f.reason])).toEqual([
      [0n, 'conv_rate', 'conv_rate: NaN is not a finite number (NaN and ±Infinity are not stored; send null for a missing value)'],
      [1n, 'conv_rate', 'conv_rate: -Infinity is not a finite number (NaN and ±Infinity are not stored; send null for a missing value)'],
      [2n, 'rates', 'rates: NaN at element 1 is not a finite number (NaN and ±Infinity are not stored)'],
    ]);
    expect((await stored(descriptor, [10, 11, 12, 13])).map((r) => r?.conv)).toEqual([undefined, undefined, undefined, 0.6]);
  });

  it('HTTP /push: a JSON number beyond the double range (1e400, read as Infinity) gets 422 naming the feature', async () => {
    const res = await fetch(`${httpUrl}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"push_source_name":"stats_push","df":{"driver_id":[14],"conv_rate":[1e400],"rates":[[]],"event_timestamp":["${new Date().toISOString()}"]},"to":"online"}`,
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { failures: { column: string; reason: string }[] };
    expect(body.failures).toEqual([
      {
        row_index: 0,
        column: 'conv_rate',
        reason: 'conv_rate: Infinity is not a finite number (NaN and ±Infinity are not stored; send null for a missing value)',
      },
    ]);
    expect(await stored(descriptor, [14])).toEqual([undefined]);
  });
});

describe('integers beyond int64', () => {
  it('HTTP /push: a join key of 18446744073709551616 (number or string) gets 422 naming the column, not 500', async () => {
    for (const id of ['18446744073709551616', '"18446744073709551616"']) {
      const res = await fetch(`${httpUrl}/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"push_source_name":"stats_push","df":{"driver_id":[${id}],"conv_rate":[0.1],"rates":[[]],"event_timestamp":["${new Date().toISOString()}"]},"to":"online"}`,
      });
      expect(res.status).toBe(422);
      const body = (await res.json()) as { rows_written: number; failures: { column: string; reason: string }[] };
      expect([body.rows_written, body.failures[0]?.column, body.failures[0]?.reason]).toEqual([
        0,
        'driver_id',
        expect.stringMatching(/^join key driver_id: expected INT64, got (number |string ")18446744073709551616/),
      ]);
    }
  });
});

describe('Kafka', () => {
  it('dead-letters a year-9999 event with stage future and an Infinity value with stage validate; the good event is written', async () => {
    const now = Date.now();
    await produce(services.kafka.brokers, topic, [
      { value: JSON.stringify({ driver_id: 20, conv_rate: 0.1, rates: [], ts: new Date(YEAR_9999).toISOString() }) },
      { value: `{"driver_id":21,"conv_rate":1e400,"rates":[],"ts":${now}}` },
      { value: JSON.stringify({ driver_id: 22, conv_rate: 0.3, rates: [], ts: now }) },
    ]);
    await waitFor(async () => (await stored(streamed, [22]))[0] !== undefined, 30_000, 'the good event online');
    const letters = await readTopic(services.kafka.brokers, dlq, 2);
    expect(letters.map((l) => l.headers['larder.error.stage'])).toEqual(['future', 'validate']);
    expect(letters[0]?.headers['larder.error.reason']).toMatch(/^ts: event time 9999-01-01T00:00:00\.000Z is ahead of now .* \(LARDER_MAX_FUTURE_SKEW\)$/);
    expect(letters[1]?.headers['larder.error.reason']).toMatch(/^conv_rate: Infinity is not a finite number/);
    expect(await stored(streamed, [20, 21])).toEqual([undefined, undefined]);
  });
});
