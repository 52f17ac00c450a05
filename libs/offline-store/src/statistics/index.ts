export { computeStatisticsWith } from './compute';
export type { StatisticsEngine } from './compute';
export { resolveStatisticsOptions, STATISTICS_OPTION_LIMITS, quantileGrid } from './options';
export type { ResolvedStatisticsOptions } from './options';
export type { StatisticsDialect } from './sql';
export type { StatisticsInput, StatisticsOptions, StatisticsRequest } from './types';
