import path from 'node:path';
import type { OnlineStoreConfig } from '@larder/online-store';

/** The online store a service test runs on: a SQLite file of its own, or the shared Redis in one layout. */
export type OnlineStoreUnderTest = { type: 'sqlite' } | { type: 'redis'; url: string; layout: 'packed' | 'feast' };

/**
 * One store seen from both sides: the service's environment for it, and the same store's
 * config for the test's own reads and writes. A SQLite store is `online.db` in `dir`.
 */
export function onlineStoreUnderTest(store: OnlineStoreUnderTest, dir: string): { env: Record<string, string>; config: OnlineStoreConfig } {
  if (store.type === 'sqlite') {
    const file = path.join(dir, 'online.db');
    return { env: { LARDER_ONLINE_STORE_TYPE: 'sqlite', LARDER_ONLINE_STORE_PATH: file }, config: { type: 'sqlite', path: file } };
  }
  return {
    env: { LARDER_ONLINE_STORE_TYPE: 'redis', LARDER_REDIS_URL: store.url, LARDER_REDIS_LAYOUT: store.layout },
    config: { type: 'redis', url: store.url, layout: store.layout },
  };
}
