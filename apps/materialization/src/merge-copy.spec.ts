import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDBOfflineStore } from '@larder/offline-store';
import { eventMsFromMicros, RedisOnlineStore, SqliteOnlineStore } from '@larder/online-store';
import type { OnlineStore, ViewDescriptor } from '@larder/online-store';
import { typesV1 } from '@larder/proto';
import { testServices } from '@larder/testing';
import type { CopyOptions } from './merge-copy';
import { copyViewsLatest, GroupedCopier } from './merge-copy';
import type { ViewPlan } from './view-plan';

const T = typesV1.ValueType;
const BASE = Date.UTC(2026, 0, 1);
const START = new Date(BASE);
const END = new Date(BASE + 1000 * 60_000);
const ENTITIES = 500;

// View v has rows for the drivers d with d % (v + 2) != 0 (so each view misses other
// entities), three rows per driver at minutes d % 7, d % 7 + 1 and d % 7 + 2; the latest
// carries x = d * 10 + v, y = 'd<d>v<v>', z null for every 5th driver. Driver d's event
// times are d microseconds past the minute: the online rows must keep them.
function sourceSql(v: number): string {
  return `SELECT d::BIGINT AS driver_id, TIMESTAMP '2026-01-01' + to_minutes((d % 7 + k)::BIGINT) + to_microseconds(d::BIGINT) AS ts,
      (d * 10 + ${v} - (2 - k))::DOUBLE AS x, 'd' || d || 'v${v}' || CASE WHEN k < 2 THEN '-old' ELSE '' END AS y,
      CASE WHEN d % 5 = 0 THEN NULL ELSE d * 100 + ${v} END::BIGINT AS z
    FROM range(0, ${ENTITIES}) r(d), range(0, 3) s(k) WHERE d % ${v + 2} <> 0
    ORDER BY hash(d, k)`;
}

const features = [
  { name: 'x', type: T.DOUBLE },
  { name: 'y', type: T.STRING },
  { name: 'z', type: T.INT64 },
];

function plans(dir: string, project: string, count: number): ViewPlan[] {
  return Array.from({ length: count }, (_, v) => ({
    name: `view_${v}`,
    ttlMs: 0,
    source: { name: `src_${v}`, location: { kind: 'file', path: path.join(dir, `v${v}.parquet`), format: 'parquet' }, timestampField: 'ts' },
    joinKeys: [{ name: 'driver_id', type: T.INT64 }],
    features,
    descriptor: { project, name: `view_${v}`, features, joinKeys: ['driver_id'] },
  }));
}

const expected = (v: number, d: number) =>
  d % (v + 2) === 0
    ? undefined
    : { eventTs: eventMsFromMicros((BASE + ((d % 7) + 2) * 60_000) * 1000 + d), x: d * 10 + v, y: `d${d}v${v}`, z: d % 5 === 0 ? null : BigInt(d * 100 + v) };

async function onlineRows(online: OnlineStore, descriptors: ViewDescriptor[]) {
  const keys = Array.from(
    { length: ENTITIES },
    (_, d) => ({ joinKeys: ['driver_id'], entityValues: [{ $typeName: 'larder.types.v1.Value', val: { case: 'int64Val', value: BigInt(d) } }] }) as never,
  );
  const read = await online.read(descriptors.map((view) => ({ view, entityKeys: keys })));
  return read.map((rows) =>
    rows.map((row) =>
      row === undefined
        ? undefined
        : {
            eventTs: row.eventTs,
            x: row.values[0]?.val.value,
            y: row.values[1]?.val.value,
            z: row.values[2]?.val.case === 'nullVal' ? null : row.values[2]?.val.value,
          },
    ),
  );
}

describe('merged copy of several views by entity', () => {
  let dir: string;
  let offline: DuckDBOfflineStore;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'larder-merge-'));
    const db = await DuckDBInstance.create();
    const connection = await db.connect();
    for (let v = 0; v < 3; v++) await connection.run(`COPY (${sourceSql(v)}) TO '${path.join(dir, `v${v}.parquet`)}' (FORMAT parquet)`);
    connection.closeSync();
    offline = await DuckDBOfflineStore.create();
  });
  afterAll(async () => {
    await offline.close();
    await rm(dir, { recursive: true, force: true });
  });

  const stores: [string, () => OnlineStore][] = [
    ['redis packed', () => new RedisOnlineStore({ url: testServices().redis.url, layout: 'packed' })],
    ['redis feast', () => new RedisOnlineStore({ url: testServices().redis.url, layout: 'feast' })],
    ['sqlite', () => new SqliteOnlineStore({ path: path.join(dir, `online-${randomUUID()}.db`) })],
  ];

  it.each(stores)('writes the latest row of every view of every entity into %s, keeping a newer stored row', async (_name, open) => {
    const online = open();
    try {
      const project = `m_${randomUUID().slice(0, 8)}`;
      const ps = plans(dir, project, 3);
      // A stream wrote driver 1 of view_0 after the batch's event time: it must stay.
      const newer = {
        entityKey: { joinKeys: ['driver_id'], entityValues: [{ $typeName: 'larder.types.v1.Value', val: { case: 'int64Val', value: 1n } }] } as never,
        eventTs: END.getTime() + 1,
        values: {},
      };
      await online.write(ps[0]!.descriptor, [newer]);
      const progress = ps.map(() => ({ read: 0, written: 0 }));
      const outcomes = await copyViewsLatest(
        offline,
        online,
        ps.map((plan, v) => ({
          plan,
          start: START,
          end: END,
          signal: new AbortController().signal,
          onProgress: (d) => void ((progress[v]!.read += d.read), (progress[v]!.written += d.written)),
        })),
        // Small chunks: many chunk ends inside entity runs, several batches in flight.
        { chunkRows: 37, writesInFlight: 3, writeTimeoutMs: 10_000 },
      );
      const counts = ps.map((_, v) => Array.from({ length: ENTITIES }, (_, d) => d).filter((d) => expected(v, d) !== undefined).length);
      expect(outcomes).toEqual(
        counts.map((n, v) => ({ ok: true, result: { rowsRead: n, rowsWritten: v === 0 ? n - 1 : n, rowsSkipped: v === 0 ? 1 : 0, valuesNulled: 0 } })),
      );
      expect(progress).toEqual(counts.map((n, v) => ({ read: n, written: v === 0 ? n - 1 : n })));
      const rows = await onlineRows(
        online,
        ps.map((p) => p.descriptor),
      );
      rows.forEach((viewRows, v) =>
        viewRows.forEach((row, d) => {
          if (v === 0 && d === 1) expect(row).toEqual({ eventTs: END.getTime() + 1, x: undefined, y: undefined, z: undefined });
          else expect(row).toEqual(expected(v, d));
        }),
      );
    } finally {
      await online.close();
    }
  });

  it('stops only the view whose signal fires; the others complete', async () => {
    const online = new RedisOnlineStore({ url: testServices().redis.url, layout: 'packed' });
    try {
      const ps = plans(dir, `m_${randomUUID().slice(0, 8)}`, 3);
      const stop = new AbortController();
      const reason = new Error('lease lost');
      let writtenBeforeStop = 0;
      const outcomes = await copyViewsLatest(
        offline,
        online,
        ps.map((plan, v) => ({
          plan,
          start: START,
          end: END,
          signal: v === 1 ? stop.signal : new AbortController().signal,
          onProgress: ({ written }) => {
            if (v !== 1) return;
            writtenBeforeStop += written;
            if (writtenBeforeStop > 0) stop.abort(reason);
          },
        })),
        { chunkRows: 20, writesInFlight: 1, writeTimeoutMs: 10_000 },
      );
      expect(outcomes[1]).toEqual({ ok: false, error: reason });
      expect(outcomes[0]).toMatchObject({ ok: true, result: { rowsWritten: ENTITIES - ENTITIES / 2 } });
      expect(outcomes[2]).toMatchObject({ ok: true });
      const rows = await onlineRows(online, [ps[1]!.descriptor]);
      expect(rows[0]!.filter((r) => r !== undefined).length).toBeLessThan(ENTITIES - Math.ceil(ENTITIES / 3));
    } finally {
      await online.close();
    }
  });

  it('groups views by join keys and does not wait for a view that leaves without copying', async () => {
    const online = new SqliteOnlineStore({ path: ':memory:' });
    try {
      const ps = plans(dir, 'grouped', 3);
      const other: ViewPlan = {
        ...ps[2]!,
        name: 'by_string',
        joinKeys: [{ name: 'driver_id', type: T.STRING }],
        descriptor: { ...ps[2]!.descriptor, name: 'by_string' },
      };
      const copier = new GroupedCopier(offline, online, [ps[0]!, other, ps[1]!, ps[2]!]);
      expect(copier.groups.map((g) => g.map((p) => p.name))).toEqual([['view_0', 'view_1', 'view_2'], ['by_string']]);
      const options = (): CopyOptions => ({
        start: START,
        end: END,
        chunkRows: 100,
        writesInFlight: 2,
        writeTimeoutMs: 10_000,
        signal: new AbortController().signal,
        onProgress: () => undefined,
      });
      const first = copier.copy(ps[0]!, options());
      const second = copier.copy(ps[2]!, options());
      copier.leave(ps[1]!);
      const [a, b] = await Promise.all([first, second]);
      expect(a.rowsWritten).toBe(ENTITIES / 2);
      expect(b.rowsWritten).toBe(ENTITIES - Math.ceil(ENTITIES / 4));
      expect((await onlineRows(online, [ps[1]!.descriptor]))[0]!.every((r) => r === undefined)).toBe(true);
    } finally {
      await online.close();
    }
  });
});
