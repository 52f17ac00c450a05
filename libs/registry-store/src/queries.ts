import { create } from '@bufbuild/protobuf';
import { matchesFilter } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { notFound, projectNotFound } from './errors';
import type { ObjectKindInProject, ObjectOf } from './kinds';
import type { ProjectObjects } from './project-objects';

// Reads over a project held in memory; both stores answer through these so
// their answers cannot drift apart.

export function findObject<K extends ObjectKindInProject>(p: ProjectObjects | undefined, kind: K, project: string, name: string): ObjectOf<K> {
  if (p === undefined) throw projectNotFound(project);
  const obj = p.objects.get(kind)?.get(name);
  if (obj === undefined) throw notFound(kind, name, project);
  return obj as ObjectOf<K>;
}

export function filterObjects<K extends ObjectKindInProject>(
  p: ProjectObjects | undefined,
  kind: K,
  project: string,
  filter: registryV1.ObjectFilter | undefined,
): ObjectOf<K>[] {
  if (p === undefined) throw projectNotFound(project);
  const all = [...((p.objects.get(kind)?.values() ?? []) as Iterable<ObjectOf<K>>)];
  return sortByName(filter === undefined ? all : all.filter((obj) => matchesFilter(obj, filter)));
}

export function sortByName<T extends { name: string }>(list: T[]): T[] {
  return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One record per requested view; a view never materialized gets a record naming it only. */
export function statesFor(
  p: ProjectObjects | undefined,
  project: string,
  views: readonly string[] | undefined,
  stored: (view: string) => registryV1.MaterializationState | undefined,
): registryV1.MaterializationState[] {
  if (p === undefined) throw projectNotFound(project);
  const known = p.objects.get(registryV1.ObjectKind.FEATURE_VIEW) ?? new Map<string, unknown>();
  const names = views === undefined || views.length === 0 ? [...known.keys()].sort() : [...views];
  return names.map((view) => {
    if (!known.has(view)) throw notFound(registryV1.ObjectKind.FEATURE_VIEW, view, project);
    return stored(view) ?? create(registryV1.MaterializationStateSchema, { featureView: view });
  });
}
