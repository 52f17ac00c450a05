import { InvalidRequestError } from '../errors';
import type { StatisticsOptions } from './types';

export interface ResolvedStatisticsOptions {
  histogramBuckets: number;
  quantileBuckets: number;
  topValues: number;
  rankHistogramBuckets: number;
}

/** Bounds keep a request's cost (quantile points, rows returned) small whatever it asks. */
export const STATISTICS_OPTION_LIMITS: Readonly<Record<keyof ResolvedStatisticsOptions, { fallback: number; max: number }>> = {
  histogramBuckets: { fallback: 10, max: 100 },
  quantileBuckets: { fallback: 10, max: 100 },
  topValues: { fallback: 10, max: 1000 },
  rankHistogramBuckets: { fallback: 10, max: 1000 },
};

/** Defaults for 0 or absent; a negative, fractional or too large value is an error naming it. */
export function resolveStatisticsOptions(options: StatisticsOptions = {}): ResolvedStatisticsOptions {
  const out = {} as ResolvedStatisticsOptions;
  for (const key of Object.keys(STATISTICS_OPTION_LIMITS) as (keyof ResolvedStatisticsOptions)[]) {
    const { fallback, max } = STATISTICS_OPTION_LIMITS[key];
    const given = options[key] ?? 0;
    if (!Number.isInteger(given) || given < 0 || given > max)
      throw new InvalidRequestError(`options.${key}`, `must be an integer in [0, ${max}] (0: ${fallback}), got ${given}`);
    out[key] = given === 0 ? fallback : given;
  }
  return out;
}

/**
 * The quantile grid: G + 1 evenly spaced points 0, 1/G, ..., 1, G a multiple of the
 * quantile buckets, even (the median is a grid point) and at least 100, so equi-width
 * bucket counts can be read off the distribution without a second scan.
 */
export function quantileGrid(quantileBuckets: number): number {
  let g = quantileBuckets * Math.ceil(100 / quantileBuckets);
  if (g % 2 === 1) g *= 2;
  return g;
}
