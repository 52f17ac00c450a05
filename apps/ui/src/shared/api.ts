// The JSON the UI server answers with, shared by the server and the front end so
// the two cannot drift apart. Objects themselves travel as proto JSON with the
// proto's snake_case names (as `larder describe` prints them), so they stay
// `Record<string, unknown>` here.

/** The kinds of object with a page, as they appear in URLs. */
export const OBJECT_KINDS = ['entity', 'data-source', 'feature-view', 'on-demand-feature-view', 'feature-service'] as const;
export type ObjectKindSlug = (typeof OBJECT_KINDS)[number];

export const KIND_LABELS: Readonly<Record<ObjectKindSlug, string>> = {
  entity: 'entity',
  'data-source': 'data source',
  'feature-view': 'feature view',
  'on-demand-feature-view': 'on-demand view',
  'feature-service': 'feature service',
};

export function isObjectKind(value: string): value is ObjectKindSlug {
  return (OBJECT_KINDS as readonly string[]).includes(value);
}

/** Registry names: what the registry accepts, so anything else is refused before a call. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Longest search text the server takes (characters). */
export const MAX_QUERY_CHARS = 256;
/** Most search results one call returns. */
export const MAX_SEARCH_RESULTS = 200;

export interface ApiError {
  error: string;
  /** The gRPC code name behind it, when an upstream call failed. */
  code?: string;
  /** The request parameter at fault, for a 400. */
  field?: string;
  /** For a 401: where to sign in. */
  login?: string;
}

export interface ObjectCounts {
  entities: number;
  dataSources: number;
  featureViews: number;
  onDemandFeatureViews: number;
  featureServices: number;
}

export interface ProjectSummary {
  name: string;
  description: string;
  owner: string;
  counts: ObjectCounts;
}

export type AttentionKind = 'stale-view' | 'failed-job' | 'consumer-lag' | 'consumer-failed' | 'validation-anomaly';

export interface AttentionItem {
  kind: AttentionKind;
  project: string;
  /** The object it concerns, when one: a view or a data source. */
  object?: { kind: ObjectKindSlug; name: string };
  /** Where the item links to when not the object's page (a view's data quality). */
  href?: string;
  message: string;
}

/** An upstream the server could not ask; the page says which part is missing. */
export interface UpstreamProblem {
  service: 'registry' | 'materialization' | 'ingestion' | 'offline-retrieval';
  message: string;
}

export interface Overview {
  registryVersion: string;
  projects: ProjectSummary[];
  attention: AttentionItem[];
  problems: UpstreamProblem[];
}

export interface ObjectRef {
  kind: ObjectKindSlug;
  name: string;
  description: string;
  owner: string;
  tags: Record<string, string>;
}

export interface ProjectDetail {
  project: Record<string, unknown>;
  objects: ObjectRef[];
}

export interface FeatureHit {
  project: string;
  featureView: string;
  onDemand: boolean;
  name: string;
  valueType: string;
  description: string;
  tags: Record<string, string>;
  owner: string;
  entities: string[];
}

export interface SearchFilters {
  words: string[];
  tags: Record<string, string>;
  owner?: string;
  entity?: string;
  valueType?: string;
  project?: string;
}

export interface SearchResult {
  query: string;
  filters: SearchFilters;
  features: FeatureHit[];
  registryVersion: string;
}

export interface HistoryEntry {
  /** Registry version of the change; absent for a creation known only from the object's created time. */
  version?: string;
  change: 'CREATE' | 'UPDATE' | 'DELETE';
  /** When the change was committed (the object's updated time) or seen, ISO 8601. */
  time?: string;
}

export interface MaterializationInfo {
  watermark?: string;
  lastJobId: string;
  lastJobStatus: string;
  lastError: string;
  updatedTime?: string;
}

export interface ObjectDetail {
  project: string;
  kind: ObjectKindSlug;
  name: string;
  object: Record<string, unknown>;
  yaml: string;
  history: HistoryEntry[];
  /** Objects that use this one (views of an entity or source, services of a view, ...). */
  usedBy: { kind: ObjectKindSlug; name: string }[];
  materialization?: MaterializationInfo;
}

export type LineageColumn = 'source' | 'view' | 'on-demand' | 'service';

export interface LineageNode {
  id: string;
  column: LineageColumn;
  kind: ObjectKindSlug;
  name: string;
  /** What kind of source, for sources: file, kafka, push, request, ... */
  detail: string;
}

export interface LineageEdge {
  from: string;
  to: string;
}

export interface Lineage {
  project: string;
  nodes: LineageNode[];
  edges: LineageEdge[];
}

export interface ViewFreshness {
  project: string;
  name: string;
  online: boolean;
  ttlSeconds?: number;
  watermark?: string;
  lastJobId: string;
  lastJobStatus: string;
  lastError: string;
  stale: boolean;
}

export interface JobViewSummary {
  featureView: string;
  state: string;
  rowsRead: string;
  rowsWritten: string;
  error: string;
}

export interface JobSummary {
  id: string;
  project: string;
  kind: string;
  state: string;
  createTime?: string;
  runTime?: string;
  finishTime?: string;
  durationMs?: number;
  rowsWritten: string;
  error: string;
  views: JobViewSummary[];
}

export interface ConsumerSummary {
  project: string;
  dataSource: string;
  topic: string;
  consumerGroup: string;
  state: string;
  lag: string;
  eventsPerSecond: number;
  deadLetters: string;
  deadLetterTopic: string;
  lastError: string;
  partitions: { partition: number; lag: string; eventsPerSecond: number; deadLetters: string; lastEventTime?: string; stalledSince?: string }[];
}

export interface Freshness {
  /** When the server assembled this answer, ISO 8601. */
  asOf: string;
  views: ViewFreshness[];
  jobs: JobSummary[];
  consumers: ConsumerSummary[];
  problems: UpstreamProblem[];
}

/** `GET /api/me`: how the UI authenticates, and who is signed in. */
export interface Me {
  authMode: 'none' | 'oidc';
  user?: { id: string; name: string };
}
