import { readdirSync } from 'node:fs';
import path from 'node:path';
import { clone, create } from '@bufbuild/protobuf';
import { validateRegistrySet, type RegistrySet } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { CONFIG_FILE, readConfigFile, type RepoConfig } from './config';
import { FeatureRepoError, type FeatureRepoProblem } from './errors';
import { SourceMap } from './source-map';
import { loadTsDefinitions } from './ts-definitions';
import { loadYamlDefinitions, type LoadedDefinition } from './yaml-definitions';

const { ObjectKind } = registryV1;

export interface LoadFeatureRepoOptions {
  /** Run core's validateRegistrySet over the whole set (default true). */
  validate?: boolean;
  /**
   * Make relative file-source paths absolute against the repo root (default
   * true), so services that never see the repo can read the files.
   */
  resolveFilePaths?: boolean;
}

export interface LoadedFeatureRepo {
  config: RepoConfig;
  set: RegistrySet;
  /** Where each object was defined, to point registry issues at files. */
  sources: SourceMap;
}

const SKIPPED_DIRS = new Set(['node_modules', 'data', 'dist']);

/** Definition files under the repo, relative and sorted: YAML (but not larder.yaml) and TypeScript. */
export function definitionFiles(repoPath: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(repoPath, dir), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const rel = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) walk(rel);
      } else if (/\.ya?ml$/.test(entry.name) && rel !== CONFIG_FILE) {
        files.push(rel);
      } else if (/\.(ts|mts|cts)$/.test(entry.name) && !/\.(d|spec|test)\.[mc]?ts$/.test(entry.name)) {
        files.push(rel);
      }
    }
  };
  walk('');
  return files.sort();
}

// Names are unique per kind, and views share one namespace with on-demand views.
function namespace(kind: registryV1.ObjectKind): string {
  return kind === ObjectKind.ON_DEMAND_FEATURE_VIEW ? String(ObjectKind.FEATURE_VIEW) : String(kind);
}

const KIND_WORDS: Partial<Record<registryV1.ObjectKind, string>> = {
  [ObjectKind.PROJECT]: 'project',
  [ObjectKind.ENTITY]: 'entity',
  [ObjectKind.DATA_SOURCE]: 'data source',
  [ObjectKind.FEATURE_VIEW]: 'feature view',
  [ObjectKind.ON_DEMAND_FEATURE_VIEW]: 'on-demand feature view',
  [ObjectKind.FEATURE_SERVICE]: 'feature service',
  [ObjectKind.PERMISSION]: 'permission',
};

function where(origin: LoadedDefinition['origin'], sources: SourceMap, kind: registryV1.ObjectKind, name: string): string {
  if (origin.form === 'ts') return `${origin.file}:${origin.line}`;
  const p = sources.locate(kind, name, 'name', '');
  return p === undefined ? origin.file : `${p.file}:${p.line}`;
}

/**
 * Loads a feature repo: larder.yaml and every definition file (YAML documents
 * and TypeScript modules exporting sdk objects). Throws FeatureRepoError
 * listing every problem, each with file, line and key.
 */
export async function loadFeatureRepo(dir: string, options: LoadFeatureRepoOptions = {}): Promise<LoadedFeatureRepo> {
  const repoPath = path.resolve(dir);
  const { config, problems: configProblems, at: atConfig } = await readConfigFile(repoPath);
  const problems = [...configProblems];
  const loaded: LoadedDefinition[] = [];
  for (const file of definitionFiles(repoPath)) {
    const result = /\.ya?ml$/.test(file) ? loadYamlDefinitions(repoPath, file) : await loadTsDefinitions(repoPath, file);
    loaded.push(...result.definitions);
    problems.push(...result.problems);
  }

  const sources = new SourceMap();
  const seen = new Map<string, LoadedDefinition>();
  for (const def of loaded) {
    const name = def.message.name;
    const id = `${namespace(def.kind)}/${name}`;
    const first = seen.get(id);
    if (first !== undefined) {
      const probe = new SourceMap();
      probe.set(def.kind, name, def.origin);
      const problem = probe.locate(
        def.kind,
        name,
        'name',
        `duplicate ${KIND_WORDS[def.kind] ?? 'object'} name '${name}' (first defined at ${where(first.origin, sources, first.kind, name)})`,
      );
      if (problem !== undefined) problems.push(problem);
      continue;
    }
    seen.set(id, def);
    sources.set(def.kind, name, def.origin);
  }
  for (const def of loaded) {
    const name = def.message.name;
    if (def.kind === ObjectKind.PROJECT && config !== undefined && name !== '' && name !== config.project) {
      const probe = new SourceMap();
      probe.set(def.kind, name, def.origin);
      const p = probe.locate(def.kind, name, 'name', `project '${name}' does not match larder.yaml's project '${config.project}'`);
      if (p !== undefined) problems.push(p);
    }
  }
  if (problems.length > 0 || config === undefined) throw new FeatureRepoError(repoPath, problems);

  const set = assemble(config, loaded, sources, options.resolveFilePaths ?? true);
  if (options.validate ?? true) {
    // A project issue with no Project definition is about larder.yaml's `project`.
    const fallback = (message: string): FeatureRepoProblem => atConfig(['project'], message);
    const issues = validateRegistrySet(set).map(
      (issue) =>
        sources.locate(issue.kind, issue.name, issue.field, issue.message) ??
        (issue.kind === ObjectKind.PROJECT ? sources.locate(issue.kind, '', issue.field, issue.message) : undefined) ??
        fallback(issue.message),
    );
    if (issues.length > 0) throw new FeatureRepoError(repoPath, issues);
  }
  return { config, set, sources };
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function assemble(config: RepoConfig, loaded: readonly LoadedDefinition[], sources: SourceMap, resolveFilePaths: boolean): RegistrySet {
  const of = <T>(kind: registryV1.ObjectKind) =>
    loaded
      .filter((d) => d.kind === kind && sources.get(kind, d.message.name) === d.origin)
      .map((d) => d.message as T)
      .sort(byName as (a: T, b: T) => number);
  const projectDef = of<registryV1.Project>(ObjectKind.PROJECT)[0];
  // The project's name always comes from larder.yaml; a Project definition adds its metadata.
  const project = create(registryV1.ProjectSchema, {
    name: config.project,
    description: projectDef?.description ?? '',
    tags: { ...projectDef?.tags },
    owner: projectDef?.owner ?? '',
  });
  const dataSources = of<registryV1.DataSource>(ObjectKind.DATA_SOURCE).map((source) => {
    if (!resolveFilePaths || source.kind.case !== 'file' || source.kind.value.path === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(source.kind.value.path)) {
      return source;
    }
    // A copy: TS definitions are module singletons and must not change under their importers.
    const copy = clone(registryV1.DataSourceSchema, source);
    if (copy.kind.case === 'file') copy.kind.value.path = path.resolve(config.repoPath, copy.kind.value.path);
    return copy;
  });
  return {
    project,
    entities: of(ObjectKind.ENTITY),
    dataSources,
    featureViews: of(ObjectKind.FEATURE_VIEW),
    onDemandFeatureViews: of(ObjectKind.ON_DEMAND_FEATURE_VIEW),
    featureServices: of(ObjectKind.FEATURE_SERVICE),
    savedDatasets: [],
    permissions: of(ObjectKind.PERMISSION),
  };
}
