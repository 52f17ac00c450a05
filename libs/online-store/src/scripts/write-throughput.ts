// Write throughput of the online stores, against a private redis-server started here:
//   npx tsx libs/online-store/src/scripts/write-throughput.ts [entities=100000] [rounds=3] [batch=10000] [inFlight=1]
// 5 views x 10 double features per entity; prints entity rows/s (one entity row = the 5
// view rows of one entity) per layout and round, and redis-benchmark's pipelined HSET of
// 55 fields as the floor.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRedis } from '@larder/testing';
import { Cluster } from 'ioredis';
import { RedisOnlineStore, type RedisLayoutName } from '../redis/store';
import { SqliteOnlineStore } from '../sqlite-store';
import type { OnlineStore, ViewDescriptor, WriteRow } from '../types';
import { startRedisCluster } from '../testing/redis-cluster';
import { T, dbl, ek, view } from '../testing/values';

const entities = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 3);
const batch = Number(process.argv[4] ?? 10_000);
const inFlight = Number(process.argv[5] ?? 1);
// WRITE_BENCH_ONLY=packed|feast|sqlite limits the run to one store (for profiling).
const only = <X extends string>(names: X[]): X[] => names.filter((n) => (process.env['WRITE_BENCH_ONLY'] ?? n) === n);
const VIEWS = 5;
const FEATURES = 10;

const views: ViewDescriptor[] = Array.from({ length: VIEWS }, (_, v) =>
  view('bench', `view_${v}`, Object.fromEntries(Array.from({ length: FEATURES }, (_, f) => [`f${f}`, T.DOUBLE]))),
);

/** One batch of rows per view for entities [from, to); built outside the timed part. */
function rowsFor(from: number, to: number, ts: number): WriteRow[] {
  const rows: WriteRow[] = [];
  for (let e = from; e < to; e++) {
    const values = Object.fromEntries(Array.from({ length: FEATURES }, (_, f) => [`f${f}`, dbl(e + f / 10)]));
    rows.push({ entityKey: ek({ driver_id: BigInt(e) }), eventTs: ts, values });
  }
  return rows;
}

/** Entity rows/s writing every view for all entities, one view's batch per write call, `inFlight` calls at a time (as materialization does). */
async function measure(store: OnlineStore, batches: WriteRow[][]): Promise<string> {
  const redisCpu = store instanceof RedisOnlineStore ? () => serverCpu(store) : () => Promise.resolve(0);
  const cpuBefore = await redisCpu();
  const clientBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  let written = 0;
  const pending: Promise<void>[] = [];
  for (const rows of batches) {
    for (const v of views) {
      pending.push(store.write(v, rows).then((r) => void (written += r.written)));
      if (pending.length >= inFlight) await pending.shift();
    }
  }
  await Promise.all(pending);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (written !== entities * VIEWS) throw new Error(`wrote ${written} view rows, expected ${entities * VIEWS}`);
  const client = process.cpuUsage(clientBefore);
  const server = (await redisCpu()) - cpuBefore;
  const cpu = `client cpu ${((client.user + client.system) / 1e6).toFixed(1)} s` + (server > 0 ? `, redis cpu ${server.toFixed(1)} s` : '');
  return `${Math.round(entities / seconds).toLocaleString('en-US')} entity rows/s (${seconds.toFixed(1)} s wall, ${cpu})`;
}

/** CPU seconds redis-server has used so far. */
async function serverCpu(store: RedisOnlineStore): Promise<number> {
  const nodes = store.client instanceof Cluster ? store.client.nodes('master') : [store.client];
  let total = 0;
  for (const node of nodes) {
    const info = await node.info('cpu');
    const of = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    total += of('used_cpu_user') + of('used_cpu_sys');
  }
  return total;
}

function redisBenchmark(port: number): string {
  const fields = Array.from({ length: 55 }, (_, i) => [`f${i + 1}`, `v${i + 1}`]).flat();
  const run = spawnSync('redis-benchmark', ['-p', String(port), '-P', '64', '-n', '200000', '-q', 'hset', 'key', ...fields], { encoding: 'utf8' });
  if (run.error !== undefined) return `redis-benchmark unavailable: ${run.error.message}`;
  return /[\d.]+ requests per second/.exec(run.stdout.split('\r').pop() ?? '')?.[0] ?? run.stdout.trim();
}

async function main(): Promise<void> {
  const redis = await startRedis();
  // WRITE_BENCH_CLUSTER=1: the Redis layouts go to a local 3-node cluster instead.
  const cluster = process.env['WRITE_BENCH_CLUSTER'] === '1' ? await startRedisCluster() : undefined;
  try {
    const batches: WriteRow[][] = [];
    for (let from = 0; from < entities; from += batch) batches.push(rowsFor(from, Math.min(entities, from + batch), 0));
    for (let round = 1; round <= rounds; round++) {
      for (const layout of only(['packed', 'feast'] as RedisLayoutName[])) {
        const store = new RedisOnlineStore(cluster === undefined ? { url: redis.url, layout } : { clusterNodes: cluster.nodes, layout });
        try {
          if (cluster === undefined) await store.client.flushall();
          else await Promise.all((store.client as Cluster).nodes('master').map((node) => node.flushall()));
          console.log(`round ${round} redis ${layout}: ${await measure(store, batches)}, empty store`);
          // Overwrite of existing rows: the compare-and-set reads a stored timestamp.
          console.log(`round ${round} redis ${layout}: ${await measure(store, batches)}, overwriting`);
        } finally {
          await store.close();
        }
      }
      if (only(['sqlite']).length === 0) continue;
      console.log(`round ${round} redis-benchmark hset 55 fields -P 64: ${redisBenchmark(redis.port)}`);
      const dir = mkdtempSync(path.join(tmpdir(), 'larder-sqlite-bench-'));
      const sqlite = new SqliteOnlineStore({ path: path.join(dir, 'online.db') });
      try {
        console.log(`round ${round} sqlite: ${await measure(sqlite, batches)}`);
      } finally {
        await sqlite.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await cluster?.stop();
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
