import { OnlineStoreError } from './errors';
import { RedisOnlineStore, type RedisOnlineStoreOptions } from './redis/store';
import { SqliteOnlineStore, type SqliteOnlineStoreOptions } from './sqlite-store';
import type { OnlineStore } from './types';

export type OnlineStoreConfig = ({ type: 'redis' } & RedisOnlineStoreOptions) | ({ type: 'sqlite' } & SqliteOnlineStoreOptions);

/** The online store a configuration names. */
export function createOnlineStore(config: OnlineStoreConfig): OnlineStore {
  switch (config.type) {
    case 'redis':
      return new RedisOnlineStore(config);
    case 'sqlite':
      return new SqliteOnlineStore(config);
    default:
      throw new OnlineStoreError(`unknown online store type ${(config as { type: unknown }).type}`);
  }
}
