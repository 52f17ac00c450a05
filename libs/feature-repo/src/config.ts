import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { isValidProjectName, PROJECT_NAME_RULE } from '@larder/core';
import { FeatureRepoError, type FeatureRepoProblem } from './errors';
import { formatFieldPath, locateInDocument } from './source-map';
import { checkSpec, type ObjectSpec, type Spec } from './spec';

/** Where the registry lives. Relative file paths are resolved against the repo root. */
export type RegistryLocation = { kind: 'file'; path: string } | { kind: 'postgres'; url: string } | { kind: 'remote'; address: string };

export type OnlineStoreConfig = { type: 'sqlite'; path: string } | { type: 'redis'; url: string; layout: 'packed' | 'feast' };

export type OfflineStoreConfig =
  { type: 'duckdb' } | { type: 'postgres'; url: string } | { type: 'bigquery'; projectId: string; dataset: string; location?: string; apiEndpoint?: string };

export const SERVICE_NAMES = ['registry', 'online_serving', 'offline_retrieval', 'ingestion', 'materialization'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** larder.yaml, with defaults applied and paths made absolute. */
export interface RepoConfig {
  /** The repo root, absolute. */
  repoPath: string;
  project: string;
  registry: RegistryLocation;
  onlineStore: OnlineStoreConfig;
  offlineStore: OfflineStoreConfig;
  /** gRPC addresses (`host:port`) of running services, by service. */
  services: Partial<Record<ServiceName, string>>;
}

export const CONFIG_FILE = 'larder.yaml';

const str = (description: string): Spec => ({ type: 'string', description });

export const CONFIG_SPEC: ObjectSpec = {
  type: 'object',
  properties: {
    project: { type: 'string', description: `Project name: ${PROJECT_NAME_RULE}.` },
    registry: {
      type: 'object',
      properties: {
        path: str('A registry file, relative to the repo root.'),
        url: str('A PostgreSQL URL (postgresql://...).'),
        postgres: str('A PostgreSQL URL (postgresql://...); same as url.'),
        address: str('A running registry service, host:port.'),
      },
      exactlyOne: ['path', 'url', 'postgres', 'address'],
    },
    online_store: {
      type: 'object',
      properties: {
        type: { type: 'string', enum: ['sqlite', 'redis'] },
        path: str('sqlite: the database file, relative to the repo root.'),
        url: str('redis: redis://host:port/db'),
        layout: { type: 'string', enum: ['packed', 'feast'] },
      },
      required: ['type'],
    },
    offline_store: {
      type: 'object',
      properties: {
        type: { type: 'string', enum: ['duckdb', 'postgres', 'bigquery'] },
        url: str('postgres: postgresql://...'),
        project_id: str('bigquery: the GCP project.'),
        dataset: str('bigquery: the dataset for temporary and saved tables.'),
        location: str('bigquery: the dataset location.'),
        api_endpoint: str('bigquery: an API endpoint (emulators).'),
      },
      required: ['type'],
    },
    services: {
      type: 'object',
      properties: Object.fromEntries(SERVICE_NAMES.map((s) => [s, str(`${s} service address, host:port.`)])),
    },
  },
  required: ['project'],
};

type Raw = Record<string, unknown>;
export type ConfigProblem = { path: Array<string | number>; message: string };

const DEFAULT_REGISTRY_PATH = 'data/registry.db';
const DEFAULT_ONLINE_PATH = 'data/online_store.db';

/** Builds a RepoConfig from a larder.yaml that already passed CONFIG_SPEC; per-type requirements are checked here. */
export function buildRepoConfig(repoPath: string, raw: Raw): { config: RepoConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const need = (section: string, obj: Raw, key: string, forType: string): string => {
    const value = obj[key];
    if (typeof value === 'string' && value !== '') return value;
    problems.push({ path: [section], message: `missing required key '${key}' for ${forType}` });
    return '';
  };
  const resolve = (p: string) => path.resolve(repoPath, p);

  const reg = (raw['registry'] ?? { path: DEFAULT_REGISTRY_PATH }) as Raw;
  let registry: RegistryLocation;
  if (typeof reg['address'] === 'string') registry = { kind: 'remote', address: reg['address'] };
  else if (typeof reg['url'] === 'string' || typeof reg['postgres'] === 'string') {
    const url = (reg['url'] ?? reg['postgres']) as string;
    if (!/^postgres(ql)?:\/\//.test(url))
      problems.push({ path: ['registry', 'url' in reg ? 'url' : 'postgres'], message: `expected a postgresql:// URL, got '${url}'` });
    registry = { kind: 'postgres', url };
  } else registry = { kind: 'file', path: resolve(typeof reg['path'] === 'string' ? reg['path'] : DEFAULT_REGISTRY_PATH) };

  const online = (raw['online_store'] ?? { type: 'sqlite' }) as Raw;
  const onlineStore: OnlineStoreConfig =
    online['type'] === 'redis'
      ? { type: 'redis', url: need('online_store', online, 'url', 'a redis online store'), layout: online['layout'] === 'feast' ? 'feast' : 'packed' }
      : { type: 'sqlite', path: resolve(typeof online['path'] === 'string' ? online['path'] : DEFAULT_ONLINE_PATH) };

  const offline = (raw['offline_store'] ?? { type: 'duckdb' }) as Raw;
  let offlineStore: OfflineStoreConfig;
  if (offline['type'] === 'postgres') offlineStore = { type: 'postgres', url: need('offline_store', offline, 'url', 'a postgres offline store') };
  else if (offline['type'] === 'bigquery') {
    offlineStore = {
      type: 'bigquery',
      projectId: need('offline_store', offline, 'project_id', 'a bigquery offline store'),
      dataset: need('offline_store', offline, 'dataset', 'a bigquery offline store'),
      ...(typeof offline['location'] === 'string' ? { location: offline['location'] } : {}),
      ...(typeof offline['api_endpoint'] === 'string' ? { apiEndpoint: offline['api_endpoint'] } : {}),
    };
  } else offlineStore = { type: 'duckdb' };

  const services = { ...((raw['services'] ?? {}) as Partial<Record<ServiceName, string>>) };
  for (const [name, address] of Object.entries(services)) {
    if (!/^[^\s:]+:\d+$/.test(address)) problems.push({ path: ['services', name], message: `expected host:port, got '${address}'` });
  }
  return { config: { repoPath, project: raw['project'] as string, registry, onlineStore, offlineStore, services }, problems };
}

/** Feast's rule for project names (core's isValidProjectName): not a pattern, since it spans every script. */
function projectNameProblems(raw: unknown): ConfigProblem[] {
  const project = typeof raw === 'object' && raw !== null ? (raw as Raw)['project'] : undefined;
  if (typeof project !== 'string' || isValidProjectName(project)) return [];
  return [{ path: ['project'], message: `'${project}' is not a valid project name: use ${PROJECT_NAME_RULE}` }];
}

export interface ConfigReadResult {
  /** Undefined when larder.yaml is missing, not YAML or not the right shape; set (but not usable) when `problems` has per-type problems. */
  config: RepoConfig | undefined;
  problems: FeatureRepoProblem[];
  /** Points a problem at a key of larder.yaml (or at its first line when the key is absent). */
  at(path: ReadonlyArray<string | number>, message: string): FeatureRepoProblem;
  /** Where a key of larder.yaml is written; undefined when the file leaves it out (a default applies). */
  where(path: ReadonlyArray<string | number>): { line: number; column: number } | undefined;
}

/** larder.yaml with every problem it has, each at its line and key; for loaders that gather problems from several files. */
export async function readConfigFile(repoPath: string): Promise<ConfigReadResult> {
  const whole = (message: string, key = ''): FeatureRepoProblem => ({ file: CONFIG_FILE, line: 0, column: 0, key, message });
  let text: string;
  try {
    text = await readFile(path.join(repoPath, CONFIG_FILE), 'utf8');
  } catch {
    return {
      config: undefined,
      problems: [whole(`no ${CONFIG_FILE} in ${repoPath}`)],
      at: (p, message) => whole(message, formatFieldPath(p)),
      where: () => undefined,
    };
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (p: ReadonlyArray<string | number>, message: string): FeatureRepoProblem => ({
    file: CONFIG_FILE,
    ...locateInDocument(document, lineCounter, p),
    key: formatFieldPath(p),
    message,
  });
  const where = (p: ReadonlyArray<string | number>): { line: number; column: number } | undefined => {
    if (!document.hasIn(p)) return undefined;
    const { line, column } = locateInDocument(document, lineCounter, p);
    // The value's position: locateInDocument gives the key's.
    const node = document.getIn(p, true) as { range?: [number, number, number] } | undefined;
    if (node?.range === undefined) return { line, column };
    const pos = lineCounter.linePos(node.range[0]);
    return { line: pos.line, column: pos.col };
  };
  if (document.errors.length > 0) {
    const problems = document.errors.map((e) => {
      const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
      return { file: CONFIG_FILE, line: pos.line, column: pos.col, key: '', message: `invalid YAML: ${e.message.split('\n')[0] ?? ''}` };
    });
    return { config: undefined, problems, at, where };
  }
  const raw: unknown = document.toJS() ?? {};
  const specProblems = [...checkSpec(raw, CONFIG_SPEC), ...projectNameProblems(raw)];
  if (specProblems.length > 0) return { config: undefined, problems: specProblems.map((p) => at(p.path, p.message)), at, where };
  const { config, problems } = buildRepoConfig(repoPath, raw as Record<string, unknown>);
  return { config, problems: problems.map((p) => at(p.path, p.message)), at, where };
}

/**
 * Reads and checks a repo's larder.yaml alone, without loading any definition,
 * for tools that need the project and the registry of a repo whose definitions
 * may be broken. Throws FeatureRepoError (file, line and key of each problem).
 */
export async function readRepoConfig(dir: string): Promise<RepoConfig> {
  const repoPath = path.resolve(dir);
  const { config, problems } = await readConfigFile(repoPath);
  if (config === undefined || problems.length > 0) throw new FeatureRepoError(repoPath, problems);
  return config;
}
