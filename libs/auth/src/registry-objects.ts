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

function tagsIn(set: RegistrySet | undefined, type: ObjectType, name: string): Tags | undefined {
  if (set === undefined) return undefined;
  const list: readonly { name: string; tags: Tags }[] =
    type === 'feature_view'
      ? set.featureViews
      : type === 'on_demand_feature_view'
        ? set.onDemandFeatureViews
        : type === 'feature_service'
          ? set.featureServices
          : type === 'saved_dataset'
            ? set.savedDatasets
            : [];
  return list.find((o) => o.name === name)?.tags;
}

/** The object as permissions see it: with its stored tags when the copy has it, else by name alone. */
export function objectRef(set: RegistrySet | undefined, project: string, type: ObjectType, name: string): ObjectRef {
  const tags = tagsIn(set, type, name);
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
