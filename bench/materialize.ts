// Materialization benchmark: N entities x 50 features (5 views x 10 DOUBLE) from
// DuckDB over Parquet into Redis (packed and feast layouts) and SQLite, through the
// real materialization service in a child process (its peak RSS and CPU measured
// apart from ours), driven over gRPC. Floor in the same run: redis-benchmark's
// pipelined HSET of the same field count per entity (5 fields of a packed row's size;
// 55 fields for feast's 50 features + 5 `_ts:view` fields).
// Targets (DESIGN.md): >= 150,000 entity rows/s into Redis packed; feast within 80% of
// its floor. An entity row = one entity with all 50 features (its 5 view rows).
// Knobs: LARDER_BENCH_MATERIALIZE_ENTITIES, LARDER_BENCH_MATERIALIZE_CASES=packed,feast,sqlite,floor
// (a subset), LARDER_BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p" (the service's node).
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DuckDBInstance } from '@duckdb/node-api';
import Redis from 'ioredis';
import { materializationV1, registryV1, typesV1 } from '@larder/proto';
import { createClient, runService, SERVICE_NODE_FLAGS } from '@larder/rpc';
import { startRedis } from '@larder/testing';
import { registryService } from '@larder/registry-service';
import type { BenchRecord } from './table';

const T = typesV1.ValueType;
const PROJECT = 'bench';
const VIEWS = 5;
const FEATURES = 10;
const ENTITIES = Number(process.env.LARDER_BENCH_MATERIALIZE_ENTITIES ?? 1_000_000);
const FLOOR_REQUESTS = Number(process.env.LARDER_BENCH_MATERIALIZE_FLOOR_REQUESTS ?? 200_000);
const CASES = new Set((process.env.LARDER_BENCH_MATERIALIZE_CASES ?? 'packed,feast,sqlite,floor').split(','));
const SERVER_NODE_ARGS = process.env.LARDER_BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
export const START = new Date(Date.UTC(2026, 0, 1));
export const END = new Date(Date.UTC(2026, 0, 2));

const viewName = (v: number): string => `view_${v}`;

export function repo(dir: string): registryV1.ApplyRegistryRequest {
  return create(registryV1.ApplyRegistryRequestSchema, {
    project: PROJECT,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: Array.from({ length: VIEWS }, (_, v) => ({
      name: `src_${v}`,
      timestampField: 'event_timestamp',
      kind: { case: 'file' as const, value: { path: path.join(dir, `${viewName(v)}.parquet`), format: registryV1.FileFormat.PARQUET } },
    })),
    featureViews: Array.from({ length: VIEWS }, (_, v) => ({
      name: viewName(v),
      entities: ['driver'],
      batchSource: `src_${v}`,
      schema: Array.from({ length: FEATURES }, (_, f) => ({ name: `f${f}`, valueType: T.DOUBLE })),
    })),
  });
}

/** One Parquet file per view (`view_<v>.parquet` in dir): one row per entity, event times spread over the day. */
export async function generate(dir: string, entities = ENTITIES): Promise<number> {
  const started = Date.now();
  const db = await DuckDBInstance.create();
  const connection = await db.connect();
  for (let v = 0; v < VIEWS; v++) {
    const features = Array.from({ length: FEATURES }, (_, f) => `(random() * ${f + 1})::DOUBLE AS f${f}`).join(', ');
    await connection.run(
      `COPY (SELECT i::BIGINT AS driver_id, TIMESTAMP '2026-01-01' + to_seconds((i % 86000)::BIGINT) AS event_timestamp, ${features}
        FROM range(0, ${entities}) t(i)) TO '${path.join(dir, `${viewName(v)}.parquet`)}' (FORMAT parquet)`,
    );
  }
  connection.closeSync();
  return (Date.now() - started) / 1000;
}

interface Child {
  child: ChildProcess;
  address: string;
  stop(): Promise<void>;
}

function startMaterialization(env: Record<string, string>): Promise<Child> {
  const root = path.join(__dirname, '..');
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...SERVER_NODE_ARGS, '--import', 'tsx', path.join(root, 'apps/materialization/src/main.ts')], {
    cwd: root,
    env: { ...process.env, LARDER_GRPC_HOST: '127.0.0.1', LARDER_GRPC_PORT: '0', LARDER_METRICS_ENABLED: 'false', LARDER_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`materialization exited with ${code} before listening`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const fields = JSON.parse(line) as Record<string, unknown>;
        if (fields['msg'] === 'listening')
          resolve({ child, address: `127.0.0.1:${String(fields['grpcPort'])}`, stop: async () => void (child.kill('SIGTERM'), await exited) });
      } catch {
        // not a log line
      }
    });
  });
}

function procStatus(pid: number, key: string): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${key}:`));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

/** CPU seconds (user + system, every thread) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Calls per command from INFO commandstats (commands run inside Lua scripts included). */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/** Redis's own CPU seconds (user + sys) from INFO cpu. */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
}

const round = (x: number, digits = 0): number => Number(x.toFixed(digits));

/** One job of every view over [START, END] through a materialization service started with env. */
export async function materializeCase(name: string, env: Record<string, string>, redis: Redis | undefined, entities = ENTITIES): Promise<BenchRecord> {
  const server = await startMaterialization(env);
  const client = createClient(materializationV1.MaterializationService, server.address);
  try {
    if (redis) await redis.flushall();
    const before = redis ? await commandCalls(redis) : undefined;
    const redisCpuBefore = redis ? await redisCpuSeconds(redis) : 0;
    const cpuBefore = cpuSeconds(server.child.pid!);
    const started = process.hrtime.bigint();
    const { job } = await client.materialize({ project: PROJECT, startTime: timestampFromDate(START), endTime: timestampFromDate(END) });
    let last: materializationV1.Job | undefined;
    for await (const update of client.watchJob({ jobId: job!.id })) last = update.job;
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    if (last?.state !== materializationV1.JobState.SUCCEEDED)
      throw new Error(`${name}: job ended ${materializationV1.JobState[last?.state ?? 0]}: ${last?.error}`);
    const written = last.views.reduce((n, v) => n + Number(v.rowsWritten), 0);
    if (written !== entities * VIEWS) throw new Error(`${name}: wrote ${written} view rows, expected ${entities * VIEWS}`);
    const record: BenchRecord = {
      workload: name,
      entities,
      features: VIEWS * FEATURES,
      wall_s: round(wall, 2),
      rows_per_s: round(entities / wall),
      view_rows_per_s: round((entities * VIEWS) / wall),
      cpu_s: round(cpuSeconds(server.child.pid!) - cpuBefore, 1),
      peak_rss_mb: round(procStatus(server.child.pid!, 'VmHWM')),
    };
    if (redis && before) {
      record['redis_cpu_s'] = round((await redisCpuSeconds(redis)) - redisCpuBefore, 1);
      const after = await commandCalls(redis);
      let total = 0;
      let client = 0;
      for (const [command, calls] of after) {
        const delta = calls - (before.get(command) ?? 0);
        if (command === 'info' || command === 'flushall') continue;
        total += delta;
        if (command === 'evalsha' || command === 'eval' || command === 'script|load' || command === 'script') client += delta;
      }
      record['redis_cmds_per_row'] = round(client / entities, 2);
      record['redis_cmds_per_row_incl_lua'] = round(total / entities, 2);
    }
    return record;
  } finally {
    client.close();
    await server.stop();
  }
}

/** redis-benchmark's pipelined HSET of `fields` fields of `bytes` bytes each: entity rows/s. */
function hsetFloor(port: number, fields: number, bytes: number): BenchRecord {
  const value = 'x'.repeat(bytes);
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-n',
    String(FLOOR_REQUESTS),
    '-P',
    '64',
    '-c',
    '4',
    '-r',
    String(ENTITIES),
    '-q',
    '--csv',
    'HSET',
    'floor:__rand_int__',
  ];
  for (let f = 0; f < fields; f++) args.push(`f${f}`, value);
  const out = execFileSync('redis-benchmark', args, { encoding: 'utf8' });
  const rps = Number(/"([\d.]+)"/.exec(out.split('\n').filter((l) => l.startsWith('"HSET'))[0] ?? '')?.[1]);
  return { workload: `redis-benchmark HSET ${fields} fields x ${bytes} B, P=64`, floor: true, rows_per_s: round(rps) };
}

export async function runMaterializeBenchmark(): Promise<BenchRecord[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-bench-materialize-'));
  const records: BenchRecord[] = [];
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  const registryLogs: string[] = [];
  const registry = await runService({
    ...registryService,
    argv: [],
    handleSignals: false,
    write: (line) => void registryLogs.push(line),
    env: { LARDER_GRPC_HOST: '127.0.0.1', LARDER_GRPC_PORT: '0', LARDER_METRICS_ENABLED: 'false', LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json') },
  });
  if (!registry) throw new Error(`registry did not start:\n${registryLogs.join('\n')}`);
  try {
    const genS = await generate(dir);
    process.stdout.write(`generated ${ENTITIES} entities x ${VIEWS} views x ${FEATURES} features as Parquet in ${genS.toFixed(1)} s\n`);
    const registryClient = createClient(registryV1.RegistryService, registry.address);
    await registryClient.applyRegistry(repo(dir));
    registryClient.close();
    const common = {
      LARDER_REGISTRY_ADDRESS: registry.address,
      LARDER_OFFLINE_STORE_TYPE: 'duckdb',
      // The Parquet files are in the bench's temporary folder: sources are read only under the read roots.
      LARDER_OFFLINE_READ_ROOTS: dir,
      LARDER_MATERIALIZATION_VIEW_CONCURRENCY: process.env.LARDER_BENCH_MATERIALIZE_VIEW_CONCURRENCY ?? '5',
    };
    const redisEnv = { ...common, LARDER_ONLINE_STORE_TYPE: 'redis', LARDER_REDIS_URL: redisServer.url };
    const cases: [string, string, Record<string, string>, Redis | undefined][] = [
      ['packed', 'duckdb -> redis packed', { ...redisEnv, LARDER_REDIS_LAYOUT: 'packed' }, redis],
      ['feast', 'duckdb -> redis feast', { ...redisEnv, LARDER_REDIS_LAYOUT: 'feast' }, redis],
      ['sqlite', 'duckdb -> sqlite', { ...common, LARDER_ONLINE_STORE_TYPE: 'sqlite', LARDER_ONLINE_STORE_PATH: path.join(dir, 'online.db') }, undefined],
    ];
    for (const [key, name, env, r] of cases) {
      if (!CASES.has(key)) continue;
      const record = await materializeCase(name, env, r);
      process.stdout.write(`${JSON.stringify(record)}\n`);
      records.push(record);
    }
    await redis.flushall();
    if (!CASES.has('floor')) return records;
    // A packed row of 10 doubles is about 120 bytes; a feast field a ~9-byte Value (or a ~6-byte Timestamp).
    for (const [fields, bytes] of [
      [5, 120],
      [55, 9],
    ] as const) {
      const record = hsetFloor(redisServer.port, fields, bytes);
      process.stdout.write(`${JSON.stringify(record)}\n`);
      records.push(record);
    }
  } finally {
    redis.disconnect();
    await registry.shutdown('bench over');
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return records;
}
