import { create } from '@bufbuild/protobuf';
import type { Destination, FeatureSpec, OfflineStore, SourceLocation } from '@larder/offline-store';
import { tfmdV0 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import { featureUnderName, singleDataset, validateStatistics } from '@larder/validation';
import type { RetrievalPlan } from './plan';

/**
 * The views' TFDV schemas as one schema over the training set's output columns:
 * each requested feature a schema constrains, renamed to its output column
 * (`feature` or `view__feature`), its by-name domain copied inline (two views
 * may name domains alike). Undefined when no requested feature has a schema.
 */
export function trainingSchema(plan: RetrievalPlan): { schema: tfmdV0.Schema; columns: FeatureSpec[] } | undefined {
  const schema = create(tfmdV0.SchemaSchema);
  const columns: FeatureSpec[] = [];
  plan.resolved.views.forEach((view, i) => {
    const viewSchema = view.definition.validation?.schema;
    if (viewSchema === undefined) return;
    const outputs = new Set(plan.outputs.flatMap((o) => (o.kind === 'view' ? [o.storeColumn] : [])));
    (plan.views[i]?.features ?? []).forEach((f) => {
      if (f.outputName === undefined || !outputs.has(f.outputName)) return;
      const declared = viewSchema.feature.find((s) => s.name === f.name);
      if (declared === undefined) return;
      schema.feature.push(featureUnderName(declared, viewSchema, f.outputName));
      columns.push({ name: f.outputName, type: f.type });
    });
  });
  return columns.length === 0 ? undefined : { schema, columns };
}

/** Where the training set was written, as a location statistics can be computed over. */
export function writtenLocation(target: Destination): SourceLocation {
  return target.kind === 'file'
    ? { kind: 'file', path: target.path, ...(target.format !== undefined && { format: target.format }) }
    : { kind: 'table', table: target.table };
}

export interface TrainingCheck {
  readonly anomalies: tfmdV0.Anomalies;
  readonly statistics: tfmdV0.DatasetFeatureStatisticsList;
}

/** Statistics of the written training set (in the engine) validated against its views' schemas. */
export async function validateTrainingSet(
  store: OfflineStore,
  plan: RetrievalPlan,
  location: SourceLocation,
  signal: AbortSignal | undefined,
): Promise<TrainingCheck> {
  const covered = trainingSchema(plan);
  if (covered === undefined) {
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      'query.validation: none of the requested features has a TFDV schema (set validation.schema_file on their feature views)',
    );
  }
  const statistics = await store.computeStatistics({
    input: { kind: 'location', location, label: 'the training set', features: covered.columns },
    datasetName: 'training set',
    ...(signal !== undefined && { signal }),
  });
  return { anomalies: validateStatistics(singleDataset(statistics), covered.schema, { environment: 'TRAINING' }), statistics };
}

export function anomalySummary(anomalies: tfmdV0.Anomalies): string {
  return Object.entries(anomalies.anomalyInfo)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([column, info]) => `${column}: ${info.reason.map((r) => tfmdV0.AnomalyInfo_Type[r.type] ?? String(r.type)).join(', ')} (${info.description})`)
    .join('; ');
}
