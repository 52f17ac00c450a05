// Feature repos: larder.yaml plus YAML and TypeScript definitions -> a RegistrySet.
export { loadFeatureRepo, definitionFiles } from './load';
export { applyRequestOf } from './apply-request';
export type { LoadFeatureRepoOptions, LoadedFeatureRepo } from './load';
export { CONFIG_FILE, SERVICE_NAMES, readRepoConfig } from './config';
export type { RepoConfig, RegistryLocation, OnlineStoreConfig, OfflineStoreConfig, ServiceName } from './config';
export { FeatureRepoError, formatProblem } from './errors';
export { featureRepoPreset, findServiceRepo, repoSettings, REPO_ENV, REPO_FLAG } from './service-preset';
export type { FeatureRepoProblem } from './errors';
export { SourceMap } from './source-map';
export type { DefinitionOrigin } from './source-map';
export { DOCUMENT_KINDS } from './spec';
export { SCHEMA_FILE, definitionsJsonSchema, definitionsJsonSchemaText } from './json-schema';
export { initRepo, DRIVER_STATS_EXAMPLE } from './init';
export type { InitRepoOptions, InitRepoResult } from './init';
export { writeDriverStatsParquet } from './sample-data';
export type { DriverStatsDataOptions } from './sample-data';
export { adoptSchema } from './adopt-schema';
export type { AdoptSchemaResult } from './adopt-schema';
