import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { RegistrySet } from '@larder/core';
import type { registryV1 } from '@larder/proto';
import type { ObjectKindInProject, ObjectOf } from './kinds';

export interface VersionInfo {
  /** Zero for an empty registry; +1 per committed change, in any project. */
  version: bigint;
  /** When that version was committed; undefined for version 0. */
  updatedTime: Timestamp | undefined;
}

export interface Versioned<T> {
  value: T;
  /** The registry version the answer reflects. */
  version: bigint;
}

/** Gets every committed change, in order; a snapshot after the feed lost track. */
export type ChangeListener = (change: registryV1.WatchRegistryResponse) => void;

/**
 * Where definitions live. Every method fails with a RegistryStoreError whose kind
 * the service edge turns into a status: INVALID (INVALID_ARGUMENT) naming the
 * object and field, NOT_FOUND, PRECONDITION (FAILED_PRECONDITION) for deletes that
 * would leave dangling references, CONFLICT (ABORTED) on a version conflict.
 */
export interface RegistryStore {
  /** `file:/path/registry.json` or `postgres://...`, for logs. */
  readonly location: string;

  /** Applies (or with plan_only, plans) a project's objects in one transaction. */
  apply(req: registryV1.ApplyRegistryRequest): Promise<registryV1.ApplyRegistryResponse>;
  version(): Promise<VersionInfo>;

  getProject(name: string): Promise<Versioned<registryV1.Project>>;
  listProjects(filter?: registryV1.ObjectFilter): Promise<Versioned<registryV1.Project[]>>;
  /** Deletes a project and everything in it; returns the new version. */
  deleteProject(name: string, expectedVersion?: bigint): Promise<bigint>;

  getObject<K extends ObjectKindInProject>(kind: K, project: string, name: string): Promise<Versioned<ObjectOf<K>>>;
  /** Objects of one kind in a project, by name; NOT_FOUND for an unknown project. */
  listObjects<K extends ObjectKindInProject>(kind: K, project: string, filter?: registryV1.ObjectFilter): Promise<Versioned<ObjectOf<K>[]>>;
  /** Deletes one object; returns the new version. */
  deleteObject(kind: ObjectKindInProject, project: string, name: string, expectedVersion?: bigint): Promise<bigint>;

  /** Whole projects as RegistrySets (every project when `project` is empty or unset). */
  registrySets(project?: string): Promise<Versioned<RegistrySet[]>>;

  /** Every object (of one project, or all) as CREATEs at the current version. */
  snapshot(project?: string): Promise<registryV1.WatchRegistryResponse>;
  /**
   * The committed versions after `version`, in order, or undefined when they
   * are no longer kept (or `version` is ahead): then start from a snapshot.
   */
  changesSince(version: bigint): Promise<registryV1.WatchRegistryResponse[] | undefined>;
  /** Calls `listener` with each version committed from now on, in order, by any writer. */
  subscribe(listener: ChangeListener): () => void;

  /** One record per requested view (every feature view of the project when `views` is empty). */
  getMaterializationState(project: string, views?: readonly string[]): Promise<registryV1.MaterializationState[]>;
  /** Records a job's progress; the watermark only moves forward. Does not change the version. */
  updateMaterializationState(req: registryV1.UpdateMaterializationStateRequest): Promise<registryV1.MaterializationState>;

  close(): Promise<void>;
}
