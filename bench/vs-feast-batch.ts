// The batch half of `npm run bench -- vs-feast`: materialization and historical retrieval,
// Feast 0.67 (bench/python/feast_batch.py in the harness's feast virtualenv) against
// Larder's services, on the same Parquet files in one run.
//
// Materialization: N entities x 50 features (5 views x 10 DOUBLE, bench/materialize.ts's
// files) into one private Redis, both in Feast's layout: `FeatureStore.materialize` (the
// local engine, as `feast materialize` runs it) against a materialization job of Larder's
// service (DuckDB). Redis is flushed before each; each must leave N keys.
// Historical: M entity rows x 3 views (bench/historical.ts's generator: 3 features each,
// created-ts ties, 7-day ttl) from Parquet: Feast's file offline store
// (`get_historical_features(...).to_df()`, in memory) against Larder's
// GetHistoricalFeaturesFromSource writing the training set to Parquet.
// Each is one record: both figures and ratio = Larder / Feast throughput.
// Knobs: LARDER_BENCH_VS_FEAST_MATERIALIZE_ENTITIES (1000000: Feast's side is ~42 CPU s
// per 100k, one thread, so ~7-8 min on a quiet 2-core machine and most of the run),
// LARDER_BENCH_VS_FEAST_HIST_SIZES (100000,1000000), LARDER_BENCH_VS_FEAST_HIST_ROWS
// (rows per view, 1000000). Parts alone: LARDER_BENCH_VS_FEAST_PARTS (bench/vs-feast.ts).
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { DuckDBInstance } from '@duckdb/node-api';
import Redis from 'ioredis';
import { registryV1 } from '@larder/proto';
import { startRedis } from '@larder/testing';
import { exportCase, KEYS, measure, refs, repo as historicalRepo, SPAN, startRegistry, T0, TTL_DAYS, viewSelect } from './historical';
import { END, generate, materializeCase, repo as materializeRepo, START } from './materialize';
import type { BenchRecord } from './table';

const MATERIALIZE_ENTITIES = Number(process.env.LARDER_BENCH_VS_FEAST_MATERIALIZE_ENTITIES ?? 1_000_000);
const HIST_SIZES = (process.env.LARDER_BENCH_VS_FEAST_HIST_SIZES ?? '100000,1000000').split(',').map(Number);
const HIST_ROWS = Number(process.env.LARDER_BENCH_VS_FEAST_HIST_ROWS ?? 1_000_000);
const HIST_VIEWS = 3;
const FEAST_BATCH = path.join(__dirname, 'python', 'feast_batch.py');

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
const load1 = (): number => Number(os.loadavg()[0]?.toFixed(1));

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

interface FeastBatchResult {
  wall_s: number;
  /** CPU seconds of Feast's process over the timed call, every thread. */
  cpu_s: number;
  rows?: number;
}

function runFeastBatch(python: string, input: unknown): Promise<FeastBatchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [FEAST_BATCH], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-8000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as FeastBatchResult) : reject(new Error(`feast_batch.py exited with ${code}: ${err}`))));
    child.stdin.end(JSON.stringify(input));
  });
}

export async function materializeVsFeast(records: BenchRecord[], dir: string, python: string): Promise<void> {
  const data = path.join(dir, 'materialize');
  await mkdir(data, { recursive: true });
  const n = MATERIALIZE_ENTITIES;
  const genS = await generate(data, n);
  say(`generated ${n} entities x 5 views x 10 features as Parquet in ${genS.toFixed(1)} s`);
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  const registry = await startRegistry(dir, materializeRepo(data));
  try {
    await redis.flushall();
    const feast = await runFeastBatch(python, {
      mode: 'materialize',
      repo: path.join(dir, 'feast-materialize'),
      project: 'bench',
      redis: `127.0.0.1:${redisServer.port}`,
      start: START.toISOString(),
      end: END.toISOString(),
      views: Array.from({ length: 5 }, (_, v) => ({
        name: `view_${v}`,
        path: path.join(data, `view_${v}.parquet`),
        timestamp_field: 'event_timestamp',
        created: null,
        ttl_s: 0,
        features: Array.from({ length: 10 }, (_, f) => ({ name: `f${f}`, type: 'DOUBLE' })),
      })),
    });
    const feastKeys = await redis.dbsize();
    if (feastKeys !== n) throw new Error(`feast materialize left ${feastKeys} keys, expected ${n}`);
    const feastRate = n / feast.wall_s;
    say(`feast materialize: ${n} entities in ${feast.wall_s.toFixed(1)} s (${Math.round(feastRate)} entity rows/s)`);
    // materializeCase flushes Redis first.
    const ours = await materializeCase(
      'duckdb -> redis feast',
      {
        LARDER_REGISTRY_ADDRESS: registry.address,
        LARDER_OFFLINE_STORE_TYPE: 'duckdb',
        LARDER_OFFLINE_READ_ROOTS: dir,
        LARDER_ONLINE_STORE_TYPE: 'redis',
        LARDER_REDIS_URL: redisServer.url,
        LARDER_REDIS_LAYOUT: 'feast',
        LARDER_MATERIALIZATION_VIEW_CONCURRENCY: '5',
      },
      redis,
      n,
    );
    const larderKeys = await redis.dbsize();
    if (larderKeys !== n) throw new Error(`Larder's materialization left ${larderKeys} keys, expected ${n}`);
    const larderRate = Number(ours['rows_per_s']);
    say(`larder materialize: ${JSON.stringify(ours)}`);
    records.push({
      workload: `materialize-${n}x50-feast-layout`,
      metric: 'rows_per_s',
      larder_value: Math.round(larderRate),
      feast_value: Math.round(feastRate),
      ratio: round(larderRate / feastRate),
      larder_wall_s: ours['wall_s'] as number,
      feast_wall_s: round(feast.wall_s),
      larder_cpu_s: ours['cpu_s'] as number,
      feast_cpu_s: round(feast.cpu_s, 1),
      redis_cpu_s: ours['redis_cpu_s'] as number,
      load1: load1(),
    });
  } finally {
    redis.disconnect();
    await registry.shutdown('bench over');
    await redisServer.stop();
  }
}

export async function historicalVsFeast(records: BenchRecord[], dir: string, python: string): Promise<void> {
  const data = path.join(dir, 'historical');
  await mkdir(data, { recursive: true });
  const file = (name: string): string => path.join(data, `${name}.parquet`);
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  try {
    const duckHash = (x: string): string => `hash(${x})`;
    // Zone-aware times (TIMESTAMPTZ, UTC in the files), as pandas writes them and Feast's file store compares them.
    const duckTs = (secs: string): string => `to_timestamp((${secs})::BIGINT)`;
    // driver_id as BIGINT, the entity rows' type: pandas would otherwise merge int64 with uint64.
    for (let v = 0; v < HIST_VIEWS; v++) {
      await db.run(
        `COPY (SELECT * REPLACE (driver_id::BIGINT AS driver_id) FROM (${viewSelect(v, duckHash, duckTs)} FROM range(${HIST_ROWS}) t(i))) TO '${file(`view_${v}`)}' (FORMAT parquet)`,
      );
    }
    for (const n of HIST_SIZES) {
      await db.run(
        `COPY (SELECT ((i * 7919) % ${KEYS})::BIGINT AS driver_id, to_timestamp(${T0} + (i * 104729) % ${SPAN}) AS event_timestamp FROM range(${n}) t(i)) TO '${file(`entities_${n}`)}' (FORMAT parquet)`,
      );
    }
  } finally {
    db.closeSync();
    instance.closeSync();
  }
  say(`generated ${HIST_VIEWS} views x ${HIST_ROWS} rows and entity sets of ${HIST_SIZES.join(', ')} rows`);
  const registry = await startRegistry(
    dir,
    historicalRepo(
      (v) => ({ case: 'file', value: create(registryV1.FileSourceSchema, { path: file(`view_${v}`), format: registryV1.FileFormat.PARQUET }) }),
      HIST_VIEWS,
    ),
  );
  try {
    for (const n of HIST_SIZES) {
      let feast: FeastBatchResult;
      try {
        feast = await runFeastBatch(python, {
          mode: 'historical',
          repo: path.join(dir, `feast-historical-${n}`),
          project: 'bench',
          entities: file(`entities_${n}`),
          features: refs(HIST_VIEWS),
          views: Array.from({ length: HIST_VIEWS }, (_, v) => ({
            name: `view_${v}`,
            path: file(`view_${v}`),
            timestamp_field: 'event_ts',
            created: 'created_ts',
            ttl_s: TTL_DAYS * 86_400,
            features: [
              { name: 'f_a', type: 'DOUBLE' },
              { name: 'f_b', type: 'INT64' },
              { name: 'f_c', type: 'DOUBLE' },
            ],
          })),
        });
      } catch (error) {
        records.push({ workload: `historical-${n}x${HIST_VIEWS}`, server: 'feast', error: (error as Error).message.slice(0, 2000), load1: load1() });
        say(`feast historical ${n}: failed: ${(error as Error).message.slice(0, 500)}`);
        continue;
      }
      // Feast's file store drops an entity row when, in some view, its key has rows but none
      // in [t - ttl, t] (21,809 of 100,000 came back; where both have a row, the values are
      // Larder's): the figure stays per entity row asked for.
      say(`feast historical ${n} x ${HIST_VIEWS}: ${feast.wall_s.toFixed(2)} s (${feast.cpu_s.toFixed(1)} CPU s, ${feast.rows ?? 0} rows)`);
      let rows = 0;
      const storage = create(registryV1.DatasetStorageSchema, { kind: { case: 'file', value: { path: file('out'), format: registryV1.FileFormat.PARQUET } } });
      const { wall, rss, cpu } = await measure(
        { LARDER_REGISTRY_ADDRESS: registry.address, LARDER_OFFLINE_STORE_TYPE: 'duckdb', LARDER_OFFLINE_READ_ROOTS: dir, LARDER_OFFLINE_WRITE_ROOT: dir },
        async (service) =>
          (rows = await exportCase(
            service,
            HIST_VIEWS,
            { case: 'file', value: create(registryV1.FileSourceSchema, { path: file(`entities_${n}`) }) },
            storage,
          )),
      );
      if (rows !== n) throw new Error(`Larder wrote ${rows} rows for ${n} entity rows`);
      say(`larder historical ${n} x ${HIST_VIEWS}: ${wall.toFixed(2)} s (${cpu.toFixed(1)} CPU s, peak RSS ${rss} MB)`);
      records.push({
        workload: `historical-${n}x${HIST_VIEWS}`,
        metric: 'rows_per_s',
        rows_per_view: HIST_ROWS,
        larder_value: Math.round(n / wall),
        feast_value: Math.round(n / feast.wall_s),
        ratio: round(feast.wall_s / wall),
        larder_wall_s: round(wall),
        feast_wall_s: round(feast.wall_s),
        larder_cpu_s: round(cpu),
        feast_cpu_s: round(feast.cpu_s),
        // Feast / Larder CPU seconds: what a shared machine's load distorts least.
        cpu_ratio: round(feast.cpu_s / cpu),
        larder_peak_rss_mb: rss,
        feast_rows: feast.rows ?? 0,
        load1: load1(),
      });
    }
  } finally {
    await registry.shutdown('bench over');
  }
}
