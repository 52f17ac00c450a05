// A Feast registry's project as the documents of a Larder feature repo. Everything that
// has a Larder equivalent is carried over with its names, so the `feast` Redis layout
// (keyed by project, view and feature names) keeps serving what Feast materialized;
// what cannot move (Python UDFs, sources Larder has no engine for) is listed.
import path from 'node:path';
import { isListValueType, isUsableValueType, valueTypeName } from '@larder/core';
import { feastCore, typesV1 } from '@larder/proto';
import { FeastRegistryError } from './read-registry';

/** Feast's stand-in entity of views without entities; Larder needs none. */
const DUMMY_ENTITY = '__dummy';

export type Document = Record<string, unknown> & { kind: string; name?: string };

export interface ImportedObject {
  kind: string;
  name: string;
}

/** An on-demand view whose Python transformation has to be written again in CEL. */
export interface PendingUdf {
  view: string;
  outputs: string[];
  /** Feast's Python source of the transformation, as it registered it. */
  python: string;
}

export interface ImportedRepo {
  project: string;
  documents: Document[];
  /** Python comments to put above a document, by "Kind/name". */
  comments: Map<string, string>;
  imported: ImportedObject[];
  udfs: PendingUdf[];
  /** Objects left out, and other things the user must do, one sentence each. */
  notes: string[];
}

export interface ImportOptions {
  /** Which project; default: the registry's only one. */
  project?: string | undefined;
  /** Feast's repo folder: relative file-source paths are resolved against it. */
  feastRepo?: string | undefined;
  /** For messages: the registry file or SQL registry. */
  origin: string;
}

/** The projects a registry holds, from its project list and its objects. */
export function projectsOf(registry: feastCore.Registry): string[] {
  const names = new Set<string>();
  for (const p of registry.projects) if (p.spec?.name) names.add(p.spec.name);
  for (const p of registry.projectMetadata) if (p.project) names.add(p.project);
  for (const list of [registry.entities, registry.featureViews, registry.onDemandFeatureViews, registry.streamFeatureViews, registry.featureServices]) {
    for (const o of list) if (o.spec?.project) names.add(o.spec.project);
  }
  for (const s of registry.dataSources) if (s.project) names.add(s.project);
  return [...names].sort();
}

export function feastToRepo(registry: feastCore.Registry, options: ImportOptions): ImportedRepo {
  const projects = projectsOf(registry);
  let project = options.project;
  if (project === undefined) {
    if (projects.length !== 1)
      throw new FeastRegistryError(
        `${options.origin}: ${projects.length === 0 ? 'holds no project' : `holds ${projects.length} projects (${projects.join(', ')}); pick one with --project`}`,
      );
    project = projects[0] as string;
  } else if (!projects.includes(project)) {
    throw new FeastRegistryError(`${options.origin}: no project '${project}' (it holds ${projects.join(', ') || 'none'})`);
  }
  return new Converter(project, options).convert(registry);
}

class Converter {
  private readonly documents: Document[] = [];
  private readonly comments = new Map<string, string>();
  private readonly imported: ImportedObject[] = [];
  private readonly udfs: PendingUdf[] = [];
  private readonly notes: string[] = [];
  /** Source documents by name, in the order first met. */
  private readonly sources = new Map<string, Document>();
  /** Sources that could not be carried over, by name, with why. */
  private readonly skippedSources = new Map<string, string>();

  constructor(
    private readonly project: string,
    private readonly options: ImportOptions,
  ) {}

  private where(kind: string, name: string): string {
    return `${this.options.origin}: ${kind} '${name}' of project '${this.project}'`;
  }

  private valueType(type: number, kind: string, name: string, field: string): string {
    if (!isUsableValueType(type as typesV1.ValueType)) {
      throw new FeastRegistryError(
        `${this.where(kind, name)}: ${field} has Feast value type ${type}, which Larder does not serve (scalars and lists of bytes, string, int32, int64, double, float, bool, unix_timestamp)`,
      );
    }
    return valueTypeName(type as typesV1.ValueType);
  }

  private fields(features: readonly feastCore.FeatureSpecV2[], kind: string, name: string): Record<string, unknown>[] {
    return features.map((f) => ({
      name: f.name,
      value_type: this.valueType(f.valueType, kind, name, `feature '${f.name}'`),
      ...(f.description !== '' && { description: f.description }),
      ...(Object.keys(f.tags).length > 0 && { tags: sortedTags(f.tags) }),
    }));
  }

  /** The project's objects, by name: a registry's lists (and protobuf maps) have no stable order. */
  private mine<T extends { spec?: { project: string; name: string } | undefined }>(list: readonly T[]): T[] {
    return list
      .filter((o) => o.spec !== undefined && (o.spec.project === this.project || o.spec.project === ''))
      .sort((a, b) => byName(a.spec as { name: string }, b.spec as { name: string }));
  }

  convert(registry: feastCore.Registry): ImportedRepo {
    const projectSpec = registry.projects.find((p) => p.spec?.name === this.project)?.spec;
    this.documents.push({
      kind: 'Project',
      ...(projectSpec?.description && { description: projectSpec.description }),
      ...(projectSpec?.owner && { owner: projectSpec.owner }),
      ...(projectSpec !== undefined && Object.keys(projectSpec.tags).length > 0 && { tags: sortedTags(projectSpec.tags) }),
    });

    for (const entity of this.mine(registry.entities)) {
      const spec = entity.spec as feastCore.EntitySpecV2;
      if (spec.name === DUMMY_ENTITY) continue;
      this.push({
        kind: 'Entity',
        name: spec.name,
        join_key: spec.joinKey || spec.name,
        value_type: this.valueType(spec.valueType, 'entity', spec.name, 'value_type'),
        ...described(spec),
      });
    }
    for (const source of registry.dataSources.filter((s) => s.project === this.project || s.project === '').sort(byName)) this.source(source, source.name);

    const views: Document[] = [];
    for (const view of this.mine(registry.featureViews)) views.push(this.featureView(view.spec as feastCore.FeatureViewSpec));
    for (const view of this.mine(registry.streamFeatureViews)) views.push(this.streamFeatureView(view.spec as feastCore.StreamFeatureViewSpec));
    // Sources first (views name them), then views, on-demand views and services.
    for (const doc of this.sources.values()) this.push(doc);
    for (const doc of views) this.push(doc);
    for (const odfv of this.mine(registry.onDemandFeatureViews)) this.onDemand(odfv.spec as feastCore.OnDemandFeatureViewSpec);
    for (const service of this.mine(registry.featureServices)) this.featureService(service.spec as feastCore.FeatureServiceSpec);
    return { project: this.project, documents: this.documents, comments: this.comments, imported: this.imported, udfs: this.udfs, notes: this.notes };
  }

  private push(doc: Document): void {
    this.documents.push(doc);
    this.imported.push({ kind: doc.kind, name: String(doc.name) });
  }

  /** Records a source document under `name`; returns the name, or undefined when it cannot move. */
  private source(source: feastCore.DataSource, fallbackName: string): string | undefined {
    const name = source.name || fallbackName;
    if (this.sources.has(name)) return name;
    if (this.skippedSources.has(name)) return undefined;
    const common = {
      name,
      ...(source.timestampField !== '' && { timestamp_field: source.timestampField }),
      ...(source.createdTimestampColumn !== '' && { created_timestamp_column: source.createdTimestampColumn }),
      ...(source.datePartitionColumn !== '' && { date_partition_column: source.datePartitionColumn }),
      ...(Object.keys(source.fieldMapping).length > 0 && { field_mapping: sortedTags(source.fieldMapping) }),
      ...described(source),
    };
    const skip = (why: string): undefined => {
      this.skippedSources.set(name, why);
      this.notes.push(`data source '${name}' not imported: ${why}`);
      return undefined;
    };
    const options = source.options;
    let doc: Document | undefined;
    // Feast 0.67 writes a push source's type and batch source but leaves push_options unset.
    if (source.type === feastCore.DataSource_SourceType.PUSH_SOURCE || options.case === 'pushOptions') {
      const batch = source.batchSource !== undefined ? this.source(source.batchSource, `${name}_batch`) : undefined;
      this.sources.set(name, { kind: 'PushSource', ...common, ...(batch !== undefined && { batch_source: batch }) });
      return name;
    }
    switch (options.case) {
      case 'fileOptions': {
        const uri = options.value.uri;
        if (/^[a-z][\w+.-]*:\/\//i.test(uri) && !uri.startsWith('file://'))
          return skip(`its file ${uri} is remote; Larder's embedded engine reads local files (point a FileSource at a copy)`);
        let file = uri.replace(/^file:\/\//, '');
        if (!path.isAbsolute(file)) {
          if (this.options.feastRepo !== undefined) file = path.resolve(this.options.feastRepo, file);
          else
            this.notes.push(
              `data source '${name}': path ${file} is relative to the Feast repo; pass --feast-repo to make it absolute, or move the file under the new repo`,
            );
        }
        doc = { kind: 'FileSource', ...common, path: file, format: 'parquet' };
        break;
      }
      case 'bigqueryOptions':
        doc = { kind: 'BigQuerySource', ...common, ...tableOrQuery(options.value.table, options.value.query) };
        break;
      case 'customOptions': {
        if (!/PostgreSQLSource$/.test(source.dataSourceClassType))
          return skip(
            `${source.dataSourceClassType || 'a custom source'} has no Larder engine (file, BigQuery, PostgreSQL, Kafka, push and request sources move)`,
          );
        let config: { table?: unknown; query?: unknown };
        try {
          config = JSON.parse(Buffer.from(options.value.configuration).toString('utf8')) as typeof config;
        } catch (error) {
          throw new FeastRegistryError(`${this.where('data source', name)}: its PostgreSQL options are not JSON: ${(error as Error).message}`);
        }
        doc = {
          kind: 'PostgresSource',
          ...common,
          ...tableOrQuery(typeof config.table === 'string' ? config.table : '', typeof config.query === 'string' ? config.query : ''),
        };
        break;
      }
      case 'kafkaOptions': {
        const kafka = options.value;
        const format = kafka.messageFormat?.format;
        let messageFormat: Record<string, unknown>;
        if (format?.case === 'avroFormat') messageFormat = { avro: { inline_schema: format.value.schemaJson } };
        else if (format?.case === 'protoFormat') {
          messageFormat = { protobuf: { message_type: format.value.classPath, descriptor_set_file: `descriptors/${name}.binpb` } };
          this.notes.push(
            `data source '${name}': Feast names a Python class (${format.value.classPath}); write its FileDescriptorSet to ` +
              `descriptors/${name}.binpb (buf build -o) and set message_type to the message's full name`,
          );
        } else messageFormat = { json: {} };
        const batch = source.batchSource !== undefined ? this.source(source.batchSource, `${name}_batch`) : undefined;
        doc = {
          kind: 'KafkaSource',
          ...common,
          bootstrap_servers: kafka.kafkaBootstrapServers
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
          topic: kafka.topic,
          message_format: messageFormat,
          ...(kafka.watermarkDelayThreshold !== undefined && { watermark_delay: seconds(kafka.watermarkDelayThreshold) }),
          ...(batch !== undefined && { batch_source: batch }),
        };
        break;
      }
      case 'requestDataOptions':
        doc = { kind: 'RequestSource', name, schema: this.fields(options.value.schema, 'request source', name), ...described(source) };
        break;
      default:
        return skip(
          `Feast source type ${source.dataSourceClassType || String(source.type)} has no Larder engine (file, BigQuery, PostgreSQL, Kafka, push and request sources move)`,
        );
    }
    this.sources.set(name, doc);
    return name;
  }

  private viewSources(name: string, batch: feastCore.DataSource | undefined, stream: feastCore.DataSource | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    if (batch !== undefined) {
      const b = this.source(batch, `${name}_source`);
      if (b !== undefined) out['batch_source'] = b;
      else
        this.notes.push(
          `feature view '${name}' imported without its batch source '${batch.name}' (see above): it can be served and pushed to, not materialized`,
        );
    }
    if (stream !== undefined) {
      const s = this.source(stream, `${name}_stream`);
      if (s !== undefined) out['stream_source'] = s;
    }
    return out;
  }

  private entities(names: readonly string[]): string[] {
    return names.filter((e) => e !== DUMMY_ENTITY);
  }

  private featureView(spec: feastCore.FeatureViewSpec): Document {
    return {
      kind: 'FeatureView',
      name: spec.name,
      entities: this.entities(spec.entities),
      schema: this.fields(spec.features, 'feature view', spec.name),
      ...(spec.ttl !== undefined && seconds(spec.ttl) > 0 && { ttl: seconds(spec.ttl) }),
      ...(!spec.online && { online: false }),
      ...this.viewSources(spec.name, spec.batchSource, spec.streamSource),
      ...described(spec),
    };
  }

  private streamFeatureView(spec: feastCore.StreamFeatureViewSpec): Document {
    if (spec.userDefinedFunction !== undefined && spec.userDefinedFunction.bodyText !== '') {
      this.notes.push(
        `stream feature view '${spec.name}' imported as a feature view fed by its stream source; its Python ` +
          `transformation (${spec.userDefinedFunction.name}) does not move: map fields with the source's field_mapping, ` +
          `or transform before Kafka`,
      );
    }
    return {
      kind: 'FeatureView',
      name: spec.name,
      entities: this.entities(spec.entities),
      schema: this.fields(spec.features, 'stream feature view', spec.name),
      ...(spec.ttl !== undefined && seconds(spec.ttl) > 0 && { ttl: seconds(spec.ttl) }),
      ...(!spec.online && { online: false }),
      ...this.viewSources(spec.name, spec.batchSource, spec.streamSource),
      ...described(spec),
    };
  }

  private onDemand(spec: feastCore.OnDemandFeatureViewSpec): void {
    const sources: Record<string, unknown>[] = [];
    for (const [key, source] of Object.entries(spec.sources).sort(([a], [b]) => a.localeCompare(b))) {
      const s = source.source;
      if (s.case === 'featureViewProjection') sources.push({ feature_view: projection(s.value) });
      else if (s.case === 'featureView') sources.push({ feature_view: { feature_view: s.value.spec?.name ?? key } });
      else if (s.case === 'requestDataSource') {
        const name = this.source(s.value, key);
        if (name === undefined) throw new FeastRegistryError(`${this.where('on-demand feature view', spec.name)}: request source '${key}' cannot be imported`);
        if (!this.imported.some((o) => o.kind === 'RequestSource' && o.name === name)) this.push(this.sources.get(name) as Document);
        sources.push({ request_source: name });
      } else throw new FeastRegistryError(`${this.where('on-demand feature view', spec.name)}: source '${key}' is of no kind Larder knows`);
    }
    const udf =
      spec.featureTransformation?.transformation.case === 'userDefinedFunction' ? spec.featureTransformation.transformation.value : spec.userDefinedFunction;
    const python = udf?.bodyText ?? '';
    const outputs = spec.features.map((f) => ({
      name: f.name,
      value_type: this.valueType(f.valueType, 'on-demand feature view', spec.name, `feature '${f.name}'`),
      expression: celSkeleton(f.valueType as number as typesV1.ValueType, spec.name, f.name),
      ...(f.description !== '' && { description: f.description }),
    }));
    this.udfs.push({ view: spec.name, outputs: outputs.map((o) => o.name), python });
    const note =
      `Imported from Feast: its Python transformation (${udf?.name || 'unnamed'}, mode ${spec.mode || 'pandas'}) ` +
      `cannot run in Larder. Each output's expression is a CEL skeleton that fails every request until it is ` +
      `rewritten.`;
    this.comments.set(
      `OnDemandFeatureView/${spec.name}`,
      [
        `TODO(import-feast): rewrite in CEL (outputs: ${outputs.map((o) => o.name).join(', ')}). Feast's Python:`,
        ...(python === ''
          ? ['(Feast stored no source text)']
          : python
              .trimEnd()
              .split('\n')
              .map((l) => `  ${l}`)),
      ].join('\n'),
    );
    this.push({
      kind: 'OnDemandFeatureView',
      name: spec.name,
      sources,
      outputs,
      description: spec.description === '' ? note : `${spec.description} (${note})`,
      ...(spec.owner !== '' && { owner: spec.owner }),
      ...(Object.keys(spec.tags).length > 0 && { tags: sortedTags(spec.tags) }),
    });
  }

  private featureService(spec: feastCore.FeatureServiceSpec): void {
    this.push({ kind: 'FeatureService', name: spec.name, projections: spec.features.map(projection), ...described(spec) });
  }
}

function described(o: { description: string; owner?: string; tags: { [key: string]: string } }): Record<string, unknown> {
  return {
    ...(o.description !== '' && { description: o.description }),
    ...(o.owner !== undefined && o.owner !== '' && { owner: o.owner }),
    ...(Object.keys(o.tags).length > 0 && { tags: sortedTags(o.tags) }),
  };
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function sortedTags(map: { [key: string]: string }): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function tableOrQuery(table: string, query: string): { table: string } | { query: string } {
  return table !== '' ? { table } : { query };
}

function seconds(d: { seconds: bigint; nanos: number }): number {
  return Number(d.seconds) + d.nanos / 1e9;
}

function projection(p: feastCore.FeatureViewProjection): Record<string, unknown> {
  return {
    feature_view: p.featureViewName,
    ...(p.featureViewNameAlias !== '' && { alias: p.featureViewNameAlias }),
    ...(p.featureColumns.length > 0 && { features: p.featureColumns.map((f) => f.name) }),
    ...(Object.keys(p.joinKeyMap).length > 0 && { join_key_map: sortedTags(p.joinKeyMap) }),
  };
}

/**
 * A CEL expression of the output's type that type-checks (so plan and apply work) and
 * fails when evaluated, naming what to do: an imported view must not serve made-up
 * values before someone writes its logic.
 */
export function celSkeleton(type: typesV1.ValueType, view: string, output: string): string {
  const T = typesV1.ValueType;
  const todo = JSON.stringify(`rewrite ${view}.${output} from Feast's Python UDF in CEL`);
  const scalar = (t: typesV1.ValueType): string => {
    switch (t) {
      // double() of a non-number string is NaN, not an error: go through int().
      case T.DOUBLE:
      case T.FLOAT:
        return `double(int(${todo}))`;
      case T.INT64:
      case T.INT32:
      case T.UNIX_TIMESTAMP:
        return `int(${todo})`;
      case T.BOOL:
        return `bool(${todo})`;
      case T.STRING:
        return `string(int(${todo}))`;
      case T.BYTES:
        return `bytes(string(int(${todo})))`;
      default:
        return `double(int(${todo}))`;
    }
  };
  if (isListValueType(type)) return `[${scalar((type - (T.BYTES_LIST - T.BYTES)) as typesV1.ValueType)}]`;
  return scalar(type);
}
