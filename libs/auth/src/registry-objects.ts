import { tryParseFeatureRef } from '@larder/core';
import type { FeatureRequest, RegistrySet } from '@larder/core';
import type { Action, ObjectRef, ObjectType } from './authorizer';

/** A service's registry copy, as access rules read it (RegistryClient fits). */
export interface AccessLookup {
  registrySet(project: string): RegistrySet | undefined;
}

/** One action the caller must be allowed on every one of `objects`. */
export interface AccessCheck {
  readonly action: Action;
  readonly objects: readonly ObjectRef[];
}

type Tags = Readonly<Record<string, string>>;

/** A project's objects of one type inside it, with their tags (none for 'project' itself). */
export function objectsOfType(set: RegistrySet, type: ObjectType): readonly { readonly name: string; readonly tags: Tags }[] {
  switch (type) {
    case 'entity':
      return set.entities;
    case 'data_source':
      return set.dataSources;
    case 'feature_view':
      return set.featureViews;
    case 'on_demand_feature_view':
      return set.onDemandFeatureViews;
    case 'feature_service':
      return set.featureServices;
    case 'saved_dataset':
      return set.savedDatasets;
    case 'permission':
      // Permissions join RegistrySet in the registry's own copy, which keeps them.
      return (set as { permissions?: readonly { name: string; tags: Tags }[] }).permissions ?? [];
    default:
      return [];
  }
}

function storedTags(set: RegistrySet | undefined, type: ObjectType, name: string): Tags | undefined {
  if (set === undefined) return undefined;
  if (type === 'project') return set.project.tags;
  return objectsOfType(set, type).find((o) => o.name === name)?.tags;
}

/**
 * The object a request names, as permissions see it: with its stored tags when the copy
 * has it, else by name alone, so a caller who may not see it is denied exactly as for
 * one that exists (the name is the caller's own, so the message leaks nothing).
 */
export function objectRef(set: RegistrySet | undefined, project: string, type: ObjectType, name: string): ObjectRef {
  const tags = storedTags(set, type, name);
  return tags === undefined ? { project, type, name } : { project, type, name, tags };
}

/**
 * What a feature request names, before anything is resolved: the feature service, or
 * each view of its refs (an on-demand view when one has that name, else a feature view).
 * Checked first, so a caller who may not read an object is denied whether it exists or
 * not (a missing one is named as sent, without tags). Malformed refs are left to the
 * resolver's INVALID_ARGUMENT.
 */
export function requestedObjects(project: string, features: FeatureRequest, registry: AccessLookup): ObjectRef[] {
  const set = registry.registrySet(project);
  if ('featureService' in features) return [objectRef(set, project, 'feature_service', features.featureService)];
  const seen = new Set<string>();
  const refs: ObjectRef[] = [];
  for (const text of features.refs) {
    const parsed = tryParseFeatureRef(text);
    if (parsed === undefined || seen.has(parsed.featureView)) continue;
    seen.add(parsed.featureView);
    const onDemand = set?.onDemandFeatureViews.some((v) => v.name === parsed.featureView) ?? false;
    refs.push(objectRef(set, project, onDemand ? 'on_demand_feature_view' : 'feature_view', parsed.featureView));
  }
  return refs;
}
