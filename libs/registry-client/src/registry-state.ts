import { create } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import type { RegistrySet } from '@larder/core';

const { ChangeType, ObjectKind } = registryV1;

/** The objects of one project, each kind keyed by name. */
interface ProjectObjects {
  project: registryV1.Project | undefined;
  entities: Map<string, registryV1.Entity>;
  dataSources: Map<string, registryV1.DataSource>;
  featureViews: Map<string, registryV1.FeatureView>;
  onDemandFeatureViews: Map<string, registryV1.OnDemandFeatureView>;
  featureServices: Map<string, registryV1.FeatureService>;
  savedDatasets: Map<string, registryV1.SavedDataset>;
  permissions: Map<string, registryV1.Permission>;
}

/** The kinds kept per project, by the key of ProjectObjects that holds them. */
export type CollectionName = Exclude<keyof ProjectObjects, 'project'>;

const collectionOfKind: Partial<Record<registryV1.ObjectKind, CollectionName>> = {
  [ObjectKind.ENTITY]: 'entities',
  [ObjectKind.DATA_SOURCE]: 'dataSources',
  [ObjectKind.FEATURE_VIEW]: 'featureViews',
  [ObjectKind.ON_DEMAND_FEATURE_VIEW]: 'onDemandFeatureViews',
  [ObjectKind.FEATURE_SERVICE]: 'featureServices',
  [ObjectKind.SAVED_DATASET]: 'savedDatasets',
  [ObjectKind.PERMISSION]: 'permissions',
};

type ObjectOf<C extends CollectionName> = ProjectObjects[C] extends Map<string, infer T> ? T : never;

function emptyProject(): ProjectObjects {
  return {
    project: undefined,
    entities: new Map(),
    dataSources: new Map(),
    featureViews: new Map(),
    onDemandFeatureViews: new Map(),
    featureServices: new Map(),
    savedDatasets: new Map(),
    permissions: new Map(),
  };
}

function byName<T extends { name: string }>(map: Map<string, T>): T[] {
  return [...map.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The registry as a client sees it: the objects of every watched project at
 * one version, updated by applying WatchRegistry messages in order. Returned
 * objects are shared, not copied: treat them as read-only.
 */
export class RegistryState {
  private projectsByName = new Map<string, ProjectObjects>();
  private currentVersion = 0n;

  /** The registry version the state reflects; 0n before the first message. */
  get version(): bigint {
    return this.currentVersion;
  }

  /**
   * Applies one stream message. A snapshot replaces the state of the watched
   * scope: one project when `scope` names it, everything when it is empty.
   */
  apply(message: registryV1.WatchRegistryResponse, scope = ''): void {
    if (message.snapshot) {
      if (scope === '') this.projectsByName.clear();
      else this.projectsByName.delete(scope);
    }
    for (const change of message.changes) this.applyChange(change);
    this.currentVersion = message.version;
  }

  private applyChange(change: registryV1.RegistryChange): void {
    if (change.kind === ObjectKind.PROJECT) {
      if (change.change === ChangeType.DELETE) this.projectsByName.delete(change.name);
      else if (change.object.case === 'projectObject') this.projectObjects(change.name).project = change.object.value;
      return;
    }
    const collection = collectionOfKind[change.kind];
    if (collection === undefined) return; // a kind this client does not know yet
    const objects = this.projectObjects(change.project)[collection] as Map<string, unknown>;
    if (change.change === ChangeType.DELETE) objects.delete(change.name);
    else if (change.object.value !== undefined && typeof change.object.value === 'object') objects.set(change.name, change.object.value);
  }

  private projectObjects(name: string): ProjectObjects {
    let objects = this.projectsByName.get(name);
    if (objects === undefined) {
      objects = emptyProject();
      this.projectsByName.set(name, objects);
    }
    return objects;
  }

  /** Names of the known projects, sorted. */
  projectNames(): string[] {
    return [...this.projectsByName.keys()].sort();
  }

  project(name: string): registryV1.Project | undefined {
    const objects = this.projectsByName.get(name);
    if (objects === undefined) return undefined;
    // A project whose objects arrived before (or without) its own record still exists.
    return objects.project ?? create(registryV1.ProjectSchema, { name });
  }

  get<C extends CollectionName>(collection: C, project: string, name: string): ObjectOf<C> | undefined {
    return this.projectsByName.get(project)?.[collection].get(name) as ObjectOf<C> | undefined;
  }

  list<C extends CollectionName>(collection: C, project: string): ObjectOf<C>[] {
    const objects = this.projectsByName.get(project);
    return objects === undefined ? [] : (byName(objects[collection] as Map<string, { name: string }>) as ObjectOf<C>[]);
  }

  /** Every object of a project in the shape the CLI, SDK and store share; undefined for an unknown project. */
  registrySet(name: string): RegistrySet | undefined {
    const objects = this.projectsByName.get(name);
    if (objects === undefined) return undefined;
    return {
      project: this.project(name) as registryV1.Project,
      entities: byName(objects.entities),
      dataSources: byName(objects.dataSources),
      featureViews: byName(objects.featureViews),
      onDemandFeatureViews: byName(objects.onDemandFeatureViews),
      featureServices: byName(objects.featureServices),
      savedDatasets: byName(objects.savedDatasets),
      permissions: byName(objects.permissions),
    };
  }
}
