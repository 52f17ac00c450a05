// Typed builders for feature repo definitions; each returns the registry
// proto message, marked so a loader can find it among a module's exports.
export {
  defineProject,
  defineEntity,
  defineFileSource,
  defineBigQuerySource,
  definePostgresSource,
  defineKafkaSource,
  definePushSource,
  defineRequestSource,
  defineFeatureView,
  defineOnDemandFeatureView,
  defineFeatureService,
  definePermission,
} from './builders';
export type {
  Tags,
  DescribedInput,
  FieldInput,
  ProjectInput,
  EntityInput,
  SourceInput,
  FileSourceInput,
  TableOrQuery,
  BigQuerySourceInput,
  PostgresSourceInput,
  KafkaMessageFormatInput,
  KafkaSourceInput,
  PushSourceInput,
  RequestSourceInput,
  FeatureViewInput,
  FeatureViewValidationInput,
  TfdvSchemaInput,
  ProjectionInput,
  ViewRef,
  SourceRef,
  OnDemandSourceInput,
  OnDemandOutputInput,
  OnDemandFeatureViewInput,
  FeatureServiceInput,
  PermissionInput,
  PolicyInput,
} from './builders';
export { DefinitionError, definitionInfo, isDefinition } from './definition';
export type { Callsite, Definition, DefinitionInfo, DefinitionKind } from './definition';
export { DURATION_PATTERN, durationSeconds, parseDuration } from './duration';
export type { DurationInput } from './duration';
export { VALUE_TYPE_NAMES, VALUE_TYPE_SPELLINGS, lookupValueType, valueTypeName } from './value-type';
export type { ValueTypeInput, ValueTypeName } from './value-type';
