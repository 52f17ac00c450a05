// Checks the `feast` layout against the real feast package from PyPI, both ways.
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { typesV1 } from '@larder/proto';
import { testServices } from '@larder/testing';
import { randomUUID } from 'node:crypto';
import { serializeEntityKey } from '../entity-key';
import { eventMsFromMicros } from '../event-time';
import { feastFeatureField, murmur3 } from '../murmur3';
import { feastPython, runFeast } from '../testing/feast-python';
import { EVERY_TYPE, T, ek, i64, str, v as value, view } from '../testing/values';
import type { EntityKeyInput, ViewDescriptor } from '../types';
import { RedisOnlineStore } from './store';

jest.setTimeout(25 * 60_000);

const b64 = (v: typesV1.Value) => Buffer.from(toBinary(typesV1.ValueSchema, v)).toString('base64');
const fromB64 = (s: string) => fromBinary(typesV1.ValueSchema, Buffer.from(s, 'base64'));
const wireKey = (key: EntityKeyInput) => ({ join_keys: key.joinKeys, values: key.entityValues.map(b64) });
const wireView = (v: ViewDescriptor) => ({
  name: v.name,
  join_keys: v.joinKeys,
  features: v.features.map((f) => ({ name: f.name, type: typesV1.ValueType[f.type] })),
});

interface FeastRead {
  rows: ({ ts_us: number; values: Record<string, string> } | null)[];
}

let python: string;
let store: RedisOnlineStore;
const redisAddress = () => `${testServices().redis.host}:${testServices().redis.port}`;

beforeAll(async () => {
  python = await feastPython();
  store = new RedisOnlineStore({ url: testServices().redis.url, layout: 'feast' });
});
afterAll(() => store?.close());

describe('feast layout against the real feast package', () => {
  it('serializes entity keys, Redis keys and field names byte for byte like feast', async () => {
    const keys: EntityKeyInput[] = [
      ek({ driver_id: 1001n }),
      ek({ driver_id: -5n }),
      ek({ driver_id: 'abc' }),
      ek({ name: 'ünïcødé 𝄞' }),
      ek({ small: 7 }),
      ek({ raw: value({ case: 'bytesVal', value: new Uint8Array([0, 1, 255]) }) }),
      ek({ at: value({ case: 'unixTimestampVal', value: 1700000000n }) }),
      ek({ driver_id: 1001n, customer_id: 'c42' }),
      ek({ zeta: 'z', alpha: 1n, mid: 3 }),
      ek({ b: 'x', a: 2n, B: 'upper', é: 'accent' }),
    ];
    const strings = ['driver_hourly_stats:conv_rate', 'v:f', 'ünï:feature', '', 'abc', 'abcd', 'abcde'];
    const answer = await runFeast<{ entity_keys: string[]; redis_keys: string[]; mmh3: string[] }>(python, {
      op: 'keys',
      project: 'my_project',
      entity_keys: keys.map(wireKey),
      strings,
    });
    expect(keys.map((k) => serializeEntityKey(k).toString('hex'))).toEqual(answer.entity_keys);
    expect(keys.map((k) => serializeEntityKey(k, undefined, Buffer.from('my_project')).toString('hex'))).toEqual(answer.redis_keys);
    // Any name Feast's rule allows, hyphens and capitals too, is appended as its UTF-8 bytes.
    for (const project of ['larder-compat', 'Larder-Compat_2', 'proj\u00e9t']) {
      const named = await runFeast<{ redis_keys: string[] }>(python, { op: 'keys', project, entity_keys: keys.map(wireKey), strings: [] });
      expect(keys.map((k) => serializeEntityKey(k, undefined, Buffer.from(project)).toString('hex'))).toEqual(named.redis_keys);
    }
    expect(
      strings.map((s) => {
        const at = s.lastIndexOf(':');
        return (at < 0 ? feastFieldOfRaw(s) : feastFeatureField(s.slice(0, at), s.slice(at + 1))).toString('hex');
      }),
    ).toEqual(answer.mmh3);
  });

  it('reads what feast wrote, and feast reads what we wrote', async () => {
    const project = `feast_${randomUUID().slice(0, 8)}`;
    const features = Object.fromEntries(Object.entries(EVERY_TYPE).map(([k, [t]]) => [k, t]));
    const stats = view(project, 'driver_stats', features);
    const trips = view(project, 'trips', { n: T.INT64, label: T.STRING }, ['driver_id', 'customer_id']);
    const values = Object.fromEntries(Object.entries(EVERY_TYPE).map(([k, [, v]]) => [k, v]));
    const feastKeys = [ek({ driver_id: 1n }), ek({ driver_id: 2n })];
    const ourKeys = [ek({ driver_id: 3n }), ek({ driver_id: 4n })];
    const tripKeys = [ek({ driver_id: 1n, customer_id: 'c1' }), ek({ customer_id: 'c2', driver_id: 1n })];

    // feast writes, we read
    await runFeast(python, {
      op: 'write',
      redis: redisAddress(),
      project,
      view: wireView(stats),
      rows: feastKeys.map((key, i) => ({
        entity_key: wireKey(key),
        ts_us: 1_700_000_000_123_456 + i,
        values: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, b64(v)])),
      })),
    });
    await runFeast(python, {
      op: 'write',
      redis: redisAddress(),
      project,
      view: wireView(trips),
      rows: tripKeys.map((key, i) => ({ entity_key: wireKey(key), ts_us: 1_600_000_000_000_000, values: { n: b64(i64(i)), label: b64(str(`trip${i}`)) } })),
    });
    const [statsRows, tripRows] = await store.read([
      { view: stats, entityKeys: [...feastKeys, ...ourKeys] },
      { view: trips, features: ['label', 'n'], entityKeys: [ek({ customer_id: 'c1', driver_id: 1n }), ek({ driver_id: 1n, customer_id: 'c2' })] },
    ]);
    const names = stats.features.map((f) => f.name);
    feastKeys.forEach((_, i) => {
      const row = statsRows![i]!;
      expect(row.eventTs).toBe(eventMsFromMicros(1_700_000_000_123_456 + i)); // microseconds kept
      expect(Object.fromEntries(names.map((n, j) => [n, row.values[j]]))).toEqual(values);
    });
    expect(statsRows!.slice(2)).toEqual([undefined, undefined]);
    expect(tripRows).toEqual([
      { eventTs: 1_600_000_000_000, values: [str('trip0'), i64(0)] },
      { eventTs: 1_600_000_000_000, values: [str('trip1'), i64(1)] },
    ]);

    // we write, feast reads
    expect(
      await store.write(
        stats,
        ourKeys.map((entityKey, i) => ({ entityKey, eventTs: eventMsFromMicros(1_700_000_001_456_789 + i), values })),
      ),
    ).toEqual({
      written: 2,
      skipped: 0,
    });
    const read = await runFeast<FeastRead>(python, {
      op: 'read',
      redis: redisAddress(),
      project,
      view: wireView(stats),
      features: names,
      entity_keys: ourKeys.map(wireKey),
    });
    read.rows.forEach((row, i) => {
      expect(row?.ts_us).toBe(1_700_000_001_456_789 + i);
      expect(Object.fromEntries(Object.entries(row!.values).map(([k, v]) => [k, fromB64(v)]))).toEqual(values);
    });

    // Last-writer-wins holds against rows feast wrote, to the microsecond: 1 us older is
    // skipped, 1 us newer lands and feast sees it.
    const older = { ...values, string: str('older') };
    const newer = { ...values, string: str('newer') };
    expect(await store.write(stats, [{ entityKey: feastKeys[0]!, eventTs: eventMsFromMicros(1_700_000_000_123_455), values: older }])).toEqual({
      written: 0,
      skipped: 1,
    });
    expect(await store.write(stats, [{ entityKey: feastKeys[1]!, eventTs: eventMsFromMicros(1_700_000_000_123_458), values: newer }])).toEqual({
      written: 1,
      skipped: 0,
    });
    const after = await runFeast<FeastRead>(python, {
      op: 'read',
      redis: redisAddress(),
      project,
      view: wireView(stats),
      features: ['string', 'int64'],
      entity_keys: feastKeys.map(wireKey),
    });
    expect(after.rows.map((row) => [row?.ts_us, fromB64(row!.values['string']!)])).toEqual([
      [1_700_000_000_123_456, str('héllo ✓ 𝄞')],
      [1_700_000_000_123_458, str('newer')],
    ]);

    await store.deleteView(stats);
    await store.deleteView(trips);
  });

  it("reads a null feast stored (an empty Value) as a null with the row's time, as feast does", async () => {
    const project = `feast_${randomUUID().slice(0, 8)}`;
    const nulls = view(project, 'nulls', { n: T.INT64, label: T.STRING });
    const key = ek({ driver_id: 9n });
    const empty = b64(value({ case: undefined }));
    expect(empty).toBe(''); // what feast stores for None: a Value with nothing set
    await runFeast(python, {
      op: 'write',
      redis: redisAddress(),
      project,
      view: wireView(nulls),
      rows: [{ entity_key: wireKey(key), ts_us: 1_700_000_000_000_001, values: { n: empty, label: b64(str('x')) } }],
    });
    const feastSees = await runFeast<FeastRead>(python, {
      op: 'read',
      redis: redisAddress(),
      project,
      view: wireView(nulls),
      features: ['n', 'label'],
      entity_keys: [wireKey(key)],
    });
    expect(feastSees.rows[0]).toEqual({ ts_us: 1_700_000_000_000_001, values: { n: '', label: b64(str('x')) } });
    const [rows] = await store.read([{ view: nulls, entityKeys: [key] }]);
    expect(rows![0]!.values.map((v) => v?.val.case)).toEqual(['nullVal', 'stringVal']);
    expect(rows![0]!.eventTs).toBe(eventMsFromMicros(1_700_000_000_000_001));
    await store.deleteView(nulls);
  });
});

function feastFieldOfRaw(s: string): Buffer {
  // Strings without a colon exercise murmur3's tail handling directly.
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32LE(murmur3(Buffer.from(s, 'utf8')), 0);
  return out;
}
