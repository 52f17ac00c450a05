import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { hasTags } from './filter';
import type { NameTagFilter } from './filter';
import type { RegistrySet } from './registry-set';

/** Structured feature filters; registryV1.ListFeaturesRequest fits. All set conditions must hold. */
export interface FeatureQuery {
  /** Only this project; empty or unset matches the set's project. */
  project?: string;
  /** Feature name prefix, and tags the feature's merged tags must include. */
  filter?: NameTagFilter | undefined;
  featureView?: string;
  entity?: string;
  owner?: string;
  /** UNSPECIFIED or unset matches all. */
  valueType?: typesV1.ValueType;
}

/** Free-text search plus filters; registryV1.SearchFeaturesRequest fits. */
export interface FeatureSearch {
  /** Words matched case-insensitively against names, descriptions and tags; every word must match. */
  query?: string;
  project?: string;
  tags?: Readonly<Record<string, string>>;
  owner?: string;
  entity?: string;
  valueType?: typesV1.ValueType;
  /** At most this many results; 0 or unset means 100. */
  limit?: number;
}

/**
 * Every feature of a project as discovery sees it: each feature of each
 * feature view, then each output of each on-demand view (whose entities are
 * those of the views it reads), by view then feature name.
 */
export function featureInfos(set: RegistrySet): registryV1.FeatureInfo[] {
  const project = set.project.name;
  const infos: registryV1.FeatureInfo[] = [];
  for (const v of set.featureViews) {
    for (const f of v.schema) {
      infos.push(
        create(registryV1.FeatureInfoSchema, {
          project,
          featureView: v.name,
          name: f.name,
          valueType: f.valueType,
          description: f.description,
          tags: { ...v.tags, ...f.tags },
          owner: v.owner,
          entities: [...v.entities],
          onDemand: false,
          online: v.online ?? true,
          ...(v.ttl !== undefined && (v.ttl.seconds !== 0n || v.ttl.nanos !== 0) ? { ttl: v.ttl } : {}),
          featureViewDescription: v.description,
        }),
      );
    }
  }
  for (const v of set.onDemandFeatureViews) {
    const entities = new Set<string>();
    for (const { source } of v.sources) {
      if (source.case !== 'featureView') continue;
      for (const e of set.featureViews.find((fv) => fv.name === source.value.featureView)?.entities ?? []) entities.add(e);
    }
    for (const o of v.outputs) {
      infos.push(
        create(registryV1.FeatureInfoSchema, {
          project,
          featureView: v.name,
          name: o.name,
          valueType: o.valueType,
          description: o.description,
          tags: { ...v.tags, ...o.tags },
          owner: v.owner,
          entities: [...entities],
          onDemand: true,
          online: true,
          featureViewDescription: v.description,
        }),
      );
    }
  }
  return infos.sort((a, b) => compare(a.featureView, b.featureView) || compare(a.name, b.name));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function matchesCommon(f: registryV1.FeatureInfo, q: { owner?: string; entity?: string; valueType?: typesV1.ValueType }): boolean {
  if (q.owner !== undefined && q.owner !== '' && f.owner !== q.owner) return false;
  if (q.entity !== undefined && q.entity !== '' && !f.entities.includes(q.entity)) return false;
  if (q.valueType !== undefined && q.valueType !== typesV1.ValueType.UNSPECIFIED && f.valueType !== q.valueType) return false;
  return true;
}

/** Features matching structured filters, by view then name. */
export function listFeatures(set: RegistrySet, query: FeatureQuery = {}): registryV1.FeatureInfo[] {
  if (query.project !== undefined && query.project !== '' && query.project !== set.project.name) return [];
  return featureInfos(set).filter(
    (f) =>
      (query.filter?.namePrefix === undefined || f.name.startsWith(query.filter.namePrefix)) &&
      hasTags(f.tags, query.filter?.tags ?? {}) &&
      (query.featureView === undefined || query.featureView === '' || f.featureView === query.featureView) &&
      matchesCommon(f, query),
  );
}

/**
 * How well one word matches a feature; 0 when it does not. Names outrank
 * view names, which outrank descriptions and tags, and whole-name matches
 * outrank prefixes, which outrank substrings.
 */
function wordScore(f: registryV1.FeatureInfo, word: string): number {
  const name = f.name.toLowerCase();
  let score = 0;
  if (name === word) score = Math.max(score, 100);
  else if (name.startsWith(word)) score = Math.max(score, 60);
  else if (name.includes(word)) score = Math.max(score, 40);
  const view = f.featureView.toLowerCase();
  if (view === word) score = Math.max(score, 30);
  else if (view.includes(word)) score = Math.max(score, 20);
  if (f.description.toLowerCase().includes(word)) score = Math.max(score, 10);
  for (const [k, v] of Object.entries(f.tags)) {
    if (k.toLowerCase().includes(word) || v.toLowerCase().includes(word)) score = Math.max(score, 8);
  }
  if (f.featureViewDescription.toLowerCase().includes(word)) score = Math.max(score, 5);
  return score;
}

/** Free-text search over features, best match first (ties by view then name). */
export function searchFeatures(set: RegistrySet, search: FeatureSearch = {}): registryV1.FeatureInfo[] {
  if (search.project !== undefined && search.project !== '' && search.project !== set.project.name) return [];
  const words = (search.query ?? '')
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '');
  const limit = search.limit === undefined || search.limit <= 0 ? 100 : search.limit;
  const scored: Array<{ f: registryV1.FeatureInfo; score: number }> = [];
  for (const f of featureInfos(set)) {
    if (!hasTags(f.tags, search.tags ?? {}) || !matchesCommon(f, search)) continue;
    let score = 0;
    let all = true;
    for (const w of words) {
      const s = wordScore(f, w);
      if (s === 0) {
        all = false;
        break;
      }
      score += s;
    }
    if (all) scored.push({ f, score });
  }
  // featureInfos is already by view then name, and sort is stable.
  scored.sort((a, b) => b.score - a.score);
  return scored.slice(0, limit).map((s) => s.f);
}
