import { create } from '@bufbuild/protobuf';
import { listFeatures, searchFeatures } from '@larder/core';
import { registryV1 } from '@larder/proto';
import type { RegistryStore } from '@larder/registry-store';

// Discovery is core's (pure functions over one project's definitions); the
// service only picks the projects and gathers the answers.

export async function listStoredFeatures(store: RegistryStore, req: registryV1.ListFeaturesRequest): Promise<registryV1.ListFeaturesResponse> {
  const { value: sets, version } = await store.registrySets(req.project);
  const query = {
    filter: req.filter,
    featureView: req.featureView,
    entity: req.entity,
    owner: req.owner,
    valueType: req.valueType,
  };
  const features = sets
    .sort((a, b) => (a.project.name < b.project.name ? -1 : a.project.name > b.project.name ? 1 : 0))
    .flatMap((set) => listFeatures(set, query));
  return create(registryV1.ListFeaturesResponseSchema, { features, registryVersion: version });
}

export async function searchStoredFeatures(store: RegistryStore, req: registryV1.SearchFeaturesRequest): Promise<registryV1.SearchFeaturesResponse> {
  const { value: sets, version } = await store.registrySets(req.project);
  const limit = req.limit <= 0 ? 100 : req.limit;
  // Each project's matches come best first; across projects, they follow project order.
  const features = sets.flatMap((set) => searchFeatures(set, { ...req, project: set.project.name, limit })).slice(0, limit);
  return create(registryV1.SearchFeaturesResponseSchema, { features, registryVersion: version });
}
