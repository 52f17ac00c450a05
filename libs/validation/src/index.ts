// TFDV-compatible data validation: statistics checked against a
// tensorflow.metadata.v0.Schema (and a previous span or the serving side),
// schemas inferred from statistics, and protobuf text format (schema.pbtxt).
export {
  validateStatistics,
  hasAnomalies,
  singleDataset,
  featureStatsName,
  commonStatistics,
  resolveDomain,
  featureUnderName,
  inEnvironment,
  type ValidationOptions,
} from './validate';
export { lInfinityDistance, histogramJensenShannon, categoricalJensenShannon, categoricalCounts } from './distance';
export { inferSchema, type InferOptions } from './infer';
export { parseTextFormat, printTextFormat, TextFormatError, type TextPositions } from './text-format';
export { readSchema, schemaToText, schemaFromText, schemaFormatOf, type SchemaFormat } from './schema-io';
export { compileValueCheck, compileValueChecks, compileRowCheck, type RowCheck, type RowViolation, type ValueCheck, type ViolationKind } from './row-check';
export { compileDomainCheck, type DomainCheck } from './domain-check';
