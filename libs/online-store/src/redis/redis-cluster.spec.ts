import Redis from 'ioredis';
import { describeOnlineStoreBehaviour } from '../testing/behaviour';
import { startRedisCluster, type RunningRedisCluster } from '../testing/redis-cluster';
import { T, ek, i64, view } from '../testing/values';
import { keySlot } from './key-slot';
import { RedisOnlineStore } from './store';

let cluster: RunningRedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(() => cluster?.stop());

for (const layout of ['packed', 'feast'] as const) {
  describeOnlineStoreBehaviour(`redis cluster ${layout}`, () => Promise.resolve(new RedisOnlineStore({ clusterNodes: cluster.nodes, layout })));

  describe(`redis cluster ${layout}`, () => {
    it('spreads entity keys over every node and reads them back in one call', async () => {
      const store = new RedisOnlineStore({ clusterNodes: cluster.nodes, layout });
      const nodes = cluster.servers.map((s) => new Redis(s.url));
      try {
        const before = await Promise.all(nodes.map((n) => n.dbsize()));
        const v = view(`spread_${layout}`, 'v', { x: T.INT64 });
        const w = view(`spread_${layout}`, 'w', { x: T.INT64 });
        const keys = Array.from({ length: 300 }, (_, i) => ek({ driver_id: BigInt(i) }));
        for (const target of [v, w]) {
          expect(
            await store.write(
              target,
              keys.map((entityKey, i) => ({ entityKey, eventTs: 1, values: { x: i64(i) } })),
            ),
          ).toEqual({ written: 300, skipped: 0 });
        }
        const after = await Promise.all(nodes.map((n) => n.dbsize()));
        after.forEach((count, i) => expect(count - before[i]!).toBeGreaterThan(50));
        const [rv, rw] = await store.read([
          { view: v, entityKeys: keys },
          { view: w, entityKeys: keys },
        ]);
        expect(rv!.map((r) => r?.values[0])).toEqual(keys.map((_, i) => i64(i)));
        expect(rw!.map((r) => r?.values[0])).toEqual(keys.map((_, i) => i64(i)));
        await store.deleteView(v);
        const [gone, kept] = await store.read([
          { view: v, entityKeys: keys },
          { view: w, entityKeys: keys },
        ]);
        expect(gone!.every((r) => r === undefined)).toBe(true);
        expect(kept!.every((r) => r !== undefined)).toBe(true);
      } finally {
        nodes.forEach((n) => n.disconnect());
        await store.close();
      }
    });
  });
}

describe('cluster key slots', () => {
  it('match the slot Redis computes, hash tags included', async () => {
    const node = new Redis(cluster.servers[0]!.url);
    try {
      const keys = [
        Buffer.from('foo'),
        Buffer.from('{user1000}.following'),
        Buffer.from([0xff, 0x00, 0x7b, 0x41, 0x7d, 0x80]),
        Buffer.from('a{}b'),
        Buffer.from([1, 0, 0, 0, 2, 0xe9, 3]),
      ];
      for (const key of keys) expect(keySlot(key)).toBe(await node.cluster('KEYSLOT', key as unknown as string));
    } finally {
      node.disconnect();
    }
  });
});
