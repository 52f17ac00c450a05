import path from 'node:path';
import { joinKeyOf } from '@larder/core';
import type { BatchSource, SourceLocation } from '@larder/offline-store';
import type { FeatureSpec, ViewDescriptor } from '@larder/online-store';
import { registryV1 } from '@larder/proto';
import type { typesV1 } from '@larder/proto';
import { compileRowCheck, type RowCheck } from '@larder/validation';

/** The registry objects ingestion reads (RegistryClient fits). */
export interface RegistryView {
  projectNames(): string[];
  featureView(project: string, name: string): registryV1.FeatureView | undefined;
  featureViews(project: string): registryV1.FeatureView[];
  entity(project: string, name: string): registryV1.Entity | undefined;
  dataSource(project: string, name: string): registryV1.DataSource | undefined;
  dataSources(project: string): registryV1.DataSource[];
}

export interface TypedColumn {
  readonly name: string;
  readonly type: typesV1.ValueType;
}

/** One feature view a stream or push source writes to, compiled from the registry. */
export interface ViewTarget {
  readonly project: string;
  readonly name: string;
  /** The same descriptor online serving and materialization use (schema order, join key names). */
  readonly descriptor: ViewDescriptor;
  readonly joinKeys: readonly TypedColumn[];
  readonly features: readonly FeatureSpec[];
  readonly online: boolean;
  /** Where offline writes go (undefined when the view is not offline, or has nowhere to append). */
  readonly offline: BatchSource | undefined;
  /** Why `offline` is undefined for an offline view, for error messages. */
  readonly offlineProblem: string | undefined;
  /** The view's TFDV schema as a per-row check, and what to do with a row breaking it; undefined when it constrains no value. */
  readonly validation: TargetValidation | undefined;
}

export interface TargetValidation {
  readonly check: RowCheck;
  /** dead_letter: the row is not written (Kafka: dead-letter topic; push: a row failure); count: written and counted. */
  readonly policy: 'dead_letter' | 'count';
}

/** Compiled once per registry version, so a row pays only for the comparisons. */
function targetValidation(view: registryV1.FeatureView): TargetValidation | undefined {
  const schema = view.validation?.schema;
  if (schema === undefined) return undefined;
  const check = compileRowCheck(
    schema,
    view.schema.map((f) => f.name),
  );
  if (check === undefined) return undefined;
  return { check, policy: view.validation?.ingestion === registryV1.IngestionValidationPolicy.COUNT ? 'count' : 'dead_letter' };
}

/** A problem with a definition that stops a view from being written. */
export class UnwritableViewError extends Error {}

function location(source: registryV1.DataSource, basePath: string): SourceLocation | undefined {
  const kind = source.kind;
  switch (kind.case) {
    case 'file': {
      const format = kind.value.format === registryV1.FileFormat.CSV ? 'csv' : kind.value.format === registryV1.FileFormat.PARQUET ? 'parquet' : undefined;
      return { kind: 'file', path: path.resolve(basePath, kind.value.path), ...(format !== undefined && { format }) };
    }
    case 'bigquery':
    case 'postgres': {
      const where = kind.value.location;
      if (where.case === 'table') return { kind: 'table', table: where.value };
      if (where.case === 'query') return { kind: 'query', query: where.value };
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Where a stream source's rows land offline: the stream source's own
 * batch_source when it names one, else the view's batch source — the one
 * historical retrieval reads, so training sees what serving saw.
 */
function offlineDestination(
  registry: RegistryView,
  project: string,
  stream: registryV1.DataSource,
  view: registryV1.FeatureView,
  basePath: string,
): BatchSource | string {
  const via = stream.kind.case === 'kafka' || stream.kind.case === 'push' ? stream.kind.value.batchSource : '';
  const name = via !== '' ? via : view.batchSource;
  if (name === '') return `feature view '${view.name}' and ${stream.kind.case ?? ''} source '${stream.name}' name no batch source to append to`;
  const batch = registry.dataSource(project, name);
  if (batch === undefined) return `batch source '${name}' of feature view '${view.name}' is not in the registry`;
  const where = location(batch, basePath);
  if (where === undefined) return `batch source '${name}' is a ${batch.kind.case ?? 'source without kind'}, not a file, BigQuery or PostgreSQL source`;
  const fieldMapping = Object.keys(batch.fieldMapping).length > 0 ? { fieldMapping: { ...batch.fieldMapping } } : {};
  return {
    name: batch.name,
    location: where,
    timestampField: batch.timestampField || stream.timestampField,
    ...(batch.createdTimestampColumn !== '' && { createdTimestampColumn: batch.createdTimestampColumn }),
    ...fieldMapping,
  };
}

/** Compiles one view; throws UnwritableViewError when its entities are missing. */
export function compileTarget(
  registry: RegistryView,
  project: string,
  view: registryV1.FeatureView,
  stream: registryV1.DataSource,
  basePath: string,
): ViewTarget {
  const joinKeys = view.entities.map((entityName) => {
    const entity = registry.entity(project, entityName);
    if (entity === undefined) throw new UnwritableViewError(`feature view '${view.name}': entity '${entityName}' is not in the registry`);
    return { name: joinKeyOf(entity), type: entity.valueType };
  });
  const features = view.schema.map((f) => ({ name: f.name, type: f.valueType }));
  const offlineEnabled = view.offline !== false;
  const destination = offlineEnabled ? offlineDestination(registry, project, stream, view, basePath) : undefined;
  return {
    project,
    name: view.name,
    descriptor: { project, name: view.name, features, joinKeys: joinKeys.map((k) => k.name) },
    joinKeys,
    features,
    online: view.online !== false,
    offline: typeof destination === 'object' ? destination : undefined,
    offlineProblem: typeof destination === 'string' ? destination : offlineEnabled ? undefined : `feature view '${view.name}' is not offline (offline: false)`,
    validation: targetValidation(view),
  };
}

/** A view as written by a service without an offline store (offlineStore.type none): online only. */
export function withoutOfflineStore(target: ViewTarget): ViewTarget {
  if (target.offline === undefined && target.offlineProblem !== undefined) return target;
  return { ...target, offline: undefined, offlineProblem: 'offlineStore.type is none (this ingestion service has no offline store)' };
}

/** Why rows for a view could be written nowhere (neither online nor offline), or undefined when they can. */
export function unwritable(target: ViewTarget): string | undefined {
  if (target.online || target.offline !== undefined) return undefined;
  return (
    `feature view '${target.name}' is online: false and ` +
    `${target.offlineProblem ?? 'has nowhere to append offline'}: its stream rows could be written nowhere; set ` +
    `online: true, or configure an offline store and a batch_source`
  );
}

/** The views whose stream_source is `source`, in name order. */
export function targetsOf(registry: RegistryView, project: string, source: registryV1.DataSource, basePath: string): ViewTarget[] {
  return registry
    .featureViews(project)
    .filter((v) => v.streamSource === source.name)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((v) => compileTarget(registry, project, v, source, basePath));
}

/**
 * How a source's message fields map to the views' column names:
 * field_mapping renames source fields; fields not listed keep their names.
 */
export class FieldMap {
  private readonly sourceName = new Map<string, string>();

  constructor(mapping: Readonly<Record<string, string>>) {
    for (const [from, to] of Object.entries(mapping)) this.sourceName.set(to, from);
  }

  /** The source field holding a view column. */
  fieldOf(column: string): string {
    return this.sourceName.get(column) ?? column;
  }
}
