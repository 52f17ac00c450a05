import { create } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { registryV1 } from '@larder/proto';

import type { ProjectObjects } from './project-objects';

/** The whole registry held in memory (the file store's model). */
export interface RegistryData {
  version: bigint;
  updatedTime: Timestamp | undefined;
  projects: Map<string, ProjectObjects>;
  /** project -> view -> its one state record. */
  materialization: Map<string, Map<string, registryV1.MaterializationState>>;
  /** The last committed versions, oldest first, for replay to watchers. */
  log: registryV1.WatchRegistryResponse[];
}

export function emptyRegistry(): RegistryData {
  return { version: 0n, updatedTime: undefined, projects: new Map(), materialization: new Map(), log: [] };
}

export interface LogLimits {
  /** Most versions kept for replay. */
  maxVersions: number;
  /** Most changed objects kept across those versions: big applies age out sooner. */
  maxChanges: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = { maxVersions: 256, maxChanges: 20_000 };

/** Appends a committed version and drops the oldest ones beyond the limits. */
export function appendToLog(
  log: readonly registryV1.WatchRegistryResponse[],
  entry: registryV1.WatchRegistryResponse,
  limits: LogLimits,
): registryV1.WatchRegistryResponse[] {
  const next = [...log, entry];
  let total = next.reduce((sum, e) => sum + e.changes.length, 0);
  while (next.length > 0 && (next.length > limits.maxVersions || total > limits.maxChanges)) {
    total -= next.shift()?.changes.length ?? 0;
  }
  return next;
}

/** The replay after `version`, or undefined when the log no longer reaches back that far. */
export function replayFrom(log: readonly registryV1.WatchRegistryResponse[], current: bigint, version: bigint): registryV1.WatchRegistryResponse[] | undefined {
  if (version > current || version < 0n) return undefined;
  if (version === current) return [];
  const first = log[0];
  if (first === undefined || first.version > version + 1n) return undefined;
  return log.filter((e) => e.version > version);
}

export function committedEntry(version: bigint, changes: registryV1.RegistryChange[]): registryV1.WatchRegistryResponse {
  return create(registryV1.WatchRegistryResponseSchema, { version, snapshot: false, changes });
}
