import { create } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';

/**
 * Every definition of one project, as applied together. It has the shape of
 * ApplyRegistryRequest so the CLI, the SDK and the registry service pass the
 * same thing around.
 */
export interface RegistrySet {
  project: registryV1.Project;
  entities: registryV1.Entity[];
  dataSources: registryV1.DataSource[];
  featureViews: registryV1.FeatureView[];
  onDemandFeatureViews: registryV1.OnDemandFeatureView[];
  featureServices: registryV1.FeatureService[];
  savedDatasets: registryV1.SavedDataset[];
  permissions: registryV1.Permission[];
}

/**
 * One problem with a definition. `field` is a path inside the object in the
 * proto's field names (`schema[2].value_type`, `ttl`, `tags.team`), so a
 * feature repo loader can point at the file, line and key it came from.
 */
export interface RegistryIssue {
  kind: registryV1.ObjectKind;
  name: string;
  field: string;
  message: string;
}

/** A RegistrySet with only a project, for building sets up in code and tests. */
export function emptyRegistrySet(project: string): RegistrySet {
  return {
    project: create(registryV1.ProjectSchema, { name: project }),
    entities: [],
    dataSources: [],
    featureViews: [],
    onDemandFeatureViews: [],
    featureServices: [],
    savedDatasets: [],
    permissions: [],
  };
}
