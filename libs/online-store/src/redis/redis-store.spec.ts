import { testServices } from '@larder/testing';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { serializeEntityKey } from '../entity-key';
import { eventMsFromMicros } from '../event-time';
import { viewCodec } from '../packed-codec';
import { describeOnlineStoreBehaviour } from '../testing/behaviour';
import { T, ek, str, view } from '../testing/values';
import type { WriteRow } from '../types';
import { RedisOnlineStore, type RedisLayoutName } from './store';

const url = () => testServices().redis.url;

for (const layout of ['packed', 'feast'] as const) {
  describeOnlineStoreBehaviour(`redis ${layout}`, () => Promise.resolve(new RedisOnlineStore({ url: url(), layout })));
}

function shuffle<X>(items: X[], seed: number): X[] {
  let state = seed;
  const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

describe.each(['packed', 'feast'] as RedisLayoutName[])('redis %s layout under concurrent writers', (layout) => {
  it('ends with the newest row for every key when two writers race', async () => {
    const [a, b] = [new RedisOnlineStore({ url: url(), layout }), new RedisOnlineStore({ url: url(), layout })];
    try {
      const v = view(`race_${randomUUID().slice(0, 8)}`, 'race', { who: T.STRING });
      const keys = 300;
      const stamps = 20;
      // Writer A holds the odd timestamps 1..39 of every key, B the even ones 2..40, each
      // in its own shuffled order, so newer and older rows of a key cross all the time.
      const rowsOf = (writer: 'A' | 'B', first: number, seed: number): WriteRow[] =>
        shuffle(
          Array.from({ length: keys * stamps }, (_, n) => {
            const ts = first + 2 * (n % stamps);
            return { entityKey: ek({ driver_id: BigInt(Math.floor(n / stamps)) }), eventTs: ts, values: { who: str(`${writer}${ts}`) } };
          }),
          seed,
        );
      const run = async (store: RedisOnlineStore, rows: WriteRow[]) => {
        let written = 0;
        let skipped = 0;
        for (let i = 0; i < rows.length; i += 50) {
          const result = await store.write(v, rows.slice(i, i + 50));
          written += result.written;
          skipped += result.skipped;
        }
        return written + skipped;
      };
      const counts = await Promise.all([run(a, rowsOf('A', 1, 7)), run(b, rowsOf('B', 2, 11))]);
      expect(counts).toEqual([keys * stamps, keys * stamps]);
      const [rows] = await a.read([{ view: v, entityKeys: Array.from({ length: keys }, (_, k) => ek({ driver_id: BigInt(k) })) }]);
      const wrong = rows!.filter((row) => row?.eventTs !== 2 * stamps || row.values[0]?.val.value !== `B${2 * stamps}`);
      expect(wrong).toEqual([]);
      await a.deleteView(v);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);
});

describe.each(['packed', 'feast'] as RedisLayoutName[])('redis %s layout: a batch writer of several views per entity racing a stream writer', (layout) => {
  it('ends with the newest row of every view for every key', async () => {
    const [batchWriter, streamWriter] = [new RedisOnlineStore({ url: url(), layout }), new RedisOnlineStore({ url: url(), layout })];
    try {
      const p = `race_${randomUUID().slice(0, 8)}`;
      const shared = view(p, 'shared', { who: T.STRING });
      const own = view(p, 'own', { who: T.STRING });
      const keys = 200;
      const stamps = 20;
      // The batch writer holds the odd timestamps of both views, the stream writer the even
      // ones of `shared` only; each goes through its timestamps in a shuffled order.
      const batchRounds = shuffle(
        Array.from({ length: stamps }, (_, n) => 1 + 2 * n),
        5,
      );
      const streamRows = shuffle(
        Array.from({ length: keys * stamps }, (_, n): WriteRow => {
          const ts = 2 + 2 * (n % stamps);
          return { entityKey: ek({ driver_id: BigInt(Math.floor(n / stamps)) }), eventTs: ts, values: { who: str(`S${ts}`) } };
        }),
        9,
      );
      const ids = Array.from({ length: keys }, (_, k) => BigInt(k));
      const batches = async () => {
        for (const ts of batchRounds) {
          const rowOf = Int32Array.from(ids, (_, i) => i);
          const eventTs = ids.map(() => ts);
          const cells = ids.map(() => `B${ts}`);
          await batchWriter.writeEntities({
            size: keys,
            joinKeys: ['driver_id'],
            keyColumns: [ids],
            views: [
              { view: shared, rowOf, eventTs, columns: [cells] },
              { view: own, rowOf, eventTs, columns: [cells] },
            ],
          });
        }
      };
      const stream = async () => {
        for (let i = 0; i < streamRows.length; i += 50) await streamWriter.write(shared, streamRows.slice(i, i + 50));
      };
      await Promise.all([batches(), stream()]);
      const entityKeys = ids.map((id) => ek({ driver_id: id }));
      const [s, o] = await batchWriter.read([
        { view: shared, entityKeys },
        { view: own, entityKeys },
      ]);
      expect(s!.filter((row) => row?.eventTs !== 2 * stamps || row.values[0]?.val.value !== `S${2 * stamps}`)).toEqual([]);
      expect(o!.filter((row) => row?.eventTs !== 2 * stamps - 1 || row.values[0]?.val.value !== `B${2 * stamps - 1}`)).toEqual([]);
    } finally {
      await Promise.all([batchWriter.close(), streamWriter.close()]);
    }
  }, 60_000);
});

describe('redis packed rows of format 1 (event time in ms, written before microseconds)', () => {
  it('are read with their time and lose to a row 1 us newer, win over one 1 us older, on both write paths', async () => {
    const store = new RedisOnlineStore({ url: url(), layout: 'packed' });
    const redis = new Redis(url());
    try {
      const v = view(`v1_${randomUUID().slice(0, 8)}`, 'stats', { label: T.STRING });
      const stored = 1_767_225_600_123; // ms
      const writeV1 = async (id: bigint): Promise<void> => {
        const row = viewCodec(v).encode({ entityKey: ek({ driver_id: id }), eventTs: stored, values: { label: str('v1') } });
        row[0] = 1;
        row.writeBigUInt64BE(BigInt(stored), 1);
        await redis.hset(serializeEntityKey(ek({ driver_id: id }), Buffer.from(`larder:${v.project}:`)), v.name, row);
      };
      for (const id of [1n, 2n, 3n, 4n]) await writeV1(id);
      const [before] = await store.read([{ view: v, entityKeys: [ek({ driver_id: 1n })] }]);
      expect(before![0]).toEqual({ eventTs: stored, values: [str('v1')] });

      const older = eventMsFromMicros(stored * 1000 - 1);
      const newer = eventMsFromMicros(stored * 1000 + 1);
      expect(await store.write(v, [{ entityKey: ek({ driver_id: 1n }), eventTs: older, values: { label: str('older') } }])).toEqual({ written: 0, skipped: 1 });
      expect(await store.write(v, [{ entityKey: ek({ driver_id: 2n }), eventTs: newer, values: { label: str('newer') } }])).toEqual({ written: 1, skipped: 0 });
      const entities = (id: bigint, ts: number, label: string) =>
        store.writeEntities!({
          size: 1,
          joinKeys: ['driver_id'],
          keyColumns: [[id]],
          views: [{ view: v, rowOf: Int32Array.from([0]), eventTs: [ts], columns: [[label]] }],
        });
      expect(await entities(3n, older, 'older')).toEqual([{ written: 0, skipped: 1 }]);
      expect(await entities(4n, newer, 'newer')).toEqual([{ written: 1, skipped: 0 }]);
      const [after] = await store.read([{ view: v, entityKeys: [1n, 2n, 3n, 4n].map((id) => ek({ driver_id: id })) }]);
      expect(after).toEqual([
        { eventTs: stored, values: [str('v1')] },
        { eventTs: newer, values: [str('newer')] },
        { eventTs: stored, values: [str('v1')] },
        { eventTs: newer, values: [str('newer')] },
      ]);
    } finally {
      redis.disconnect();
      await store.close();
    }
  });
});
