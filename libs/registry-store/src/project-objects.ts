import { clone, create } from '@bufbuild/protobuf';
import { emptyRegistrySet } from '@larder/core';
import type { RegistrySet } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { KINDS, kindInfo } from './kinds';
import type { ObjectKindInProject, ObjectOf, RegistryObject } from './kinds';

/** One project's definitions, keyed by kind and name. */
export interface ProjectObjects {
  project: registryV1.Project;
  objects: Map<ObjectKindInProject, Map<string, RegistryObject>>;
}

export function emptyProject(project: registryV1.Project): ProjectObjects {
  return { project, objects: new Map(KINDS.map((info) => [info.kind, new Map()])) };
}

export function objectsOf<K extends ObjectKindInProject>(p: ProjectObjects, kind: K): Map<string, ObjectOf<K>> {
  let map = p.objects.get(kind);
  if (map === undefined) {
    map = new Map();
    p.objects.set(kind, map);
  }
  return map as Map<string, ObjectOf<K>>;
}

/** A shallow copy: the maps are new, the messages shared (they are never mutated in place). */
export function copyProject(p: ProjectObjects): ProjectObjects {
  return { project: p.project, objects: new Map(KINDS.map((info) => [info.kind, new Map(p.objects.get(info.kind))])) };
}

export function toRegistrySet(p: ProjectObjects): RegistrySet {
  const set: RegistrySet = { ...emptyRegistrySet(p.project.name), project: p.project };
  for (const info of KINDS) {
    const list = set[info.setKey] as RegistryObject[];
    for (const obj of p.objects.get(info.kind)?.values() ?? []) list.push(obj);
  }
  return set;
}

/** The objects of an apply request as a RegistrySet, without the read-only meta callers may have sent. */
export function requestSet(req: registryV1.ApplyRegistryRequest, existing: registryV1.Project | undefined): RegistrySet {
  const project = create(registryV1.ProjectSchema, {
    name: req.project,
    description: req.projectSpec?.description ?? existing?.description ?? '',
    tags: req.projectSpec?.tags ?? existing?.tags ?? {},
    owner: req.projectSpec?.owner ?? existing?.owner ?? '',
  });
  const strip = <T extends RegistryObject>(list: T[], kind: ObjectKindInProject): T[] =>
    list.map((obj) => {
      if (obj.meta === undefined) return obj;
      const copy = clone(kindInfo(kind).schema, obj) as T;
      copy.meta = undefined;
      return copy;
    });
  const K = registryV1.ObjectKind;
  return {
    project,
    entities: strip(req.entities, K.ENTITY),
    dataSources: strip(req.dataSources, K.DATA_SOURCE),
    featureViews: strip(req.featureViews, K.FEATURE_VIEW),
    onDemandFeatureViews: strip(req.onDemandFeatureViews, K.ON_DEMAND_FEATURE_VIEW),
    featureServices: strip(req.featureServices, K.FEATURE_SERVICE),
    savedDatasets: strip(req.savedDatasets, K.SAVED_DATASET),
    permissions: strip(req.permissions, K.PERMISSION),
  };
}

/** Every object of a project, the project first, as RegistryChange CREATEs (for snapshots). */
export function projectAsCreates(p: ProjectObjects): registryV1.RegistryChange[] {
  const changes = [projectChange(p.project, registryV1.ChangeType.CREATE)];
  for (const info of KINDS) {
    const names = [...(p.objects.get(info.kind)?.keys() ?? [])].sort();
    for (const name of names) {
      changes.push(objectChange(p.project.name, info.kind, name, registryV1.ChangeType.CREATE, p.objects.get(info.kind)?.get(name)));
    }
  }
  return changes;
}

export function projectChange(project: registryV1.Project, change: registryV1.ChangeType): registryV1.RegistryChange {
  return create(registryV1.RegistryChangeSchema, {
    kind: registryV1.ObjectKind.PROJECT,
    project: project.name,
    name: project.name,
    change,
    object: change === registryV1.ChangeType.DELETE ? { case: undefined } : { case: 'projectObject', value: project },
  });
}

export function objectChange(
  project: string,
  kind: ObjectKindInProject,
  name: string,
  change: registryV1.ChangeType,
  object: RegistryObject | undefined,
): registryV1.RegistryChange {
  const withObject = change !== registryV1.ChangeType.DELETE && object !== undefined;
  return create(registryV1.RegistryChangeSchema, {
    kind,
    project,
    name,
    change,
    object: withObject ? ({ case: kindInfo(kind).changeCase, value: object } as registryV1.RegistryChange['object']) : { case: undefined },
  });
}
