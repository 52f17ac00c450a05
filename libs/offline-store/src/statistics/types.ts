import type { tfmdV0 } from '@larder/proto';
import type { BatchSource, FeatureSpec, JoinKeySpec, SourceLocation } from '../types';

/** Tuning of the statistics; every field is optional and bounded (see resolveStatisticsOptions). */
export interface StatisticsOptions {
  /** Buckets of each equi-width numeric histogram (default 10, 1..100). */
  histogramBuckets?: number;
  /** Buckets of each quantiles histogram (default 10, 1..100). */
  quantileBuckets?: number;
  /** Most frequent values listed per string feature (default 10, 1..1000). */
  topValues?: number;
  /** Buckets of each string rank histogram (default 10, 1..1000). */
  rankHistogramBuckets?: number;
}

/** What rows to describe. */
export type StatisticsInput =
  | {
      kind: 'source';
      source: BatchSource;
      features: readonly FeatureSpec[];
      /**
       * Only rows whose event (or created) timestamp is in [start, end). A created window
       * needs the source's created-timestamp column.
       */
      window?: { column: 'event' | 'created'; start: Date; end: Date };
      /**
       * What materializing [window.start, window.end] writes instead: the latest row per
       * entity key (by these join keys) with event time in the window, inclusive.
       */
      latestPerKey?: readonly JoinKeySpec[];
    }
  | {
      /** A table, query or file, such as a saved dataset. */
      kind: 'location';
      location: SourceLocation;
      /** For errors: what the location is. */
      label: string;
      /** The columns to describe; empty or absent means every column of a known type. */
      features?: readonly FeatureSpec[];
    };

export interface StatisticsRequest {
  input: StatisticsInput;
  /** DatasetFeatureStatistics.name. */
  datasetName: string;
  options?: StatisticsOptions;
  /** Aborting it stops the engine's query. */
  signal?: AbortSignal;
}

export type DatasetFeatureStatisticsList = tfmdV0.DatasetFeatureStatisticsList;
