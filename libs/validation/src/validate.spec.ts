import { create } from '@bufbuild/protobuf';
import { tfmdV0 } from '@larder/proto';
import { histogramJensenShannon, lInfinityDistance } from './distance';
import { inferSchema } from './infer';
import { schemaFromText } from './schema-io';
import { hasAnomalies, validateStatistics } from './validate';

const T = tfmdV0.AnomalyInfo_Type;

const common = (nonMissing: number, missing: number, minValues = 1, maxValues = 1) => ({
  numNonMissing: BigInt(nonMissing),
  numMissing: BigInt(missing),
  minNumValues: BigInt(minValues),
  maxNumValues: BigInt(maxValues),
  totNumValues: BigInt(nonMissing),
});

function numeric(
  name: string,
  o: { nonMissing: number; missing?: number; min: number; max: number; buckets?: [number, number, number][]; float?: boolean; nan?: number },
): tfmdV0.FeatureNameStatistics {
  return create(tfmdV0.FeatureNameStatisticsSchema, {
    fieldId: { case: 'name', value: name },
    type: o.float === false ? tfmdV0.FeatureNameStatistics_Type.INT : tfmdV0.FeatureNameStatistics_Type.FLOAT,
    stats: {
      case: 'numStats',
      value: {
        commonStats: common(o.nonMissing, o.missing ?? 0),
        min: o.min,
        max: o.max,
        histograms: [
          {
            type: tfmdV0.Histogram_HistogramType.STANDARD,
            numNan: BigInt(o.nan ?? 0),
            buckets: (o.buckets ?? []).map(([lowValue, highValue, sampleCount]) => ({ lowValue, highValue, sampleCount })),
          },
        ],
      },
    },
  });
}

function strings(name: string, counts: Record<string, number>, missing = 0): tfmdV0.FeatureNameStatistics {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const total = entries.reduce((n, [, c]) => n + c, 0);
  return create(tfmdV0.FeatureNameStatisticsSchema, {
    fieldId: { case: 'name', value: name },
    type: tfmdV0.FeatureNameStatistics_Type.STRING,
    stats: {
      case: 'stringStats',
      value: {
        commonStats: common(total, missing),
        unique: BigInt(entries.length),
        topValues: entries.map(([value, frequency]) => ({ value, frequency })),
        rankHistogram: { buckets: entries.map(([label, sampleCount], i) => ({ lowRank: BigInt(i), highRank: BigInt(i), label, sampleCount })) },
      },
    },
  });
}

const dataset = (n: number, features: tfmdV0.FeatureNameStatistics[]) => create(tfmdV0.DatasetFeatureStatisticsSchema, { numExamples: BigInt(n), features });
const reasonTypes = (a: tfmdV0.Anomalies) => Object.fromEntries(Object.entries(a.anomalyInfo).map(([k, v]) => [k, v.reason.map((r) => T[r.type]).sort()]));

const SCHEMA = schemaFromText(`
feature { name: "payment" type: BYTES presence { min_fraction: 1.0 min_count: 1 } domain: "payment" drift_comparator { infinity_norm { threshold: 0.1 } } }
feature { name: "fare" type: FLOAT presence { min_fraction: 0.9 } float_domain { min: 0 max: 500 } drift_comparator { jensen_shannon_divergence { threshold: 0.1 } } }
feature { name: "trips" type: INT int_domain { min: 0 max: 100 } value_count { min: 1 max: 1 } }
feature { name: "tips" type: FLOAT presence { min_count: 1 } }
feature { name: "optional" type: FLOAT }
string_domain { name: "payment" value: "Cash" value: "Card" }
dataset_constraints { min_examples_count: 10 }
`);

const clean = () =>
  dataset(100, [
    strings('payment', { Cash: 60, Card: 40 }),
    numeric('fare', {
      nonMissing: 100,
      min: 1,
      max: 90,
      buckets: [
        [0, 50, 50],
        [50, 100, 50],
      ],
    }),
    numeric('trips', { nonMissing: 100, min: 0, max: 10, float: false }),
    numeric('tips', { nonMissing: 5, missing: 95, min: 0, max: 3 }),
  ]);

describe('validateStatistics', () => {
  it('passes statistics that keep the schema (an absent optional feature included)', () => {
    const anomalies = validateStatistics(clean(), SCHEMA, { previous: clean() });
    expect(reasonTypes(anomalies)).toEqual({});
    expect(hasAnomalies(anomalies)).toBe(false);
    // Measurements are reported even when under threshold.
    expect(anomalies.driftSkewInfo.map((d) => d.path?.step[0])).toEqual(['payment', 'fare']);
    expect(anomalies.driftSkewInfo[0]?.driftMeasurements[0]?.value).toBe(0);
  });

  it('reports each broken constraint with its TFDV reason type', () => {
    const stats = dataset(100, [
      strings('payment', { Cash: 50, Card: 30, Bitcoin: 20 }),
      numeric('fare', { nonMissing: 80, missing: 20, min: -3, max: 900 }),
      numeric('trips', { nonMissing: 100, min: -1, max: 101, float: false }),
      numeric('surge', { nonMissing: 100, min: 1, max: 2 }),
    ]);
    stats.features[2]!.stats.value!.commonStats!.maxNumValues = 3n;
    stats.features[2]!.stats.value!.commonStats!.minNumValues = 0n;
    const anomalies = validateStatistics(stats, SCHEMA);
    expect(reasonTypes(anomalies)).toEqual({
      payment: ['ENUM_TYPE_UNEXPECTED_STRING_VALUES'],
      fare: ['FEATURE_TYPE_LOW_FRACTION_PRESENT', 'FLOAT_TYPE_BIG_FLOAT', 'FLOAT_TYPE_SMALL_FLOAT'],
      trips: ['FEATURE_TYPE_HIGH_NUMBER_VALUES', 'FEATURE_TYPE_LOW_NUMBER_VALUES', 'INT_TYPE_BIG_INT', 'INT_TYPE_SMALL_INT'],
      tips: ['SCHEMA_MISSING_COLUMN'],
      surge: ['SCHEMA_NEW_COLUMN'],
    });
    const payment = anomalies.anomalyInfo['payment'] as tfmdV0.AnomalyInfo;
    expect(payment.severity).toBe(tfmdV0.AnomalyInfo_Severity.ERROR);
    expect(payment.path?.step).toEqual(['payment']);
    expect(payment.description).toContain('"Bitcoin"');
    expect(payment.description).toContain('20%');
    expect(anomalies.anomalyInfo['fare']?.shortDescription).toBe('Multiple errors');
    expect(anomalies.anomalyInfo['fare']?.description).toContain('80%');
  });

  it('accepts out-of-domain values within distribution_constraints.min_domain_mass', () => {
    const schema = schemaFromText('feature { name: "p" type: BYTES string_domain { value: "a" } distribution_constraints { min_domain_mass: 0.8 } }');
    expect(reasonTypes(validateStatistics(dataset(100, [strings('p', { a: 85, b: 15 })]), schema))).toEqual({});
    expect(reasonTypes(validateStatistics(dataset(100, [strings('p', { a: 75, b: 25 })]), schema))).toEqual({ p: ['ENUM_TYPE_UNEXPECTED_STRING_VALUES'] });
  });

  it('reports a type mismatch instead of checking domains of the wrong kind', () => {
    const anomalies = validateStatistics(
      dataset(10, [strings('trips', { a: 10 })]),
      schemaFromText('feature { name: "trips" type: INT int_domain { max: 1 } }'),
    );
    expect(reasonTypes(anomalies)).toEqual({ trips: ['UNEXPECTED_DATA_TYPE'] });
  });

  it('reports drift past the L-infinity and Jensen-Shannon thresholds against the previous span, and skew against serving', () => {
    const previous = clean();
    const current = dataset(100, [
      strings('payment', { Cash: 30, Card: 70 }),
      numeric('fare', {
        nonMissing: 100,
        min: 1,
        max: 400,
        buckets: [
          [200, 300, 50],
          [300, 400, 50],
        ],
      }),
      numeric('trips', { nonMissing: 100, min: 0, max: 10, float: false }),
      numeric('tips', { nonMissing: 5, missing: 95, min: 0, max: 3 }),
    ]);
    const anomalies = validateStatistics(current, SCHEMA, { previous });
    expect(reasonTypes(anomalies)).toEqual({ payment: ['COMPARATOR_L_INFTY_HIGH'], fare: ['COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH'] });
    const drift = Object.fromEntries(anomalies.driftSkewInfo.map((d) => [d.path?.step[0], d.driftMeasurements[0]?.value]));
    expect(drift['payment']).toBeCloseTo(0.3, 12);
    expect(drift['fare']).toBe(1);

    const skewSchema = schemaFromText('feature { name: "payment" type: BYTES skew_comparator { infinity_norm { threshold: 0.05 } } }');
    const skew = validateStatistics(dataset(100, [strings('payment', { Cash: 50, Card: 50 })]), skewSchema, {
      serving: dataset(10, [strings('payment', { Cash: 4, Card: 6 })]),
    });
    expect(reasonTypes(skew)).toEqual({ payment: ['COMPARATOR_L_INFTY_HIGH'] });
    expect(skew.driftSkewInfo[0]?.skewMeasurements[0]?.value).toBeCloseTo(0.1, 12);
    expect(skew.anomalyInfo['payment']?.description).toContain('between training and serving');
  });

  it('reports dataset-level anomalies and data missing', () => {
    const few = validateStatistics(dataset(5, clean().features), SCHEMA);
    expect(few.datasetAnomalyInfo?.reason.map((r) => T[r.type])).toEqual(['DATASET_LOW_NUM_EXAMPLES']);
    const empty = validateStatistics(dataset(0, []), SCHEMA);
    expect(empty.dataMissing).toBe(true);
    expect(hasAnomalies(empty)).toBe(true);
  });

  it('skips deprecated features and features outside the environment', () => {
    const schema = schemaFromText(`
      default_environment: "TRAINING" default_environment: "SERVING"
      feature { name: "label" type: INT presence { min_count: 1 } not_in_environment: "SERVING" }
      feature { name: "old" type: INT presence { min_count: 1 } lifecycle_stage: DEPRECATED }`);
    expect(reasonTypes(validateStatistics(dataset(3, []), schema, { environment: 'SERVING' }))).toEqual({});
    expect(reasonTypes(validateStatistics(dataset(3, []), schema, { environment: 'TRAINING' }))).toEqual({ label: ['SCHEMA_MISSING_COLUMN'] });
    // Without any environment declared, every feature is in every environment.
    expect(
      reasonTypes(validateStatistics(dataset(3, []), schemaFromText('feature { name: "x" presence { min_count: 1 } }'), { environment: 'TRAINING' })),
    ).toEqual({ x: ['SCHEMA_MISSING_COLUMN'] });
  });
});

describe('distances', () => {
  it('L-infinity is the largest move of one value', () => {
    // p = (a .25, b .75), q = (a .75, c .25): b moved most.
    const { distance, value } = lInfinityDistance(
      new Map([
        ['a', 1],
        ['b', 3],
      ]),
      new Map([
        ['a', 3],
        ['c', 1],
      ]),
    );
    expect(distance).toBeCloseTo(0.75, 12);
    expect(value).toBe('b');
  });

  it('Jensen-Shannon is 0 for equal histograms, 1 for disjoint ones, and aligns different boundaries', () => {
    const h = (buckets: [number, number, number][], numNan = 0) =>
      create(tfmdV0.HistogramSchema, {
        numNan: BigInt(numNan),
        buckets: buckets.map(([lowValue, highValue, sampleCount]) => ({ lowValue, highValue, sampleCount })),
      });
    expect(histogramJensenShannon(h([[0, 10, 5]]), h([[0, 10, 50]]))).toBe(0);
    expect(histogramJensenShannon(h([[0, 1, 5]]), h([[2, 3, 5]]))).toBe(1);
    // [0,10] uniform equals [0,5] + [5,10] with equal halves.
    expect(
      histogramJensenShannon(
        h([[0, 10, 10]]),
        h([
          [0, 5, 1],
          [5, 10, 1],
        ]),
      ),
    ).toBeCloseTo(0, 12);
    // Half the mass moved to NaN: JSD of (1,0) vs (0.5,0.5) = 0.311...
    expect(histogramJensenShannon(h([[0, 1, 10]]), h([[0, 1, 5]], 5))).toBeCloseTo(0.3112781244591328, 12);
    // A constant feature (zero-width bucket) compared with itself.
    expect(histogramJensenShannon(h([[3, 3, 7]]), h([[3, 3, 1]]))).toBe(0);
  });
});

describe('inferSchema', () => {
  it('proposes presence, value counts and small string domains, and the data it came from passes it', () => {
    const stats = clean();
    const schema = inferSchema(stats);
    expect(schema.feature.map((f) => [f.name, tfmdV0.FeatureType[f.type]])).toEqual([
      ['payment', 'BYTES'],
      ['fare', 'FLOAT'],
      ['trips', 'INT'],
      ['tips', 'FLOAT'],
    ]);
    const payment = schema.feature[0] as tfmdV0.Feature;
    expect(payment.domainInfo).toEqual({ case: 'domain', value: 'payment' });
    expect(schema.stringDomain[0]?.value).toEqual(['Card', 'Cash']);
    expect(payment.presenceConstraints.case === 'presence' && payment.presenceConstraints.value.minFraction).toBe(1);
    const tips = schema.feature[3] as tfmdV0.Feature;
    expect(tips.presenceConstraints.case === 'presence' && Object.prototype.hasOwnProperty.call(tips.presenceConstraints.value, 'minFraction')).toBe(false);
    expect(reasonTypes(validateStatistics(stats, schema))).toEqual({});
    // A value outside the inferred domain is then caught.
    stats.features[0] = strings('payment', { Cash: 60, Card: 39, Crypto: 1 });
    expect(reasonTypes(validateStatistics(stats, schema))).toEqual({ payment: ['ENUM_TYPE_UNEXPECTED_STRING_VALUES'] });
  });
});
