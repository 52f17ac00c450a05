// ComputeStatistics' validation option: the computed statistics checked against the
// TFDV schemas of the views the scope covers, by @larder/validation (the validator
// training-set validation and the UI's quality page use), so they never disagree.
import { clone, create } from '@bufbuild/protobuf';
import type { registryV1 } from '@larder/proto';
import { tfmdV0 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import { featureUnderName, validateStatistics } from '@larder/validation';

/** One stored view a scope describes: its dataset in the statistics and the features in it. */
export interface CoveredView {
  readonly view: registryV1.FeatureView;
  /** The dataset's name in the statistics (the view's name, or its alias in a feature service). */
  readonly dataset: string;
  /** Features described; outputName is the statistics' name when it differs (`view__feature`). */
  readonly features: readonly { readonly name: string; readonly outputName?: string }[];
}

/** Refuses, before any scan, a covered view that has no schema to validate against. */
export function requireSchemas(covered: readonly CoveredView[]): void {
  for (const { view } of covered) {
    if (view.validation?.schema === undefined) {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        `validation: feature view '${view.name}' has no TFDV schema to validate against (set validation.schema_file on it, or leave validation unset)`,
      );
    }
  }
}

/**
 * The view's schema over what was described: only the described features (a subset
 * asked for is no missing column), renamed to their names in the statistics, with
 * by-name domains copied inline (two views of a service may name domains alike).
 */
export function coveredSchema(part: CoveredView): tfmdV0.Schema {
  const viewSchema = part.view.validation?.schema ?? create(tfmdV0.SchemaSchema);
  const schema = create(tfmdV0.SchemaSchema, {
    ...(viewSchema.datasetConstraints !== undefined && { datasetConstraints: clone(tfmdV0.DatasetConstraintsSchema, viewSchema.datasetConstraints) }),
  });
  for (const f of part.features) {
    const declared = viewSchema.feature.find((s) => s.name === f.name);
    if (declared === undefined) continue;
    schema.feature.push(featureUnderName(declared, viewSchema, f.outputName ?? f.name));
  }
  return schema;
}

/**
 * Anomalies of each covered view's dataset against its schema (and the previous span's
 * dataset of the same name, for drift), as one report: feature names are distinct
 * across views (`view__feature`), so their anomalies merge by name; dataset-level
 * reasons keep the dataset they belong to in their description.
 */
export function validateCovered(
  covered: readonly CoveredView[],
  statistics: tfmdV0.DatasetFeatureStatisticsList,
  previous: tfmdV0.DatasetFeatureStatisticsList | undefined,
): tfmdV0.Anomalies {
  const reports = covered.map((part) => {
    const dataset = statistics.datasets.find((d) => d.name === part.dataset);
    if (dataset === undefined) throw new RpcError(Code.INTERNAL, `statistics of '${part.dataset}' are missing from the engine's result`);
    const before = previous?.datasets.find((d) => d.name === part.dataset);
    return { part, anomalies: validateStatistics(dataset, coveredSchema(part), before === undefined ? {} : { previous: before }) };
  });
  if (reports.length === 1) return reports[0]!.anomalies;

  const baseline = create(tfmdV0.SchemaSchema);
  const merged = create(tfmdV0.AnomaliesSchema, { baselineSchema: { case: 'baseline', value: baseline } });
  const datasetReasons: { dataset: string; info: tfmdV0.AnomalyInfo }[] = [];
  for (const { part, anomalies } of reports) {
    if (anomalies.baselineSchema.case === 'baseline') baseline.feature.push(...anomalies.baselineSchema.value.feature);
    Object.assign(merged.anomalyInfo, anomalies.anomalyInfo);
    merged.driftSkewInfo.push(...anomalies.driftSkewInfo);
    merged.dataMissing ||= anomalies.dataMissing;
    if (anomalies.datasetAnomalyInfo !== undefined) datasetReasons.push({ dataset: part.dataset, info: anomalies.datasetAnomalyInfo });
  }
  if (datasetReasons.length > 0) {
    merged.datasetAnomalyInfo = create(tfmdV0.AnomalyInfoSchema, {
      severity: tfmdV0.AnomalyInfo_Severity.ERROR,
      shortDescription: datasetReasons.map((d) => `${d.dataset}: ${d.info.shortDescription}`).join('; '),
      description: datasetReasons.map((d) => `${d.dataset}: ${d.info.description}`).join('; '),
      reason: datasetReasons.flatMap((d) => d.info.reason),
    });
  }
  return merged;
}
