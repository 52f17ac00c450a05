// The Python client (clients/python) against the services, beside its floors measured in
// the same run (the Python side in bench/python/client_bench.py, run by the client's test
// virtualenv and the wheel built from this checkout):
//   online 1x50 (5 views x 10 DOUBLE, Redis packed layout, one call at a time): the
//     client's get_online_features(...).to_dict() against the same rpc through a raw
//     generated stub and an empty grpc.health.v1 Check from Python. Target p99 <= 1.5 ms.
//   historical 1M entity rows x 3 views (DuckDB over Parquet, views of
//     LARDER_BENCH_PY_HIST_ROWS rows, 5M by default as in the historical benchmark): the
//     client's get_historical_features(...).to_df() (rows streamed and decoded into
//     pandas; value chunks, and Parquet chunks - the client's default) against the service's own export (GetHistoricalFeaturesFromSource writing
//     Parquet, omit_rows), run back to back, twice. Target <= 1.5x the export.
// Knobs: LARDER_BENCH_PY_SECONDS (per online case, 5), LARDER_BENCH_PY_ENTITIES (online
// keys loaded, 100,000), LARDER_BENCH_PY_PARTS (online,historical).
import { create } from '@bufbuild/protobuf';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { RedisOnlineStore } from '@larder/online-store';
import type { ViewDescriptor } from '@larder/online-store';
import { registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { buildPythonClient, pythonClientPython, startLarderApp, startRedis } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';
import type { BenchRecord } from './table';

const T = typesV1.ValueType;
const execFileAsync = promisify(execFile);
const SECONDS = Number(process.env.LARDER_BENCH_PY_SECONDS ?? 5);
const ENTITIES = Number(process.env.LARDER_BENCH_PY_ENTITIES ?? 100_000);
const HIST_ROWS = Number(process.env.LARDER_BENCH_PY_HIST_ROWS ?? 5_000_000);
const HIST_ENTITIES = 1_000_000;
const PARTS = new Set((process.env.LARDER_BENCH_PY_PARTS ?? 'online,historical').split(','));
const SCRIPT = path.join(__dirname, 'python', 'client_bench.py');

const say = (line: string): void => void process.stdout.write(`${line}\n`);

async function startRegistry(dir: string, request: registryV1.ApplyRegistryRequest): Promise<RunningLarderApp> {
  const registry = await startLarderApp({
    app: 'registry',
    env: { LARDER_METRICS_ENABLED: 'false', LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json') },
  });
  const client = createClient(registryV1.RegistryService, registry.address, { defaultTimeoutMs: 60_000 });
  await client.applyRegistry(request);
  client.close();
  return registry;
}

async function python(args: string[], env: NodeJS.ProcessEnv): Promise<Record<string, Record<string, number>>> {
  const { stdout } = await execFileAsync(args[0]!, args.slice(1), { env, maxBuffer: 16 * 1024 * 1024, timeout: 30 * 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, Record<string, number>>;
}

const onlineView = (v: number): ViewDescriptor => ({
  project: 'bench',
  name: `view_${v}`,
  joinKeys: ['driver_id'],
  features: Array.from({ length: 10 }, (_, f) => ({ name: `f${f}`, type: T.DOUBLE })),
});

async function onlineCases(dir: string, py: string, env: NodeJS.ProcessEnv, records: BenchRecord[]): Promise<void> {
  const redis = await startRedis();
  const registry = await startRegistry(
    dir,
    create(registryV1.ApplyRegistryRequestSchema, {
      project: 'bench',
      entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
      dataSources: [{ name: 'src', timestampField: 'ts', kind: { case: 'file', value: { path: 'x.parquet', format: registryV1.FileFormat.PARQUET } } }],
      featureViews: Array.from({ length: 5 }, (_, v) => ({
        name: `view_${v}`,
        entities: ['driver'],
        batchSource: 'src',
        ttl: { seconds: 86_400n * 365n },
        schema: Array.from({ length: 10 }, (_, f) => ({ name: `f${f}`, valueType: T.DOUBLE })),
      })),
    }),
  );
  const store = new RedisOnlineStore({ url: redis.url, layout: 'packed', writeTimeoutMs: 60_000 });
  const now = Date.now();
  for (let from = 0; from < ENTITIES; from += 2_000) {
    const size = Math.min(2_000, ENTITIES - from);
    const rowOf = Int32Array.from({ length: size }, (_, i) => i);
    const eventTs = new Float64Array(size).fill(now);
    const columns = Array.from({ length: 10 }, (_, f) => Float64Array.from({ length: size }, (_, i) => from + i + f / 10));
    await store.writeEntities({
      size,
      joinKeys: ['driver_id'],
      keyColumns: [Array.from({ length: size }, (_, i) => BigInt(from + i))],
      views: [0, 1, 2, 3, 4].map((v) => ({ view: onlineView(v), eventTs, columns, rowOf })),
    });
  }
  await store.close();
  const serving = await startLarderApp({
    app: 'online-serving',
    env: {
      LARDER_REGISTRY_ADDRESS: registry.address,
      LARDER_ONLINE_STORE_TYPE: 'redis',
      LARDER_REDIS_URL: redis.url,
      LARDER_REDIS_LAYOUT: 'packed',
      LARDER_PROJECT: 'bench',
      LARDER_HTTP_ENABLED: 'false',
      LARDER_METRICS_ENABLED: 'false',
    },
  });
  try {
    const result = await python([py, SCRIPT, 'online', serving.address, registry.address, String(SECONDS), String(ENTITIES)], env);
    const client = result['client']!;
    const raw = result['raw']!;
    const health = result['health']!;
    records.push({ workload: 'python health Check (raw stub)', client: 'python', concurrency: 1, ...health, floor: true });
    records.push({ workload: 'python 1x50 raw stub', client: 'python', concurrency: 1, ...raw, floor: true });
    records.push({
      workload: 'python 1x50 larder client',
      client: 'python',
      concurrency: 1,
      ...client,
      p99_vs_raw: Number((client.p99_ms! / raw.p99_ms!).toFixed(2)),
    });
  } finally {
    await serving.stop(5_000);
    await registry.stop(5_000);
    await redis.stop();
  }
}

async function historicalCases(dir: string, py: string, env: NodeJS.ProcessEnv, records: BenchRecord[]): Promise<void> {
  const KEYS = 500_000;
  const T0 = Date.UTC(2024, 0, 1) / 1000;
  const SPAN = 30 * 86_400;
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  const file = (name: string): string => path.join(dir, `${name}.parquet`);
  const ts = (secs: string): string => `to_timestamp((${secs})::BIGINT)::TIMESTAMP`;
  const began = Date.now();
  await db.run(
    `COPY (SELECT ((i * 7919) % ${KEYS})::BIGINT AS driver_id, to_timestamp(${T0} + (i * 104729) % ${SPAN})::TIMESTAMP AS event_timestamp FROM range(${HIST_ENTITIES}) t(i)) TO '${file('entities')}' (FORMAT parquet)`,
  );
  for (let v = 0; v < 3; v++) {
    await db.run(
      `COPY (SELECT (hash(i + ${v}) % ${KEYS})::BIGINT AS driver_id, ${ts(`${T0 - 86_400} + hash(i * 13 + ${v}) % ${SPAN + 86_400}`)} AS event_ts, ` +
        `${ts(`${T0} + hash(i * 17 + ${v}) % ${SPAN * 2}`)} AS created_ts, CAST((hash(i * 3) % 1000) / 1000.0 AS DOUBLE) AS f_a, ` +
        `(hash(i * 5) % 100)::BIGINT AS f_b, CAST(hash(i * 11) % 7 AS DOUBLE) AS f_c FROM range(${HIST_ROWS}) t(i)) TO '${file(`view_${v}`)}' (FORMAT parquet)`,
    );
  }
  db.closeSync();
  say(`generated 1M entity rows and 3 views of ${HIST_ROWS} rows in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  const registry = await startRegistry(
    dir,
    create(registryV1.ApplyRegistryRequestSchema, {
      project: 'bench',
      entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
      dataSources: [0, 1, 2].map((v) => ({
        name: `source_${v}`,
        timestampField: 'event_ts',
        createdTimestampColumn: 'created_ts',
        kind: { case: 'file' as const, value: { path: file(`view_${v}`), format: registryV1.FileFormat.PARQUET } },
      })),
      featureViews: [0, 1, 2].map((v) => ({
        name: `view_${v}`,
        entities: ['driver'],
        batchSource: `source_${v}`,
        ttl: { seconds: BigInt(7 * 86_400) },
        schema: [
          { name: 'f_a', valueType: T.DOUBLE },
          { name: 'f_b', valueType: T.INT64 },
          { name: 'f_c', valueType: T.DOUBLE },
        ],
      })),
    }),
  );
  const offline = await startLarderApp({
    app: 'offline-retrieval',
    env: {
      LARDER_REGISTRY_ADDRESS: registry.address,
      LARDER_OFFLINE_READ_ROOTS: dir,
      LARDER_OFFLINE_WRITE_ROOT: dir,
      LARDER_PROJECT: 'bench',
      LARDER_METRICS_ENABLED: 'false',
    },
  });
  try {
    const result = await python([py, SCRIPT, 'historical', offline.address, registry.address, file('entities'), file('training')], env);
    for (const [run, r] of Object.entries(result)) {
      records.push({ workload: `historical 1Mx3 service export (${run})`, rows: r['rows'] ?? 0, wall_s: r['export_s'] ?? 0, floor: true });
      records.push({
        workload: `historical 1Mx3 stream drained as bytes (${run})`,
        rows: r['rows'] ?? 0,
        wall_s: r['drain_s'] ?? 0,
        stream_mb: r['stream_mb'] ?? 0,
        floor: true,
      });
      records.push({
        workload: `historical 1Mx3 larder to_df (${run})`,
        rows: r['rows'] ?? 0,
        wall_s: r['client_s'] ?? 0,
        ratio_vs_export: Number((r['client_s']! / r['export_s']!).toFixed(2)),
      });
      records.push({
        workload: `historical 1Mx3 parquet stream drained as bytes (${run})`,
        rows: r['rows'] ?? 0,
        wall_s: r['parquet_drain_s'] ?? 0,
        stream_mb: r['parquet_mb'] ?? 0,
      });
      records.push({
        workload: `historical 1Mx3 parquet stream to_df (${run})`,
        rows: r['rows'] ?? 0,
        wall_s: r['parquet_s'] ?? 0,
        ratio_vs_export: Number((r['parquet_s']! / r['export_s']!).toFixed(2)),
      });
      records.push({ workload: `historical 1Mx3 read exported parquet to pandas (${run})`, rows: r['rows'] ?? 0, wall_s: r['read_s'] ?? 0 });
    }
  } finally {
    await offline.stop(10_000);
    await registry.stop(5_000);
  }
}

export async function runPythonBenchmark(): Promise<BenchRecord[]> {
  const records: BenchRecord[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-bench-python-'));
  try {
    const py = await pythonClientPython();
    const site = path.join(dir, 'site');
    await buildPythonClient(py, site);
    const env = { ...process.env, PYTHONPATH: site };
    say(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    if (PARTS.has('online')) await onlineCases(dir, py, env, records);
    if (PARTS.has('historical')) await historicalCases(dir, py, env, records);
    say(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return records;
}
