// A service started in (or pointed at) a feature repo takes its project, registry and
// stores from the repo's larder.yaml, as `feast serve` does from feature_store.yaml.
// The settings are given by the environment variable each one stands for: every
// service names the same setting with the same variable, so one table serves them all,
// and a variable that is set still wins (see libs/rpc/README.md, Configuration).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@larder/rpc';
import type { ConfigIssue, ConfigPreset } from '@larder/rpc';
import { CONFIG_FILE, readConfigFile } from './config';
import type { RepoConfig } from './config';

export const REPO_FLAG = '--repo';
export const REPO_ENV = 'LARDER_REPO';

type Key = ReadonlyArray<string>;

/**
 * The feature repo a service runs in: `--repo <dir>`, else $LARDER_REPO, else the
 * working directory when it holds larder.yaml; undefined when none applies.
 */
export function findServiceRepo(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cwd = process.cwd(),
): { dir: string; from: string } | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === REPO_FLAG && argv[i + 1] !== undefined) return { dir: path.resolve(cwd, argv[i + 1] as string), from: REPO_FLAG };
    if (arg.startsWith(`${REPO_FLAG}=`)) return { dir: path.resolve(cwd, arg.slice(REPO_FLAG.length + 1)), from: REPO_FLAG };
  }
  const fromEnv = env[REPO_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { dir: path.resolve(cwd, fromEnv), from: `environment variable ${REPO_ENV}` };
  if (existsSync(path.join(cwd, CONFIG_FILE))) return { dir: cwd, from: 'the working directory' };
  return undefined;
}

/** The settings of a repo's larder.yaml: env variable -> [larder.yaml key, value]. */
export function repoSettings(config: RepoConfig): Array<[env: string, key: Key, value: string]> {
  const out: Array<[string, Key, string]> = [['LARDER_PROJECT', ['project'], config.project]];
  const { registry, onlineStore: online, offlineStore: offline } = config;
  if (registry.kind === 'remote') out.push(['LARDER_REGISTRY_ADDRESS', ['registry', 'address'], registry.address]);
  else {
    out.push([
      'LARDER_REGISTRY_LOCATION',
      registry.kind === 'file' ? ['registry', 'path'] : ['registry', 'url'],
      registry.kind === 'file' ? registry.path : registry.url,
    ]);
    if (config.services.registry !== undefined) out.push(['LARDER_REGISTRY_ADDRESS', ['services', 'registry'], config.services.registry]);
  }
  out.push(['LARDER_ONLINE_STORE_TYPE', ['online_store', 'type'], online.type]);
  if (online.type === 'sqlite') out.push(['LARDER_ONLINE_STORE_PATH', ['online_store', 'path'], online.path]);
  else out.push(['LARDER_REDIS_URL', ['online_store', 'url'], online.url], ['LARDER_REDIS_LAYOUT', ['online_store', 'layout'], online.layout]);
  out.push(['LARDER_OFFLINE_STORE_TYPE', ['offline_store', 'type'], offline.type]);
  if (offline.type === 'postgres') out.push(['LARDER_POSTGRES_URL', ['offline_store', 'url'], offline.url]);
  if (offline.type === 'bigquery') {
    out.push(
      ['LARDER_BIGQUERY_PROJECT', ['offline_store', 'project_id'], offline.projectId],
      ['LARDER_BIGQUERY_DATASET', ['offline_store', 'dataset'], offline.dataset],
    );
    if (offline.location !== undefined) out.push(['LARDER_BIGQUERY_LOCATION', ['offline_store', 'location'], offline.location]);
    if (offline.apiEndpoint !== undefined) out.push(['LARDER_BIGQUERY_API_ENDPOINT', ['offline_store', 'api_endpoint'], offline.apiEndpoint]);
  }
  return out;
}

/**
 * RunServiceOptions.preset for every service main: the settings of the feature repo the
 * service runs in (findServiceRepo), each named by its larder.yaml line and key. A repo
 * whose larder.yaml has problems stops the service with a ConfigError listing them.
 */
export async function featureRepoPreset(
  context: { argv: readonly string[]; env: Readonly<Record<string, string | undefined>> },
  cwd = process.cwd(),
): Promise<ConfigPreset | undefined> {
  const repo = findServiceRepo(context.argv, context.env, cwd);
  if (repo === undefined) return undefined;
  const file = path.join(repo.dir, CONFIG_FILE);
  const read = await readConfigFile(repo.dir);
  if (read.config === undefined || read.problems.length > 0) {
    const issues: ConfigIssue[] = read.problems.map((p) => ({
      key: p.key,
      problem: p.message,
      source: p.line > 0 ? `${file} line ${p.line}, column ${p.column}` : `${file}, the feature repo of ${repo.from}`,
    }));
    throw new ConfigError(issues);
  }
  const byEnv = new Map<string, { value: unknown; source: string }>();
  for (const [env, key, value] of repoSettings(read.config)) {
    const at = read.where(key);
    byEnv.set(env, {
      value,
      source: at === undefined ? `${file}: the default of ${key.join('.')}` : `${file} line ${at.line}, column ${at.column} (${key.join('.')})`,
    });
  }
  // Relative file-source paths of the repo's definitions are relative to its folder.
  byEnv.set('LARDER_INGESTION_BASE_PATH', { value: repo.dir, source: `the feature repo folder (${repo.from})` });
  return { byEnv, description: `feature repo ${repo.dir} (${repo.from})` };
}
