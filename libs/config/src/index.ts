// @larder/config: typed configuration from defaults, a feature repo's preset, a YAML file,
// the environment and overrides, with every bad value named with where it came from.
// Shared by the services (@larder/rpc's server keys build on it) and the stores.

export { bool, duration, int, oneOf, string, stringList, ConfigKey } from './keys';
export type { ConfigOf, ConfigOverrides, ConfigSchema, Parsed } from './keys';
export { loadConfig } from './load';
export type { ConfigPreset, LoadConfigOptions } from './load';
export { ConfigError, formatConfigIssue } from './config-error';
export type { ConfigIssue } from './config-error';
export { formatDurationMs, parseDurationMs } from './duration';
