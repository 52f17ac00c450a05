import type { OfflineStore } from '@larder/offline-store';
import { tfmdV0 } from '@larder/proto';
import { hasAnomalies, singleDataset, validateStatistics } from '@larder/validation';
import type { ViewPlan } from './view-plan';

export interface BatchAnomalies {
  readonly anomalies: tfmdV0.Anomalies;
  /** One line: `feature: REASON_TYPE (description); ...`. */
  readonly summary: string;
}

/** The anomalies as one line for a job error or a log: each feature with its TFDV reason types and description. */
export function summarizeAnomalies(anomalies: tfmdV0.Anomalies): string {
  const parts = Object.entries(anomalies.anomalyInfo)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([feature, info]) => `${feature}: ${info.reason.map((r) => tfmdV0.AnomalyInfo_Type[r.type] ?? String(r.type)).join(', ')} (${info.description})`);
  if (anomalies.datasetAnomalyInfo !== undefined) parts.push(`dataset: ${anomalies.datasetAnomalyInfo.description}`);
  if (anomalies.dataMissing) parts.push('no rows');
  return parts.join('; ');
}

/**
 * Statistics of what materializing [start, end] writes (the latest row per
 * entity key in the window, computed by the offline engine in SQL), validated
 * against the view's schema. Undefined when the view has no schema, the window
 * holds no rows (nothing will be written), or the batch keeps the schema.
 */
export async function validateBatch(offline: OfflineStore, plan: ViewPlan, start: Date, end: Date, signal: AbortSignal): Promise<BatchAnomalies | undefined> {
  if (plan.validation === undefined) return undefined;
  const list = await offline.computeStatistics({
    input: { kind: 'source', source: plan.source, features: plan.features, window: { column: 'event', start, end }, latestPerKey: plan.joinKeys },
    datasetName: `${plan.name} materialization batch`,
    signal,
  });
  const stats = singleDataset(list);
  if (stats.numExamples === 0n) return undefined;
  // Only the view's features are in the batch: join keys and timestamps are not features of the schema.
  const anomalies = validateStatistics(stats, plan.validation.schema);
  return hasAnomalies(anomalies) ? { anomalies, summary: summarizeAnomalies(anomalies) } : undefined;
}
