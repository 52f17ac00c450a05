// The data-quality page's JSON (GET /api/quality/<project>/<view>), shared by the
// server and the front end. Built by the UI server from the stored statistics
// (larder.statistics.v1, served by offline retrieval) and the view's TFDV schema
// (FeatureView.validation), validated with @larder/validation as the services do.

/** Which rows a statistics record describes (StatisticsScope's kinds of a feature view). */
export type SpanKind = 'event-time' | 'ingested' | 'materialized';

export const SPAN_KIND_LABELS: Readonly<Record<SpanKind, string>> = {
  'event-time': 'rows by event time',
  ingested: 'rows ingested',
  materialized: 'rows materialized',
};

/** The page of a view's data quality. */
export const qualityHref = (project: string, view: string): string => `/quality/${encodeURIComponent(project)}/${encodeURIComponent(view)}`;

/** Ids of stored records, as the statistics service gives them (UUIDs). */
export const RECORD_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/** One stored statistics record, without its body. */
export interface SpanHeader {
  id: string;
  kind: SpanKind;
  /** The record's time range [start, end), ISO 8601. */
  start?: string;
  end?: string;
  computedAt?: string;
  rows: string;
  engine: string;
}

export interface AnomalyReason {
  /** TFDV's AnomalyInfo.Type name, e.g. INT_TYPE_BIG_INT. */
  type: string;
  short: string;
  description: string;
}

/** A feature's domain in the schema, resolved (a by-name domain followed). */
export type DomainInfo =
  | { kind: 'int'; name?: string; min?: number; max?: number }
  | { kind: 'float'; name?: string; min?: number; max?: number; disallowNan: boolean; disallowInf: boolean }
  | { kind: 'string'; name?: string; values: string[]; more: number; minDomainMass?: number }
  | { kind: 'other'; what: string };

/** What the schema asks of one feature, as far as the page shows it. */
export interface FeatureExpectations {
  type?: string;
  presence?: { minFraction?: number; minCount?: string };
  domain?: DomainInfo;
  drift?: { measure: 'L_INFTY' | 'JENSEN_SHANNON_DIVERGENCE'; threshold: number };
  /** Not checked (deprecated, or a lifecycle stage TFDV skips). */
  skipped: boolean;
}

export interface HistogramBucket {
  low: number;
  high: number;
  count: number;
}

export interface NumericSummary {
  mean: number;
  stdDev: number;
  min: number;
  median: number;
  max: number;
  zeros: string;
  nan: string;
  /** Equal-width buckets (TFDV's STANDARD histogram). */
  histogram: HistogramBucket[];
  /** Quantile boundaries, low to high (TFDV's QUANTILES histogram). */
  quantiles: number[];
}

export interface StringSummary {
  unique: string;
  avgLength: number;
  /** The most frequent values, most frequent first. */
  topValues: { value: string; count: number }[];
  /** Values listed in the statistics but more than shown. */
  moreValues: number;
}

/** One feature at one span, for the drift-over-time plots. */
export interface FeaturePoint {
  id: string;
  missingPct: number;
  mean?: number;
  /** Distance to the span before (L-infinity for strings, Jensen-Shannon for numbers); absent for the first. */
  drift?: number;
  anomalies: number;
}

export interface FeatureQuality {
  name: string;
  /** The registry's value type (int64, float, string, ...), when the view declares the feature. */
  valueType?: string;
  /** The statistics' type: INT, FLOAT, STRING, BYTES, STRUCT. */
  statsType?: string;
  /** In the current span's statistics. */
  described: boolean;
  present: string;
  missing: string;
  /** Missing values as a share of the span's rows, 0..100. */
  missingPct: number;
  numeric?: NumericSummary;
  string?: StringSummary;
  expectations?: FeatureExpectations;
  anomalies: AnomalyReason[];
  /** Drift against the previous span: the measure, its value, and the schema's threshold if any. */
  drift?: { measure: 'L_INFTY' | 'JENSEN_SHANNON_DIVERGENCE'; value: number; threshold?: number; moved?: string };
  /** The same feature over the spans of the timeline, oldest first. */
  timeline: FeaturePoint[];
}

export interface SpanPoint extends SpanHeader {
  /** Anomalies found in this span (features with one, plus the dataset's). */
  anomalies: number;
}

export interface DataQuality {
  project: string;
  featureView: string;
  /** Whether the view has a TFDV schema (FeatureView.validation.schema). */
  hasSchema: boolean;
  /** Stored records of the view, newest computed first (at most 50). */
  records: SpanHeader[];
  /** The span shown; absent when nothing is stored. */
  current?: SpanHeader;
  /** The span drift is measured against (the one before, of the same kind). */
  previous?: SpanHeader;
  /** No rows in the current span. */
  dataMissing: boolean;
  datasetAnomalies: AnomalyReason[];
  features: FeatureQuality[];
  /** Spans of the current one's kind up to it, oldest first (at most 12). */
  timeline: SpanPoint[];
  /** Why a part is missing: the offline-retrieval service not configured or not answering. */
  problems: { service: 'offline-retrieval'; message: string }[];
}
