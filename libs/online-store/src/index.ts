// @larder/online-store: the latest feature values per entity key, for serving.
export type {
  OnlineStore,
  ViewDescriptor,
  FeatureSpec,
  EntityKeyInput,
  ViewRead,
  ViewReadResult,
  StoredRow,
  WriteRow,
  WriteResult,
  CallOptions,
  EntityBatch,
  EntityCell,
  FeatureCell,
  ViewColumns,
} from './types';
export { OnlineStoreError, StoreUnavailableError, InvalidRowError } from './errors';
export { createOnlineStore, type OnlineStoreConfig } from './create';
export { RedisOnlineStore, type RedisOnlineStoreOptions, type RedisLayoutName } from './redis/store';
export type { RedisConnectionOptions } from './redis/connection';
export { SqliteOnlineStore, type SqliteOnlineStoreOptions } from './sqlite-store';
export { serializeEntityKey } from './entity-key';
export { eventMicros, eventMsFromMicros, eventMsFromParts, isEventMs } from './event-time';
export { murmur3, feastFeatureField } from './murmur3';
// The packed row codec alone, for materialization's stage-by-stage profile script.
export { viewCodec } from './packed-codec';
export { onlineStoreConfigSchema, onlineStoreConfig, type OnlineStoreSettings } from './config';
// Test support for apps that check interoperability end to end: the real feast package from PyPI.
export { feastPython, runFeast, FEAST_REQUIREMENT, FEAST_EXTRAS } from './testing/feast-python';
