import { registryV1 } from '@larder/proto';

const { ObjectKind } = registryV1;

/** The CLI and file-facing name of each object kind, e.g. `feature-view`. */
export type KindName = 'project' | 'entity' | 'data-source' | 'feature-view' | 'on-demand-feature-view' | 'feature-service' | 'saved-dataset' | 'permission';

const NAMES: ReadonlyArray<readonly [registryV1.ObjectKind, KindName, string]> = [
  [ObjectKind.PROJECT, 'project', 'project'],
  [ObjectKind.ENTITY, 'entity', 'entity'],
  [ObjectKind.DATA_SOURCE, 'data-source', 'data source'],
  [ObjectKind.FEATURE_VIEW, 'feature-view', 'feature view'],
  [ObjectKind.ON_DEMAND_FEATURE_VIEW, 'on-demand-feature-view', 'on-demand feature view'],
  [ObjectKind.FEATURE_SERVICE, 'feature-service', 'feature service'],
  [ObjectKind.SAVED_DATASET, 'saved-dataset', 'saved dataset'],
  [ObjectKind.PERMISSION, 'permission', 'permission'],
];

/** Every kind name, in ObjectKind order. */
export const KIND_NAMES: readonly KindName[] = NAMES.map(([, name]) => name);

/** `OBJECT_KIND_FEATURE_VIEW` -> `feature-view`. Throws on UNSPECIFIED or an unknown number. */
export function kindName(kind: registryV1.ObjectKind): KindName {
  const entry = NAMES.find(([k]) => k === kind);
  if (entry === undefined) throw new Error(`object kind ${String(kind)} has no name`);
  return entry[1];
}

/** How a kind reads in a sentence: `feature view`, `on-demand feature view`. */
export function kindLabel(kind: registryV1.ObjectKind): string {
  return NAMES.find(([k]) => k === kind)?.[2] ?? 'object';
}

// People type kinds many ways: `feature-view`, `feature_views`, `FeatureView`,
// `odfv`. All of them normalise to lowercase letters only.
const ALIASES: ReadonlyMap<string, registryV1.ObjectKind> = new Map([
  ...NAMES.flatMap(([kind, name]): Array<[string, registryV1.ObjectKind]> => {
    const bare = name.replaceAll('-', '');
    const plural = bare.endsWith('y') ? `${bare.slice(0, -1)}ies` : `${bare}s`;
    return [
      [bare, kind],
      [plural, kind],
    ];
  }),
  ['fv', ObjectKind.FEATURE_VIEW],
  ['fvs', ObjectKind.FEATURE_VIEW],
  ['odfv', ObjectKind.ON_DEMAND_FEATURE_VIEW],
  ['odfvs', ObjectKind.ON_DEMAND_FEATURE_VIEW],
  ['ondemandview', ObjectKind.ON_DEMAND_FEATURE_VIEW],
  ['ondemandviews', ObjectKind.ON_DEMAND_FEATURE_VIEW],
  ['source', ObjectKind.DATA_SOURCE],
  ['sources', ObjectKind.DATA_SOURCE],
  ['view', ObjectKind.FEATURE_VIEW],
  ['views', ObjectKind.FEATURE_VIEW],
  ['service', ObjectKind.FEATURE_SERVICE],
  ['services', ObjectKind.FEATURE_SERVICE],
  ['dataset', ObjectKind.SAVED_DATASET],
  ['datasets', ObjectKind.SAVED_DATASET],
]);

/**
 * Reads a kind as a person writes it: `feature-view`, `feature_views`,
 * `FeatureView`, `fv`, `odfv`... Returns undefined for anything else.
 */
export function parseKindName(text: string): registryV1.ObjectKind | undefined {
  return ALIASES.get(text.toLowerCase().replace(/[-_\s]/g, ''));
}
