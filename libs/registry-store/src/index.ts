// @larder/registry-store: where registry definitions live (a local file or
// PostgreSQL), with atomic applies, optimistic concurrency and a change feed.

export type { ChangeListener, RegistryStore, VersionInfo, Versioned } from './registry-store';
export { openRegistryStore, defaultRegistryPath } from './open';
export type { OpenRegistryStoreOptions } from './open';
export { FileRegistryStore } from './file-store';
export type { FileRegistryStoreOptions } from './file-store';
export { PostgresRegistryStore } from './postgres-store';
export type { PostgresRegistryStoreOptions } from './postgres-store';
export { KINDS, kindInfo, isKindInProject } from './kinds';
export type { KindInfo, ObjectKindInProject, ObjectOf, ObjectsByKind, RegistryObject, SetKey } from './kinds';
export { mergeMaterializationState } from './materialization';
export { formatRegistryIssue, issuesOf, issuesTrailer, ISSUES_METADATA_KEY, RegistryStoreError } from './errors';
export type { RegistryStoreErrorKind } from './errors';
export type { LogLimits } from './registry-data';
