import { clone, create, isFieldSet } from '@bufbuild/protobuf';
import { tfmdV0 } from '@larder/proto';
import { categoricalCounts, categoricalJensenShannon, histogramJensenShannon, lInfinityDistance, pickHistogram } from './distance';

const { AnomalyInfo_Type: T, AnomalyInfo_Severity: Severity } = tfmdV0;
type Reason = { type: tfmdV0.AnomalyInfo_Type; short: string; long: string };
type Measurement = { kind: 'drift' | 'skew'; type: tfmdV0.DriftSkewInfo_Measurement_Type; value: number; threshold: number };

export interface ValidationOptions {
  /** The previous span of the same data: drift comparators compare against it. */
  previous?: tfmdV0.DatasetFeatureStatistics;
  /** The other side (serving when validating training data): skew comparators compare against it. */
  serving?: tfmdV0.DatasetFeatureStatistics;
  /** Only features in this environment are checked (TFDV's in_environment / not_in_environment / default_environment). */
  environment?: string;
}

/** Lifecycle stages TFDV leaves unvalidated. */
const UNVALIDATED_STAGES = new Set([
  tfmdV0.LifecycleStage.PLANNED,
  tfmdV0.LifecycleStage.ALPHA,
  tfmdV0.LifecycleStage.DEPRECATED,
  tfmdV0.LifecycleStage.DEBUG_ONLY,
  tfmdV0.LifecycleStage.DISABLED,
]);

/** One dataset out of a list, refusing the ambiguous case (TFDV validates exactly one). */
export function singleDataset(list: tfmdV0.DatasetFeatureStatisticsList): tfmdV0.DatasetFeatureStatistics {
  if (list.datasets.length !== 1) throw new Error(`expected statistics of exactly one dataset, got ${list.datasets.length}`);
  return list.datasets[0] as tfmdV0.DatasetFeatureStatistics;
}

export function featureStatsName(stats: tfmdV0.FeatureNameStatistics): string {
  return stats.fieldId.case === 'path' ? stats.fieldId.value.step.join('.') : (stats.fieldId.value ?? '');
}

export function commonStatistics(stats: tfmdV0.FeatureNameStatistics): tfmdV0.CommonStatistics | undefined {
  switch (stats.stats.case) {
    case 'numStats':
    case 'stringStats':
    case 'bytesStats':
    case 'structStats':
      return stats.stats.value.commonStats;
    default:
      return undefined;
  }
}

export function inEnvironment(feature: tfmdV0.Feature, schema: tfmdV0.Schema, environment: string | undefined): boolean {
  if (environment === undefined) return true;
  if (feature.notInEnvironment.includes(environment)) return false;
  // A schema that declares no environments puts every feature in all of them.
  if (feature.inEnvironment.length === 0 && schema.defaultEnvironment.length === 0) return true;
  return feature.inEnvironment.includes(environment) || schema.defaultEnvironment.includes(environment);
}

function isValidated(feature: tfmdV0.Feature): boolean {
  return !feature.deprecated && !UNVALIDATED_STAGES.has(feature.lifecycleStage);
}

type Domain =
  | { case: 'int'; value: tfmdV0.IntDomain }
  | { case: 'float'; value: tfmdV0.FloatDomain }
  | { case: 'string'; value: tfmdV0.StringDomain }
  | { case: 'other' }
  | { case: 'none' };

/** The feature's domain, following a by-name reference to a schema-level domain. */
export function resolveDomain(feature: tfmdV0.Feature, schema: tfmdV0.Schema): Domain {
  const info = feature.domainInfo;
  switch (info.case) {
    case 'intDomain':
      return { case: 'int', value: info.value };
    case 'floatDomain':
      return { case: 'float', value: info.value };
    case 'stringDomain':
      return { case: 'string', value: info.value };
    case 'domain': {
      const name = info.value;
      const s = schema.stringDomain.find((d) => d.name === name);
      if (s !== undefined) return { case: 'string', value: s };
      const i = schema.intDomain.find((d) => d.name === name);
      if (i !== undefined) return { case: 'int', value: i };
      const f = schema.floatDomain.find((d) => d.name === name);
      if (f !== undefined) return { case: 'float', value: f };
      return { case: 'other' };
    }
    case undefined:
      return { case: 'none' };
    default:
      return { case: 'other' };
  }
}

/**
 * A copy of one of `schema`'s features named `name`, its by-name domain copied inline, so
 * it can stand in another schema: a training set's or a feature service's, where features
 * of several views are renamed (`view__feature`) and two views may name domains alike.
 */
export function featureUnderName(declared: tfmdV0.Feature, schema: tfmdV0.Schema, name: string): tfmdV0.Feature {
  const feature = clone(tfmdV0.FeatureSchema, declared);
  feature.name = name;
  if (feature.domainInfo.case === 'domain') {
    const domain = resolveDomain(declared, schema);
    if (domain.case === 'string') feature.domainInfo = { case: 'stringDomain', value: domain.value };
    else if (domain.case === 'int') feature.domainInfo = { case: 'intDomain', value: domain.value };
    else if (domain.case === 'float') feature.domainInfo = { case: 'floatDomain', value: domain.value };
  }
  return feature;
}

const TYPE_NAMES: Record<number, string> = { 0: 'INT', 1: 'FLOAT', 2: 'STRING', 3: 'BYTES', 4: 'STRUCT' };

function typeMatches(schemaType: tfmdV0.FeatureType, statsType: tfmdV0.FeatureNameStatistics_Type): boolean {
  const S = tfmdV0.FeatureNameStatistics_Type;
  switch (schemaType) {
    case tfmdV0.FeatureType.INT:
      return statsType === S.INT;
    case tfmdV0.FeatureType.FLOAT:
      return statsType === S.FLOAT;
    case tfmdV0.FeatureType.BYTES:
      return statsType === S.STRING || statsType === S.BYTES;
    case tfmdV0.FeatureType.STRUCT:
      return statsType === S.STRUCT;
    default:
      return true;
  }
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6))));

function checkPresence(feature: tfmdV0.Feature, nonMissing: number, numExamples: number, reasons: Reason[]): void {
  if (feature.presenceConstraints.case !== 'presence') return;
  const presence = feature.presenceConstraints.value;
  const fraction = numExamples > 0 ? nonMissing / numExamples : 0;
  if (isFieldSet(presence, tfmdV0.FeaturePresenceSchema.field.minFraction) && fraction < presence.minFraction) {
    reasons.push({
      type: T.FEATURE_TYPE_LOW_FRACTION_PRESENT,
      short: 'Present in too few examples',
      long: `The feature is present in ${fmt(fraction * 100)}% of examples; the schema asks for at least ${fmt(presence.minFraction * 100)}%.`,
    });
  }
  if (isFieldSet(presence, tfmdV0.FeaturePresenceSchema.field.minCount) && BigInt(nonMissing) < presence.minCount) {
    reasons.push({
      type: T.FEATURE_TYPE_LOW_NUMBER_PRESENT,
      short: 'Present in too few examples',
      long: `The feature is present in ${nonMissing} examples; the schema asks for at least ${presence.minCount}.`,
    });
  }
}

function checkValueCount(feature: tfmdV0.Feature, common: tfmdV0.CommonStatistics, reasons: Reason[]): void {
  if (common.numNonMissing === 0n) return;
  const shape = feature.shapeType;
  if (shape.case === 'valueCount') {
    const vc = shape.value;
    if (isFieldSet(vc, tfmdV0.ValueCountSchema.field.min) && common.minNumValues < vc.min) {
      reasons.push({
        type: T.FEATURE_TYPE_LOW_NUMBER_VALUES,
        short: 'Too few values',
        long: `Some examples have ${common.minNumValues} values; the schema asks for at least ${vc.min}.`,
      });
    }
    if (isFieldSet(vc, tfmdV0.ValueCountSchema.field.max) && common.maxNumValues > vc.max) {
      reasons.push({
        type: T.FEATURE_TYPE_HIGH_NUMBER_VALUES,
        short: 'Too many values',
        long: `Some examples have ${common.maxNumValues} values; the schema allows at most ${vc.max}.`,
      });
    }
  } else if (shape.case === 'shape') {
    const size = shape.value.dim.reduce((n, d) => n * d.size, 1n);
    if (common.minNumValues !== size || common.maxNumValues !== size || common.numMissing > 0n) {
      reasons.push({
        type: T.INVALID_FEATURE_SHAPE,
        short: 'Values do not fit the fixed shape',
        long: `The shape asks for exactly ${size} values in every example; examples have ${common.minNumValues} to ${common.maxNumValues} values and ${common.numMissing} lack the feature.`,
      });
    }
  }
}

function checkDomain(feature: tfmdV0.Feature, schema: tfmdV0.Schema, stats: tfmdV0.FeatureNameStatistics, reasons: Reason[]): void {
  const domain = resolveDomain(feature, schema);
  const common = commonStatistics(stats);
  const present = common !== undefined && common.numNonMissing > 0n;
  if (domain.case === 'int' && stats.stats.case === 'numStats' && present) {
    const d = domain.value;
    const num = stats.stats.value;
    if (isFieldSet(d, tfmdV0.IntDomainSchema.field.min) && num.min < Number(d.min)) {
      reasons.push({
        type: T.INT_TYPE_SMALL_INT,
        short: 'Out-of-range values',
        long: `The smallest value, ${fmt(num.min)}, is below the domain's minimum ${d.min}.`,
      });
    }
    if (isFieldSet(d, tfmdV0.IntDomainSchema.field.max) && num.max > Number(d.max)) {
      reasons.push({
        type: T.INT_TYPE_BIG_INT,
        short: 'Out-of-range values',
        long: `The largest value, ${fmt(num.max)}, is above the domain's maximum ${d.max}.`,
      });
    }
  } else if (domain.case === 'float' && stats.stats.case === 'numStats') {
    const d = domain.value;
    const num = stats.stats.value;
    if (present && isFieldSet(d, tfmdV0.FloatDomainSchema.field.min) && num.min < d.min) {
      reasons.push({
        type: T.FLOAT_TYPE_SMALL_FLOAT,
        short: 'Out-of-range values',
        long: `The smallest value, ${fmt(num.min)}, is below the domain's minimum ${fmt(d.min)}.`,
      });
    }
    if (present && isFieldSet(d, tfmdV0.FloatDomainSchema.field.max) && num.max > d.max) {
      reasons.push({
        type: T.FLOAT_TYPE_BIG_FLOAT,
        short: 'Out-of-range values',
        long: `The largest value, ${fmt(num.max)}, is above the domain's maximum ${fmt(d.max)}.`,
      });
    }
    const nans = num.histograms.reduce((n, h) => (h.numNan > n ? h.numNan : n), 0n);
    if (d.disallowNan && nans > 0n) {
      reasons.push({ type: T.FLOAT_TYPE_HAS_NAN, short: 'NaN values', long: `${nans} values are NaN; the domain disallows NaN.` });
    }
    if (d.disallowInf && (num.min === -Infinity || num.max === Infinity)) {
      reasons.push({ type: T.FLOAT_TYPE_HAS_INF, short: 'Infinite values', long: 'Some values are infinite; the domain disallows them.' });
    }
  } else if (domain.case === 'string' && stats.stats.case === 'stringStats') {
    const allowed = new Set(domain.value.value);
    const counts = categoricalCounts(stats.stats.value);
    let total = 0;
    let inside = 0;
    const unexpected: string[] = [];
    for (const [value, count] of counts) {
      total += count;
      if (allowed.has(value)) inside += count;
      else unexpected.push(value);
    }
    if (unexpected.length === 0) return;
    const constraint = feature.distributionConstraints;
    if (constraint !== undefined) {
      const minMass = isFieldSet(constraint, tfmdV0.DistributionConstraintsSchema.field.minDomainMass) ? constraint.minDomainMass : 1;
      if (total > 0 && inside / total >= minMass) return;
    }
    const shown = unexpected
      .slice(0, 10)
      .map((v) => JSON.stringify(v))
      .join(', ');
    reasons.push({
      type: T.ENUM_TYPE_UNEXPECTED_STRING_VALUES,
      short: 'Values outside the domain',
      long:
        `Values not in the domain${domain.value.name === '' ? '' : ` '${domain.value.name}'`}: ` +
        `${shown}${unexpected.length > 10 ? ` and ${unexpected.length - 10} more` : ''} ` +
        `(${fmt(total > 0 ? ((total - inside) / total) * 100 : 0)}% of values).`,
    });
  }
}

function checkUnique(feature: tfmdV0.Feature, stats: tfmdV0.FeatureNameStatistics, reasons: Reason[]): void {
  const u = feature.uniqueConstraints;
  if (u === undefined) return;
  if (stats.stats.case !== 'stringStats') {
    reasons.push({
      type: T.FEATURE_TYPE_NO_UNIQUE,
      short: 'No unique count',
      long: 'The schema bounds the number of unique values, but the statistics count them for strings only.',
    });
    return;
  }
  const unique = stats.stats.value.unique;
  if (isFieldSet(u, tfmdV0.UniqueConstraintsSchema.field.min) && unique < u.min) {
    reasons.push({
      type: T.FEATURE_TYPE_LOW_UNIQUE,
      short: 'Too few distinct values',
      long: `${unique} distinct values; the schema asks for at least ${u.min}.`,
    });
  }
  if (isFieldSet(u, tfmdV0.UniqueConstraintsSchema.field.max) && unique > u.max) {
    reasons.push({
      type: T.FEATURE_TYPE_HIGH_UNIQUE,
      short: 'Too many distinct values',
      long: `${unique} distinct values; the schema allows at most ${u.max}.`,
    });
  }
}

function compare(
  kind: 'drift' | 'skew',
  comparator: tfmdV0.FeatureComparator | undefined,
  current: tfmdV0.FeatureNameStatistics,
  other: tfmdV0.DatasetFeatureStatistics | undefined,
  name: string,
  reasons: Reason[],
  measurements: Measurement[],
): void {
  if (comparator === undefined || other === undefined) return;
  const them = other.features.find((f) => featureStatsName(f) === name);
  const otherSide = kind === 'drift' ? 'the previous span' : 'serving';
  const thisSide = kind === 'drift' ? 'the current span' : 'training';
  if (them === undefined) {
    reasons.push({
      type: T.COMPARATOR_CONTROL_DATA_MISSING,
      short: `No ${kind === 'drift' ? 'previous' : 'serving'} data`,
      long: `${otherSide} has no statistics for this feature to compare with.`,
    });
    return;
  }
  const M = tfmdV0.DriftSkewInfo_Measurement_Type;
  const lInf = comparator.infinityNorm;
  if (lInf !== undefined && current.stats.case === 'stringStats' && them.stats.case === 'stringStats') {
    const { distance, value } = lInfinityDistance(categoricalCounts(current.stats.value), categoricalCounts(them.stats.value));
    measurements.push({ kind, type: M.L_INFTY, value: distance, threshold: lInf.threshold });
    if (distance > lInf.threshold) {
      reasons.push({
        type: T.COMPARATOR_L_INFTY_HIGH,
        short: `High L-infinity distance between ${thisSide} and ${otherSide}`,
        long: `The L-infinity distance between ${thisSide} and ${otherSide} is ${fmt(distance)} (above the threshold ${fmt(lInf.threshold)}); the value that moved most is ${JSON.stringify(value)}.`,
      });
    }
  }
  const jsd = comparator.jensenShannonDivergence;
  if (jsd !== undefined) {
    let divergence = NaN;
    if (current.stats.case === 'numStats' && them.stats.case === 'numStats') {
      const source = jsd.source?.type;
      const a = pickHistogram(current.stats.value, source);
      const b = pickHistogram(them.stats.value, source);
      if (a !== undefined && b !== undefined) divergence = histogramJensenShannon(a, b);
    } else if (current.stats.case === 'stringStats' && them.stats.case === 'stringStats') {
      divergence = categoricalJensenShannon(categoricalCounts(current.stats.value), categoricalCounts(them.stats.value));
    }
    if (!Number.isNaN(divergence)) {
      measurements.push({ kind, type: M.JENSEN_SHANNON_DIVERGENCE, value: divergence, threshold: jsd.threshold });
      if (divergence > jsd.threshold) {
        reasons.push({
          type: T.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH,
          short: `High Jensen-Shannon divergence between ${thisSide} and ${otherSide}`,
          long: `The approximate Jensen-Shannon divergence between ${thisSide} and ${otherSide} is ${fmt(divergence)} (above the threshold ${fmt(jsd.threshold)}).`,
        });
      }
    }
  }
}

function anomalyInfo(name: string | undefined, reasons: readonly Reason[]): tfmdV0.AnomalyInfo {
  const single = reasons.length === 1 ? reasons[0] : undefined;
  return create(tfmdV0.AnomalyInfoSchema, {
    ...(name === undefined ? {} : { path: { step: [name] } }),
    severity: Severity.ERROR,
    shortDescription: single?.short ?? 'Multiple errors',
    description: reasons.map((r) => r.long).join(' '),
    reason: reasons.map((r) => ({ type: r.type, shortDescription: r.short, description: r.long })),
  });
}

function requiresPresence(feature: tfmdV0.Feature): boolean {
  if (feature.presenceConstraints.case !== 'presence') return false;
  const p = feature.presenceConstraints.value;
  return p.minCount > 0n || p.minFraction > 0;
}

/**
 * Validates one dataset's statistics against a TFDV schema (and, for the
 * comparators, against a previous span or the serving side), the way
 * `tfdv.validate_statistics` does: one AnomalyInfo per feature keyed by its
 * name, every reason typed with TFDV's AnomalyInfo.Type numbers, severity
 * ERROR; drift and skew measurements in drift_skew_info. An empty result
 * (no anomaly_info, no dataset anomaly) means the data passed.
 */
export function validateStatistics(stats: tfmdV0.DatasetFeatureStatistics, schema: tfmdV0.Schema, options: ValidationOptions = {}): tfmdV0.Anomalies {
  const anomalies = create(tfmdV0.AnomaliesSchema, { baselineSchema: { case: 'baseline', value: schema } });
  const numExamples = Number(stats.numExamples);
  if (numExamples === 0) {
    anomalies.dataMissing = true;
    return anomalies;
  }
  const byName = new Map(stats.features.map((f) => [featureStatsName(f), f]));
  const described = new Set<string>();
  const driftSkew = new Map<string, Measurement[]>();

  for (const feature of schema.feature) {
    described.add(feature.name);
    if (!isValidated(feature) || !inEnvironment(feature, schema, options.environment)) continue;
    const reasons: Reason[] = [];
    const measurements: Measurement[] = [];
    const featureStats = byName.get(feature.name);
    if (featureStats === undefined) {
      if (requiresPresence(feature)) {
        reasons.push({
          type: T.SCHEMA_MISSING_COLUMN,
          short: 'Column dropped',
          long: 'The feature is in the schema, which asks for it to be present, but not in the data.',
        });
      }
    } else {
      const common = commonStatistics(featureStats);
      if (isFieldSet(feature, tfmdV0.FeatureSchema.field.type) && !typeMatches(feature.type, featureStats.type)) {
        reasons.push({
          type: T.UNEXPECTED_DATA_TYPE,
          short: 'Unexpected data type',
          long: `The schema says ${tfmdV0.FeatureType[feature.type]}, the data holds ${TYPE_NAMES[featureStats.type] ?? featureStats.type}.`,
        });
      } else {
        const nonMissing = Number(common?.numNonMissing ?? 0n);
        checkPresence(feature, nonMissing, numExamples, reasons);
        if (common !== undefined) checkValueCount(feature, common, reasons);
        checkDomain(feature, schema, featureStats, reasons);
        checkUnique(feature, featureStats, reasons);
        compare('drift', feature.driftComparator, featureStats, options.previous, feature.name, reasons, measurements);
        compare('skew', feature.skewComparator, featureStats, options.serving, feature.name, reasons, measurements);
      }
    }
    if (reasons.length > 0) anomalies.anomalyInfo[feature.name] = anomalyInfo(feature.name, reasons);
    if (measurements.length > 0) driftSkew.set(feature.name, measurements);
  }

  for (const [name] of byName) {
    if (described.has(name)) continue;
    anomalies.anomalyInfo[name] = anomalyInfo(name, [
      { type: T.SCHEMA_NEW_COLUMN, short: 'New column', long: 'The feature is in the data but not in the schema.' },
    ]);
  }

  const datasetReasons = checkDataset(schema, stats, options.previous);
  if (datasetReasons.length > 0) anomalies.datasetAnomalyInfo = anomalyInfo(undefined, datasetReasons);

  for (const [name, list] of driftSkew) {
    const toMeasurement = (m: Measurement) => ({ type: m.type, value: m.value, threshold: m.threshold });
    anomalies.driftSkewInfo.push(
      create(tfmdV0.DriftSkewInfoSchema, {
        path: { step: [name] },
        driftMeasurements: list.filter((m) => m.kind === 'drift').map(toMeasurement),
        skewMeasurements: list.filter((m) => m.kind === 'skew').map(toMeasurement),
      }),
    );
  }
  return anomalies;
}

function checkDataset(schema: tfmdV0.Schema, stats: tfmdV0.DatasetFeatureStatistics, previous: tfmdV0.DatasetFeatureStatistics | undefined): Reason[] {
  const c = schema.datasetConstraints;
  if (c === undefined) return [];
  const reasons: Reason[] = [];
  const n = stats.numExamples;
  if (isFieldSet(c, tfmdV0.DatasetConstraintsSchema.field.minExamplesCount) && n < c.minExamplesCount) {
    reasons.push({ type: T.DATASET_LOW_NUM_EXAMPLES, short: 'Too few examples', long: `${n} examples; the schema asks for at least ${c.minExamplesCount}.` });
  }
  if (isFieldSet(c, tfmdV0.DatasetConstraintsSchema.field.maxExamplesCount) && n > c.maxExamplesCount) {
    reasons.push({ type: T.DATASET_HIGH_NUM_EXAMPLES, short: 'Too many examples', long: `${n} examples; the schema allows at most ${c.maxExamplesCount}.` });
  }
  const drift = c.numExamplesDriftComparator;
  if (drift !== undefined && previous !== undefined && previous.numExamples > 0n) {
    const ratio = Number(n) / Number(previous.numExamples);
    if (isFieldSet(drift, tfmdV0.NumericValueComparatorSchema.field.minFractionThreshold) && ratio < drift.minFractionThreshold) {
      reasons.push({
        type: T.COMPARATOR_LOW_NUM_EXAMPLES,
        short: 'Fewer examples than the previous span',
        long: `${n} examples against ${previous.numExamples} in the previous span (ratio ${fmt(ratio)}, minimum ${fmt(drift.minFractionThreshold)}).`,
      });
    }
    if (isFieldSet(drift, tfmdV0.NumericValueComparatorSchema.field.maxFractionThreshold) && ratio > drift.maxFractionThreshold) {
      reasons.push({
        type: T.COMPARATOR_HIGH_NUM_EXAMPLES,
        short: 'More examples than the previous span',
        long: `${n} examples against ${previous.numExamples} in the previous span (ratio ${fmt(ratio)}, maximum ${fmt(drift.maxFractionThreshold)}).`,
      });
    }
  }
  return reasons;
}

/** True when the report holds an anomaly (a feature's, the dataset's, or data missing). */
export function hasAnomalies(anomalies: tfmdV0.Anomalies): boolean {
  return Object.keys(anomalies.anomalyInfo).length > 0 || anomalies.datasetAnomalyInfo !== undefined || anomalies.dataMissing;
}
