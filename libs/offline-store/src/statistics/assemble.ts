// Turns the aggregate row and the value rows into TFDV's DatasetFeatureStatisticsList.
import { create } from '@bufbuild/protobuf';
import { tfmdV0 } from '@larder/proto';
import type { ResolvedStatisticsOptions } from './options';
import { describedByValues } from './sql';
import type { StatisticsColumn } from './sql';

const { FeatureNameStatistics_Type: FeatureType, Histogram_HistogramType: HistogramType } = tfmdV0;

/** A driver number (bigint, numeric text, number) as a JS number; null stays null. */
export function num(raw: unknown): number | null {
  if (raw === null || raw === undefined) return null;
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw === 'string') return Number(raw);
  if (typeof raw === 'object' && 'valueOf' in raw) return Number(raw.valueOf());
  return Number(raw);
}

function numbers(raw: unknown): number[] | null {
  if (raw === null || raw === undefined) return null;
  if (!Array.isArray(raw)) return null;
  const out = raw.map(num);
  return out.every((v): v is number => v !== null) ? out : null;
}

export interface ValueRow {
  column: number;
  value: string;
  count: number;
  distinct: number;
  /** The column's present values and their total length in bytes (the same on each of its rows). */
  present: number;
  totalLength: number;
}

/** Value rows from the engine's raw rows (__c, __v, __n, __u, __p, __t). */
export function valueRows(rows: readonly Record<string, unknown>[]): ValueRow[] {
  return rows.map((row) => ({
    column: num(row['__c'])!,
    value: String(row['__v']),
    count: num(row['__n'])!,
    distinct: num(row['__u'])!,
    present: num(row['__p'])!,
    totalLength: num(row['__t'])!,
  }));
}

/** A scalar string column's aggregates, read off its value rows (describedByValues): no rows, no present value. */
function fromValues(values: readonly ValueRow[]): (name: string) => unknown {
  const first = values[0];
  return (name) => {
    if (name === 'present') return first?.present ?? 0;
    if (name === 'avglen') return first === undefined || first.present === 0 ? 0 : first.totalLength / first.present;
    return undefined;
  };
}

/**
 * The fraction of values <= x, read off the quantile grid by linear interpolation
 * (the largest grid point at or below x, so a value repeated across grid points counts
 * whole at x).
 */
function cdf(q: readonly number[], x: number): number {
  const g = q.length - 1;
  if (x < q[0]!) return 0;
  if (x >= q[g]!) return 1;
  let j = 0;
  while (j < g && q[j + 1]! <= x) j++;
  const lo = q[j]!;
  const hi = q[j + 1]!;
  return (j + (hi > lo ? (x - lo) / (hi - lo) : 0)) / g;
}

function quantileHistogram(q: readonly number[], buckets: number, count: number, numNan: number, name?: string): tfmdV0.Histogram {
  const step = (q.length - 1) / buckets;
  return create(tfmdV0.HistogramSchema, {
    type: HistogramType.QUANTILES,
    numNan: BigInt(numNan),
    ...(name !== undefined && { name }),
    buckets: Array.from({ length: buckets }, (_, k) => ({ lowValue: q[k * step]!, highValue: q[(k + 1) * step]!, sampleCount: count / buckets })),
  });
}

function standardHistogram(q: readonly number[], min: number, max: number, buckets: number, count: number, numNan: number): tfmdV0.Histogram {
  const histogram = create(tfmdV0.HistogramSchema, { type: HistogramType.STANDARD, numNan: BigInt(numNan) });
  if (!Number.isFinite(min) || !Number.isFinite(max)) return histogram;
  if (min === max) {
    histogram.buckets = [create(tfmdV0.Histogram_BucketSchema, { lowValue: min, highValue: max, sampleCount: count })];
    return histogram;
  }
  const width = (max - min) / buckets;
  let below = 0;
  histogram.buckets = Array.from({ length: buckets }, (_, k) => {
    const high = k === buckets - 1 ? max : min + width * (k + 1);
    const upTo = k === buckets - 1 ? 1 : cdf(q, high);
    const bucket = create(tfmdV0.Histogram_BucketSchema, { lowValue: min + width * k, highValue: high, sampleCount: (upTo - below) * count });
    below = upTo;
    return bucket;
  });
  return histogram;
}

function commonStatistics(
  column: StatisticsColumn,
  agg: (name: string) => unknown,
  total: number,
  options: ResolvedStatisticsOptions,
): tfmdV0.CommonStatistics {
  const present = num(agg('present')) ?? 0;
  const common = create(tfmdV0.CommonStatisticsSchema, { numNonMissing: BigInt(present), numMissing: BigInt(total - present) });
  if (present === 0) return common;
  if (!column.list) {
    Object.assign(common, { minNumValues: 1n, maxNumValues: 1n, avgNumValues: 1, totNumValues: BigInt(present) });
    common.numValuesHistogram = quantileHistogram(new Array<number>(options.quantileBuckets + 1).fill(1), options.quantileBuckets, present, 0);
    return common;
  }
  const tot = num(agg('totvals')) ?? 0;
  Object.assign(common, {
    minNumValues: BigInt(num(agg('minvals')) ?? 0),
    maxNumValues: BigInt(num(agg('maxvals')) ?? 0),
    avgNumValues: tot / present,
    totNumValues: BigInt(tot),
  });
  const q = numbers(agg('valsq'));
  if (q) common.numValuesHistogram = quantileHistogram(q, options.quantileBuckets, present, 0);
  return common;
}

function featureType(column: StatisticsColumn): tfmdV0.FeatureNameStatistics_Type {
  if (column.kind === 'string') return FeatureType.STRING;
  if (column.kind === 'bytes') return FeatureType.BYTES;
  return column.integral ? FeatureType.INT : FeatureType.FLOAT;
}

function featureStatistics(
  column: StatisticsColumn,
  agg: (name: string) => unknown,
  total: number,
  values: readonly ValueRow[],
  options: ResolvedStatisticsOptions,
): tfmdV0.FeatureNameStatistics {
  const feature = create(tfmdV0.FeatureNameStatisticsSchema, { fieldId: { case: 'name', value: column.name }, type: featureType(column) });
  const commonStats = commonStatistics(column, agg, total, options);
  if (column.kind === 'bytes') {
    const bytesStats = create(tfmdV0.BytesStatisticsSchema, { commonStats });
    if (!column.list)
      Object.assign(bytesStats, {
        avgNumBytes: num(agg('avglen')) ?? 0,
        minNumBytes: num(agg('minlen')) ?? 0,
        maxNumBytes: num(agg('maxlen')) ?? 0,
        maxNumBytesInt: BigInt(num(agg('maxlen')) ?? 0),
      });
    feature.stats = { case: 'bytesStats', value: bytesStats };
    return feature;
  }
  if (column.kind === 'string') {
    const stringStats = create(tfmdV0.StringStatisticsSchema, { commonStats });
    if (!column.list) {
      stringStats.avgLength = num(agg('avglen')) ?? 0;
      stringStats.unique = BigInt(values[0]?.distinct ?? 0);
      stringStats.topValues = values
        .slice(0, options.topValues)
        .map((v) => create(tfmdV0.StringStatistics_FreqAndValueSchema, { value: v.value, frequency: v.count }));
      stringStats.rankHistogram = create(tfmdV0.RankHistogramSchema, {
        buckets: values
          .slice(0, options.rankHistogramBuckets)
          .map((v, rank) => ({ lowRank: BigInt(rank), highRank: BigInt(rank), label: v.value, sampleCount: v.count })),
      });
    }
    feature.stats = { case: 'stringStats', value: stringStats };
    return feature;
  }
  const numStats = create(tfmdV0.NumericStatisticsSchema, { commonStats });
  feature.stats = { case: 'numStats', value: numStats };
  if (column.list) return feature;
  const valid = num(agg('valid')) ?? 0;
  const numNan = (num(agg('present')) ?? 0) - valid;
  numStats.numZeros = BigInt(num(agg('zeros')) ?? 0);
  if (valid === 0) return feature;
  numStats.mean = num(agg('mean')) ?? 0;
  numStats.stdDev = num(agg('std')) ?? 0;
  numStats.min = num(agg('min')) ?? 0;
  numStats.max = num(agg('max')) ?? 0;
  const q = numbers(agg('q'));
  if (q) {
    numStats.median = q[(q.length - 1) / 2]!;
    numStats.histograms = [
      standardHistogram(q, numStats.min, numStats.max, options.histogramBuckets, valid, numNan),
      quantileHistogram(q, options.quantileBuckets, valid, numNan),
    ];
  }
  return feature;
}

/** The statistics of one dataset from the engine's aggregate row and value rows. */
export function assembleStatistics(
  datasetName: string,
  columns: readonly StatisticsColumn[],
  aggregates: Record<string, unknown>,
  values: readonly ValueRow[],
  options: ResolvedStatisticsOptions,
): tfmdV0.DatasetFeatureStatisticsList {
  const total = num(aggregates['__n']) ?? 0;
  const features = columns.map((column, i) => {
    const own = values.filter((v) => v.column === i);
    return featureStatistics(column, describedByValues(column) ? fromValues(own) : (name) => aggregates[`s${i}_${name}`], total, own, options);
  });
  return create(tfmdV0.DatasetFeatureStatisticsListSchema, { datasets: [{ name: datasetName, numExamples: BigInt(total), features }] });
}
