// Feature search over a compact index, run by the UI server and by the page itself:
// the page downloads the index of the features its user may see once, then answers
// each keystroke locally instead of asking the server. Both sides share this code, so
// a search means the same in the page and in the API.
import type { FeatureHit, SearchFilters } from './api';

/** The value types people type after `type:` (larder.types.v1.ValueType, lower case). */
export const TYPE_FILTER_NAMES = [
  'bytes',
  'string',
  'int32',
  'int64',
  'double',
  'float',
  'bool',
  'unix_timestamp',
  'bytes_list',
  'string_list',
  'int32_list',
  'int64_list',
  'double_list',
  'float_list',
  'bool_list',
  'unix_timestamp_list',
  'null',
] as const;

/** One feature: [name, value type, description, its own tags (the view's are merged in)]. */
export type IndexedFeature = [name: string, valueType: string, description: string, tags?: Record<string, string>];

/** A feature view or on-demand view with its features; view-level fields are sent once. */
export interface IndexedView {
  project: string;
  name: string;
  onDemand: boolean;
  owner: string;
  description: string;
  entities: string[];
  tags: Record<string, string>;
  features: IndexedFeature[];
}

/** What `GET /api/search-index` answers: every feature the user may see, at one registry version. */
export interface SearchIndex {
  registryVersion: string;
  views: IndexedView[];
}

/** A search in the form one parse gives: filters, or why the text is refused. */
export type ParsedSearch = { ok: true; filters: SearchFilters } | { ok: false; field: 'q'; message: string };

const FILTER_KEYS = ['tag', 'owner', 'entity', 'type', 'project'] as const;

/**
 * Search text to filters: plain words match names, descriptions and tags; `tag:k=v`,
 * `owner:x`, `entity:x`, `type:int64` and `project:x` narrow the results.
 */
export function parseSearch(query: string): ParsedSearch {
  const filters: SearchFilters = { words: [], tags: {} };
  for (const token of query.split(/\s+/).filter((t) => t !== '')) {
    const colon = token.indexOf(':');
    const field = colon > 0 ? token.slice(0, colon).toLowerCase() : '';
    const value = colon > 0 ? token.slice(colon + 1) : '';
    if (!(FILTER_KEYS as readonly string[]).includes(field) || value === '') {
      filters.words.push(token);
      continue;
    }
    switch (field as (typeof FILTER_KEYS)[number]) {
      case 'tag': {
        const eq = value.indexOf('=');
        // A tag key alone is matched as a word (tag keys are part of the free text).
        if (eq <= 0) filters.words.push(value);
        else filters.tags[value.slice(0, eq)] = value.slice(eq + 1);
        break;
      }
      case 'owner':
        filters.owner = value;
        break;
      case 'entity':
        filters.entity = value;
        break;
      case 'type': {
        const type = value.toLowerCase();
        if (!(TYPE_FILTER_NAMES as readonly string[]).includes(type)) {
          return { ok: false, field: 'q', message: `q: unknown value type "${value.slice(0, 40)}" (e.g. int64, float, string, bool, double_list)` };
        }
        filters.valueType = type;
        break;
      }
      case 'project':
        filters.project = value;
        break;
    }
  }
  return { ok: true, filters };
}

/** One feature ready to be matched: the answer's fields and their lower-case text. */
interface Entry {
  hit: FeatureHit;
  name: string;
  view: string;
  description: string;
  viewDescription: string;
  /** Every tag key and value, lower case. */
  tagText: string[];
}

/** An index prepared for searching (lower-cased once, not per keystroke). */
export interface PreparedIndex {
  readonly registryVersion: string;
  readonly size: number;
  readonly entries: readonly Entry[];
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function prepareIndex(index: SearchIndex): PreparedIndex {
  const entries: Entry[] = [];
  for (const v of index.views) {
    const view = v.name.toLowerCase();
    const viewDescription = v.description.toLowerCase();
    for (const [name, valueType, description, own] of v.features) {
      const tags = own === undefined ? v.tags : { ...v.tags, ...own };
      entries.push({
        hit: { project: v.project, featureView: v.name, onDemand: v.onDemand, name, valueType, description, tags, owner: v.owner, entities: v.entities },
        name: name.toLowerCase(),
        view,
        description: description.toLowerCase(),
        viewDescription,
        tagText: Object.entries(tags).flatMap(([k, val]) => [k.toLowerCase(), val.toLowerCase()]),
      });
    }
  }
  // Ties in score keep this order: project, then view, then feature.
  entries.sort((a, b) => compare(a.hit.project, b.hit.project) || compare(a.hit.featureView, b.hit.featureView) || compare(a.hit.name, b.hit.name));
  return { registryVersion: index.registryVersion, size: entries.length, entries };
}

/**
 * How well one word matches; 0 when it does not. The registry's SearchFeatures ranks
 * the same way: names outrank view names, which outrank descriptions and tags; whole
 * names outrank prefixes, which outrank substrings.
 */
function wordScore(e: Entry, word: string): number {
  if (e.name === word) return 100;
  if (e.name.startsWith(word)) return 60;
  if (e.name.includes(word)) return 40;
  if (e.view === word) return 30;
  if (e.view.includes(word)) return 20;
  if (e.description.includes(word)) return 10;
  for (const t of e.tagText) if (t.includes(word)) return 8;
  if (e.viewDescription.includes(word)) return 5;
  return 0;
}

function hasTags(tags: Record<string, string>, wanted: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(wanted)) if (tags[k] !== v) return false;
  return true;
}

/** The best `limit` matches, best first (ties by project, view, feature). */
export function searchPrepared(index: PreparedIndex, filters: SearchFilters, limit: number): FeatureHit[] {
  const words = filters.words.map((w) => w.toLowerCase());
  const wantedTags = Object.keys(filters.tags).length === 0 ? undefined : filters.tags;
  const scored: { hit: FeatureHit; score: number; at: number }[] = [];
  const entries = index.entries;
  for (let at = 0; at < entries.length; at++) {
    const e = entries[at]!;
    const h = e.hit;
    if (filters.project !== undefined && h.project !== filters.project) continue;
    if (filters.owner !== undefined && h.owner !== filters.owner) continue;
    if (filters.entity !== undefined && !h.entities.includes(filters.entity)) continue;
    if (filters.valueType !== undefined && h.valueType !== filters.valueType) continue;
    if (wantedTags !== undefined && !hasTags(h.tags, wantedTags)) continue;
    let score = 0;
    let all = true;
    for (const w of words) {
      const s = wordScore(e, w);
      if (s === 0) {
        all = false;
        break;
      }
      score += s;
    }
    if (all) scored.push({ hit: h, score, at });
  }
  scored.sort((a, b) => b.score - a.score || a.at - b.at);
  return scored.slice(0, limit).map((s) => s.hit);
}
