import { startRedis } from '@larder/testing';
import { StoreUnavailableError } from '../errors';
import { T, ek, i64, view } from '../testing/values';
import { RedisOnlineStore } from './store';

const v = view('down', 'v', { x: T.INT64 });
const key = ek({ driver_id: 1n });
const row = (x: number) => ({ entityKey: key, eventTs: x, values: { x: i64(x) } });

async function eventually(action: () => Promise<unknown>, withinMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      await action();
      return Date.now() - start;
    } catch (error) {
      if (Date.now() - start > withinMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe.each(['packed', 'feast'] as const)('redis %s layout when Redis goes away', (layout) => {
  it('fails promptly with StoreUnavailableError and recovers by itself when Redis is back', async () => {
    let redis = await startRedis();
    const store = new RedisOnlineStore({ url: redis.url, layout, readTimeoutMs: 500, writeTimeoutMs: 1000 });
    try {
      await store.write(v, [row(1)]);
      expect(await store.read([{ view: v, entityKeys: [key] }])).toEqual([[{ eventTs: 1, values: [i64(1)] }]]);

      await redis.stop();
      for (const attempt of [
        () => store.read([{ view: v, entityKeys: [key] }]),
        () => store.write(v, [row(2)]),
        () => store.read([{ view: v, entityKeys: [key] }], { timeoutMs: 200 }),
      ]) {
        const start = Date.now();
        await expect(attempt()).rejects.toBeInstanceOf(StoreUnavailableError);
        expect(Date.now() - start).toBeLessThan(1500);
      }

      redis = await startRedis({ port: redis.port });
      // No persistence: the restarted Redis is empty. The store reconnects on its own.
      const recoveredIn = await eventually(() => store.write(v, [row(3)]), 10_000);
      expect(recoveredIn).toBeLessThan(10_000);
      expect(await store.read([{ view: v, entityKeys: [key] }])).toEqual([[{ eventTs: 3, values: [i64(3)] }]]);
      expect(await store.write(v, [row(2)])).toEqual({ written: 0, skipped: 1 });
    } finally {
      await store.close();
      await redis.stop();
    }
  }, 60_000);
});
