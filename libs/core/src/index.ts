// @larder/core: the domain model shared by every service. Pure functions over
// the registry proto messages; imports nothing of ours but @larder/proto.
export type { RegistrySet, RegistryIssue } from './registry-set';
export { emptyRegistrySet } from './registry-set';
export { validateRegistrySet, joinKeyOf, isValidProjectName, PROJECT_NAME_RULE } from './validate';
export { diffRegistrySets, changedFields, hasChanges } from './diff';
export { kindName, kindLabel, parseKindName, KIND_NAMES } from './kinds';
export {
  ACTION_NAMES,
  actionName,
  globMatches,
  NAME_PATTERN_CHARS,
  OBJECT_TYPE_NAMES,
  objectTypeName,
  parseActionName,
  parseObjectTypeName,
  PERMISSION_LIMITS,
} from './permissions';
export type { ActionName, ObjectTypeName } from './permissions';
export type { KindName } from './kinds';
export { parseFeatureRef, tryParseFeatureRef, formatFeatureRef, FeatureRefError } from './feature-ref';
export type { FeatureRef } from './feature-ref';
export {
  valueTypeName,
  valueCaseLabel,
  parseValueTypeName,
  lookupValueType,
  VALUE_TYPE_NAMES,
  VALUE_TYPE_SPELLINGS,
  isListValueType,
  isUsableValueType,
} from './value-types';
export type { ValueTypeName } from './value-types';
export { matchesFilter, hasTags } from './filter';
export { parseJsonLossless } from './lossless-json';
export { JSON_SLICE_CHARS, parseJsonInSlices } from './json-slices';
export {
  allowListProblems,
  brokerAllowed,
  ENDPOINT_SETTINGS,
  LOOPBACK_ALLOW_LIST,
  LOOPBACK_ENDPOINTS,
  sourceEndpointProblems,
  sourceEndpointRefusal,
} from './endpoints';
export type { EndpointAllowList, EndpointProblem } from './endpoints';
export type { NameTagFilter } from './filter';
export { featureInfos, listFeatures, searchFeatures } from './discovery';
export type { FeatureQuery, FeatureSearch } from './discovery';
export { onDemandInputs } from './cel/inputs';
export type { InputCatalog, InputField, OnDemandInput } from './cel/inputs';
export { checkOnDemandView, compileOnDemandView, OnDemandCompileError, OnDemandEvaluationError, OnDemandLimitError } from './cel/compile';
export { EvaluationBudget } from './cel/meter';
export type { EvaluationLimits, LimitKind } from './cel/meter';
export { ASSUMED_INPUT_SIZE, DEFAULT_ROW_COST_LIMIT, MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH } from './cel/limits';
export type { CompiledOnDemandView, CompiledOutput, OnDemandValues } from './cel/compile';
export { nullValue, isNullValue } from './cel/values';
export { resolveFeatures } from './resolve';
export type {
  FeatureRequest,
  ResolveOptions,
  ResolvedFeatures,
  ResolvedView,
  ResolvedJoinKey,
  ResolvedOnDemand,
  ResolvedOnDemandInput,
  ResolvedOutput,
  TypedName,
} from './resolve';
export { FeatureResolutionError } from './resolve-errors';
export type { FeatureResolutionProblem } from './resolve-errors';
export { DEFAULT_MAX_FUTURE_SKEW_MS, FUTURE_SKEW_SETTING, futureTimeProblem, timestampMs, TimestampRangeError } from './time-bounds';
export { sourceQueryProblem } from './source-query';
export { backoffDelay } from './backoff';
export type { BackoffOptions } from './backoff';
