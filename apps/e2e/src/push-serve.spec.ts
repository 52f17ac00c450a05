// Event times to the microsecond from a push to an online read: the ingestion service and
// the online-serving service over real gRPC, on each online store (Redis packed and feast,
// SQLite). Two apps together, so it lives here rather than in either app.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { ingestionV1, registryV1, servingV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { RpcClient, ServerHandle } from '@larder/rpc';
import { freePort, onlineStoreUnderTest, runInProcess, testServices } from '@larder/testing';
import type { OnlineStoreUnderTest } from '@larder/testing';
import { ingestionService } from '@larder/ingestion-app';
import { onlineServingService } from '@larder/online-serving-app';
import { registryService } from '@larder/registry-service';

jest.setTimeout(60_000);

const T = typesV1.ValueType;
const SECONDS = 1_769_904_000n; // 2026-02-01T00:00:00Z

const stores: [string, () => OnlineStoreUnderTest][] = [
  ['redis packed', () => ({ type: 'redis', url: testServices().redis.url, layout: 'packed' })],
  ['redis feast', () => ({ type: 'redis', url: testServices().redis.url, layout: 'feast' })],
  ['sqlite', () => ({ type: 'sqlite' })],
];

const uniqueName = (prefix: string): string => `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;

interface TestRegistry {
  address: string;
  apply(request: MessageInitShape<typeof registryV1.ApplyRegistryRequestSchema>): Promise<bigint>;
  stop(): Promise<void>;
}

/** A real registry in-process, its file in `dir`. */
async function startTestRegistry(dir: string): Promise<TestRegistry> {
  const handle = await runInProcess(registryService, { LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'), LARDER_LOG_LEVEL: 'warn' });
  const client = createClient(registryV1.RegistryService, handle.address, { defaultTimeoutMs: 10_000 });
  return {
    address: handle.address,
    apply: async (request) => (await client.applyRegistry(request)).version,
    stop: async () => {
      client.close();
      await handle.shutdown('test done');
    },
  };
}

describe.each(stores)('a push read back through online serving on %s', (_name, backend) => {
  const project = uniqueName('micros');
  let dir: string;
  let registry: TestRegistry;
  let ingestion: ServerHandle;
  let serving: ServerHandle;
  let push: RpcClient<typeof ingestionV1.IngestionService>;
  let read: RpcClient<typeof servingV1.OnlineServingService>;
  let httpUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'larder-push-serve-'));
    registry = await startTestRegistry(dir);
    await registry.apply({
      project,
      entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
      dataSources: [
        { name: 'stats_file', timestampField: 'event_timestamp', kind: { case: 'file', value: { path: path.join(dir, 'stats.parquet') } } },
        { name: 'stats_push', kind: { case: 'push', value: { batchSource: 'stats_file' } } },
      ],
      featureViews: [
        { name: 'driver_stats', entities: ['driver'], schema: [{ name: 'label', valueType: T.STRING }], batchSource: 'stats_file', streamSource: 'stats_push' },
      ],
    });
    const store = onlineStoreUnderTest(backend(), dir).env;
    const httpPort = await freePort();
    httpUrl = `http://127.0.0.1:${httpPort}`;
    ingestion = await runInProcess(ingestionService, {
      ...store,
      LARDER_REGISTRY_ADDRESS: registry.address,
      LARDER_KAFKA_ENABLED: 'false',
      LARDER_INGESTION_HTTP_HOST: '127.0.0.1',
      LARDER_INGESTION_HTTP_PORT: String(httpPort),
      LARDER_LOG_LEVEL: 'warn',
    });
    serving = await runInProcess(onlineServingService, {
      ...store,
      LARDER_REGISTRY_ADDRESS: registry.address,
      LARDER_HTTP_HOST: '127.0.0.1',
      LARDER_HTTP_PORT: '0',
      LARDER_LOG_LEVEL: 'warn',
    });
    push = createClient(ingestionV1.IngestionService, ingestion.address, { defaultTimeoutMs: 10_000 });
    read = createClient(servingV1.OnlineServingService, serving.address, { defaultTimeoutMs: 10_000 });
  }, 90_000);

  afterAll(async () => {
    push?.close();
    read?.close();
    await serving?.shutdown('test done');
    await ingestion?.shutdown('test done');
    await registry?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const rows = (ids: number[], labels: string[], nanos: number[]) =>
    create(typesV1.RowBatchSchema, {
      columns: {
        driver_id: { val: ids.map((id) => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(id) } })) },
        label: { val: labels.map((label) => create(typesV1.ValueSchema, { val: { case: 'stringVal', value: label } })) },
      },
      eventTimestamps: nanos.map((n) => ({ seconds: SECONDS, nanos: n })),
    });

  /** [label, seconds, nanos] per driver, as online serving answers. */
  async function served(ids: number[]): Promise<[unknown, bigint, number][]> {
    const res = await read.getOnlineFeatures({
      project,
      kind: { case: 'features', value: { val: ['driver_stats:label'] } },
      entities: { driver_id: { val: ids.map((id) => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(id) } })) } },
    });
    const vector = res.results[(res.metadata?.featureNames?.val ?? []).indexOf('label')]!;
    return vector.values.map((v, row) => [v.val.value, vector.eventTimestamps[row]!.seconds, vector.eventTimestamps[row]!.nanos]);
  }

  it('keeps microseconds (nanoseconds below them dropped), and 1 us later wins', async () => {
    const pushed = await push.push({ pushSource: 'stats_push', rows: rows([1, 2], ['a', 'b'], [123_456_789, 123_456_000]), mode: ingestionV1.PushMode.ONLINE });
    expect(pushed).toMatchObject({ rowsWritten: 2n, rowsSkippedStale: 0n });
    expect(await served([1, 2])).toEqual([
      ['a', SECONDS, 123_456_000],
      ['b', SECONDS, 123_456_000],
    ]);
    // 1 us older is stale; 1 us newer replaces.
    expect(await push.push({ pushSource: 'stats_push', rows: rows([1], ['older'], [123_455_999]), mode: ingestionV1.PushMode.ONLINE })).toMatchObject({
      rowsWritten: 0n,
      rowsSkippedStale: 1n,
    });
    expect(await push.push({ pushSource: 'stats_push', rows: rows([2], ['newer'], [123_457_000]), mode: ingestionV1.PushMode.ONLINE })).toMatchObject({
      rowsWritten: 1n,
      rowsSkippedStale: 0n,
    });
    expect(await served([1, 2])).toEqual([
      ['a', SECONDS, 123_456_000],
      ['newer', SECONDS, 123_457_000],
    ]);
  });

  it('keeps the microseconds of an RFC 3339 time pushed over HTTP', async () => {
    const res = await fetch(`${httpUrl}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        push_source_name: 'stats_push',
        df: { driver_id: [3], label: ['c'], event_timestamp: ['2026-02-01T00:00:00.654321Z'] },
        to: 'online',
      }),
    });
    expect(res.status).toBe(200);
    expect(await served([3])).toEqual([['c', SECONDS, 654_321_000]]);
  });
});
