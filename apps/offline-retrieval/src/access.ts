import type { DescMessage } from '@bufbuild/protobuf';
import { objectRef } from '@larder/auth';
import type { FeatureRequest, ResolvedFeatures } from '@larder/core';
import { offlineV1, statisticsV1 } from '@larder/proto';
import type { AccessCheck, AccessLookup, Action, ObjectRef } from '@larder/auth';

// Shared with the other services' access tables.
export type { AccessCheck, AccessLookup };

/**
 * Every rpc of offline retrieval, by handler name, with the message its query comes
 * in and how to take the query out of it (the first message of the inline stream).
 */
export const OFFLINE_ACCESS: Readonly<
  Record<string, { readonly input: DescMessage; readonly action: Action; readonly query: (request: never) => offlineV1.HistoricalQuery | undefined }>
> = {
  getHistoricalFeatures: {
    input: offlineV1.GetHistoricalFeaturesRequestSchema,
    action: 'read_offline',
    query: ((first: offlineV1.GetHistoricalFeaturesRequest) => (first.message.case === 'query' ? first.message.value : undefined)) as (
      request: never,
    ) => offlineV1.HistoricalQuery | undefined,
  },
  getHistoricalFeaturesFromSource: {
    input: offlineV1.GetHistoricalFeaturesFromSourceRequestSchema,
    action: 'read_offline',
    query: ((request: offlineV1.GetHistoricalFeaturesFromSourceRequest) => request.query) as (request: never) => offlineV1.HistoricalQuery | undefined,
  },
};

/**
 * The StatisticsService on the same port: statistics describe the data of their scope, so
 * each rpc needs read_offline on it (StatisticsAccess in enforce.ts): checked before a
 * computation, and narrowing (list) or hiding (get) stored records.
 */
export const STATISTICS_ACCESS: Readonly<Record<string, { readonly input: DescMessage; readonly action: Action; readonly kind: 'checks' | 'filtered' }>> = {
  computeStatistics: { input: statisticsV1.ComputeStatisticsRequestSchema, action: 'read_offline', kind: 'checks' },
  listStatistics: { input: statisticsV1.ListStatisticsRequestSchema, action: 'read_offline', kind: 'filtered' },
  getStatistics: { input: statisticsV1.GetStatisticsRequestSchema, action: 'read_offline', kind: 'filtered' },
};

export function featureRequestOfQuery(query: offlineV1.HistoricalQuery): FeatureRequest | undefined {
  const { kind } = query;
  return kind.case === 'features' ? { refs: kind.value.val } : kind.case === 'featureService' ? { featureService: kind.value } : undefined;
}

/**
 * Everything a training set reads: every feature view joined and every on-demand view
 * computed (the views behind them included) and, when one is named, the feature
 * service. Unlike online serving, a grant on the service alone is not enough: a
 * historical query exports each view's whole history.
 */
export function trainingSetObjects(features: FeatureRequest, resolved: ResolvedFeatures, registry: AccessLookup): ObjectRef[] {
  const project = resolved.project;
  const set = registry.registrySet(project);
  return [
    ...('featureService' in features ? [objectRef(set, project, 'feature_service', features.featureService)] : []),
    ...resolved.views.map((v) => ({ project, type: 'feature_view' as const, name: v.name, tags: v.definition.tags })),
    ...resolved.onDemand.map((od) => objectRef(set, project, 'on_demand_feature_view', od.name)),
  ];
}

/**
 * Saving the result registers a saved dataset, which the service does with its own
 * identity: the caller must be allowed to CREATE it (UPDATE, with its stored tags and
 * the new ones, when the name is taken). Nothing when the query saves nothing.
 */
export function saveChecks(project: string, query: offlineV1.HistoricalQuery, registry: AccessLookup): AccessCheck[] {
  const name = query.destination?.savedDatasetName ?? '';
  if (name === '') return [];
  const wanted: ObjectRef = { project, type: 'saved_dataset', name, tags: query.destination?.savedDatasetTags ?? {} };
  // objectRef carries tags only for a dataset the copy holds.
  const stored = objectRef(registry.registrySet(project), project, 'saved_dataset', name).tags;
  return stored === undefined ? [{ action: 'create', objects: [wanted] }] : [{ action: 'update', objects: [{ ...wanted, tags: stored }, wanted] }];
}
