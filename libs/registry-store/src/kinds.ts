import type { DescMessage } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';

const K = registryV1.ObjectKind;

/** The kinds an apply writes inside a project (everything but the project itself). */
export type ObjectKindInProject =
  | registryV1.ObjectKind.ENTITY
  | registryV1.ObjectKind.DATA_SOURCE
  | registryV1.ObjectKind.FEATURE_VIEW
  | registryV1.ObjectKind.ON_DEMAND_FEATURE_VIEW
  | registryV1.ObjectKind.FEATURE_SERVICE
  | registryV1.ObjectKind.SAVED_DATASET
  | registryV1.ObjectKind.PERMISSION;

/** The message type stored for each kind. */
export interface ObjectsByKind {
  [registryV1.ObjectKind.ENTITY]: registryV1.Entity;
  [registryV1.ObjectKind.DATA_SOURCE]: registryV1.DataSource;
  [registryV1.ObjectKind.FEATURE_VIEW]: registryV1.FeatureView;
  [registryV1.ObjectKind.ON_DEMAND_FEATURE_VIEW]: registryV1.OnDemandFeatureView;
  [registryV1.ObjectKind.FEATURE_SERVICE]: registryV1.FeatureService;
  [registryV1.ObjectKind.SAVED_DATASET]: registryV1.SavedDataset;
  [registryV1.ObjectKind.PERMISSION]: registryV1.Permission;
}

export type ObjectOf<K extends ObjectKindInProject> = ObjectsByKind[K];
export type RegistryObject = ObjectsByKind[ObjectKindInProject];

/** The keys of RegistrySet (and of ApplyRegistryRequest) that hold each kind. */
export type SetKey = 'entities' | 'dataSources' | 'featureViews' | 'onDemandFeatureViews' | 'featureServices' | 'savedDatasets' | 'permissions';

export interface KindInfo {
  kind: ObjectKindInProject;
  schema: DescMessage;
  setKey: SetKey;
  /** The RegistryChange oneof case carrying this kind. */
  changeCase: Exclude<registryV1.RegistryChange['object']['case'], undefined | 'projectObject'>;
}

/** In dependency order: an object only refers to kinds listed before it. */
export const KINDS: readonly KindInfo[] = [
  { kind: K.ENTITY, schema: registryV1.EntitySchema, setKey: 'entities', changeCase: 'entity' },
  { kind: K.DATA_SOURCE, schema: registryV1.DataSourceSchema, setKey: 'dataSources', changeCase: 'dataSource' },
  { kind: K.FEATURE_VIEW, schema: registryV1.FeatureViewSchema, setKey: 'featureViews', changeCase: 'featureView' },
  {
    kind: K.ON_DEMAND_FEATURE_VIEW,
    schema: registryV1.OnDemandFeatureViewSchema,
    setKey: 'onDemandFeatureViews',
    changeCase: 'onDemandFeatureView',
  },
  { kind: K.FEATURE_SERVICE, schema: registryV1.FeatureServiceSchema, setKey: 'featureServices', changeCase: 'featureService' },
  { kind: K.SAVED_DATASET, schema: registryV1.SavedDatasetSchema, setKey: 'savedDatasets', changeCase: 'savedDataset' },
  { kind: K.PERMISSION, schema: registryV1.PermissionSchema, setKey: 'permissions', changeCase: 'permission' },
];

const byKind = new Map<registryV1.ObjectKind, KindInfo>(KINDS.map((info) => [info.kind, info]));

export function kindInfo(kind: registryV1.ObjectKind): KindInfo {
  const info = byKind.get(kind);
  if (info === undefined) throw new Error(`not an object kind inside a project: ${kind}`);
  return info;
}

export function isKindInProject(kind: registryV1.ObjectKind): kind is ObjectKindInProject {
  return byKind.has(kind);
}

/** Orders kinds as the contract lists them (project first), then names. */
export function compareKindName(a: { kind: registryV1.ObjectKind; name: string }, b: { kind: registryV1.ObjectKind; name: string }): number {
  if (a.kind !== b.kind) return a.kind - b.kind;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
