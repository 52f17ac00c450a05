import { FeatureResolutionError, resolveFeatures } from '@larder/core';
import type { FeatureRequest, RegistrySet, ResolvedFeatures, TypedName } from '@larder/core';
import type { HistoricalView, OfflineStore } from '@larder/offline-store';
import type { offlineV1, registryV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import { viewSourceOf } from './sources';

/** Where an output feature column comes from. */
export type FeatureColumn =
  | { readonly kind: 'view'; readonly name: string; readonly valueType: TypedName['valueType']; readonly storeColumn: string }
  | { readonly kind: 'on-demand'; readonly name: string; readonly valueType: TypedName['valueType']; readonly onDemand: number; readonly output: string };

/** A historical query resolved against one registry version, for one engine. */
export interface RetrievalPlan {
  readonly resolved: ResolvedFeatures;
  readonly features: FeatureRequest;
  /** What the offline store joins. */
  readonly views: readonly HistoricalView[];
  /** Store column of feature j of resolved view i (an output name, or an internal name for on-demand inputs). */
  readonly storeColumns: readonly (readonly string[])[];
  /** Output feature columns, in request order. */
  readonly outputs: readonly FeatureColumn[];
  readonly hasOnDemand: boolean;
}

/** The registry as retrieval needs it; RegistryClient satisfies it. */
export interface RegistrySource {
  registrySet(project: string): RegistrySet | undefined;
  projectNames(): string[];
}

export function featureRequestOf(query: offlineV1.HistoricalQuery): FeatureRequest {
  const { kind } = query;
  if (kind.case === 'features') return { refs: kind.value.val };
  if (kind.case === 'featureService') return { featureService: kind.value };
  throw new RpcError(Code.INVALID_ARGUMENT, 'query.kind: set either features (a list of view:feature refs) or feature_service');
}

export function projectOf(registry: RegistrySource, requested: string, configured: string): string {
  if (requested !== '') return requested;
  if (configured !== '') return configured;
  const names = registry.projectNames();
  if (names.length === 1) return names[0] as string;
  throw new RpcError(
    names.length === 0 ? Code.NOT_FOUND : Code.INVALID_ARGUMENT,
    names.length === 0
      ? 'the registry holds no project yet; apply a feature repo first'
      : `query.project: the registry holds several projects (${names.join(', ')}); name one or set LARDER_PROJECT`,
  );
}

/**
 * Resolves the query's features with core's resolver (the one online serving uses)
 * and turns each view read into the offline store's HistoricalView.
 */
export function planRetrieval(set: RegistrySet, query: offlineV1.HistoricalQuery, engine: OfflineStore['engine']): RetrievalPlan {
  const features = featureRequestOf(query);
  let resolved: ResolvedFeatures;
  try {
    resolved = resolveFeatures(set, features, { fullFeatureNames: query.fullFeatureNames });
  } catch (error) {
    if (error instanceof FeatureResolutionError) {
      // As online serving answers: an unknown service is NOT_FOUND, a bad ref in the request INVALID_ARGUMENT.
      throw new RpcError(error.problem === 'unknown-service' ? Code.NOT_FOUND : Code.INVALID_ARGUMENT, error.message);
    }
    throw error;
  }
  const sources = new Map<string, registryV1.DataSource>(set.dataSources.map((s) => [s.name, s]));
  // Features that are outputs keep their output name in the store; on-demand inputs get a private one.
  const outputOf = new Map<string, string>();
  for (const out of resolved.outputs) if (out.kind === 'view') outputOf.set(`${out.view}/${out.feature}`, out.name);
  const storeColumns = resolved.views.map((view, i) => view.features.map((f, j) => outputOf.get(`${i}/${j}`) ?? `__larder_input_${i}_${f.name}`));
  const views: HistoricalView[] = resolved.views.map((view, i) => ({
    name: view.name,
    source: viewSourceOf(engine, sources, view.definition),
    joinKeys: view.joinKeys.map((k) => ({ name: k.name, entityColumn: k.column, type: k.valueType })),
    features: view.features.map((f, j) => ({ name: f.name, outputName: storeColumns[i]?.[j] as string, type: f.valueType })),
    ttlMs: view.ttlMs,
  }));
  const outputs: FeatureColumn[] = resolved.outputs.map((out) => {
    if (out.kind === 'view') return { kind: 'view', name: out.name, valueType: out.valueType, storeColumn: storeColumns[out.view]?.[out.feature] as string };
    const od = resolved.onDemand[out.onDemand];
    return { kind: 'on-demand', name: out.name, valueType: out.valueType, onDemand: out.onDemand, output: od?.compiled.outputs[out.output]?.name as string };
  });
  return { resolved, features, views, storeColumns, outputs, hasOnDemand: resolved.onDemand.length > 0 };
}
