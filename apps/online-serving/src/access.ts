import type { DescMessage } from '@bufbuild/protobuf';
import { tryParseFeatureRef } from '@larder/core';
import type { FeatureRequest, RegistrySet, ResolvedFeatures } from '@larder/core';
import { feastServing, servingV1 } from '@larder/proto';
import type { Action, ObjectRef, ObjectType } from './access-types';

/** The registry copy, as access rules read it (RegistryClient fits). */
export interface AccessLookup {
  registrySet(project: string): RegistrySet | undefined;
}

type Tags = Readonly<Record<string, string>>;

/** The rpcs and HTTP routes of online serving, each with the action it needs. */
export const ONLINE_ACCESS: Readonly<Record<string, { readonly input: DescMessage; readonly action: Action }>> = {
  getOnlineFeatures: { input: servingV1.GetOnlineFeaturesRequestSchema, action: 'read_online' },
};

/** Feast's ServingService on the same port: the same reads; its server info reveals no object. */
export const FEAST_ONLINE_ACCESS: Readonly<Record<string, { readonly input: DescMessage; readonly action: Action | 'authenticated' }>> = {
  getFeastServingInfo: { input: feastServing.GetFeastServingInfoRequestSchema, action: 'authenticated' },
  getOnlineFeatures: { input: feastServing.GetOnlineFeaturesRequestSchema, action: 'read_online' },
};

/** The gateway's routes; `open` ones answer anyone (they reveal nothing). */
export const ONLINE_HTTP_ACCESS: Readonly<Record<string, Action | 'open'>> = {
  'POST /get-online-features': 'read_online',
  'GET /health': 'open',
};

function tagsIn(set: RegistrySet | undefined, type: ObjectType, name: string): Tags | undefined {
  if (set === undefined) return undefined;
  const list: readonly { name: string; tags: Tags }[] =
    type === 'feature_view' ? set.featureViews : type === 'on_demand_feature_view' ? set.onDemandFeatureViews : type === 'feature_service' ? set.featureServices : [];
  return list.find((o) => o.name === name)?.tags;
}

function ref(set: RegistrySet | undefined, project: string, type: ObjectType, name: string): ObjectRef {
  const tags = tagsIn(set, type, name);
  return tags === undefined ? { project, type, name } : { project, type, name, tags };
}

/**
 * What a request names, before anything is resolved: the feature service, or each
 * view of its refs (an on-demand view when one has that name, else a feature view).
 * Checked first, so a caller who may not read an object is denied whether it exists
 * or not (a missing one is named as sent, without tags). Malformed refs are left to
 * the resolver's INVALID_ARGUMENT.
 */
export function requestedObjects(project: string, features: FeatureRequest, registry: AccessLookup): ObjectRef[] {
  const set = registry.registrySet(project);
  if ('featureService' in features) return [ref(set, project, 'feature_service', features.featureService)];
  const seen = new Set<string>();
  const refs: ObjectRef[] = [];
  for (const text of features.refs) {
    const parsed = tryParseFeatureRef(text);
    if (parsed === undefined || seen.has(parsed.featureView)) continue;
    seen.add(parsed.featureView);
    const onDemand = set?.onDemandFeatureViews.some((v) => v.name === parsed.featureView) ?? false;
    refs.push(ref(set, project, onDemand ? 'on_demand_feature_view' : 'feature_view', parsed.featureView));
  }
  return refs;
}

/**
 * What a compiled plan reads: the feature service when the request named one (its
 * grant covers the views behind it), otherwise every feature view and on-demand view
 * the plan reads, the views behind an on-demand view included. Computed once per plan.
 */
export function planObjects(features: FeatureRequest, resolved: ResolvedFeatures, registry: AccessLookup): ObjectRef[] {
  const project = resolved.project;
  const set = registry.registrySet(project);
  if ('featureService' in features) return [ref(set, project, 'feature_service', features.featureService)];
  return [
    ...resolved.views.map((v) => (v.definition.tags === undefined ? { project, type: 'feature_view' as const, name: v.name } : { project, type: 'feature_view' as const, name: v.name, tags: v.definition.tags })),
    ...resolved.onDemand.map((od) => ref(set, project, 'on_demand_feature_view', od.name)),
  ];
}
