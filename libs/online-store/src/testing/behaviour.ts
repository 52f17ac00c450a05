// The behaviour every OnlineStore must show; each store's spec runs it with its own factory.
import { randomUUID } from 'node:crypto';
import { InvalidRowError } from '../errors';
import { eventMsFromMicros } from '../event-time';
import type { EntityBatch, FeatureCell, OnlineStore, StoredRow, ViewColumns, ViewDescriptor } from '../types';
import { EVERY_TYPE, T, dbl, ek, i32, i64, nul, str, v as value, view, type Value } from './values';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeOnlineStoreBehaviour(name: string, open: () => Promise<OnlineStore>): void {
  describe(`${name}: OnlineStore behaviour`, () => {
    let store: OnlineStore;
    let n = 0;
    // A fresh project per test: the backing service is shared with other test files.
    const project = () => `p_${randomUUID().slice(0, 8)}_${++n}`;

    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store.close();
    });

    const readOne = async (v: ViewDescriptor, key: ReturnType<typeof ek>, features?: string[]): Promise<StoredRow | undefined> => {
      const [rows] = await store.read([features === undefined ? { view: v, entityKeys: [key] } : { view: v, features, entityKeys: [key] }]);
      return rows![0];
    };

    it('round-trips every value type, lists and nulls', async () => {
      const v = view(project(), 'all_types', { ...Object.fromEntries(Object.entries(EVERY_TYPE).map(([k, [t]]) => [k, t])), never_written: T.INT64 });
      const values = Object.fromEntries(Object.entries(EVERY_TYPE).map(([k, [, value]]) => [k, value]));
      expect(await store.write(v, [{ entityKey: ek({ driver_id: 1001n }), eventTs: 1_700_000_000_123, values }])).toEqual({ written: 1, skipped: 0 });
      const row = await readOne(v, ek({ driver_id: 1001n }));
      expect(row?.eventTs).toBe(1_700_000_000_123);
      const names = v.features.map((f) => f.name);
      const got = Object.fromEntries(names.map((f, i) => [f, row!.values[i]]));
      expect(got).toEqual({ ...values, never_written: undefined });
      expect(row!.values[names.indexOf('null_string')]?.val.case).toBe('nullVal');
    });

    it('keeps event times to the microsecond, and 1 us later wins, on both write paths', async () => {
      const p = project();
      const v = view(p, 'micros', { x: T.STRING });
      const w = view(p, 'micros_fixed', { d: T.DOUBLE });
      const at = eventMsFromMicros(1_767_225_600_123_456); // 2026-01-01T00:00:00.123456Z
      const next = eventMsFromMicros(1_767_225_600_123_457);
      const key = ek({ driver_id: 1n });
      expect(await store.write(v, [{ entityKey: key, eventTs: next, values: { x: str('later') } }])).toEqual({ written: 1, skipped: 0 });
      expect(await store.write(v, [{ entityKey: key, eventTs: at, values: { x: str('1 us older') } }])).toEqual({ written: 0, skipped: 1 });
      expect(await readOne(v, key)).toEqual({ eventTs: next, values: [str('later')] });
      if (store.writeEntities) {
        const batch = (ts: number, x: string, d: number): EntityBatch => ({
          size: 1,
          joinKeys: ['driver_id'],
          keyColumns: [[2n]],
          views: [
            { view: v, rowOf: Int32Array.from([0]), eventTs: [ts], columns: [[x]] },
            { view: w, rowOf: Int32Array.from([0]), eventTs: [ts], columns: [Float64Array.from([d])] },
          ],
        });
        expect(await store.writeEntities(batch(at, 'first', 1))).toEqual([
          { written: 1, skipped: 0 },
          { written: 1, skipped: 0 },
        ]);
        expect(await store.writeEntities(batch(next, 'second', 2))).toEqual([
          { written: 1, skipped: 0 },
          { written: 1, skipped: 0 },
        ]);
        expect(await store.writeEntities(batch(at, 'stale', 3))).toEqual([
          { written: 0, skipped: 1 },
          { written: 0, skipped: 1 },
        ]);
        const [strings, doubles] = await store.read([
          { view: v, entityKeys: [ek({ driver_id: 2n })] },
          { view: w, entityKeys: [ek({ driver_id: 2n })] },
        ]);
        expect(strings![0]).toEqual({ eventTs: next, values: [str('second')] });
        expect(doubles![0]).toEqual({ eventTs: next, values: [dbl(2)] });
      }
    });

    it('returns undefined for what is not stored', async () => {
      const v = view(project(), 'drivers', { rate: T.DOUBLE, name: T.STRING });
      await store.write(v, [{ entityKey: ek({ driver_id: 1n }), eventTs: 1000, values: { name: str('ann') } }]);
      const [rows] = await store.read([{ view: v, entityKeys: [ek({ driver_id: 2n }), ek({ driver_id: 1n }), ek({ driver_id: '1' })] }]);
      expect(rows![0]).toBeUndefined();
      expect(rows![1]).toEqual({ eventTs: 1000, values: [undefined, str('ann')] });
      expect(rows![2]).toBeUndefined(); // a string key is not the int64 key
      const other = view(project(), 'drivers', { rate: T.DOUBLE, name: T.STRING });
      expect(await readOne(other, ek({ driver_id: 1n }))).toBeUndefined(); // another project
    });

    it('reads a subset of features in the order asked', async () => {
      const v = view(project(), 'stats', { a: T.INT64, b: T.STRING, c: T.INT64 });
      await store.write(v, [{ entityKey: ek({ driver_id: 7n }), eventTs: 5, values: { a: i64(1), b: str('two'), c: i64(3) } }]);
      expect((await readOne(v, ek({ driver_id: 7n }), ['c', 'a']))?.values).toEqual([i64(3), i64(1)]);
    });

    it('keeps the newest row within one batch', async () => {
      const v = view(project(), 'lww', { x: T.STRING });
      const result = await store.write(v, [
        { entityKey: ek({ driver_id: 1n }), eventTs: 2000, values: { x: str('new') } },
        { entityKey: ek({ driver_id: 1n }), eventTs: 1000, values: { x: str('old') } },
        { entityKey: ek({ driver_id: 2n }), eventTs: 1000, values: { x: str('first') } },
        { entityKey: ek({ driver_id: 2n }), eventTs: 3000, values: { x: str('second') } },
      ]);
      expect(result).toEqual({ written: 3, skipped: 1 });
      const [rows] = await store.read([{ view: v, entityKeys: [ek({ driver_id: 1n }), ek({ driver_id: 2n })] }]);
      expect(rows).toEqual([
        { eventTs: 2000, values: [str('new')] },
        { eventTs: 3000, values: [str('second')] },
      ]);
    });

    it('resolves a large batch with every key several times, in mixed time order, row by row', async () => {
      // Big enough to span several of Redis's script chunks, with repeats of a key both
      // inside one chunk and across chunks; some keys already hold a newer row.
      const v = view(project(), 'mixed', { x: T.STRING });
      const keys = 300;
      const stored = new Map<number, { ts: number; x: string }>();
      const before = Array.from({ length: keys / 3 }, (_, j) => {
        const k = 3 * j;
        stored.set(k, { ts: 50, x: `stored${k}` });
        return { entityKey: ek({ driver_id: BigInt(k) }), eventTs: 50, values: { x: str(`stored${k}`) } };
      });
      expect(await store.write(v, before)).toEqual({ written: before.length, skipped: 0 });
      let state = 12345;
      const random = (n: number) => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % n;
      // Timestamps 1..99 (ties included): the same key gets older and newer rows in any order.
      const rows = Array.from({ length: keys * 5 }, (_, i) => {
        const k = i < keys ? i : random(keys);
        const ts = 1 + random(99);
        return { entityKey: ek({ driver_id: BigInt(k) }), eventTs: ts, values: { x: str(`k${k}@${ts}#${i}`) }, k };
      });
      let expectedWritten = 0;
      for (const row of rows) {
        const current = stored.get(row.k);
        if (current === undefined || row.eventTs >= current.ts) {
          stored.set(row.k, { ts: row.eventTs, x: row.values.x.val.value as string });
          expectedWritten++;
        }
      }
      expect(await store.write(v, rows)).toEqual({ written: expectedWritten, skipped: rows.length - expectedWritten });
      const [read] = await store.read([{ view: v, entityKeys: Array.from({ length: keys }, (_, k) => ek({ driver_id: BigInt(k) })) }]);
      expect(read!.map((row) => ({ ts: row?.eventTs, x: row?.values[0]?.val.value }))).toEqual(
        Array.from({ length: keys }, (_, k) => ({ ts: stored.get(k)!.ts, x: stored.get(k)!.x })),
      );
      // Two rows of one key in one batch: the newer wins whichever comes first.
      const key = ek({ driver_id: 100_000n });
      expect(
        await store.write(v, [
          { entityKey: key, eventTs: 200, values: { x: str('newer') } },
          { entityKey: key, eventTs: 150, values: { x: str('older') } },
        ]),
      ).toEqual({ written: 1, skipped: 1 });
      expect(await readOne(v, key)).toEqual({ eventTs: 200, values: [str('newer')] });
      expect(
        await store.write(v, [
          { entityKey: key, eventTs: 300, values: { x: str('older2') } },
          { entityKey: key, eventTs: 400, values: { x: str('newer2') } },
        ]),
      ).toEqual({ written: 2, skipped: 0 });
      expect(await readOne(v, key)).toEqual({ eventTs: 400, values: [str('newer2')] });
    });

    it('never lets an older batch overwrite a newer one; an equal timestamp overwrites', async () => {
      const v = view(project(), 'lww', { x: T.STRING });
      const key = ek({ driver_id: 9n });
      expect(await store.write(v, [{ entityKey: key, eventTs: 5000, values: { x: str('v1') } }])).toEqual({ written: 1, skipped: 0 });
      expect(await store.write(v, [{ entityKey: key, eventTs: 4999, values: { x: str('v0') } }])).toEqual({ written: 0, skipped: 1 });
      expect(await readOne(v, key)).toEqual({ eventTs: 5000, values: [str('v1')] });
      expect(await store.write(v, [{ entityKey: key, eventTs: 5000, values: { x: str('v2') } }])).toEqual({ written: 1, skipped: 0 });
      expect(await readOne(v, key)).toEqual({ eventTs: 5000, values: [str('v2')] });
      expect(await store.write(v, [{ entityKey: key, eventTs: 6000, values: { x: nul() } }])).toEqual({ written: 1, skipped: 0 });
      expect(await readOne(v, key)).toEqual({ eventTs: 6000, values: [nul()] });
    });

    it('deletes one view and leaves the others intact, also on the same entity keys', async () => {
      const p = project();
      const a = view(p, 'a', { x: T.INT64 });
      const b = view(p, 'b', { x: T.INT64 });
      const elsewhere = view(project(), 'a', { x: T.INT64 });
      const keys = [ek({ driver_id: 1n }), ek({ driver_id: 2n })];
      for (const v of [a, b, elsewhere]) {
        await store.write(
          v,
          keys.map((entityKey, i) => ({ entityKey, eventTs: 10, values: { x: i64(i) } })),
        );
      }
      await store.deleteView(a);
      const [ra, rb, re] = await store.read([a, b, elsewhere].map((v) => ({ view: v, entityKeys: keys })));
      expect(ra).toEqual([undefined, undefined]);
      expect(rb).toEqual([
        { eventTs: 10, values: [i64(0)] },
        { eventTs: 10, values: [i64(1)] },
      ]);
      expect(re).toEqual([
        { eventTs: 10, values: [i64(0)] },
        { eventTs: 10, values: [i64(1)] },
      ]);
      // A deleted view takes new writes again, whatever their timestamps.
      expect(await store.write(a, [{ entityKey: keys[0]!, eventTs: 1, values: { x: i64(5) } }])).toEqual({ written: 1, skipped: 0 });
    });

    it('expires the rows of a view with keyTtlSeconds, not those of a view without', async () => {
      const p = project();
      const short = view(p, 'short', { x: T.INT64 }, ['driver_id'], 1);
      const forever = view(p, 'forever', { x: T.INT64 });
      const now = Date.now();
      await store.write(forever, [{ entityKey: ek({ driver_id: 2n }), eventTs: now, values: { x: i64(2) } }]);
      await store.write(short, [
        { entityKey: ek({ driver_id: 1n }), eventTs: now, values: { x: i64(1) } },
        { entityKey: ek({ driver_id: 2n }), eventTs: now, values: { x: i64(1) } },
      ]);
      expect(await readOne(short, ek({ driver_id: 1n }))).toEqual({ eventTs: now, values: [i64(1)] });
      await sleep(2100);
      expect(await readOne(short, ek({ driver_id: 1n }))).toBeUndefined();
      expect(await readOne(forever, ek({ driver_id: 2n }))).toEqual({ eventTs: now, values: [i64(2)] });
      // Once expired, an older row may be written again.
      expect(await store.write(short, [{ entityKey: ek({ driver_id: 1n }), eventTs: now - 1, values: { x: i64(3) } }])).toEqual({
        written: 1,
        skipped: 0,
      });
    }, 15_000);

    it('keeps the rows of a view without a ttl written after a view with one', async () => {
      const p = project();
      const short = view(p, 'short', { x: T.INT64 }, ['driver_id'], 1);
      const forever = view(p, 'forever', { x: T.INT64 });
      const now = Date.now();
      const key = ek({ driver_id: 7n });
      await store.write(short, [{ entityKey: key, eventTs: now, values: { x: i64(1) } }]);
      await store.write(forever, [{ entityKey: key, eventTs: now, values: { x: i64(2) } }]);
      await sleep(2100);
      expect(await readOne(forever, key)).toEqual({ eventTs: now, values: [i64(2)] });
    }, 15_000);

    it('stores composite entity keys whatever the order of their join keys', async () => {
      const v = view(project(), 'trips', { n: T.INT64 }, ['driver_id', 'customer_id']);
      await store.write(v, [
        { entityKey: ek({ customer_id: 'c1', driver_id: 1n }), eventTs: 1, values: { n: i64(11) } },
        { entityKey: ek({ driver_id: 1n, customer_id: 'c2' }), eventTs: 1, values: { n: i64(12) } },
      ]);
      const [rows] = await store.read([
        { view: v, entityKeys: [ek({ driver_id: 1n, customer_id: 'c1' }), ek({ customer_id: 'c2', driver_id: 1n }), ek({ driver_id: 2n, customer_id: 'c1' })] },
      ]);
      expect(rows!.map((r) => r?.values[0])).toEqual([i64(11), i64(12), undefined]);
    });

    it('reads many views in one call', async () => {
      const p = project();
      const views = Array.from({ length: 6 }, (_, i) =>
        i < 4 ? view(p, `driver_v${i}`, { f: T.INT64, g: T.STRING }) : view(p, `customer_v${i}`, { f: T.INT64, g: T.STRING }, ['customer_id']),
      );
      for (const [i, v] of views.entries()) {
        const keyOf = (k: number) => (i < 4 ? ek({ driver_id: BigInt(k) }) : ek({ customer_id: `c${k}` }));
        await store.write(
          v,
          [1, 2, 3]
            .filter((k) => k !== (i % 3) + 1)
            .map((k) => ({ entityKey: keyOf(k), eventTs: 100 + i, values: { f: i64(i * 10 + k), g: str(`${v.name}/${k}`) } })),
        );
      }
      const requests = views.map((v, i) => ({
        view: v,
        features: i % 2 === 0 ? ['g', 'f'] : ['f'],
        entityKeys: [1, 2, 3].map((k) => (i < 4 ? ek({ driver_id: BigInt(k) }) : ek({ customer_id: `c${k}` }))),
      }));
      const results = await store.read(requests);
      results.forEach((rows, i) => {
        const name = views[i]!.name;
        rows.forEach((row, k0) => {
          const k = k0 + 1;
          if (k === (i % 3) + 1) {
            expect(row).toBeUndefined();
          } else {
            const expected: Value[] = i % 2 === 0 ? [str(`${name}/${k}`), i64(i * 10 + k)] : [i64(i * 10 + k)];
            expect(row).toEqual({ eventTs: 100 + i, values: expected });
          }
        });
      });
    });

    it('never misreads rows written under an earlier schema of the view', async () => {
      const p = project();
      const v1 = view(p, 'evolving', { a: T.INT64, b: T.STRING, c: T.DOUBLE });
      await store.write(v1, [{ entityKey: ek({ driver_id: 1n }), eventTs: 1, values: { a: i64(1), b: str('b'), c: EVERY_TYPE.double![1] } }]);
      // c moved first, d added, a retyped, b kept.
      const v2 = view(p, 'evolving', { c: T.DOUBLE, d: T.BOOL, a: T.STRING, b: T.STRING });
      expect((await readOne(v2, ek({ driver_id: 1n })))?.values).toEqual([EVERY_TYPE.double![1], undefined, undefined, str('b')]);
      await store.write(v2, [{ entityKey: ek({ driver_id: 2n }), eventTs: 1, values: { a: str('text'), b: str('b2'), d: EVERY_TYPE.bool_true![1] } }]);
      // Read back with the old schema: b is there, the retyped a is not handed out as an int64.
      expect((await readOne(v1, ek({ driver_id: 2n })))?.values).toEqual([undefined, str('b2'), undefined]);
      // Removing a feature: the rest still lines up.
      const v3 = view(p, 'evolving', { b: T.STRING });
      expect((await readOne(v3, ek({ driver_id: 1n })))?.values).toEqual([str('b')]);
    });

    it('rejects a batch with a bad row before writing any of it', async () => {
      const v = view(project(), 'strict', { x: T.INT64 });
      const good = { entityKey: ek({ driver_id: 1n }), eventTs: 1, values: { x: i64(1) } };
      await expect(store.write(v, [good, { entityKey: ek({ driver_id: 2n }), eventTs: 1, values: { x: str('no') } }])).rejects.toBeInstanceOf(InvalidRowError);
      await expect(store.write(v, [good, { entityKey: ek({ driver_id: 2n }), eventTs: -1, values: {} }])).rejects.toBeInstanceOf(InvalidRowError);
      await expect(store.write(v, [good, { entityKey: ek({ driver_id: 2n }), eventTs: 1.0005, values: {} }])).rejects.toBeInstanceOf(InvalidRowError);
      await expect(store.write(v, [good, { entityKey: ek({ driver_id: 2n }), eventTs: 1, values: { y: i64(1) } }])).rejects.toBeInstanceOf(InvalidRowError);
      expect(await readOne(v, ek({ driver_id: 1n }))).toBeUndefined();
    });

    describe('writeEntities (several views per entity key)', () => {
      const writeEntities = (batch: EntityBatch) => {
        if (!store.writeEntities) throw new Error(`${name} has no writeEntities`);
        return store.writeEntities(batch);
      };
      const columnsOf = (v: ViewDescriptor, rowOf: number[], eventTs: number[], columns: ArrayLike<FeatureCell>[]): ViewColumns => ({
        view: v,
        rowOf: Int32Array.from(rowOf),
        eventTs,
        columns,
      });

      it('writes all-DOUBLE views given as typed columns (as DuckDB hands them) as it writes them row by row', async () => {
        const p = project();
        const typed = view(p, 'typed', { a: T.DOUBLE, b: T.DOUBLE, c: T.DOUBLE });
        const mixed = view(p, 'mixed', { a: T.DOUBLE, b: T.DOUBLE });
        const late = 1_700_000_000_123; // above 2^32 ms: both halves of the stored time matter
        const results = await writeEntities({
          size: 3,
          joinKeys: ['driver_id'],
          keyColumns: [[20n, 21n, 22n]],
          views: [
            columnsOf(
              typed,
              [2, 0, 1],
              [late, 5, late + 1],
              [Float64Array.from([0.5, -1, 2]), Float64Array.from([1e300, 0, -0]), Float64Array.from([Number.NaN, 3, 4])],
            ),
            columnsOf(mixed, [0, -1, 1], [late, late], [Float64Array.from([9, 8]), [null, 7]]),
          ],
        });
        expect(results).toEqual([
          { written: 3, skipped: 0 },
          { written: 2, skipped: 0 },
        ]);
        const keys = [ek({ driver_id: 20n }), ek({ driver_id: 21n }), ek({ driver_id: 22n })];
        const [t, m] = await store.read([
          { view: typed, entityKeys: keys },
          { view: mixed, entityKeys: keys },
        ]);
        expect(t).toEqual([
          { eventTs: late + 1, values: [dbl(2), dbl(-0), dbl(4)] },
          { eventTs: late, values: [dbl(0.5), dbl(1e300), dbl(Number.NaN)] },
          { eventTs: 5, values: [dbl(-1), dbl(0), dbl(3)] },
        ]);
        expect(m).toEqual([{ eventTs: late, values: [dbl(9), nul()] }, undefined, { eventTs: late, values: [dbl(8), dbl(7)] }]);
        // Row by row, the same values read back the same.
        const again = view(p, 'typed_again', { a: T.DOUBLE, b: T.DOUBLE, c: T.DOUBLE });
        await store.write(again, [{ entityKey: keys[1]!, eventTs: late, values: { a: dbl(0.5), b: dbl(1e300), c: dbl(Number.NaN) } }]);
        expect(await readOne(again, keys[1]!)).toEqual(t![1]);
        // The stored time orders later writes: an older row is skipped, a newer one lands.
        expect(
          await writeEntities({
            size: 1,
            joinKeys: ['driver_id'],
            keyColumns: [[20n]],
            views: [columnsOf(typed, [0], [late], [Float64Array.of(1), Float64Array.of(1), Float64Array.of(1)])],
          }),
        ).toEqual([{ written: 0, skipped: 1 }]);
        expect(
          await writeEntities({
            size: 1,
            joinKeys: ['driver_id'],
            keyColumns: [[20n]],
            views: [columnsOf(typed, [0], [late + 2], [Float64Array.of(1), Float64Array.of(1), Float64Array.of(1)])],
          }),
        ).toEqual([{ written: 1, skipped: 0 }]);
      });

      it('writes a row whose event time is the epoch itself', async () => {
        const v = view(project(), 'epoch', { x: T.DOUBLE });
        expect(await writeEntities({ size: 1, joinKeys: ['driver_id'], keyColumns: [[30n]], views: [columnsOf(v, [0], [0], [[1.5]])] })).toEqual([
          { written: 1, skipped: 0 },
        ]);
        expect(await readOne(v, ek({ driver_id: 30n }))).toEqual({ eventTs: 0, values: [dbl(1.5)] });
      });

      it('writes each view of each entity, leaving out the views an entity has no row of', async () => {
        const p = project();
        const stats = view(p, 'stats', { rate: T.DOUBLE, trips: T.INT64, label: T.STRING });
        const flags = view(p, 'flags', { active: T.BOOL, seen: T.UNIX_TIMESTAMP, tags: T.STRING_LIST });
        // Entities 10, 11, 12: stats has rows for 10 and 12 (in its own row order), flags for 11 and 12.
        const results = await writeEntities({
          size: 3,
          joinKeys: ['driver_id'],
          keyColumns: [[10n, 11n, 12n]],
          views: [
            columnsOf(stats, [1, -1, 0], [2000, 1000], [Float64Array.from([1.5, -0.25]), [7n, null], ['twelve', 'ten']]),
            columnsOf(
              flags,
              [-1, 0, 1],
              [3000, 4000],
              [
                [true, null],
                [new Date(1_700_000_000_999), new Date(0)],
                [['a', 'b'], []],
              ],
            ),
          ],
        });
        expect(results).toEqual([
          { written: 2, skipped: 0 },
          { written: 2, skipped: 0 },
        ]);
        const keys = [ek({ driver_id: 10n }), ek({ driver_id: 11n }), ek({ driver_id: 12n })];
        const [s, f] = await store.read([
          { view: stats, entityKeys: keys },
          { view: flags, entityKeys: keys },
        ]);
        expect(s).toEqual([
          { eventTs: 1000, values: [dbl(-0.25), nul(), str('ten')] },
          undefined,
          { eventTs: 2000, values: [dbl(1.5), i64(7), str('twelve')] },
        ]);
        expect(f).toEqual([
          undefined,
          {
            eventTs: 3000,
            values: [
              value({ case: 'boolVal', value: true }),
              value({ case: 'unixTimestampVal', value: 1_700_000_000n }),
              value({ case: 'stringListVal', value: { val: ['a', 'b'] } }),
            ],
          },
          { eventTs: 4000, values: [nul(), value({ case: 'unixTimestampVal', value: 0n }), value({ case: 'stringListVal', value: { val: [] } })] },
        ]);
        // The same rows through write() read back the same: one format whichever path wrote it.
        const again = view(p, 'stats_again', { rate: T.DOUBLE, trips: T.INT64, label: T.STRING });
        await store.write(again, [{ entityKey: ek({ driver_id: 12n }), eventTs: 2000, values: { rate: dbl(1.5), trips: i64(7), label: str('twelve') } }]);
        expect((await readOne(again, ek({ driver_id: 12n })))?.values).toEqual(s![2]!.values);
      });

      it("keeps a newer stored row of one view while writing the entity's other views; an equal time overwrites", async () => {
        const p = project();
        const a = view(p, 'a', { x: T.STRING });
        const b = view(p, 'b', { y: T.STRING });
        await store.write(a, [
          { entityKey: ek({ driver_id: 1n }), eventTs: 5000, values: { x: str('stream') } },
          { entityKey: ek({ driver_id: 2n }), eventTs: 5000, values: { x: str('stream') } },
        ]);
        const results = await writeEntities({
          size: 3,
          joinKeys: ['driver_id'],
          keyColumns: [[1n, 2n, 3n]],
          views: [
            columnsOf(a, [0, 1, 2], [4000, 5000, 4000], [['batch', 'batch-equal', 'batch']]),
            columnsOf(b, [0, 1, 2], [4000, 4000, 4000], [['b1', 'b2', 'b3']]),
          ],
        });
        expect(results).toEqual([
          { written: 2, skipped: 1 },
          { written: 3, skipped: 0 },
        ]);
        const keys = [1n, 2n, 3n].map((id) => ek({ driver_id: id }));
        const [ra, rb] = await store.read([
          { view: a, entityKeys: keys },
          { view: b, entityKeys: keys },
        ]);
        expect(ra!.map((r) => [r?.eventTs, r?.values[0]?.val.value])).toEqual([
          [5000, 'stream'],
          [5000, 'batch-equal'],
          [4000, 'batch'],
        ]);
        expect(rb!.map((r) => r?.values[0]?.val.value)).toEqual(['b1', 'b2', 'b3']);
        // An older batch of the same entities changes nothing.
        const older = await writeEntities({
          size: 1,
          joinKeys: ['driver_id'],
          keyColumns: [[3n]],
          views: [columnsOf(a, [0], [1], [['old']]), columnsOf(b, [0], [1], [['old']])],
        });
        expect(older).toEqual([
          { written: 0, skipped: 1 },
          { written: 0, skipped: 1 },
        ]);
        expect((await readOne(b, ek({ driver_id: 3n })))?.values).toEqual([str('b3')]);
      });

      it('writes composite and string keys the way write() keys them', async () => {
        const p = project();
        const v = view(p, 'trips', { n: T.INT32 }, ['city', 'driver_id']);
        await writeEntities({
          size: 2,
          joinKeys: ['driver_id', 'city'],
          keyColumns: [
            [5, 6],
            ['Zürich', 'Paris'],
          ],
          views: [columnsOf(v, [0, 1], [10, 20], [[50, 60]])],
        });
        const [rows] = await store.read([{ view: v, entityKeys: [ek({ city: 'Paris', driver_id: 6 }), ek({ driver_id: 5, city: 'Zürich' })] }]);
        expect(rows).toEqual([
          { eventTs: 20, values: [i32(60)] },
          { eventTs: 10, values: [i32(50)] },
        ]);
      });

      it('rejects a batch with a bad cell before writing any of it', async () => {
        const p = project();
        const v = view(p, 'strict', { x: T.INT64 });
        const w = view(p, 'other', { y: T.DOUBLE });
        const bad = (cells: FeatureCell[], eventTs = [1, 1]) =>
          writeEntities({
            size: 2,
            joinKeys: ['driver_id'],
            keyColumns: [[1n, 2n]],
            views: [columnsOf(w, [0, 1], [1, 1], [[0.5, 0.5]]), columnsOf(v, [0, 1], eventTs, [cells])],
          });
        await expect(bad([1n, 'two'])).rejects.toBeInstanceOf(InvalidRowError);
        await expect(bad([1n, 2.5])).rejects.toBeInstanceOf(InvalidRowError);
        await expect(bad([1n, 2n], [1, -1])).rejects.toBeInstanceOf(InvalidRowError);
        await expect(bad([1n, 2n], [1, 1.0005])).rejects.toBeInstanceOf(InvalidRowError);
        expect(await readOne(w, ek({ driver_id: 1n }))).toBeUndefined();
      });

      it('expires a key only when every view written to it has a ttl', async () => {
        const p = project();
        const short = view(p, 'short', { x: T.INT64 }, ['driver_id'], 1);
        const forever = view(p, 'forever', { x: T.INT64 });
        const now = Date.now();
        await writeEntities({
          size: 2,
          joinKeys: ['driver_id'],
          keyColumns: [[1n, 2n]],
          views: [columnsOf(short, [0, 1], [now, now], [[1n, 1n]]), columnsOf(forever, [-1, 0], [now], [[2n]])],
        });
        await sleep(2100);
        expect(await readOne(short, ek({ driver_id: 1n }))).toBeUndefined();
        expect(await readOne(forever, ek({ driver_id: 2n }))).toEqual({ eventTs: now, values: [i64(2)] });
      }, 15_000);

      it('keeps a key from expiring once a view without a ttl is written to it after one with a ttl', async () => {
        const p = project();
        const short = view(p, 'short', { x: T.INT64 }, ['driver_id'], 1);
        const forever = view(p, 'forever', { x: T.INT64 });
        const now = Date.now();
        // Key 1: each view in a call of its own; key 2: a ttl write, then both views at once.
        await writeEntities({ size: 2, joinKeys: ['driver_id'], keyColumns: [[1n, 2n]], views: [columnsOf(short, [0, 1], [now, now], [[1n, 1n]])] });
        await writeEntities({ size: 1, joinKeys: ['driver_id'], keyColumns: [[1n]], views: [columnsOf(forever, [0], [now], [[2n]])] });
        await writeEntities({
          size: 1,
          joinKeys: ['driver_id'],
          keyColumns: [[2n]],
          views: [columnsOf(short, [0], [now + 1], [[3n]]), columnsOf(forever, [0], [now], [[4n]])],
        });
        await sleep(2100);
        expect(await readOne(forever, ek({ driver_id: 1n }))).toEqual({ eventTs: now, values: [i64(2)] });
        expect(await readOne(forever, ek({ driver_id: 2n }))).toEqual({ eventTs: now, values: [i64(4)] });
      }, 15_000);
    });
  });
}
