// Larder against Feast 0.67 (the feast package from PyPI, in the harness's cached
// virtualenv) on the same box, the same Redis and the same data, in one run, driven by
// the same load generator (bench/loadgen: gRPC for Larder's contract, HTTP POSTs for
// both JSON servers).
//
// Online: 5 views x 10 double features in Feast's Redis layout, written once by Larder
// (Feast reads it as its own: the layout is byte-compatible, see libs/online-store);
// 1x50 and 100x50 at 1 and 32 in flight against `feast serve` (Feast 0.67 ships only
// its Python HTTP server, one worker by default, as Larder's one process) and against
// Larder's gRPC service and HTTP gateway. Each comparison is one record with both
// figures and `ratio` (Larder / Feast for throughput, Feast / Larder for latency, so
// higher is better).
// Materialization and historical retrieval: bench/vs-feast-batch.ts.
// gRPC at more than one call in flight is driven twice: over one HTTP/2 connection (all
// calls multiplexed, as one grpc-go client does) and over one connection per call in
// flight (as a fleet of model servers, each with its own channel, and as the HTTP cases'
// keep-alive sockets); a record's `connections` says which.
// Knobs: LARDER_BENCH_VS_FEAST_ENTITIES (100000), LARDER_BENCH_ONLINE_SECONDS (3),
// LARDER_BENCH_ONLINE_WARMUP (3s), LARDER_BENCH_VS_FEAST_PARTS (online,materialize,historical),
// LARDER_BENCH_VS_FEAST_SHAPES (1x50,100x50), LARDER_BENCH_VS_FEAST_CONCURRENCY (1,32),
// LARDER_BENCH_VS_FEAST_PROFILE_DIR (a CPU profile of Larder's online-serving process goes
// there, and each case prints its CLOCK_MONOTONIC window, `monotonic_us`, to slice it by).
// The batch parts' knobs: bench/vs-feast-batch.ts.
import { create, toBinary } from '@bufbuild/protobuf';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { feastPython, RedisOnlineStore } from '@larder/online-store';
import type { ViewDescriptor } from '@larder/online-store';
import { registryV1, servingV1, typesV1 } from '@larder/proto';
import { createClient, runService, SERVICE_NODE_FLAGS } from '@larder/rpc';
import { startRedis } from '@larder/testing';
import { registryService } from '@larder/registry-service';
import type { BenchRecord } from './table';
import { historicalVsFeast, materializeVsFeast } from './vs-feast-batch';

const T = typesV1.ValueType;
const PROJECT = 'bench';
const VIEWS = 5;
const FEATURES = 10;
const ENTITIES = Number(process.env.LARDER_BENCH_VS_FEAST_ENTITIES ?? 100_000);
const SECONDS = Number(process.env.LARDER_BENCH_ONLINE_SECONDS ?? 3);
const WARMUP = process.env.LARDER_BENCH_ONLINE_WARMUP ?? '3s';
const SHAPE_NAMES = new Set((process.env.LARDER_BENCH_VS_FEAST_SHAPES ?? '1x50,100x50').split(',').map((s) => s.trim()));
const SHAPES = [
  { name: '1x50', entities: 1 },
  { name: '100x50', entities: 100 },
].filter((s) => SHAPE_NAMES.has(s.name));
const CONCURRENCY = (process.env.LARDER_BENCH_VS_FEAST_CONCURRENCY ?? '1,32').split(',').map(Number);
const PROFILE_DIR = process.env.LARDER_BENCH_VS_FEAST_PROFILE_DIR ?? '';
const PARTS = new Set((process.env.LARDER_BENCH_VS_FEAST_PARTS ?? 'online,materialize,historical').split(',').map((p) => p.trim()));
/** Distinct requests per shape, sent round-robin. */
const REQUESTS = 1024;
const ROOT = path.join(__dirname, '..');
/** The script that applies a repo with Feast's FeatureStore and execs `feast serve` (shared with the parity spec). */
const FEAST_SERVER = path.join(ROOT, 'apps', 'online-serving', 'test', 'feast_server.py');

const viewName = (v: number): string => `view_${v}`;
const featureName = (f: number): string => `f${f}`;
const descriptor = (v: number): ViewDescriptor => ({
  project: PROJECT,
  name: viewName(v),
  joinKeys: ['driver_id'],
  features: Array.from({ length: FEATURES }, (_, f) => ({ name: featureName(f), type: T.DOUBLE })),
});

function larderRepo(): registryV1.ApplyRegistryRequest {
  return create(registryV1.ApplyRegistryRequestSchema, {
    project: PROJECT,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [{ name: 'src', timestampField: 'ts', kind: { case: 'file', value: { path: 'x.parquet', format: registryV1.FileFormat.PARQUET } } }],
    featureViews: Array.from({ length: VIEWS }, (_, v) => ({
      name: viewName(v),
      entities: ['driver'],
      batchSource: 'src',
      ttl: { seconds: 86_400n * 365n },
      schema: Array.from({ length: FEATURES }, (_, f) => ({ name: featureName(f), valueType: T.DOUBLE })),
    })),
  });
}

/** Feast's view of the same repo, for feast_server.py. */
function feastRepo(repo: string, redis: string, port: number): unknown {
  return {
    repo,
    project: PROJECT,
    redis,
    port,
    entities: [{ name: 'driver', join_key: 'driver_id', type: 'INT64' }],
    views: Array.from({ length: VIEWS }, (_, v) => ({
      name: viewName(v),
      entities: ['driver'],
      ttl_s: 86_400 * 365,
      features: Array.from({ length: FEATURES }, (_, f) => ({ name: featureName(f), type: 'DOUBLE' })),
    })),
    services: [],
    // Feast recycles its worker every 1,000 requests by default, dropping the calls in flight; not while measured.
    serve_args: ['--max-requests', '1000000000'],
  };
}

async function load(url: string): Promise<void> {
  const store = new RedisOnlineStore({ url, layout: 'feast', writeTimeoutMs: 60_000 });
  const now = Date.now();
  const BATCH = 2_000;
  for (let from = 0; from < ENTITIES; from += BATCH) {
    const size = Math.min(BATCH, ENTITIES - from);
    const ids = Array.from({ length: size }, (_, i) => BigInt(from + i));
    const rowOf = Int32Array.from({ length: size }, (_, i) => i);
    const eventTs = new Float64Array(size).fill(now);
    const columns = Array.from({ length: FEATURES }, (_, f) => Float64Array.from({ length: size }, (_, i) => from + i + f / 10));
    await store.writeEntities({
      size,
      joinKeys: ['driver_id'],
      keyColumns: [ids],
      views: Array.from({ length: VIEWS }, (_, v) => ({ view: descriptor(v), eventTs, columns, rowOf })),
    });
  }
  await store.close();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Larder {
  child: ChildProcess;
  grpc: string;
  http: string;
  stop(): Promise<void>;
}

/** Larder's online serving in its own node process, gRPC and the HTTP gateway on free ports. */
function startLarder(env: Record<string, string>): Promise<Larder> {
  const profile = PROFILE_DIR === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`];
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...profile, '--import', 'tsx', path.join(ROOT, 'apps/online-serving/src/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      LARDER_GRPC_HOST: '127.0.0.1',
      LARDER_GRPC_PORT: '0',
      LARDER_HTTP_HOST: '127.0.0.1',
      LARDER_HTTP_PORT: '0',
      LARDER_METRICS_ENABLED: 'false',
      LARDER_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let http = '';
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`online-serving exited with ${code} before listening`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const fields = JSON.parse(line) as Record<string, unknown>;
        if (fields['msg'] === 'http gateway listening') http = String(fields['http']);
        if (fields['msg'] === 'listening')
          resolve({ child, grpc: `127.0.0.1:${String(fields['grpcPort'])}`, http, stop: async () => void (child.kill('SIGTERM'), await exited) });
      } catch {
        // not a log line
      }
    });
  });
}

interface Feast {
  url: string;
  stop(): Promise<void>;
}

/** `feast serve` over the same Redis, after Feast's own apply of the same definitions. */
async function startFeast(python: string, dir: string, redisUrl: string): Promise<Feast> {
  const port = await freePort();
  const redis = new URL(redisUrl);
  const child = spawn(python, [FEAST_SERVER], { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
  let log = '';
  child.stderr.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-8000)));
  child.stdin.end(JSON.stringify(feastRepo(dir, `${redis.hostname}:${redis.port}`, port)));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const until = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`feast serve exited with ${child.exitCode}: ${log}`);
    if (Date.now() > until) throw new Error(`feast serve did not become healthy: ${log}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { url, stop: async () => void (process.kill(-(child.pid as number), 'SIGTERM'), await exited) };
}

interface Measured {
  p50_ms: number;
  p99_ms: number;
  rps: number;
}

function buildLoadgen(): string {
  const out = path.join(process.env.LARDER_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'larder'), 'go-bin', 'larder-loadgen');
  execFileSync('go', ['build', '-o', out, '.'], {
    cwd: path.join(__dirname, 'loadgen'),
    env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return out;
}

function lengthPrefixed(requests: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const request of requests) {
    const size = Buffer.alloc(4);
    size.writeUInt32BE(request.length);
    parts.push(size, request);
  }
  return Buffer.concat(parts);
}

/** One loadgen run: `target` is host:port with a gRPC method (over `conns` connections), or an http:// URL. */
async function drive(
  binary: string,
  file: string,
  target: { grpc: string; method: string; conns: number } | { http: string },
  concurrency: number,
): Promise<Measured> {
  const args = 'http' in target ? ['-http', target.http] : ['-target', target.grpc, '-method', target.method, '-conns', String(target.conns)];
  // CLOCK_MONOTONIC (what V8's profiler stamps samples with), to cut this case out of a whole-process profile.
  const from = process.hrtime.bigint() / 1000n;
  const line = await new Promise<string>((resolve, reject) => {
    const child = spawn(binary, [...args, '-requests', file, '-concurrency', String(concurrency), '-duration', `${SECONDS}s`, '-warmup', WARMUP], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`loadgen exited with ${code}`))));
  });
  const m = JSON.parse(line) as Measured;
  if (PROFILE_DIR !== '') process.stdout.write(`monotonic_us ${from} ${process.hrtime.bigint() / 1000n} ${args.join(' ')} -concurrency ${concurrency}\n`);
  return { p50_ms: m.p50_ms, p99_ms: m.p99_ms, rps: m.rps };
}

const round = (n: number): number => Number(n.toFixed(2));

/** Load average over the last minute: the box is shared, and the figures mean little without it. */
const load1 = (): number => Number(os.loadavg()[0]?.toFixed(1));

/** The two records of one comparison: throughput and p99 latency, each with its ratio. */
function compare(workload: string, concurrency: number, larder: string, connections: number, ours: Measured, feast: Measured): BenchRecord[] {
  return [
    {
      workload,
      concurrency,
      larder,
      connections,
      metric: 'rps',
      larder_value: ours.rps,
      feast_value: feast.rps,
      ratio: round(ours.rps / feast.rps),
      load1: load1(),
    },
    {
      workload,
      concurrency,
      larder,
      connections,
      metric: 'p99_ms',
      larder_value: ours.p99_ms,
      feast_value: feast.p99_ms,
      ratio: round(feast.p99_ms / ours.p99_ms),
      larder_p50_ms: ours.p50_ms,
      feast_p50_ms: feast.p50_ms,
    },
  ];
}

async function online(records: BenchRecord[], dir: string, python: string): Promise<void> {
  const redis = await startRedis();
  const registry = await runService({
    ...registryService,
    env: {
      LARDER_GRPC_HOST: '127.0.0.1',
      LARDER_GRPC_PORT: '0',
      LARDER_METRICS_ENABLED: 'false',
      LARDER_LOG_LEVEL: 'warn',
      LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'),
    },
    argv: [],
    handleSignals: false,
    write: () => undefined,
  });
  if (registry === undefined) throw new Error('registry did not start');
  let larder: Larder | undefined;
  let feast: Feast | undefined;
  try {
    const registryClient = createClient(registryV1.RegistryService, registry.address);
    await registryClient.applyRegistry(larderRepo());
    registryClient.close();
    await load(redis.url);
    process.stdout.write(`loaded ${ENTITIES} entities x ${VIEWS} views x ${FEATURES} features in the feast layout\n`);
    const binary = buildLoadgen();
    larder = await startLarder({
      LARDER_REGISTRY_ADDRESS: registry.address,
      LARDER_ONLINE_STORE_TYPE: 'redis',
      LARDER_REDIS_URL: redis.url,
      LARDER_REDIS_LAYOUT: 'feast',
      LARDER_PROJECT: PROJECT,
      LARDER_SERVING_STORE_TIMEOUT: '30s',
    });
    feast = await startFeast(python, path.join(dir, 'feast-repo'), redis.url);
    const refs: string[] = [];
    for (let v = 0; v < VIEWS; v++) for (let f = 0; f < FEATURES; f++) refs.push(`${viewName(v)}:${featureName(f)}`);
    for (const shape of SHAPES) {
      const ids = (i: number) => Array.from({ length: shape.entities }, (_, e) => (i * 7919 + e * 104_729) % ENTITIES);
      const json = Array.from({ length: REQUESTS }, (_, i) =>
        Buffer.from(JSON.stringify({ features: refs, entities: { driver_id: ids(i) }, full_feature_names: true })),
      );
      const grpc = Array.from({ length: REQUESTS }, (_, i) =>
        Buffer.from(
          toBinary(
            servingV1.GetOnlineFeaturesRequestSchema,
            create(servingV1.GetOnlineFeaturesRequestSchema, {
              kind: { case: 'features', value: { val: refs } },
              entities: { driver_id: { val: ids(i).map((id) => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(id) } })) } },
              fullFeatureNames: true,
            }),
          ),
        ),
      );
      const jsonFile = path.join(dir, `${shape.name}.json.bin`);
      const grpcFile = path.join(dir, `${shape.name}.grpc.bin`);
      await writeFile(jsonFile, lengthPrefixed(json));
      await writeFile(grpcFile, lengthPrefixed(grpc));
      // Both answer the same values before anything is timed.
      const probe = { method: 'POST', headers: { 'content-type': 'application/json' }, body: (json[1] as Buffer).toString() };
      // By column name: Feast 0.67 does not keep the request's order of a view's features.
      type Body = { metadata: { feature_names: string[] }; results: { values: unknown[]; statuses: string[] }[] };
      const byName = (b: Body) => Object.fromEntries(b.metadata.feature_names.map((n, i) => [n, b.results[i]])) as Record<string, unknown>;
      const sorted = (o: Record<string, unknown>) =>
        JSON.stringify(
          Object.keys(o)
            .sort()
            .map((k) => [k, o[k]]),
        );
      const theirs = byName((await (await fetch(`${feast.url}/get-online-features`, probe)).json()) as Body);
      const ours = byName((await (await fetch(`${larder.http}/get-online-features`, probe)).json()) as Body);
      if (sorted(theirs) !== sorted(ours) || JSON.stringify(ours).includes('NOT_FOUND')) {
        throw new Error(`Feast and Larder answer ${shape.name} differently: ${sorted(theirs).slice(0, 300)} vs ${sorted(ours).slice(0, 300)}`);
      }
      for (const concurrency of CONCURRENCY) {
        const workload = `online-${shape.name}`;
        // A server that fails under the load is recorded as failing, and the run goes on.
        const attempt = async (who: string, run: () => Promise<Measured>): Promise<Measured | undefined> => {
          try {
            return await run();
          } catch (error) {
            records.push({ workload, concurrency, server: who, error: (error as Error).message });
            return undefined;
          }
        };
        const f = await attempt('feast-http', () => drive(binary, jsonFile, { http: `${feast!.url}/get-online-features` }, concurrency));
        const method = `/${servingV1.OnlineServingService.typeName}/GetOnlineFeatures`;
        const grpcConns = concurrency > 1 ? [1, concurrency] : [1];
        const g = [];
        for (const conns of grpcConns) {
          g.push({ conns, m: await attempt(`larder-grpc-${conns}-conn`, () => drive(binary, grpcFile, { grpc: larder!.grpc, method, conns }, concurrency)) });
        }
        const h = await attempt('larder-http', () => drive(binary, jsonFile, { http: `${larder!.http}/get-online-features` }, concurrency));
        const grpcText = g.map(({ conns, m }) => `larder grpc (${conns} conn) ${JSON.stringify(m)}`).join(' ');
        process.stdout.write(`online ${shape.name} c=${concurrency}: feast http ${JSON.stringify(f)} ${grpcText} larder http ${JSON.stringify(h)}\n`);
        for (const { conns, m } of g) if (f !== undefined && m !== undefined) records.push(...compare(workload, concurrency, 'grpc', conns, m, f));
        if (f !== undefined && h !== undefined) records.push(...compare(workload, concurrency, 'http', concurrency, h, f));
      }
    }
  } finally {
    await feast?.stop();
    await larder?.stop();
    await registry.shutdown('bench over');
    await redis.stop();
  }
}

export async function runVsFeastBenchmark(): Promise<BenchRecord[]> {
  const records: BenchRecord[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-bench-vs-feast-'));
  try {
    const python = await feastPython();
    if (PARTS.has('online')) await online(records, dir, python);
    if (PARTS.has('materialize')) await materializeVsFeast(records, dir, python);
    if (PARTS.has('historical')) await historicalVsFeast(records, dir, python);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return records;
}
