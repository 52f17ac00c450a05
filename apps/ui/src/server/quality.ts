// The data-quality page and the home page's validation anomalies: statistics the
// statistics service (offline retrieval) has stored for a feature view, drawn as
// histograms and top values, checked against the view's TFDV schema with the same
// validator the services use, and compared span to span for drift.
import { createHash } from 'node:crypto';
import { isFieldSet, toBinary } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { registryV1, tfmdV0, typesV1 } from '@larder/proto';
import type { statisticsV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { RpcCallOptions } from '@larder/rpc';
import {
  categoricalCounts,
  categoricalJensenShannon,
  commonStatistics,
  featureStatsName,
  histogramJensenShannon,
  lInfinityDistance,
  resolveDomain,
  validateStatistics,
} from '@larder/validation';
import type { AttentionItem, UpstreamProblem } from '../shared/api';
import { qualityHref } from '../shared/quality-api';
import type {
  AnomalyReason,
  DataQuality,
  DomainInfo,
  FeatureExpectations,
  FeaturePoint,
  FeatureQuality,
  SpanHeader,
  SpanKind,
  SpanPoint,
} from '../shared/quality-api';
import type { Clients } from './upstreams';

/** Records listed to find a view's spans: the newest ones. */
const RECORDS_LISTED = 200;
/** Records offered on the page to pick from. */
const RECORDS_SHOWN = 50;
/** Spans on the timeline (each is one GetStatistics call). */
export const TIMELINE_SPANS = 12;
const TOP_VALUES_SHOWN = 20;
const DOMAIN_VALUES_SHOWN = 100;
/** Views whose newest statistics the home page validates per request, at most. */
const ATTENTION_VIEWS = 50;

type Measure = 'L_INFTY' | 'JENSEN_SHANNON_DIVERGENCE';

const iso = (ts: Timestamp | undefined): string | undefined => (ts === undefined ? undefined : timestampDate(ts).toISOString());
const anomalyTypeName = (t: tfmdV0.AnomalyInfo_Type): string => tfmdV0.AnomalyInfo_Type[t] ?? String(t);

interface Span {
  header: SpanHeader;
  /** Start of the range in ms, for ordering. */
  startMs: number;
  endMs: number;
}

/** A record of this view as a span, or undefined for records of other scopes (services, saved datasets). */
function spanOf(record: statisticsV1.StatisticsRecord, view: string): Span | undefined {
  const kind = record.scope?.kind;
  let spanKind: SpanKind;
  let range: statisticsV1.TimeRange | undefined;
  switch (kind?.case) {
    case 'featureView':
      if (kind.value.featureView !== view) return undefined;
      spanKind = 'event-time';
      range = kind.value.eventTime;
      break;
    case 'ingested':
      if (kind.value.featureView !== view) return undefined;
      spanKind = 'ingested';
      range = kind.value.createdTime;
      break;
    case 'materialized':
      if (kind.value.featureView !== view) return undefined;
      spanKind = 'materialized';
      range = kind.value.eventTime;
      break;
    default:
      return undefined;
  }
  const start = iso(range?.start);
  const end = iso(range?.end);
  const computedAt = iso(record.computedAt);
  return {
    header: {
      id: record.id,
      kind: spanKind,
      ...(start === undefined ? {} : { start }),
      ...(end === undefined ? {} : { end }),
      ...(computedAt === undefined ? {} : { computedAt }),
      rows: String(record.rowCount),
      engine: record.engine,
    },
    startMs: start === undefined ? 0 : Date.parse(start),
    endMs: end === undefined ? 0 : Date.parse(end),
  };
}

/**
 * The spans of one kind in time order, one per range (the newest computation of a
 * range stands for it), with `current` standing for its own range.
 */
function seriesOf(spans: readonly Span[], current: Span): Span[] {
  const byRange = new Map<string, Span>();
  // `spans` is newest computed first: the first seen of a range is its newest.
  for (const s of spans) {
    if (s.header.kind !== current.header.kind) continue;
    const key = `${s.startMs}/${s.endMs}`;
    if (!byRange.has(key)) byRange.set(key, s);
  }
  byRange.set(`${current.startMs}/${current.endMs}`, current);
  return [...byRange.values()].sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
}

const UNVALIDATED_STAGES = new Set([
  tfmdV0.LifecycleStage.PLANNED,
  tfmdV0.LifecycleStage.ALPHA,
  tfmdV0.LifecycleStage.DEPRECATED,
  tfmdV0.LifecycleStage.DEBUG_ONLY,
  tfmdV0.LifecycleStage.DISABLED,
]);

function domainInfo(feature: tfmdV0.Feature, schema: tfmdV0.Schema): DomainInfo | undefined {
  const domain = resolveDomain(feature, schema);
  const named = (name: string) => (name === '' ? {} : { name });
  switch (domain.case) {
    case 'int': {
      const d = domain.value;
      return {
        kind: 'int',
        ...named(d.name),
        ...(isFieldSet(d, tfmdV0.IntDomainSchema.field.min) ? { min: Number(d.min) } : {}),
        ...(isFieldSet(d, tfmdV0.IntDomainSchema.field.max) ? { max: Number(d.max) } : {}),
      };
    }
    case 'float': {
      const d = domain.value;
      return {
        kind: 'float',
        ...named(d.name),
        ...(isFieldSet(d, tfmdV0.FloatDomainSchema.field.min) ? { min: d.min } : {}),
        ...(isFieldSet(d, tfmdV0.FloatDomainSchema.field.max) ? { max: d.max } : {}),
        disallowNan: d.disallowNan,
        disallowInf: d.disallowInf,
      };
    }
    case 'string': {
      const d = domain.value;
      const mass = feature.distributionConstraints;
      return {
        kind: 'string',
        ...named(d.name),
        values: d.value.slice(0, DOMAIN_VALUES_SHOWN),
        more: Math.max(0, d.value.length - DOMAIN_VALUES_SHOWN),
        ...(mass !== undefined && isFieldSet(mass, tfmdV0.DistributionConstraintsSchema.field.minDomainMass) ? { minDomainMass: mass.minDomainMass } : {}),
      };
    }
    case 'other':
      return { kind: 'other', what: feature.domainInfo.case ?? 'domain' };
    default:
      return undefined;
  }
}

function comparatorOf(feature: tfmdV0.Feature | undefined): { measure: Measure; threshold: number; source?: tfmdV0.HistogramSelection_Type } | undefined {
  const c = feature?.driftComparator;
  if (c === undefined) return undefined;
  if (c.infinityNorm !== undefined) return { measure: 'L_INFTY', threshold: c.infinityNorm.threshold };
  if (c.jensenShannonDivergence !== undefined) {
    const source = c.jensenShannonDivergence.source?.type;
    return { measure: 'JENSEN_SHANNON_DIVERGENCE', threshold: c.jensenShannonDivergence.threshold, ...(source === undefined ? {} : { source }) };
  }
  return undefined;
}

function expectationsOf(feature: tfmdV0.Feature, schema: tfmdV0.Schema): FeatureExpectations {
  const presence = feature.presenceConstraints.case === 'presence' ? feature.presenceConstraints.value : undefined;
  const domain = domainInfo(feature, schema);
  const drift = comparatorOf(feature);
  return {
    ...(isFieldSet(feature, tfmdV0.FeatureSchema.field.type) ? { type: tfmdV0.FeatureType[feature.type] ?? String(feature.type) } : {}),
    ...(presence === undefined
      ? {}
      : {
          presence: {
            ...(isFieldSet(presence, tfmdV0.FeaturePresenceSchema.field.minFraction) ? { minFraction: presence.minFraction } : {}),
            ...(isFieldSet(presence, tfmdV0.FeaturePresenceSchema.field.minCount) ? { minCount: String(presence.minCount) } : {}),
          },
        }),
    ...(domain === undefined ? {} : { domain }),
    ...(drift === undefined ? {} : { drift: { measure: drift.measure, threshold: drift.threshold } }),
    skipped: feature.deprecated || UNVALIDATED_STAGES.has(feature.lifecycleStage),
  };
}

function histogram(stats: tfmdV0.NumericStatistics, type: tfmdV0.Histogram_HistogramType): tfmdV0.Histogram | undefined {
  return stats.histograms.find((h) => h.type === type);
}

/**
 * How far one feature moved from the previous span: the schema's drift comparator's
 * measure when it has one, else L-infinity for strings and Jensen-Shannon divergence
 * over the equal-width histograms for numbers.
 */
function driftOf(
  now: tfmdV0.FeatureNameStatistics,
  before: tfmdV0.FeatureNameStatistics | undefined,
  comparator: ReturnType<typeof comparatorOf>,
): { measure: Measure; value: number; moved?: string } | undefined {
  if (before === undefined) return undefined;
  if (now.stats.case === 'stringStats' && before.stats.case === 'stringStats') {
    const a = categoricalCounts(now.stats.value);
    const b = categoricalCounts(before.stats.value);
    if (comparator?.measure === 'JENSEN_SHANNON_DIVERGENCE') {
      const value = categoricalJensenShannon(a, b);
      return Number.isNaN(value) ? undefined : { measure: 'JENSEN_SHANNON_DIVERGENCE', value };
    }
    const { distance, value } = lInfinityDistance(a, b);
    return { measure: 'L_INFTY', value: distance, ...(value === undefined ? {} : { moved: value }) };
  }
  if (now.stats.case === 'numStats' && before.stats.case === 'numStats') {
    const type =
      comparator?.source === tfmdV0.HistogramSelection_Type.QUANTILES ? tfmdV0.Histogram_HistogramType.QUANTILES : tfmdV0.Histogram_HistogramType.STANDARD;
    const a = histogram(now.stats.value, type);
    const b = histogram(before.stats.value, type);
    if (a === undefined || b === undefined) return undefined;
    const value = histogramJensenShannon(a, b);
    return Number.isNaN(value) ? undefined : { measure: 'JENSEN_SHANNON_DIVERGENCE', value };
  }
  return undefined;
}

const reasonsOf = (info: tfmdV0.AnomalyInfo | undefined): AnomalyReason[] =>
  info === undefined
    ? []
    : info.reason.length > 0
      ? info.reason.map((r) => ({ type: anomalyTypeName(r.type), short: r.shortDescription, description: r.description }))
      : [{ type: 'UNKNOWN_TYPE', short: info.shortDescription, description: info.description }];

/** Counts anomalies as the home page and timeline show them: features with one, the dataset's, or no data. */
function anomalyCount(anomalies: tfmdV0.Anomalies | undefined): number {
  if (anomalies === undefined) return 0;
  return Object.keys(anomalies.anomalyInfo).length + (anomalies.datasetAnomalyInfo === undefined ? 0 : 1) + (anomalies.dataMissing ? 1 : 0);
}

function datasetOf(record: statisticsV1.StatisticsRecord | undefined): tfmdV0.DatasetFeatureStatistics | undefined {
  // A feature view's scopes give one dataset.
  return record?.statistics?.datasets[0];
}

const featureMap = (d: tfmdV0.DatasetFeatureStatistics | undefined) => new Map((d?.features ?? []).map((f) => [featureStatsName(f), f]));

function missingPct(f: tfmdV0.FeatureNameStatistics | undefined, rows: bigint): number {
  const common = f === undefined ? undefined : commonStatistics(f);
  if (common === undefined || rows === 0n) return 0;
  return (Number(common.numMissing) / Number(rows)) * 100;
}

function summarize(name: string, f: tfmdV0.FeatureNameStatistics | undefined, rows: bigint): Omit<FeatureQuality, 'anomalies' | 'timeline'> {
  const common = f === undefined ? undefined : commonStatistics(f);
  const out: Omit<FeatureQuality, 'anomalies' | 'timeline'> = {
    name,
    described: f !== undefined,
    present: String(common?.numNonMissing ?? 0n),
    missing: String(common?.numMissing ?? 0n),
    missingPct: missingPct(f, rows),
  };
  if (f === undefined) return out;
  out.statsType = tfmdV0.FeatureNameStatistics_Type[f.type] ?? String(f.type);
  if (f.stats.case === 'numStats') {
    const s = f.stats.value;
    const standard = histogram(s, tfmdV0.Histogram_HistogramType.STANDARD);
    const quantiles = histogram(s, tfmdV0.Histogram_HistogramType.QUANTILES);
    out.numeric = {
      mean: s.mean,
      stdDev: s.stdDev,
      min: s.min,
      median: s.median,
      max: s.max,
      zeros: String(s.numZeros),
      nan: String(standard?.numNan ?? 0n),
      histogram: (standard?.buckets ?? []).map((b) => ({ low: b.lowValue, high: b.highValue, count: b.sampleCount })),
      quantiles:
        quantiles === undefined || quantiles.buckets.length === 0 ? [] : [quantiles.buckets[0]!.lowValue, ...quantiles.buckets.map((b) => b.highValue)],
    };
  } else if (f.stats.case === 'stringStats') {
    const s = f.stats.value;
    const top = s.topValues.slice(0, TOP_VALUES_SHOWN);
    out.string = {
      unique: String(s.unique),
      avgLength: s.avgLength,
      topValues: top.map((v) => ({ value: v.value, count: v.frequency })),
      moreValues: Math.max(0, Number(s.unique) - top.length),
    };
  }
  return out;
}

function headerOnly(project: string, view: string, registryView: registryV1.FeatureView, problems: DataQuality['problems']): DataQuality {
  const schema = registryView.validation?.schema;
  const valueTypes = new Map(registryView.schema.map((f) => [f.name, f.valueType]));
  return {
    project,
    featureView: view,
    hasSchema: schema !== undefined,
    records: [],
    dataMissing: false,
    datasetAnomalies: [],
    features: (schema?.feature ?? []).map((feature) => ({
      ...summarize(feature.name, undefined, 0n),
      ...valueTypeOf(valueTypes.get(feature.name)),
      expectations: expectationsOf(feature, schema!),
      anomalies: [],
      timeline: [],
    })),
    timeline: [],
    problems,
  };
}

const valueTypeOf = (t: typesV1.ValueType | undefined) => (t === undefined ? {} : { valueType: (typesV1.ValueType[t] ?? String(t)).toLowerCase() });

function problemOf(error: unknown): DataQuality['problems'][number] {
  return { service: 'offline-retrieval', message: error instanceof RpcError ? error.message : 'no answer' };
}

/**
 * GET /api/quality/<project>/<view>[?record=<id>]: one span of the view's stored
 * statistics (the newest unless a record is named) with the anomalies the view's
 * schema finds in it, and the spans of the same kind before it.
 */
export async function dataQuality(
  clients: Clients,
  project: string,
  view: string,
  recordId: string | undefined,
  options: RpcCallOptions,
): Promise<DataQuality> {
  const { featureView } = await clients.registry.getFeatureView({ project, name: view }, options);
  const registryView = featureView!;
  const statistics = clients.statistics;
  if (statistics === undefined)
    return headerOnly(project, view, registryView, [{ service: 'offline-retrieval', message: 'not configured (offlineRetrieval.address is empty)' }]);
  let listed: statisticsV1.StatisticsRecord[];
  try {
    listed = (await statistics.listStatistics({ project, objectName: view, pageSize: RECORDS_LISTED }, options)).records;
  } catch (error) {
    if (options.signal?.aborted) throw error;
    return headerOnly(project, view, registryView, [problemOf(error)]);
  }
  const spans = listed.map((r) => spanOf(r, view)).filter((s): s is Span => s !== undefined);
  const current = recordId === undefined ? spans[0] : spans.find((s) => s.header.id === recordId);
  if (recordId !== undefined && current === undefined)
    throw new RpcError(Code.NOT_FOUND, `record: no stored statistics '${recordId}' of feature view '${view}' in project '${project}'`);
  const base = headerOnly(project, view, registryView, []);
  base.records = spans.slice(0, RECORDS_SHOWN).map((s) => s.header);
  if (current === undefined) return base;

  const series = seriesOf(spans, current);
  const at = series.indexOf(current);
  const first = Math.max(0, at - (TIMELINE_SPANS - 1));
  // One span more than shown: the first shown span's drift needs the one before it.
  const fetched = series.slice(Math.max(0, first - 1), at + 1);
  const bodies = await Promise.all(fetched.map(async (s) => (await statistics.getStatistics({ project, id: s.header.id }, options)).record));
  const offset = first - Math.max(0, first - 1);

  const schema = registryView.validation?.schema;
  const schemaFeatures = new Map((schema?.feature ?? []).map((f) => [f.name, f]));
  const checked = fetched.map((_, i) => {
    const stats = datasetOf(bodies[i]);
    const previous = i > 0 ? datasetOf(bodies[i - 1]) : undefined;
    return schema === undefined || stats === undefined ? undefined : validateStatistics(stats, schema, previous === undefined ? {} : { previous });
  });

  const last = fetched.length - 1;
  const now = datasetOf(bodies[last]);
  const before = last > 0 ? datasetOf(bodies[last - 1]) : undefined;
  const rows = now?.numExamples ?? 0n;
  const nowFeatures = featureMap(now);
  const beforeFeatures = featureMap(before);
  const anomalies = checked[last];
  const valueTypes = new Map(registryView.schema.map((f) => [f.name, f.valueType]));
  const names = [...nowFeatures.keys(), ...[...schemaFeatures.keys()].filter((n) => !nowFeatures.has(n))];
  const perSpanFeatures = fetched.map((_, i) => featureMap(datasetOf(bodies[i])));

  const features: FeatureQuality[] = names.map((name) => {
    const stats = nowFeatures.get(name);
    const schemaFeature = schemaFeatures.get(name);
    const comparator = comparatorOf(schemaFeature);
    // The validator's own measurement when a comparator asked for one; else ours.
    const measured = anomalies?.driftSkewInfo.find((d) => d.path?.step.join('.') === name)?.driftMeasurements[0];
    const computed = stats === undefined ? undefined : driftOf(stats, beforeFeatures.get(name), comparator);
    const drift =
      measured !== undefined
        ? {
            measure: (measured.type === tfmdV0.DriftSkewInfo_Measurement_Type.L_INFTY ? 'L_INFTY' : 'JENSEN_SHANNON_DIVERGENCE') as Measure,
            value: measured.value,
            threshold: measured.threshold,
            ...(computed?.moved === undefined ? {} : { moved: computed.moved }),
          }
        : computed;
    const timeline: FeaturePoint[] = [];
    for (let i = offset; i < fetched.length; i++) {
      const f = perSpanFeatures[i]!.get(name);
      const spanRows = datasetOf(bodies[i])?.numExamples ?? 0n;
      const d = f === undefined || i === 0 ? undefined : driftOf(f, perSpanFeatures[i - 1]!.get(name), comparator);
      timeline.push({
        id: fetched[i]!.header.id,
        missingPct: missingPct(f, spanRows),
        ...(f?.stats.case === 'numStats' ? { mean: f.stats.value.mean } : {}),
        ...(d === undefined ? {} : { drift: d.value }),
        anomalies: reasonsOf(checked[i]?.anomalyInfo[name]).length,
      });
    }
    return {
      ...summarize(name, stats, rows),
      ...valueTypeOf(valueTypes.get(name)),
      ...(schemaFeature === undefined || schema === undefined ? {} : { expectations: expectationsOf(schemaFeature, schema) }),
      anomalies: reasonsOf(anomalies?.anomalyInfo[name]),
      ...(drift === undefined ? {} : { drift }),
      timeline,
    };
  });

  const timeline: SpanPoint[] = [];
  for (let i = offset; i < fetched.length; i++) timeline.push({ ...fetched[i]!.header, anomalies: anomalyCount(checked[i]) });
  return {
    ...base,
    current: current.header,
    ...(last > 0 ? { previous: fetched[last - 1]!.header } : {}),
    dataMissing: anomalies?.dataMissing ?? rows === 0n,
    datasetAnomalies: reasonsOf(anomalies?.datasetAnomalyInfo),
    features,
    timeline,
  };
}

/**
 * Validation results by (view definition, record, previous record): a stored record
 * never changes, and a view's schema changes only with its registry version, so the
 * home page's polling validates each span once. Only ever read after the user's own
 * ListStatistics call named the record, so the cache reveals nothing that call did not.
 */
class AnomalyCounts {
  private readonly entries = new Map<string, { count: number; features: string[] }>();
  constructor(private readonly max: number) {}
  get(key: string): { count: number; features: string[] } | undefined {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }
  set(key: string, value: { count: number; features: string[] }): void {
    this.entries.set(key, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }
}

const counts = new AnomalyCounts(1000);

function schemaKey(view: registryV1.FeatureView): string {
  return createHash('sha256').update(toBinary(registryV1.FeatureViewValidationSchema, view.validation!)).digest('hex').slice(0, 32);
}

/**
 * What the home page lists under "needs attention" for data quality: each view with a
 * schema whose newest stored span breaks it (validated against the span before it, so
 * drift counts too). One ListStatistics per project; each span fetched once.
 */
export async function qualityAttention(
  clients: Clients,
  projects: ReadonlyMap<string, { featureViews: readonly registryV1.FeatureView[] }>,
  options: RpcCallOptions,
): Promise<{ items: AttentionItem[]; problems: UpstreamProblem[] }> {
  const statistics = clients.statistics;
  const items: AttentionItem[] = [];
  const problems: UpstreamProblem[] = [];
  if (statistics === undefined) return { items, problems };
  const work: { project: string; view: registryV1.FeatureView; current: Span; previous: Span | undefined }[] = [];
  await Promise.all(
    [...projects].map(async ([project, objects]) => {
      const withSchema = objects.featureViews.filter((v) => v.validation?.schema !== undefined);
      if (withSchema.length === 0) return;
      let records: statisticsV1.StatisticsRecord[];
      try {
        records = (await statistics.listStatistics({ project, pageSize: 1000 }, options)).records;
      } catch (error) {
        if (options.signal?.aborted) throw error;
        if (!problems.some((p) => p.service === 'offline-retrieval')) problems.push({ service: 'offline-retrieval', message: problemOf(error).message });
        return;
      }
      for (const view of withSchema) {
        const spans = records.map((r) => spanOf(r, view.name)).filter((s): s is Span => s !== undefined);
        const current = spans[0];
        if (current === undefined) continue;
        const series = seriesOf(spans, current);
        work.push({ project, view, current, previous: series[series.indexOf(current) - 1] });
      }
    }),
  );
  const checked = await Promise.all(
    work.slice(0, ATTENTION_VIEWS).map(async ({ project, view, current, previous }) => {
      const key = `${project}/${view.name}/${schemaKey(view)}/${current.header.id}/${previous?.header.id ?? ''}`;
      let found = counts.get(key);
      if (found === undefined) {
        const [now, before] = await Promise.all(
          [current, previous].map(async (s) => (s === undefined ? undefined : (await statistics.getStatistics({ project, id: s.header.id }, options)).record)),
        );
        const stats = datasetOf(now);
        if (stats === undefined) return undefined;
        const prev = datasetOf(before);
        const anomalies = validateStatistics(stats, view.validation!.schema!, prev === undefined ? {} : { previous: prev });
        found = { count: anomalyCount(anomalies), features: Object.keys(anomalies.anomalyInfo).sort() };
        counts.set(key, found);
      }
      return { project, view: view.name, current, ...found };
    }),
  ).catch((error: unknown) => {
    if (options.signal?.aborted) throw error;
    problems.push({ service: 'offline-retrieval', message: problemOf(error).message });
    return [];
  });
  for (const c of checked) {
    if (c === undefined || c.count === 0) continue;
    const where = c.features.length === 0 ? '' : ` (${c.features.slice(0, 5).join(', ')}${c.features.length > 5 ? ', …' : ''})`;
    items.push({
      kind: 'validation-anomaly',
      project: c.project,
      object: { kind: 'feature-view', name: c.view },
      href: qualityHref(c.project, c.view),
      message: `${c.view}: ${c.count} ${c.count === 1 ? 'anomaly' : 'anomalies'} in its newest statistics${where}`,
    });
  }
  return { items, problems };
}
