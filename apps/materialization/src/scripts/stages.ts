// Where materialization time goes, stage by stage, in one process (no gRPC, no registry):
//   npx tsx apps/materialization/src/scripts/stages.ts [entities=200000]
// One Parquet file per view (5 views x 10 DOUBLE features, one row per entity); each
// stage is timed alone over all views so their costs can be compared.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDBOfflineStore } from '@larder/offline-store';
import { RedisOnlineStore, SqliteOnlineStore } from '@larder/online-store';
import type { OnlineStore } from '@larder/online-store';
import { viewCodec } from '@larder/online-store';
import { typesV1 } from '@larder/proto';
import { startRedis } from '@larder/testing';
import { copyViewsLatest } from '../merge-copy';
import type { ViewPlan } from '../view-plan';

const T = typesV1.ValueType;
const ENTITIES = Number(process.argv[2] ?? 200_000);
const VIEWS = 5;
const FEATURES = 10;
const START = new Date(Date.UTC(2026, 0, 1));
const END = new Date(Date.UTC(2026, 0, 2));

function plans(dir: string): ViewPlan[] {
  return Array.from({ length: VIEWS }, (_, v) => {
    const features = Array.from({ length: FEATURES }, (_, f) => ({ name: `f${f}`, type: T.DOUBLE }));
    return {
      name: `view_${v}`,
      ttlMs: 0,
      source: { name: `src_${v}`, location: { kind: 'file', path: path.join(dir, `view_${v}.parquet`), format: 'parquet' }, timestampField: 'event_timestamp' },
      joinKeys: [{ name: 'driver_id', type: T.INT64 }],
      features,
      descriptor: { project: 'bench', name: `view_${v}`, features, joinKeys: ['driver_id'] },
    } as ViewPlan;
  });
}

async function time<X>(label: string, fn: () => Promise<X>): Promise<X> {
  const cpu = process.cpuUsage();
  const t = process.hrtime.bigint();
  const out = await fn();
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const c = process.cpuUsage(cpu);
  process.stdout.write(
    `${label.padEnd(48)} ${s.toFixed(2).padStart(7)} s  ${Math.round((ENTITIES * VIEWS) / s)
      .toLocaleString()
      .padStart(11)} view rows/s  ${Math.round(ENTITIES / s)
      .toLocaleString()
      .padStart(9)} entity rows/s  cpu ${((c.user + c.system) / 1e6).toFixed(2)} s\n`,
  );
  return out;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-stages-'));
  const db = await DuckDBInstance.create();
  const c = await db.connect();
  for (let v = 0; v < VIEWS; v++) {
    const features = Array.from({ length: FEATURES }, (_, f) => `(random() * ${f + 1})::DOUBLE AS f${f}`).join(', ');
    await c.run(
      `COPY (SELECT i::BIGINT AS driver_id, TIMESTAMP '2026-01-01' + to_seconds((i % 86000)::BIGINT) AS ` +
        `event_timestamp, ${features} FROM range(0, ${ENTITIES}) t(i)) TO '${path.join(dir, `view_${v}.parquet`)}' ` +
        `(FORMAT parquet)`,
    );
  }
  c.closeSync();
  const ps = plans(dir);
  const offline = await DuckDBOfflineStore.create();
  const redis = await startRedis();
  const online = new RedisOnlineStore({ url: redis.url, layout: 'packed', writeTimeoutMs: 60_000 });
  const feast = new RedisOnlineStore({ url: redis.url, layout: 'feast', writeTimeoutMs: 60_000 });
  const sqlite = new SqliteOnlineStore({ path: path.join(dir, 'online.db') });
  const redisCpu = async (): Promise<number> => {
    const info = await online.client.info('cpu');
    return Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  };
  const window = (p: ViewPlan) => ({ plan: p, start: START, end: END, onProgress: () => undefined, signal: new AbortController().signal });
  const options = { chunkRows: 5000, writesInFlight: Number(process.env['IN_FLIGHT'] ?? 4), writeTimeoutMs: 60_000 };
  const only = process.env['ONLY'];
  try {
    const pull = (p: ViewPlan) => offline.pullLatest({ source: p.source, joinKeys: p.joinKeys, features: p.features, start: START, end: END, chunkRows: 5000 });
    if (!only || only === 'pull') {
      await time('duckdb pullLatest + cells (5 views at once)', async () => {
        await Promise.all(
          ps.map(async (p) => {
            for await (const _ of pull(p)) void _;
          }),
        );
      });
      // The merge and encode without a store behind: what Node spends before Redis.
      const discard: OnlineStore = {
        read: () => Promise.resolve([]),
        write: (_v, rows) => Promise.resolve({ written: rows.length, skipped: 0 }),
        writeEntities: (batch) => {
          for (const v of batch.views)
            for (let i = 0; i < batch.size; i++) if (v.rowOf[i]! >= 0) viewCodec(v.view).encodeColumns(v, v.rowOf[i]!, v.eventTs[v.rowOf[i]!]!);
          return Promise.resolve(batch.views.map(() => ({ written: 0, skipped: 0 })));
        },
        deleteView: () => Promise.resolve(),
        close: () => Promise.resolve(),
      };
      await time('pull + merge + packed encode (no store)', () => copyViewsLatest(offline, discard, ps.map(window), options));
    }
    for (const [name, store] of [
      ['redis packed', online],
      ['redis feast', feast],
      ['sqlite', sqlite],
    ] as const) {
      if (only && only !== name.split(' ').pop()) continue;
      if (store instanceof RedisOnlineStore) await store.client.flushall();
      const before = await redisCpu();
      const out = await time(`merged copy -> ${name}`, () => copyViewsLatest(offline, store, ps.map(window), options));
      const bad = out.find((o) => !o.ok || o.result.rowsWritten !== ENTITIES);
      if (bad) throw new Error(`copy incomplete: ${JSON.stringify(out, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
      if (store instanceof RedisOnlineStore) process.stdout.write(`  redis cpu ${((await redisCpu()) - before).toFixed(2)} s\n`);
    }
  } finally {
    await online.close();
    await feast.close();
    await sqlite.close();
    await offline.close();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

void main();
