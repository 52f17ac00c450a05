// Online serving benchmark: GetOnlineFeatures over gRPC against a server in a child
// process (so its CPU is measured apart from the load generator's), on a private Redis
// in both layouts. Shapes: entities x features (1x50 = 5 views x 10 features). Floors in
// the same run: an empty unary call to a bare grpc-js server in its own process (the
// transport), the same against the serving app's health Check (plus our rpc adapter), and
// raw ioredis HMGETs of the same fields.
// Knobs (for profiling one case; a partial run still overwrites bench/results/online.json):
// LARDER_BENCH_ONLINE_LAYOUTS=packed,feast  LARDER_BENCH_ONLINE_SHAPES=1x50,...
// LARDER_BENCH_ONLINE_CONCURRENCY=1,32  LARDER_BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p"
// LARDER_BENCH_ONLINE_SECONDS=3 (measured per case)  LARDER_BENCH_ONLINE_WARMUP=3s (unmeasured, Go duration)
// LARDER_BENCH_SERVER_STDOUT=FILE (append the server's stdout there, e.g. with --trace-gc-nvp)
// Targets (DESIGN.md, packed): 1x50 p99 <= 1 ms at concurrency 1; >= 5,000 req/s at 32 in
// flight; 100x50 p99 <= 8 ms.
import { create, toBinary } from '@bufbuild/protobuf';
import { Client, credentials } from '@grpc/grpc-js';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import Redis from 'ioredis';
import { feastFeatureField, RedisOnlineStore, serializeEntityKey } from '@larder/online-store';
import type { ViewDescriptor } from '@larder/online-store';
import { healthV1, registryV1, servingV1, tfmdV0, typesV1 } from '@larder/proto';
import { createClient, runService, SERVICE_NODE_FLAGS } from '@larder/rpc';
import { startRedis, TestIssuer } from '@larder/testing';
import { registryService } from '@larder/registry-service';
import type { BenchRecord } from './table';

const T = typesV1.ValueType;
const PROJECT = 'bench';
const VIEWS = 25;
const FEATURES = 10;
const ENTITIES = Number(process.env.LARDER_BENCH_ONLINE_ENTITIES ?? 1_000_000);
/** Views 5.. exist only for the 1x250 shape; they are loaded for the first WIDE_ENTITIES entities. */
const WIDE_ENTITIES = 10_000;
const SECONDS = Number(process.env.LARDER_BENCH_ONLINE_SECONDS ?? 3);
// Unmeasured calls first, long enough for the server's hot paths to be optimized: the targets are steady-state figures.
const WARMUP = process.env.LARDER_BENCH_ONLINE_WARMUP ?? '3s';
const list = (name: string): string[] | undefined =>
  process.env[name]
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const SHAPES = [
  { name: '1x50', entities: 1, views: 5 },
  { name: '10x50', entities: 10, views: 5 },
  { name: '100x50', entities: 100, views: 5 },
  { name: '1x250', entities: 1, views: 25 },
].filter((s) => list('LARDER_BENCH_ONLINE_SHAPES')?.includes(s.name) ?? true);
const CONCURRENCY = (list('LARDER_BENCH_ONLINE_CONCURRENCY') ?? ['1', '32']).map(Number);
const LAYOUTS = (['packed', 'feast'] as const).filter((l) => list('LARDER_BENCH_ONLINE_LAYOUTS')?.includes(l) ?? true);
const SERVER_NODE_ARGS = process.env.LARDER_BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
/** Requests are encoded before timing, this many per shape, and sent round-robin. */
const ENCODED_REQUESTS = 4096;

const viewName = (v: number): string => `view_${v}`;
const featureName = (f: number): string => `f${f}`;

function descriptor(v: number): ViewDescriptor {
  return {
    project: PROJECT,
    name: viewName(v),
    joinKeys: ['driver_id'],
    features: Array.from({ length: FEATURES }, (_, f) => ({ name: featureName(f), type: T.DOUBLE })),
  };
}

function repo(): registryV1.ApplyRegistryRequest {
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

const int64 = (n: number): typesV1.Value => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(n) } });

/**
 * Loads the entities through the store's per-entity write (one compare-and-set per entity
 * for all its views, as materialization writes): views 0-4 for every entity, views 5-24
 * for the first WIDE_ENTITIES.
 */
async function load(url: string, layout: 'packed' | 'feast'): Promise<number> {
  const store = new RedisOnlineStore({ url, layout, writeTimeoutMs: 60_000 });
  const started = Date.now();
  const now = Date.now();
  const BATCH = 2_000;
  const tasks: (() => Promise<unknown>)[] = [];
  const batch = (from: number, to: number, views: readonly number[]) => () => {
    const size = to - from;
    const ids = new Array<bigint>(size);
    const rowOf = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      ids[i] = BigInt(from + i);
      rowOf[i] = i;
    }
    const eventTs = new Float64Array(size).fill(now);
    const columns = Array.from({ length: FEATURES }, (_, f) => Float64Array.from({ length: size }, (_, i) => from + i + f / 10));
    return store.writeEntities({
      size,
      joinKeys: ['driver_id'],
      keyColumns: [ids],
      views: views.map((v) => ({ view: descriptor(v), eventTs, columns, rowOf })),
    });
  };
  const narrow = [0, 1, 2, 3, 4];
  const wide = Array.from({ length: VIEWS - 5 }, (_, v) => v + 5);
  for (let from = 0; from < ENTITIES; from += BATCH) tasks.push(batch(from, Math.min(ENTITIES, from + BATCH), narrow));
  for (let from = 0; from < WIDE_ENTITIES; from += BATCH) tasks.push(batch(from, Math.min(WIDE_ENTITIES, from + BATCH), wide));
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < tasks.length) await (tasks[next++] as () => Promise<unknown>)();
    }),
  );
  await store.close();
  return (Date.now() - started) / 1000;
}

interface Server {
  child: ChildProcess;
  address: string;
  stop(): Promise<void>;
}

/** The serving app (or the bare floor server) in its own node process (no tsx wrapper process, so the pid is the server). */
function startServer(env: Record<string, string>, script = 'apps/online-serving/src/main.ts'): Promise<Server> {
  const root = path.join(__dirname, '..');
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...SERVER_NODE_ARGS, '--import', 'tsx', path.join(root, script)], {
    cwd: root,
    env: {
      ...process.env,
      LARDER_GRPC_HOST: '127.0.0.1',
      LARDER_GRPC_PORT: '0',
      LARDER_METRICS_ENABLED: 'false',
      LARDER_HTTP_ENABLED: 'false',
      LARDER_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`online-serving exited with ${code} before listening`)));
    const tee = process.env.LARDER_BENCH_SERVER_STDOUT;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (tee) appendFileSync(tee, `${line}\n`);
      try {
        const fields = JSON.parse(line) as Record<string, unknown>;
        if (fields['msg'] === 'listening') {
          resolve({ child, address: `127.0.0.1:${String(fields['grpcPort'])}`, stop: async () => void (child.kill('SIGTERM'), await exited) });
        }
      } catch {
        // not a log line
      }
    });
  });
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Measured {
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  rps: number;
  calls: number;
  server_cpu_pct?: number;
}

/**
 * A unary client that sends bytes encoded before the timing starts and leaves the
 * response as bytes. Encoding requests and decoding a 100 x 50 response with
 * protobuf-es cost the load generator more than the server spends on the call, and it
 * shares the two cores with the server, so the timed calls skip both; the first call of
 * each shape is decoded and checked.
 */
function bytesClient(address: string): { call(method: string, request: Buffer): Promise<Buffer>; close(): void } {
  const grpc = new Client(address, credentials.createInsecure());
  const identity = (bytes: Buffer): Buffer => bytes;
  return {
    call: (method, request) =>
      new Promise((resolve, reject) => {
        grpc.makeUnaryRequest(method, identity, identity, request, (error, bytes) => (error ? reject(error) : resolve(bytes as Buffer)));
      }),
    close: () => grpc.close(),
  };
}

const GET_ONLINE_FEATURES = `/${servingV1.OnlineServingService.typeName}/GetOnlineFeatures`;
const HEALTH_CHECK = `/${healthV1.Health.typeName}/Check`;

/**
 * Builds bench/loadgen (Go, grpc-go) into the harness cache. The gRPC cases are driven by
 * it: a grpc-js client on the same two cores spends more CPU per call than the server
 * under test (the bare-server floor showed it: ~4,400 calls/s at 32 in flight with the
 * server 35% busy), so a Node load generator measures itself.
 */
function buildLoadgen(): string {
  const out = path.join(process.env.LARDER_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'larder'), 'go-bin', 'larder-loadgen');
  execFileSync('go', ['build', '-o', out, '.'], {
    cwd: path.join(__dirname, 'loadgen'),
    env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return out;
}

/** u32 big-endian length, then the message, per request: the loadgen's input. */
function lengthPrefixed(requests: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const request of requests) {
    const size = Buffer.alloc(4);
    size.writeUInt32BE(request.length);
    parts.push(size, request);
  }
  return Buffer.concat(parts);
}

interface Loadgen {
  /** With `bearer`, every call carries `authorization: Bearer <bearer>`. */
  run(address: string, method: string, requests: readonly Buffer[], concurrency: number, pid?: number, bearer?: string): Promise<Measured>;
}

function loadgen(binary: string, dir: string): Loadgen {
  let files = 0;
  return {
    async run(address, method, requests, concurrency, pid, bearer) {
      const file = path.join(dir, `requests-${++files}.bin`);
      await writeFile(file, lengthPrefixed(requests));
      const cpu0 = pid === undefined ? 0 : cpuSeconds(pid);
      const started = process.hrtime.bigint();
      const line = await new Promise<string>((resolve, reject) => {
        const child = spawn(
          binary,
          [
            '-target',
            address,
            '-method',
            method,
            '-requests',
            file,
            '-concurrency',
            String(concurrency),
            '-duration',
            `${SECONDS}s`,
            '-warmup',
            WARMUP,
            ...(bearer === undefined ? [] : ['-bearer', bearer]),
          ],
          {
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`loadgen exited with ${code}`))));
      });
      const measured = JSON.parse(line) as Measured;
      // Server CPU over the loadgen's whole run (warm-up included), as a share of that time.
      if (pid !== undefined) measured.server_cpu_pct = Math.round(((cpuSeconds(pid) - cpu0) / (Number(process.hrtime.bigint() - started) / 1e9)) * 100);
      return measured;
    },
  };
}

/** The bare grpc-js floor: empty unary calls to a server with no Larder code in it. */
async function transportFloor(records: BenchRecord[], go: Loadgen): Promise<void> {
  const server = await startServer({}, 'bench/grpc-floor-server.ts');
  const client = bytesClient(server.address);
  const empty = Buffer.alloc(0);
  try {
    for (const concurrency of CONCURRENCY) {
      const m = await go.run(server.address, '/bench.Floor/Empty', [empty], concurrency, server.child.pid);
      records.push({ workload: 'grpc-js-bare-server-empty', client: 'go', concurrency, ...m, floor: true });
      process.stdout.write(`grpc-js-bare-server-empty go c=${concurrency}: ${JSON.stringify(m)}\n`);
      const node = await measure(() => client.call('/bench.Floor/Empty', empty), concurrency, SECONDS, server.child.pid);
      records.push({ workload: 'grpc-js-bare-server-empty', client: 'node', concurrency, ...node, floor: true });
      process.stdout.write(`grpc-js-bare-server-empty node c=${concurrency}: ${JSON.stringify(node)}\n`);
    }
  } finally {
    client.close();
    await server.stop();
  }
}

function servingRequest(init: Parameters<typeof create<typeof servingV1.GetOnlineFeaturesRequestSchema>>[1]): Uint8Array {
  return toBinary(servingV1.GetOnlineFeaturesRequestSchema, create(servingV1.GetOnlineFeaturesRequestSchema, init));
}

function percentile(sorted: Float64Array, p: number): number {
  return Number((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0).toFixed(3));
}

/** Runs `call` from `concurrency` loops for `seconds` (after a short warm-up) and returns latency percentiles and throughput. */
async function measure(call: (i: number) => Promise<unknown>, concurrency: number, seconds: number, pid?: number): Promise<Measured> {
  const warmUntil = Date.now() + 500;
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < warmUntil) await call(i++);
    }),
  );
  const latencies: number[] = [];
  const cpu0 = pid === undefined ? 0 : cpuSeconds(pid);
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const t0 = process.hrtime.bigint();
        if (t0 >= end) return;
        await call(i++);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const sorted = Float64Array.from(latencies).sort();
  const out: Measured = {
    p50_ms: percentile(sorted, 0.5),
    p99_ms: percentile(sorted, 0.99),
    p999_ms: percentile(sorted, 0.999),
    rps: Math.round(latencies.length / wall),
    calls: latencies.length,
  };
  if (pid !== undefined) out.server_cpu_pct = Math.round(((cpuSeconds(pid) - cpu0) / wall) * 100);
  return out;
}

/**
 * A shared cluster's permission set for the bench project: 200 permissions of 40 teams
 * (globs, required tags, roles, namespaces, service accounts), then the grant the bench's
 * caller uses, last.
 */
function benchPermissions(): registryV1.Permission[] {
  const { Action: A, ObjectKind: K } = registryV1;
  const out: registryV1.Permission[] = [];
  for (let i = 0; i < 200; i++) {
    const team = `team${i % 40}`;
    out.push(
      create(registryV1.PermissionSchema, {
        name: `perm-${i}`,
        types: i % 3 === 0 ? [K.FEATURE_VIEW, K.FEATURE_SERVICE] : i % 3 === 1 ? [K.FEATURE_VIEW] : [],
        namePatterns: i % 4 === 0 ? [`${team}_*`] : i % 4 === 1 ? [`*_${team}`, `${team}_v?_*`] : i % 4 === 2 ? [`${team}_*_stats*`] : [],
        requiredTags: i % 5 === 0 ? { team } : {},
        actions: i % 2 === 0 ? [A.DESCRIBE, A.READ_ONLINE] : [A.READ_OFFLINE, A.MATERIALIZE, A.WRITE_ONLINE],
        policy: {
          roles: [`${team}-readers`, `${team}-admins`],
          namespaces: i % 7 === 0 ? [`ns-${team}`] : [],
          serviceAccounts: i % 11 === 0 ? [`serving/${team}-model`] : [],
        },
      }),
    );
  }
  out.push(
    create(registryV1.PermissionSchema, {
      name: 'bench-models-read',
      types: [K.FEATURE_VIEW],
      namePatterns: ['view_*'],
      actions: [A.READ_ONLINE],
      policy: { roles: ['bench-models'] },
    }),
  );
  return out;
}

/** Rounds of the alternating auth comparison (each SECONDS long, per concurrency). */
const AUTH_ROUNDS = Number(process.env.LARDER_BENCH_ONLINE_AUTH_ROUNDS ?? 3);

/**
 * 1x50 with authentication and authorization on, against the same 1x50 without them.
 * Both servers are started the same way, one after the other, once the registry holds the
 * permissions, and measured in alternating rounds (off, on, off, on, ...): a serving process
 * started later in a run was measured slower on its own (bench/RESULTS.md, runs E and F),
 * so comparing against the first server of the run measured the run's order, not auth.
 * The auth server verifies an OIDC bearer token (cached after the first call) and checks
 * read_online against the permissions above on every call.
 */
async function authOnline(records: BenchRecord[], go: Loadgen, registryAddress: string, redisUrl: string, layout: (typeof LAYOUTS)[number]): Promise<void> {
  const issuer = await TestIssuer.start();
  const registry = createClient(registryV1.RegistryService, registryAddress);
  await registry.applyRegistry({ project: PROJECT, permissions: benchPermissions() });
  registry.close();
  const common = {
    LARDER_REGISTRY_ADDRESS: registryAddress,
    LARDER_ONLINE_STORE_TYPE: 'redis',
    LARDER_REDIS_URL: redisUrl,
    LARDER_REDIS_LAYOUT: layout,
    LARDER_PROJECT: PROJECT,
  };
  const off = await startServer(common);
  const on = await startServer({ ...common, LARDER_AUTH_MODES: 'oidc', LARDER_AUTH_OIDC_ISSUER: issuer.issuer, LARDER_AUTH_OIDC_AUDIENCES: 'larder' });
  const token = await issuer.issue({ sub: 'model-server', groups: ['bench-models'], expiresIn: 3600 });
  const offClient = createClient(servingV1.OnlineServingService, off.address);
  const onClient = createClient(servingV1.OnlineServingService, on.address, { token });
  try {
    const refs: string[] = [];
    for (let v = 0; v < 5; v++) for (let f = 0; f < FEATURES; f++) refs.push(`${viewName(v)}:${featureName(f)}`);
    const request = (i: number) => ({
      fullFeatureNames: true,
      kind: { case: 'features' as const, value: { val: refs } },
      entities: { driver_id: { val: [int64((i * 7919) % ENTITIES)] } },
    });
    // Each server's copy has the permissions once the caller's read goes through.
    for (const client of [offClient, onClient]) {
      for (let attempt = 0; ; attempt++) {
        try {
          if ((await client.getOnlineFeatures(request(1))).results.length === refs.length + 1) break;
        } catch (error) {
          if (attempt > 200) throw error;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const encoded = Array.from({ length: ENCODED_REQUESTS }, (_, i) => Buffer.from(servingRequest(request(i))));
    const cases = [
      { workload: '1x50-auth-off', server: off, bearer: undefined, auth: 'none (same run, alternating)' },
      { workload: '1x50-auth', server: on, bearer: token, auth: 'oidc, 201 permissions' },
    ];
    for (const concurrency of CONCURRENCY) {
      for (let round = 1; round <= AUTH_ROUNDS; round++) {
        for (const c of round % 2 === 1 ? cases : [...cases].reverse()) {
          const m = await go.run(c.server.address, GET_ONLINE_FEATURES, encoded, concurrency, c.server.child.pid, c.bearer);
          records.push({ workload: c.workload, client: 'go', layout, concurrency, round, auth: c.auth, ...m });
          process.stdout.write(`${layout} ${c.workload} round ${round} go c=${concurrency}: ${JSON.stringify(m)}\n`);
        }
      }
    }
  } finally {
    offClient.close();
    onClient.close();
    await off.stop();
    await on.stop();
    await issuer.close();
  }
}

/** Rounds of the alternating value-counter comparison (each SECONDS long, per concurrency). */
const VALUE_METRICS_ROUNDS = Number(process.env.LARDER_BENCH_ONLINE_VALUE_METRICS_ROUNDS ?? 3);

/**
 * 1x50 with serving's per-feature schema counters (out of domain, missing, stale) against
 * the same server with them switched off (LARDER_SERVING_VALUE_METRICS=false), after the
 * five views read get a TFDV schema: a float domain on every feature, narrow enough that
 * about half of the served values fall outside it (each value is checked and counted).
 * Two servers started alike, measured in alternating rounds, as for auth.
 */
async function valueMetricsOnline(
  records: BenchRecord[],
  go: Loadgen,
  registryAddress: string,
  redisUrl: string,
  layout: (typeof LAYOUTS)[number],
): Promise<void> {
  const registry = createClient(registryV1.RegistryService, registryAddress);
  const schema = create(tfmdV0.SchemaSchema, {
    feature: Array.from({ length: FEATURES }, (_, f) => ({
      name: featureName(f),
      type: tfmdV0.FeatureType.FLOAT,
      domainInfo: { case: 'floatDomain' as const, value: { min: 0, max: ENTITIES / 2 } },
    })),
  });
  const validation = create(registryV1.FeatureViewValidationSchema, { schema });
  const views = repo()
    .featureViews.slice(0, 5)
    .map((view) => ({ ...view, validation }));
  await registry.applyRegistry({ project: PROJECT, featureViews: views });
  registry.close();
  // Both with their /metrics endpoint (the gRPC counters are kept either way), as deployed.
  const common = {
    LARDER_REGISTRY_ADDRESS: registryAddress,
    LARDER_ONLINE_STORE_TYPE: 'redis',
    LARDER_REDIS_URL: redisUrl,
    LARDER_REDIS_LAYOUT: layout,
    LARDER_PROJECT: PROJECT,
    LARDER_METRICS_ENABLED: 'true',
    LARDER_METRICS_HOST: '127.0.0.1',
    LARDER_METRICS_PORT: '0',
  };
  const off = await startServer({ ...common, LARDER_SERVING_VALUE_METRICS: 'false' });
  const on = await startServer({ ...common, LARDER_SERVING_VALUE_METRICS: 'true' });
  try {
    const refs: string[] = [];
    for (let v = 0; v < 5; v++) for (let f = 0; f < FEATURES; f++) refs.push(`${viewName(v)}:${featureName(f)}`);
    const request = (i: number) => ({
      fullFeatureNames: true,
      kind: { case: 'features' as const, value: { val: refs } },
      entities: { driver_id: { val: [int64((i * 7919) % ENTITIES)] } },
    });
    const encoded = Array.from({ length: ENCODED_REQUESTS }, (_, i) => Buffer.from(servingRequest(request(i))));
    const cases = [
      { workload: '1x50-value-metrics-off', server: off, counters: 'off (same run, alternating)' },
      { workload: '1x50-value-metrics', server: on, counters: 'on, 50 features with a float domain' },
    ];
    for (const concurrency of CONCURRENCY) {
      for (let round = 1; round <= VALUE_METRICS_ROUNDS; round++) {
        for (const c of round % 2 === 1 ? cases : [...cases].reverse()) {
          const m = await go.run(c.server.address, GET_ONLINE_FEATURES, encoded, concurrency, c.server.child.pid);
          records.push({ workload: c.workload, client: 'go', layout, concurrency, round, counters: c.counters, ...m });
          process.stdout.write(`${layout} ${c.workload} round ${round} go c=${concurrency}: ${JSON.stringify(m)}\n`);
        }
      }
    }
  } finally {
    await off.stop();
    await on.stop();
  }
}

export async function runOnlineBenchmark(): Promise<BenchRecord[]> {
  const records: BenchRecord[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-bench-online-'));
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
  const registryClient = createClient(registryV1.RegistryService, registry.address);
  await registryClient.applyRegistry(repo());
  registryClient.close();
  const raw = new Redis(redis.url);
  try {
    const go = loadgen(buildLoadgen(), dir);
    await transportFloor(records, go);
    for (const layout of LAYOUTS) {
      await raw.flushall();
      const loadS = await load(redis.url, layout);
      const info = await raw.info('memory');
      const usedMb = Math.round(Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 1e6);
      process.stdout.write(
        `loaded ${ENTITIES} entities x 5 views (+${WIDE_ENTITIES} x ${VIEWS - 5}) in the ${layout} layout in ${loadS.toFixed(1)} s; redis ${usedMb} MB\n`,
      );
      records.push({ workload: `load-${layout}`, entities: ENTITIES, wall_s: Number(loadS.toFixed(1)), redis_mb: usedMb });

      const server = await startServer({
        LARDER_REGISTRY_ADDRESS: registry.address,
        LARDER_ONLINE_STORE_TYPE: 'redis',
        LARDER_REDIS_URL: redis.url,
        LARDER_REDIS_LAYOUT: layout,
        LARDER_PROJECT: PROJECT,
      });
      const pid = server.child.pid as number;
      const client = createClient(servingV1.OnlineServingService, server.address);
      const health = createClient(healthV1.Health, server.address);
      const timed = bytesClient(server.address);
      try {
        const healthRequest = Buffer.from(toBinary(healthV1.HealthCheckRequestSchema, create(healthV1.HealthCheckRequestSchema, { service: '' })));
        if ((await health.check({ service: '' })).status !== healthV1.HealthCheckResponse_ServingStatus.SERVING) throw new Error('server not SERVING');
        for (const concurrency of CONCURRENCY) {
          const floor = await go.run(server.address, HEALTH_CHECK, [healthRequest], concurrency, pid);
          records.push({ workload: 'larder-health-check', client: 'go', layout, concurrency, ...floor, floor: true });
          process.stdout.write(`${layout} grpc-empty-unary c=${concurrency}: ${JSON.stringify(floor)}\n`);
        }
        for (const shape of SHAPES) {
          const refs: string[] = [];
          for (let v = 0; v < shape.views; v++) for (let f = 0; f < FEATURES; f++) refs.push(`${viewName(v)}:${featureName(f)}`);
          const range = shape.views > 5 ? WIDE_ENTITIES : ENTITIES;
          const request = (i: number) => {
            const ids: typesV1.Value[] = [];
            for (let e = 0; e < shape.entities; e++) ids.push(int64((i * 7919 + e * 104_729) % range));
            return { fullFeatureNames: true, kind: { case: 'features' as const, value: { val: refs } }, entities: { driver_id: { val: ids } } };
          };
          const encoded = Array.from({ length: ENCODED_REQUESTS }, (_, i) => Buffer.from(servingRequest(request(i))));
          const first = await client.getOnlineFeatures(request(1));
          if (first.results.length !== refs.length + 1 || first.results[1]?.statuses.some((s) => s !== typesV1.FieldStatus.PRESENT)) {
            throw new Error(`unexpected response for ${shape.name}: ${first.results.length} columns`);
          }
          // Raw Redis floor: the same fields the layout reads, one pipeline per request.
          const keyOf = (id: number): Buffer =>
            layout === 'packed'
              ? serializeEntityKey({ joinKeys: ['driver_id'], entityValues: [int64(id)] }, Buffer.from(`larder:${PROJECT}:`))
              : serializeEntityKey({ joinKeys: ['driver_id'], entityValues: [int64(id)] }, undefined, Buffer.from(PROJECT));
          const fields: Buffer[] = [];
          for (let v = 0; v < shape.views; v++) {
            if (layout === 'packed') fields.push(Buffer.from(viewName(v)));
            else {
              for (let f = 0; f < FEATURES; f++) fields.push(feastFeatureField(viewName(v), featureName(f)));
              fields.push(Buffer.from(`_ts:${viewName(v)}`));
            }
          }
          const check = await raw.hmgetBuffer(keyOf(1), ...fields);
          if (check.some((b) => b === null)) throw new Error(`raw floor: missing fields for ${layout} ${shape.name}`);
          for (const concurrency of CONCURRENCY) {
            const m = await go.run(server.address, GET_ONLINE_FEATURES, encoded, concurrency, pid);
            records.push({ workload: shape.name, client: 'go', layout, concurrency, ...m });
            process.stdout.write(`${layout} ${shape.name} go c=${concurrency}: ${JSON.stringify(m)}\n`);
            if (shape.name === '1x50') {
              // For reference: the same calls from a Node (grpc-js) client on the same cores.
              const node = await measure((i) => timed.call(GET_ONLINE_FEATURES, encoded[i % ENCODED_REQUESTS]!), concurrency, SECONDS, pid);
              records.push({ workload: shape.name, client: 'node', layout, concurrency, ...node });
              process.stdout.write(`${layout} ${shape.name} node c=${concurrency}: ${JSON.stringify(node)}\n`);
            }
            const rawM = await measure(
              (i) => {
                const p = raw.pipeline();
                for (let e = 0; e < shape.entities; e++) p.hmgetBuffer(keyOf((i * 7919 + e * 104_729) % range), ...fields);
                return p.exec();
              },
              concurrency,
              SECONDS,
            );
            records.push({ workload: `redis-hmget-${shape.name}`, layout, concurrency, ...rawM, floor: true });
          }
        }
      } finally {
        client.close();
        health.close();
        timed.close();
        await server.stop();
      }
      if (layout === 'packed' && SHAPES.some((shape) => shape.name === '1x50')) await authOnline(records, go, registry.address, redis.url, layout);
      if (layout === 'packed' && SHAPES.some((shape) => shape.name === '1x50')) await valueMetricsOnline(records, go, registry.address, redis.url, layout);
    }
  } finally {
    raw.disconnect();
    await registry.shutdown('bench over');
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return records;
}
