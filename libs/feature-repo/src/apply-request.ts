import { create } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import type { LoadedFeatureRepo } from './load';

/** The ApplyRegistry request that registers a loaded repo's definitions under its project. */
export function applyRequestOf(
  repo: Pick<LoadedFeatureRepo, 'config' | 'set'>,
  options: { prune: boolean; planOnly?: boolean },
): registryV1.ApplyRegistryRequest {
  const { config, set } = repo;
  return create(registryV1.ApplyRegistryRequestSchema, {
    project: config.project,
    projectSpec: set.project,
    entities: set.entities,
    dataSources: set.dataSources,
    featureViews: set.featureViews,
    onDemandFeatureViews: set.onDemandFeatureViews,
    featureServices: set.featureServices,
    savedDatasets: set.savedDatasets,
    permissions: set.permissions,
    prune: options.prune,
    planOnly: options.planOnly ?? false,
  });
}
