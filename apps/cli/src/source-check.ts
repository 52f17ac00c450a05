// Apply-time check of a repo's batch sources against the offline store larder.yaml
// names: the files, tables or queries exist and have the columns the views declare.
// The registry cannot do this (it has no engine); the CLI has the repo's files and
// its offline_store settings, so a missing table or a mistyped column is reported at
// the definition's file, line and key before anything is applied.
import { resolveFeatures } from '@larder/core';
import type { RegistrySet } from '@larder/core';
import type { FeatureRepoProblem, LoadedFeatureRepo, OfflineStoreConfig } from '@larder/feature-repo';
import type { BatchSource, OfflineStore, SourceLocation, SourceProblem, SourceUse } from '@larder/offline-store';
import { registryV1 } from '@larder/proto';

const { ObjectKind } = registryV1;

type Engine = OfflineStore['engine'];

/** A view's read of one batch source, with where to point its problems. */
interface ViewUse extends SourceUse {
  view: registryV1.FeatureView;
}

interface SourceToCheck {
  engine: Engine;
  /** The data source holding the location and timestamps (a push or Kafka source's batch_source). */
  definition: registryV1.DataSource;
  source: BatchSource;
  uses: ViewUse[];
}

const ENGINE_OF_KIND: Readonly<Record<string, Engine>> = { file: 'duckdb', bigquery: 'bigquery', postgres: 'postgres' };

function locationOf(source: registryV1.DataSource): SourceLocation | undefined {
  const kind = source.kind;
  if (kind.case === 'file') {
    // A remote file (s3://, gs://) needs the engine's credentials and extensions: left to retrieval.
    if (kind.value.path === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(kind.value.path)) return undefined;
    const format = kind.value.format === registryV1.FileFormat.CSV ? 'csv' : kind.value.format === registryV1.FileFormat.PARQUET ? 'parquet' : undefined;
    return { kind: 'file', path: kind.value.path, ...(format !== undefined && { format }) };
  }
  if (kind.case === 'bigquery' || kind.case === 'postgres') {
    const location = kind.value.location;
    if (location.case === 'table' && location.value !== '') return { kind: 'table', table: location.value };
    if (location.case === 'query' && location.value !== '') return { kind: 'query', query: location.value };
  }
  return undefined;
}

/** The sources the repo's views read that this machine can check: files always, tables on the configured engine. */
function sourcesToCheck(set: RegistrySet, configured: Engine): SourceToCheck[] {
  const byName = new Map(set.dataSources.map((s) => [s.name, s]));
  const checks = new Map<string, SourceToCheck>();
  for (const view of set.featureViews) {
    let definition = byName.get(view.batchSource);
    let timestampField = definition?.timestampField ?? '';
    if (definition?.kind.case === 'push' || definition?.kind.case === 'kafka') {
      definition = byName.get(definition.kind.value.batchSource);
      timestampField = definition?.timestampField || timestampField;
    }
    if (definition === undefined) continue;
    const engine = definition.kind.case === undefined ? undefined : ENGINE_OF_KIND[definition.kind.case];
    const location = locationOf(definition);
    if (engine === undefined || location === undefined || (engine !== 'duckdb' && engine !== configured)) continue;
    let resolved;
    try {
      resolved = resolveFeatures(set, { refs: view.schema.map((f) => `${view.name}:${f.name}`) }, { fullFeatureNames: true }).views[0];
    } catch {
      continue; // core's validation reports what keeps a view from resolving
    }
    if (resolved === undefined) continue;
    let check = checks.get(definition.name);
    if (check === undefined) {
      const fieldMapping = Object.keys(definition.fieldMapping).length > 0 ? { ...definition.fieldMapping } : undefined;
      const source: BatchSource = {
        name: definition.name,
        location,
        timestampField,
        ...(definition.createdTimestampColumn !== '' && { createdTimestampColumn: definition.createdTimestampColumn }),
        ...(fieldMapping !== undefined && { fieldMapping }),
      };
      check = { engine, definition, source, uses: [] };
      checks.set(definition.name, check);
    }
    check.uses.push({
      view,
      joinKeys: resolved.joinKeys.map((k) => ({ name: k.name, type: k.valueType })),
      features: resolved.features.map((f) => ({ name: f.name, type: f.valueType })),
    });
  }
  return [...checks.values()];
}

async function openEngine(engine: Engine, config: OfflineStoreConfig): Promise<OfflineStore> {
  const store = await import('@larder/offline-store');
  if (engine === 'duckdb') return store.DuckDBOfflineStore.create();
  if (engine === 'postgres' && config.type === 'postgres') return new store.PostgresOfflineStore({ connectionString: config.url, max: 2 });
  if (engine === 'bigquery' && config.type === 'bigquery') {
    const bigquery = store.bigqueryClient({ bigqueryProject: config.projectId, bigqueryApiEndpoint: config.apiEndpoint ?? '' });
    return new store.BigQueryOfflineStore({ bigquery, scratchDataset: config.dataset, ...(config.location !== undefined && { location: config.location }) });
  }
  throw new Error(`no ${engine} offline store in larder.yaml`);
}

/** The file, line and key a finding is about: the source's location or timestamps, or the view's key or feature. */
function locate(
  repo: LoadedFeatureRepo,
  check: SourceToCheck,
  view: registryV1.FeatureView | undefined,
  about: SourceProblem['about'] | undefined,
  message: string,
): FeatureRepoProblem {
  const source = check.definition;
  let found: FeatureRepoProblem | undefined;
  if (about === undefined) {
    const kind = source.kind;
    const field =
      kind.case === 'file'
        ? 'kind.file.path'
        : kind.case === 'bigquery' || kind.case === 'postgres'
          ? `kind.${kind.case}.${kind.value.location.case ?? 'location'}`
          : 'kind';
    found = repo.sources.locate(ObjectKind.DATA_SOURCE, source.name, field, message);
  } else if (about.kind === 'timestamp_field' || about.kind === 'created_timestamp_column') {
    found = repo.sources.locate(ObjectKind.DATA_SOURCE, source.name, about.kind, message);
  } else if (view !== undefined) {
    const entities = new Map(repo.set.entities.map((e) => [e.name, e]));
    const field =
      about.kind === 'feature'
        ? `schema[${view.schema.findIndex((f) => f.name === about.name)}].name`
        : `entities[${view.entities.findIndex((name) => (entities.get(name)?.joinKey || name) === about.name)}]`;
    found = repo.sources.locate(ObjectKind.FEATURE_VIEW, view.name, field.includes('[-1]') ? '' : field, message);
  }
  return found ?? { file: 'larder.yaml', line: 0, column: 0, key: 'offline_store', message };
}

/**
 * Every problem of the repo's batch sources, checked with DuckDB (files) and the
 * larder.yaml offline store (its own tables and queries), at the definitions' lines.
 */
export async function checkRepoSources(repo: LoadedFeatureRepo): Promise<FeatureRepoProblem[]> {
  const checks = sourcesToCheck(repo.set, repo.config.offlineStore.type);
  const problems: FeatureRepoProblem[] = [];
  const engines = new Map<Engine, Promise<OfflineStore>>();
  try {
    for (const check of checks) {
      let store = engines.get(check.engine);
      if (store === undefined) {
        store = openEngine(check.engine, repo.config.offlineStore);
        engines.set(check.engine, store);
      }
      const result = await (await store).verifySource(check.source, check.uses);
      if (result.relation !== undefined) {
        problems.push(locate(repo, check, undefined, undefined, result.relation));
        continue;
      }
      result.views.forEach((found, i) => {
        for (const problem of found) problems.push(locate(repo, check, check.uses[i]!.view, problem.about, problem.message));
      });
    }
  } finally {
    for (const store of engines.values()) await store.then((s) => s.close()).catch(() => undefined);
  }
  // One line per finding: a source shared by several views reports its own problems once.
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.file}:${p.line}:${p.key}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
