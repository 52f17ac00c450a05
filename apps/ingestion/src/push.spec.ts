import { copyFileSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs, TimestampSchema } from '@bufbuild/protobuf/wkt';
import { dateFromMicros, DuckDBOfflineStore } from '@larder/offline-store';
import type { BatchSource, Cell } from '@larder/offline-store';
import { SqliteOnlineStore } from '@larder/online-store';
import type { ViewDescriptor } from '@larder/online-store';
import { ingestionV1, typesV1 } from '@larder/proto';
import { Code, createClient, RpcError, runService } from '@larder/rpc';
import type { RpcClient, ServerHandle } from '@larder/rpc';
import { freePort } from '@larder/testing';
import { ingestionService } from './service';
import { startTestRegistry, uniqueName } from './testing';
import type { TestRegistry } from './testing';

jest.setTimeout(60_000);

const T = typesV1.ValueType;
const project = uniqueName('push');
const BASE = Date.UTC(2026, 1, 1);
const view: ViewDescriptor = {
  project,
  name: 'driver_stats',
  joinKeys: ['driver_id'],
  features: [
    { name: 'conv_rate', type: T.DOUBLE },
    { name: 'trips', type: T.INT64 },
  ],
};

let dir: string;
let outside: string;
let registry: TestRegistry;
let handle: ServerHandle;
let client: RpcClient<typeof ingestionV1.IngestionService>;
let online: SqliteOnlineStore;
let offline: DuckDBOfflineStore;
let source: BatchSource;
let httpUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'larder-ingestion-push-'));
  outside = mkdtempSync(path.join(os.tmpdir(), 'larder-ingestion-outside-'));
  offline = await DuckDBOfflineStore.create();
  const parquet = path.join(dir, 'stats.parquet');
  await offline.run(
    `COPY (SELECT 0::BIGINT AS driver_id, 0.0::DOUBLE AS conv_rate, 0::BIGINT AS trips, TIMESTAMP '2000-01-01' AS event_timestamp) TO '${parquet}' (FORMAT parquet)`,
  );
  copyFileSync(parquet, path.join(outside, 'stats.parquet'));
  source = { name: 'stats_file', location: { kind: 'file', path: parquet }, timestampField: 'event_timestamp' };
  registry = await startTestRegistry();
  await registry.apply({
    project,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [
      { name: 'stats_file', timestampField: 'event_timestamp', kind: { case: 'file', value: { path: parquet } } },
      { name: 'stats_push', kind: { case: 'push', value: { batchSource: 'stats_file' } } },
      // A source outside the service's roots: offline pushes to it must not write there.
      { name: 'outside_file', timestampField: 'event_timestamp', kind: { case: 'file', value: { path: path.join(outside, 'stats.parquet') } } },
      { name: 'outside_push', kind: { case: 'push', value: { batchSource: 'outside_file' } } },
    ],
    featureViews: [
      {
        name: 'driver_stats',
        entities: ['driver'],
        schema: view.features.map((f) => ({ name: f.name, valueType: f.type })),
        batchSource: 'stats_file',
        streamSource: 'stats_push',
      },
      {
        name: 'outside_stats',
        entities: ['driver'],
        schema: view.features.map((f) => ({ name: f.name, valueType: f.type })),
        batchSource: 'outside_file',
        streamSource: 'outside_push',
      },
    ],
  });
  const httpPort = await freePort();
  httpUrl = `http://127.0.0.1:${httpPort}`;
  const onlinePath = path.join(dir, 'online.db');
  const started = await runService({
    ...ingestionService,
    env: {},
    argv: [],
    handleSignals: false,
    write: () => undefined,
    exit: (code) => {
      throw new Error(`ingestion exited with ${code}`);
    },
    overrides: {
      grpc: { host: '127.0.0.1', port: 0 },
      metrics: { enabled: false },
      registry: { address: registry.address },
      kafka: { enabled: false },
      http: { host: '127.0.0.1', port: httpPort },
      onlineStore: { type: 'sqlite', path: onlinePath },
      offlineStore: { type: 'duckdb', readRoots: [dir], writeRoot: dir },
    },
  });
  if (started === undefined) throw new Error('ingestion did not start');
  handle = started;
  client = createClient(ingestionV1.IngestionService, handle.address, { defaultTimeoutMs: 10_000 });
  online = new SqliteOnlineStore({ path: onlinePath });
}, 90_000);

afterAll(async () => {
  client?.close();
  await handle?.shutdown('test done');
  await online?.close();
  await offline?.close();
  await registry?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  if (outside !== undefined) rmSync(outside, { recursive: true, force: true });
});

const int64 = (n: number) => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(n) } });
const double = (n: number) => create(typesV1.ValueSchema, { val: { case: 'doubleVal', value: n } });
const str = (s: string) => create(typesV1.ValueSchema, { val: { case: 'stringVal', value: s } });
const key = (id: number) => ({ joinKeys: ['driver_id'], entityValues: [int64(id)] });

function rows(ids: number[], conv: typesV1.Value[], trips: typesV1.Value[], ts: number[]) {
  return create(typesV1.RowBatchSchema, {
    columns: { driver_id: { val: ids.map(int64) }, conv_rate: { val: conv }, trips: { val: trips } },
    eventTimestamps: ts.map(timestampFromMs),
  });
}

async function readOnline(ids: number[]) {
  const [result] = await online.read([{ view, entityKeys: ids.map(key) }]);
  return (result ?? []).map((r) => (r === undefined ? undefined : [r.eventTs, r.values[0]?.val.value, r.values[1]?.val.value]));
}

async function historical(at: { id: number; ts: number | Date }[]): Promise<Cell[][]> {
  const result = await offline.getHistoricalFeatures({
    entities: {
      kind: 'rows',
      columns: [
        { name: 'driver_id', type: T.INT64 },
        { name: 'ts', type: T.UNIX_TIMESTAMP },
      ],
      timestampColumn: 'ts',
      batches: [{ driver_id: at.map((a) => BigInt(a.id)), ts: at.map((a) => (a.ts instanceof Date ? a.ts : new Date(a.ts))) }],
    },
    views: [
      {
        name: 'driver_stats',
        source,
        joinKeys: [{ name: 'driver_id', type: T.INT64 }],
        features: [
          { name: 'conv_rate', type: T.DOUBLE },
          { name: 'trips', type: T.INT64 },
        ],
      },
    ],
  });
  const out: Cell[][] = [];
  for await (const chunk of result) for (let r = 0; r < chunk.rowCount; r++) out.push([chunk.columns[2]?.[r] ?? null, chunk.columns[3]?.[r] ?? null]);
  return out;
}

describe('Push', () => {
  it('ONLINE writes online only, last writer wins, bad rows reported per row and written nowhere', async () => {
    const response = await client.push({
      project,
      pushSource: 'stats_push',
      mode: ingestionV1.PushMode.ONLINE,
      rows: rows(
        [1, 2, 3, 1],
        [double(0.1), str('oops'), double(0.3), double(0.05)],
        [int64(1), int64(2), int64(3), int64(0)],
        [BASE, BASE, BASE, BASE - 1000],
      ),
    });
    expect(response.rowsWritten).toBe(2n);
    expect(response.rowsSkippedStale).toBe(1n);
    expect(response.failures).toEqual([expect.objectContaining({ rowIndex: 1n, column: 'conv_rate', reason: 'conv_rate: expected DOUBLE, got STRING' })]);
    expect(await readOnline([1, 2, 3])).toEqual([[BASE, 0.1, 1n], undefined, [BASE, 0.3, 3n]]);
    expect(await historical([{ id: 1, ts: BASE }])).toEqual([[null, null]]);
  });

  it('OFFLINE appends where historical retrieval reads, and leaves the online store alone', async () => {
    const response = await client.push({
      project,
      pushSource: 'stats_push',
      mode: ingestionV1.PushMode.OFFLINE,
      rows: rows([10], [double(1.5)], [int64(15)], [BASE]),
    });
    expect(response).toMatchObject({ rowsWritten: 1n, rowsSkippedStale: 0n, failures: [] });
    expect(await readOnline([10])).toEqual([undefined]);
    expect(
      await historical([
        { id: 10, ts: BASE + 1 },
        { id: 10, ts: BASE - 1 },
      ]),
    ).toEqual([
      [1.5, 15n],
      [null, null],
    ]);
  });

  it('OFFLINE to a source outside the roots is PERMISSION_DENIED naming the root, and creates nothing there', async () => {
    const error = await client
      .push({ project, pushSource: 'outside_push', mode: ingestionV1.PushMode.OFFLINE, rows: rows([10], [double(1.5)], [int64(15)], [BASE]) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe(Code.PERMISSION_DENIED);
    expect((error as RpcError).message).toContain(`is outside the read root '${realpathSync(dir)}'`);
    expect(readdirSync(outside)).toEqual(['stats.parquet']);
  });

  it('ONLINE_AND_OFFLINE writes both', async () => {
    await client.push({
      project,
      pushSource: 'stats_push',
      mode: ingestionV1.PushMode.ONLINE_AND_OFFLINE,
      rows: rows([20], [double(2.5)], [int64(25)], [BASE]),
    });
    expect(await readOnline([20])).toEqual([[BASE, 2.5, 25n]]);
    expect(await historical([{ id: 20, ts: BASE }])).toEqual([[2.5, 25n]]);
  });

  it('ONLINE_AND_OFFLINE keeps event-time microseconds offline: rows 1 us apart stay apart', async () => {
    const us = (n: number) => BigInt(BASE) * 1000n + 3_600_000_000n + BigInt(n); // an hour after BASE, n us on
    const stamp = (n: number) => create(TimestampSchema, { seconds: us(n) / 1_000_000n, nanos: Number(us(n) % 1_000_000n) * 1000 });
    const batch = create(typesV1.RowBatchSchema, {
      columns: { driver_id: { val: [int64(21), int64(21)] }, conv_rate: { val: [double(1.25), double(2.25)] }, trips: { val: [int64(1), int64(2)] } },
      eventTimestamps: [stamp(400), stamp(402)],
    });
    const response = await client.push({ project, pushSource: 'stats_push', mode: ingestionV1.PushMode.ONLINE_AND_OFFLINE, rows: batch });
    expect(response.failures).toEqual([]); // online keeps the later row of the key; offline both
    const at = (n: number) => ({ id: 21, ts: dateFromMicros(us(n)) });
    expect(await historical([at(401), at(402), at(399), at(400)])).toEqual([
      [1.25, 1n],
      [2.25, 2n],
      [null, null],
      [1.25, 1n],
    ]);
  });

  it('rejects malformed batches and unknown sources with the contract codes', async () => {
    await expect(client.push({ project, pushSource: 'nope', rows: rows([1], [double(1)], [int64(1)], [BASE]) })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
    });
    const ragged = rows([1, 2], [double(1)], [int64(1), int64(2)], [BASE, BASE]);
    await expect(client.push({ project, pushSource: 'stats_push', rows: ragged })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringMatching(/conv_rate/),
    });
    const noKey = create(typesV1.RowBatchSchema, { columns: { conv_rate: { val: [double(1)] } }, eventTimestamps: [timestampFromMs(BASE)] });
    await expect(client.push({ project, pushSource: 'stats_push', rows: noKey })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringMatching(/driver_id/),
    });
    await expect(client.push({ project, pushSource: 'stats_file', rows: noKey })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
  });

  it('WriteToOnlineStore writes one view online', async () => {
    const response = await client.writeToOnlineStore({
      project,
      featureView: 'driver_stats',
      rows: rows([30], [double(3.5)], [create(typesV1.ValueSchema, { val: { case: 'int32Val', value: 35 } })], [BASE]),
    });
    expect(response).toMatchObject({ rowsWritten: 1n, failures: [] });
    expect(await readOnline([30])).toEqual([[BASE, 3.5, 35n]]);
  });

  it('HTTP POST /push takes Feast-shaped JSON', async () => {
    const post = (body: unknown) => fetch(`${httpUrl}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const ok = await post({
      push_source_name: 'stats_push',
      df: { driver_id: [40, 41], conv_rate: [4.5, 4.6], trips: [45, 46], event_timestamp: ['2026-02-01 00:00:00', '2026-02-01T00:00:00Z'] },
      to: 'online_and_offline',
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ rows_written: 2, rows_skipped_stale: 0, failures: [] });
    expect(await readOnline([40, 41])).toEqual([
      [BASE, 4.5, 45n],
      [BASE, 4.6, 46n],
    ]);
    expect(await historical([{ id: 41, ts: BASE }])).toEqual([[4.6, 46n]]);

    const partial = await post({
      push_source_name: 'stats_push',
      df: { driver_id: [42, null], conv_rate: [true, 1], trips: [1, 1], event_timestamp: [BASE, BASE] },
    });
    expect(partial.status).toBe(422);
    const body = (await partial.json()) as { rows_written: number; failures: { row_index: number; column: string }[] };
    expect(body.rows_written).toBe(0);
    expect(body.failures.map((f) => [f.row_index, f.column])).toEqual([
      [0, 'conv_rate'],
      [1, 'driver_id'],
    ]);

    // int64 JSON numbers beyond 2^53 keep every digit (JSON.parse would round ...993 to ...992).
    const big = await fetch(`${httpUrl}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"push_source_name": "stats_push", "df": {"driver_id": [9223372036854775807], "conv_rate": [0.5], "trips": [9007199254740993], "event_timestamp": [${BASE}]}, "to": "online_and_offline"}`,
    });
    expect([big.status, await big.json()]).toEqual([200, { rows_written: 1, rows_skipped_stale: 0, failures: [] }]);
    const [stored] = await online.read([
      {
        view,
        entityKeys: [{ joinKeys: ['driver_id'], entityValues: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: 9223372036854775807n } })] }],
      },
    ]);
    expect(stored?.[0]?.values[1]?.val.value).toBe(9007199254740993n);

    expect((await post({ push_source_name: 'stats_push', df: { driver_id: [1] }, to: 'everywhere' })).status).toBe(400);
    expect((await post({ push_source_name: 'missing', df: { driver_id: [1], event_timestamp: [BASE] } })).status).toBe(404);
  });
});
