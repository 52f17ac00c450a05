// Historical retrieval benchmark: OfflineRetrievalService in a child process (so its
// peak RSS is its own), the real registry in this process, DuckDB over Parquet files
// generated here, and PostgreSQL from @larder/testing. Per case the service's peak RSS
// is reset (/proc/PID/clear_refs) and read back (VmHWM).
//   export: GetHistoricalFeaturesFromSource, entity rows in a Parquet file, result
//           written by the engine to Parquet (omit_rows): the training-set path.
//   stream: GetHistoricalFeatures, entity rows streamed in by the client in 10k-row
//           batches and every result row streamed back over gRPC.
//   floor:  the raw DuckDB ASOF join on the same files (no created-ts dedup, no ttl),
//           COPY to Parquet, in this process.
//   memory: stream mode at growing entity counts with the service's DuckDB capped
//           (memory_limit, spilling to a temp directory): the service's peak RSS must
//           stay roughly flat, since neither the entity rows nor the result are ever
//           whole in Node (entity batches are appended to DuckDB one at a time, result
//           chunks go out behind gRPC flow control).
// Target (DESIGN.md): 1M entity rows x 3 views of 5M rows, DuckDB, <= 5 s.
//   LARDER_BENCH_HIST_ROWS (rows per view, default 5,000,000), LARDER_BENCH_HIST_PG_ROWS
//   (default 5,000,000), LARDER_BENCH_HIST_SIZES (default 10000,100000,1000000),
//   LARDER_BENCH_HIST_PARTS (which series run, default export,stream,postgres,memory),
//   LARDER_BENCH_HIST_MEMORY_SIZES (default 100000,1000000,3000000),
//   LARDER_BENCH_HIST_MEMORY_LIMIT (the memory series' DuckDB memory_limit, default 1GB),
//   LARDER_BENCH_HIST_CLIENT_DECODE (wire, the default, or protobuf-es),
//   LARDER_BENCH_HIST_PROFILE_DIR (write a CPU profile of each service process there).
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { offlineV1, registryV1, typesV1, wire } from '@larder/proto';
import { createClient, runService, SERVICE_NODE_FLAGS } from '@larder/rpc';
import type { ServerHandle } from '@larder/rpc';
import { parseListening, startPostgres } from '@larder/testing';
import { registryService } from '@larder/registry-service';
import { cpuSeconds } from './materialize';
import type { BenchRecord } from './table';

const T = typesV1.ValueType;
const ROWS_PER_VIEW = Number(process.env.LARDER_BENCH_HIST_ROWS ?? 5_000_000);
const PG_ROWS_PER_VIEW = Number(process.env.LARDER_BENCH_HIST_PG_ROWS ?? 5_000_000);
const SIZES = (process.env.LARDER_BENCH_HIST_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const VIEW_COUNTS = [1, 3, 10];
const PARTS = new Set((process.env.LARDER_BENCH_HIST_PARTS ?? 'export,stream,postgres,memory').split(',').map((p) => p.trim()));
const MEMORY_SIZES = (process.env.LARDER_BENCH_HIST_MEMORY_SIZES ?? '100000,1000000,3000000').split(',').map(Number);
const MEMORY_LIMIT = process.env.LARDER_BENCH_HIST_MEMORY_LIMIT ?? '1GB';
/** How the stream client decodes result chunks: 'wire' (hand-written) or 'protobuf-es' (fromBinary), to see the client's share. */
const CLIENT_DECODE = process.env.LARDER_BENCH_HIST_CLIENT_DECODE ?? 'wire';
/** Views the stream and memory series join. */
const STREAM_VIEWS = 3;
const MAX_VIEWS = PARTS.has('export') ? Math.max(...VIEW_COUNTS) : STREAM_VIEWS;
export const KEYS = 500_000;
export const T0 = Date.UTC(2024, 0, 1) / 1000;
export const SPAN = 30 * 86_400;
export const TTL_DAYS = 7;
const root = path.resolve(__dirname, '..');

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

export async function seconds(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

// SQL shared by DuckDB and PostgreSQL generators: deterministic pseudo-random columns from a
// row number, typed as the views declare them (DOUBLE, INT64; a bare `/ 1000.0` would be a
// DECIMAL column in the Parquet files, which the views do not declare).
export const viewSelect = (v: number, hash: (x: string) => string, ts: (secs: string) => string, i = 'i'): string =>
  `SELECT (${hash(`${i} + ${v}`)} % ${KEYS}) AS driver_id, ${ts(`${T0 - 86_400} + ${hash(`${i} * 13 + ${v}`)} % ${SPAN + 86_400}`)} AS event_ts, ` +
  `${ts(`${T0} + ${hash(`${i} * 17 + ${v}`)} % ${SPAN * 2}`)} AS created_ts, CAST((${hash(`${i} * 3`)} % 1000) / 1000.0 AS DOUBLE PRECISION) AS f_a, ` +
  `(${hash(`${i} * 5`)} % 100) AS f_b, CAST((${hash(`${i} * 11`)} % 7) AS DOUBLE PRECISION) AS f_c`;

export function repo(kinds: (v: number) => registryV1.DataSource['kind'], views: number): registryV1.ApplyRegistryRequest {
  return create(registryV1.ApplyRegistryRequestSchema, {
    project: 'bench',
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: Array.from({ length: views }, (_, v) => ({
      name: `source_${v}`,
      timestampField: 'event_ts',
      createdTimestampColumn: 'created_ts',
      kind: kinds(v),
    })),
    featureViews: Array.from({ length: views }, (_, v) => ({
      name: `view_${v}`,
      entities: ['driver'],
      batchSource: `source_${v}`,
      ttl: { seconds: BigInt(TTL_DAYS * 86_400) },
      schema: [
        { name: 'f_a', valueType: T.DOUBLE },
        { name: 'f_b', valueType: T.INT64 },
        { name: 'f_c', valueType: T.DOUBLE },
      ],
    })),
  });
}

export const refs = (views: number): string[] => Array.from({ length: views }, (_, v) => ['f_a', 'f_b', 'f_c'].map((f) => `view_${v}:${f}`)).flat();

interface Service {
  address: string;
  pid: number;
  stop(): Promise<void>;
}

async function startRetrieval(env: Record<string, string>): Promise<Service> {
  const profile = process.env.LARDER_BENCH_HIST_PROFILE_DIR;
  const flags = profile !== undefined && profile !== '' ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [...SERVICE_NODE_FLAGS, ...flags, '--import', 'tsx', path.join(root, 'apps/offline-retrieval/src/main.ts')],
    {
      cwd: root,
      env: { ...process.env, LARDER_GRPC_HOST: '127.0.0.1', LARDER_GRPC_PORT: '0', LARDER_METRICS_ENABLED: 'false', LARDER_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`offline-retrieval exited with ${code} before listening`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const listening = parseListening(line);
      if (listening) resolve(listening.grpcPort);
    });
  });
  return {
    address: `127.0.0.1:${port}`,
    pid: child.pid as number,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Resets the process's peak RSS, so each case reports its own. */
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not Linux, or not allowed: the peak then covers every earlier case too.
  }
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return round(kb / 1024, 0);
}

/**
 * Runs one case against a fresh service process, so its peak RSS is this case's
 * alone (DuckDB keeps the memory of earlier joins cached, which resetting the peak
 * cannot undo). The process's start is not timed; `cpu` is the CPU seconds the service
 * used for the case (all its threads), which a loaded machine stretches less than wall time.
 */
export async function measure(env: Record<string, string>, work: (service: Service) => Promise<unknown>): Promise<{ wall: number; rss: number; cpu: number }> {
  const service = await startRetrieval(env);
  try {
    resetPeak(service.pid);
    const cpu0 = cpuSeconds(service.pid);
    const wall = await seconds(() => work(service));
    return { wall, rss: peakRssMb(service.pid), cpu: cpuSeconds(service.pid) - cpu0 };
  } finally {
    await service.stop();
  }
}

export async function exportCase(
  service: Service,
  views: number,
  entitySource: offlineV1.EntitySource['location'],
  storage: registryV1.DatasetStorage,
): Promise<number> {
  const client = createClient(offlineV1.OfflineRetrievalService, service.address);
  let rows = 0;
  try {
    for await (const { part } of client.getHistoricalFeaturesFromSource({
      query: { kind: { case: 'features', value: { val: refs(views) } }, fullFeatureNames: true, destination: { storage, omitRows: true, overwrite: true } },
      entitySource: { location: entitySource },
    })) {
      if (part.case === 'summary') rows = Number(part.value.rowCount);
    }
  } finally {
    client.close();
  }
  return rows;
}

/** Entity rows generated on the fly (the same rows the Parquet entity files hold), sent in 10k-row batches; result rows counted. */
async function streamCase(service: Service, views: number, entities: number): Promise<number> {
  // Result chunks decoded by @larder/proto's hand-written decoder, as a TypeScript client would
  // (fromBinary alone holds a client to ~40k rows/s of 11 columns).
  const client = createClient(
    offlineV1.OfflineRetrievalService,
    service.address,
    CLIENT_DECODE === 'wire' ? { decoders: { getHistoricalFeatures: wire.decodeGetHistoricalFeaturesResponse } } : {},
  );
  async function* requests(): AsyncGenerator<offlineV1.GetHistoricalFeaturesRequest> {
    yield create(offlineV1.GetHistoricalFeaturesRequestSchema, {
      message: { case: 'query', value: { kind: { case: 'features', value: { val: refs(views) } }, fullFeatureNames: true } },
    });
    for (let start = 0; start < entities; start += 10_000) {
      const n = Math.min(10_000, entities - start);
      const ids: typesV1.Value[] = new Array(n);
      const times = new Array(n);
      for (let i = 0; i < n; i++) {
        const row = start + i;
        ids[i] = create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt((row * 7919) % KEYS) } });
        times[i] = timestampFromMs((T0 + ((row * 104_729) % SPAN)) * 1000);
      }
      yield create(offlineV1.GetHistoricalFeaturesRequestSchema, {
        message: { case: 'entityRows', value: { columns: { driver_id: { val: ids } }, eventTimestamps: times } },
      });
    }
  }
  let rows = 0;
  try {
    for await (const { part } of client.getHistoricalFeatures(requests())) {
      if (part.case === 'chunk') rows += part.value.eventTimestamps.length;
    }
  } finally {
    client.close();
  }
  return rows;
}

export async function startRegistry(dir: string, request: registryV1.ApplyRegistryRequest): Promise<ServerHandle> {
  const handle = await runService({
    ...registryService,
    argv: [],
    handleSignals: false,
    write: () => undefined,
    env: {
      LARDER_GRPC_HOST: '127.0.0.1',
      LARDER_GRPC_PORT: '0',
      LARDER_METRICS_ENABLED: 'false',
      LARDER_REGISTRY_LOCATION: path.join(dir, `registry-${Date.now()}.json`),
    },
  });
  if (handle === undefined) throw new Error('registry did not start');
  const client = createClient(registryV1.RegistryService, handle.address);
  await client.applyRegistry(request);
  client.close();
  return handle;
}

async function duckdbCases(dir: string, records: BenchRecord[]): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  const file = (name: string): string => path.join(dir, `${name}.parquet`);
  const duckHash = (x: string): string => `hash(${x})`;
  const duckTs = (secs: string): string => `to_timestamp((${secs})::BIGINT)::TIMESTAMP`;
  for (const n of PARTS.has('export') ? SIZES : []) {
    // The same formula as streamCase, so inline and file entity rows are the same rows.
    await db.run(
      `COPY (SELECT ((i * 7919) % ${KEYS})::BIGINT AS driver_id, to_timestamp(${T0} + (i * 104729) % ${SPAN})::TIMESTAMP AS event_timestamp FROM range(${n}) t(i)) TO '${file(`entities_${n}`)}' (FORMAT parquet)`,
    );
  }
  for (let v = 0; v < MAX_VIEWS; v++) {
    const s = await seconds(() =>
      db.run(`COPY (${viewSelect(v, duckHash, duckTs)} FROM range(${ROWS_PER_VIEW}) t(i)) TO '${file(`view_${v}`)}' (FORMAT parquet)`),
    );
    say(`generated view_${v}: ${ROWS_PER_VIEW} rows in ${s.toFixed(1)} s`);
  }
  const registry = await startRegistry(
    dir,
    repo((v) => ({ case: 'file', value: create(registryV1.FileSourceSchema, { path: file(`view_${v}`), format: registryV1.FileFormat.PARQUET }) }), MAX_VIEWS),
  );
  const env = { LARDER_REGISTRY_ADDRESS: registry.address, LARDER_OFFLINE_STORE_TYPE: 'duckdb' };
  try {
    for (const views of PARTS.has('export') ? VIEW_COUNTS : []) {
      for (const n of SIZES) {
        const joins = Array.from(
          { length: views },
          (_, v) => `ASOF LEFT JOIN read_parquet('${file(`view_${v}`)}') v${v} ON e.driver_id = v${v}.driver_id AND e.event_timestamp >= v${v}.event_ts`,
        ).join(' ');
        const cols = Array.from({ length: views }, (_, v) => `v${v}.f_a AS f_a_${v}, v${v}.f_b AS f_b_${v}, v${v}.f_c AS f_c_${v}`).join(', ');
        const floor = await seconds(() =>
          db.run(`COPY (SELECT e.*, ${cols} FROM read_parquet('${file(`entities_${n}`)}') e ${joins}) TO '${file('floor')}' (FORMAT parquet)`),
        );
        records.push({
          workload: `duckdb raw ASOF ${n} x ${views} views`,
          engine: 'duckdb',
          mode: 'floor',
          entities: n,
          views,
          rows_per_view: ROWS_PER_VIEW,
          wall_s: round(floor),
          rows_per_s: Math.round(n / floor),
          floor: true,
        });
        const storage = create(registryV1.DatasetStorageSchema, {
          kind: { case: 'file', value: { path: file('out'), format: registryV1.FileFormat.PARQUET } },
        });
        let rows = 0;
        const { wall, rss } = await measure(
          env,
          async (service) =>
            (rows = await exportCase(service, views, { case: 'file', value: create(registryV1.FileSourceSchema, { path: file(`entities_${n}`) }) }, storage)),
        );
        if (rows !== n) throw new Error(`export of ${n} rows wrote ${rows}`);
        records.push({
          workload: `duckdb export ${n} x ${views} views`,
          engine: 'duckdb',
          mode: 'export',
          entities: n,
          views,
          rows_per_view: ROWS_PER_VIEW,
          wall_s: round(wall),
          rows_per_s: Math.round(n / wall),
          peak_rss_mb: rss,
        });
        say(`${n} x ${views}: floor ${floor.toFixed(2)} s, export ${wall.toFixed(2)} s (service peak RSS ${rss} MB)`);
      }
    }
    for (const n of PARTS.has('stream') ? SIZES : []) {
      let rows = 0;
      const { wall, rss } = await measure(env, async (service) => (rows = await streamCase(service, STREAM_VIEWS, n)));
      if (rows !== n) throw new Error(`stream of ${n} rows returned ${rows}`);
      records.push({
        workload: `duckdb stream ${n} x ${STREAM_VIEWS} views`,
        engine: 'duckdb',
        mode: 'stream',
        entities: n,
        views: STREAM_VIEWS,
        rows_per_view: ROWS_PER_VIEW,
        wall_s: round(wall),
        rows_per_s: Math.round(n / wall),
        peak_rss_mb: rss,
      });
      say(`${n} x ${STREAM_VIEWS} streamed in and out: ${wall.toFixed(2)} s (service peak RSS ${rss} MB)`);
    }
    if (PARTS.has('memory')) await memoryCases(dir, env, records);
  } finally {
    await registry.shutdown('bench over');
    db.closeSync();
    instance.closeSync();
  }
}

/**
 * Peak memory as the entity set grows: the stream mode (entity rows in, every result
 * row back) with the service's DuckDB capped at MEMORY_LIMIT and spilling to a temp
 * directory. Besides the service's peak RSS, records how much DuckDB spilled
 * (the temp directory's high-water mark, sampled) and the peak of the client.
 */
async function memoryCases(dir: string, env: Record<string, string>, records: BenchRecord[]): Promise<void> {
  const spill = path.join(dir, 'duckdb-spill');
  await mkdir(spill, { recursive: true });
  const capped = { ...env, LARDER_DUCKDB_MEMORY_LIMIT: MEMORY_LIMIT, LARDER_DUCKDB_TEMP_DIRECTORY: spill };
  for (const n of MEMORY_SIZES) {
    let rows = 0;
    let spilledPeak = 0;
    const sampler = setInterval(() => (spilledPeak = Math.max(spilledPeak, directoryBytes(spill))), 250);
    try {
      const { wall, rss } = await measure(capped, async (service) => (rows = await streamCase(service, STREAM_VIEWS, n)));
      if (rows !== n) throw new Error(`memory series: stream of ${n} rows returned ${rows}`);
      const spilledMb = round(spilledPeak / 2 ** 20, 0);
      records.push({
        workload: `duckdb stream ${n} x ${STREAM_VIEWS} views, memory_limit ${MEMORY_LIMIT}`,
        engine: 'duckdb',
        mode: 'memory',
        entities: n,
        views: STREAM_VIEWS,
        rows_per_view: ROWS_PER_VIEW,
        memory_limit: MEMORY_LIMIT,
        wall_s: round(wall),
        rows_per_s: Math.round(n / wall),
        peak_rss_mb: rss,
        spilled_mb: spilledMb,
      });
      say(
        `memory series ${n} x ${STREAM_VIEWS} (memory_limit ${MEMORY_LIMIT}): ${wall.toFixed(2)} s, service peak RSS ${rss} MB, DuckDB spilled ${spilledMb} MB`,
      );
    } finally {
      clearInterval(sampler);
    }
  }
}

/** Total size of the files in a directory (DuckDB's spill files), 0 if it is gone. */
function directoryBytes(dir: string): number {
  let total = 0;
  try {
    for (const name of readdirSync(dir)) {
      try {
        total += statSync(path.join(dir, name)).size;
      } catch {
        // Removed between listing and stat.
      }
    }
  } catch {
    return 0;
  }
  return total;
}

async function postgresCases(dir: string, records: BenchRecord[]): Promise<void> {
  const postgres = await startPostgres();
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  const n = 100_000;
  const views = 3;
  // hashtext of an int8 text gives a deterministic int4; abs keeps the modulo non-negative.
  const pgHash = (x: string): string => `abs(hashtext((${x})::text)::bigint)`;
  const pgTs = (secs: string): string => `to_timestamp(${secs})`;
  try {
    await client.query(
      `CREATE TABLE entities AS SELECT ((i * 7919) % ${KEYS})::bigint AS driver_id, to_timestamp(${T0} + (i * 104729) % ${SPAN}) AS event_timestamp FROM generate_series(0::bigint, ${n - 1}) AS g(i)`,
    );
    for (let v = 0; v < views; v++) {
      const s = await seconds(() =>
        client.query(`CREATE TABLE view_${v} AS ${viewSelect(v, pgHash, pgTs)} FROM generate_series(0::bigint, ${PG_ROWS_PER_VIEW - 1}) AS g(i)`),
      );
      await client.query(`ALTER TABLE view_${v} ALTER COLUMN f_b TYPE bigint, ALTER COLUMN f_a TYPE double precision, ALTER COLUMN f_c TYPE double precision`);
      await client.query(`ANALYZE view_${v}`);
      say(`generated postgres view_${v}: ${PG_ROWS_PER_VIEW} rows in ${s.toFixed(1)} s`);
    }
    await client.query('ANALYZE entities');
    const registry = await startRegistry(
      dir,
      repo((v) => ({ case: 'postgres', value: create(registryV1.PostgresSourceSchema, { location: { case: 'table', value: `view_${v}` } }) }), views),
    );
    const env = { LARDER_REGISTRY_ADDRESS: registry.address, LARDER_OFFLINE_STORE_TYPE: 'postgres', LARDER_POSTGRES_URL: postgres.url };
    try {
      const storage = create(registryV1.DatasetStorageSchema, { kind: { case: 'postgresTable', value: 'training_out' } });
      let rows = 0;
      const exported = await measure(
        env,
        async (service) =>
          (rows = await exportCase(
            service,
            views,
            { case: 'postgres', value: create(registryV1.PostgresSourceSchema, { location: { case: 'table', value: 'entities' } }) },
            storage,
          )),
      );
      if (rows !== n) throw new Error(`postgres export wrote ${rows} rows`);
      records.push({
        workload: `postgres export ${n} x ${views} views`,
        engine: 'postgres',
        mode: 'export',
        entities: n,
        views,
        rows_per_view: PG_ROWS_PER_VIEW,
        wall_s: round(exported.wall),
        rows_per_s: Math.round(n / exported.wall),
        peak_rss_mb: exported.rss,
      });
      say(`postgres ${n} x ${views} export: ${exported.wall.toFixed(2)} s`);
      const streamed = await measure(env, async (service) => (rows = await streamCase(service, views, n)));
      if (rows !== n) throw new Error(`postgres stream returned ${rows} rows`);
      records.push({
        workload: `postgres stream ${n} x ${views} views`,
        engine: 'postgres',
        mode: 'stream',
        entities: n,
        views,
        rows_per_view: PG_ROWS_PER_VIEW,
        wall_s: round(streamed.wall),
        rows_per_s: Math.round(n / streamed.wall),
        peak_rss_mb: streamed.rss,
      });
      say(`postgres ${n} x ${views} stream: ${streamed.wall.toFixed(2)} s`);
    } finally {
      await registry.shutdown('bench over');
    }
  } finally {
    await client.end();
    await postgres.stop();
  }
}

export async function runHistoricalBenchmark(): Promise<BenchRecord[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-bench-historical-'));
  const records: BenchRecord[] = [];
  try {
    if (PARTS.has('export') || PARTS.has('stream') || PARTS.has('memory')) await duckdbCases(dir, records);
    if (PARTS.has('postgres')) await postgresCases(dir, records);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return records;
}
