import os from 'node:os';
import path from 'node:path';
import { oneOf, string } from '@larder/config';
import type { ConfigOf } from '@larder/config';
import type { OnlineStoreConfig } from './create';

/**
 * The online-store keys every service that reads or writes online data shares
 * (serving, materialization, ingestion): one larder.yaml section, or one set
 * of LARDER_* variables, points them all at the same store.
 */
export function onlineStoreConfigSchema() {
  return {
    type: oneOf(['sqlite', 'redis'] as const, { default: 'sqlite', env: 'LARDER_ONLINE_STORE_TYPE' }),
    path: string({ default: path.join(os.homedir(), '.larder', 'online.db'), env: 'LARDER_ONLINE_STORE_PATH', doc: 'SQLite database file.' }),
    redisUrl: string({ default: 'redis://127.0.0.1:6379', env: 'LARDER_REDIS_URL', doc: 'redis://[user:pass@]host:port[/db]' }),
    redisLayout: oneOf(['packed', 'feast'] as const, { default: 'packed', env: 'LARDER_REDIS_LAYOUT' }),
    redisKeyPrefix: string({ default: 'larder:', env: 'LARDER_REDIS_KEY_PREFIX', doc: 'Packed layout: start of every key.' }),
  } as const;
}

export type OnlineStoreSettings = ConfigOf<ReturnType<typeof onlineStoreConfigSchema>>;

/** What createOnlineStore takes, from the loaded settings. */
export function onlineStoreConfig(settings: OnlineStoreSettings): OnlineStoreConfig {
  return settings.type === 'redis'
    ? { type: 'redis', url: settings.redisUrl, layout: settings.redisLayout, keyPrefix: settings.redisKeyPrefix }
    : { type: 'sqlite', path: settings.path };
}
