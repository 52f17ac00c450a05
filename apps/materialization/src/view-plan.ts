import { joinKeyOf } from '@larder/core';
import type { BatchSource, FeatureSpec, JoinKeySpec, SourceLocation } from '@larder/offline-store';
import type { ViewDescriptor } from '@larder/online-store';
import { registryV1 } from '@larder/proto';
import type { tfmdV0 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';

/** What materializing one feature view needs: where to read, what to write. */
export interface ViewPlan {
  readonly name: string;
  /** 0 = no ttl. */
  readonly ttlMs: number;
  readonly source: BatchSource;
  readonly joinKeys: readonly JoinKeySpec[];
  readonly features: readonly FeatureSpec[];
  /** The same descriptor online serving reads with (schema order, join key names). */
  readonly descriptor: ViewDescriptor;
  /** The view's TFDV schema, checked on the batch's statistics before anything is written; fail (default) or warn. */
  readonly validation?: { readonly schema: tfmdV0.Schema; readonly policy: 'fail' | 'warn' };
}

/** The registry objects a plan is built from (RegistryClient fits). */
export interface RegistryView {
  featureView(project: string, name: string): registryV1.FeatureView | undefined;
  featureViews(project: string): registryV1.FeatureView[];
  entity(project: string, name: string): registryV1.Entity | undefined;
  dataSource(project: string, name: string): registryV1.DataSource | undefined;
}

const durationMs = (d: { seconds: bigint; nanos: number } | undefined): number => (d === undefined ? 0 : Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6));

function location(source: registryV1.DataSource, view: string): SourceLocation {
  const kind = source.kind;
  switch (kind.case) {
    case 'file': {
      const format = kind.value.format === registryV1.FileFormat.CSV ? 'csv' : kind.value.format === registryV1.FileFormat.PARQUET ? 'parquet' : undefined;
      return { kind: 'file', path: kind.value.path, ...(format !== undefined && { format }) };
    }
    case 'bigquery':
    case 'postgres': {
      const where = kind.value.location;
      if (where.case === 'table') return { kind: 'table', table: where.value };
      if (where.case === 'query') return { kind: 'query', query: where.value };
      break;
    }
    default:
      break;
  }
  throw new RpcError(
    Code.FAILED_PRECONDITION,
    `feature view '${view}': batch source '${source.name}' is a ${kind.case ?? 'source without kind'}, not a file, BigQuery or PostgreSQL source`,
  );
}

/** Builds the plan of one view from the registry, with errors a person can act on. */
export function viewPlan(registry: RegistryView, project: string, name: string): ViewPlan {
  const view = registry.featureView(project, name);
  if (view === undefined) {
    const known = registry.featureViews(project).map((v) => v.name);
    throw new RpcError(Code.NOT_FOUND, `feature view '${name}' not found in project '${project}'${known.length > 0 ? ` (views: ${known.join(', ')})` : ''}`);
  }
  if (view.online === false)
    throw new RpcError(Code.INVALID_ARGUMENT, `feature_views: feature view '${name}' is not online (online: false), so it is not materialized`);
  if (view.batchSource === '') {
    const fed = view.streamSource === '' ? '' : ` (it is stream-fed: stream source '${view.streamSource}' writes it online)`;
    throw new RpcError(Code.FAILED_PRECONDITION, `feature view '${name}' has no batch_source to materialize from${fed}`);
  }
  const source = registry.dataSource(project, view.batchSource);
  if (source === undefined) throw new RpcError(Code.FAILED_PRECONDITION, `feature view '${name}': batch source '${view.batchSource}' not found`);
  const joinKeys: JoinKeySpec[] = view.entities.map((entityName) => {
    const entity = registry.entity(project, entityName);
    if (entity === undefined) throw new RpcError(Code.FAILED_PRECONDITION, `feature view '${name}': entity '${entityName}' not found`);
    return { name: joinKeyOf(entity), type: entity.valueType };
  });
  const features: FeatureSpec[] = view.schema.map((f) => ({ name: f.name, type: f.valueType }));
  const ttlMs = durationMs(view.ttl);
  const fieldMapping = Object.keys(source.fieldMapping).length > 0 ? { fieldMapping: { ...source.fieldMapping } } : {};
  return {
    name,
    ttlMs,
    source: {
      name: source.name,
      location: location(source, name),
      timestampField: source.timestampField,
      ...(source.createdTimestampColumn !== '' && { createdTimestampColumn: source.createdTimestampColumn }),
      ...fieldMapping,
    },
    joinKeys,
    features,
    descriptor: {
      project,
      name,
      features: features.map((f) => ({ name: f.name, type: f.type })),
      joinKeys: joinKeys.map((k) => k.name),
    },
    ...(view.validation?.schema !== undefined && {
      validation: {
        schema: view.validation.schema,
        policy: view.validation.materialization === registryV1.MaterializationValidationPolicy.WARN ? ('warn' as const) : ('fail' as const),
      },
    }),
  };
}

/** The views a request names, or every online view with a batch source when it names none. */
export function viewNames(registry: RegistryView, project: string, requested: readonly string[]): string[] {
  if (requested.length > 0) {
    const seen = new Set<string>();
    return requested.filter((n) => !seen.has(n) && seen.add(n));
  }
  return registry
    .featureViews(project)
    .filter((v) => v.online !== false && v.batchSource !== '')
    .map((v) => v.name)
    .sort();
}
