// @larder/registry-client: an in-memory registry copy that follows the change stream.

export { RegistryClient } from './registry-client';
export type { ConnectionState, RegistryClientOptions, RegistryUpdate } from './registry-client';
export { RegistryState } from './registry-state';
export type { CollectionName } from './registry-state';
