import type { DescMessage } from '@bufbuild/protobuf';
import { objectRef } from '@larder/auth';
import type { FeatureRequest, ResolvedFeatures } from '@larder/core';
import { feastServing, servingV1 } from '@larder/proto';
import type { AccessLookup, Action, ObjectRef } from '@larder/auth';

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

/**
 * What a compiled plan reads: the feature service when the request named one (its
 * grant covers the views behind it), otherwise every feature view and on-demand view
 * the plan reads, the views behind an on-demand view included. Computed once per plan.
 */
export function servedObjects(features: FeatureRequest, resolved: ResolvedFeatures, registry: AccessLookup): ObjectRef[] {
  const project = resolved.project;
  const set = registry.registrySet(project);
  if ('featureService' in features) return [objectRef(set, project, 'feature_service', features.featureService)];
  return [
    ...resolved.views.map((v) =>
      v.definition.tags === undefined
        ? { project, type: 'feature_view' as const, name: v.name }
        : { project, type: 'feature_view' as const, name: v.name, tags: v.definition.tags },
    ),
    ...resolved.onDemand.map((od) => objectRef(set, project, 'on_demand_feature_view', od.name)),
  ];
}
