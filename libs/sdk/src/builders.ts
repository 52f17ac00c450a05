import { create, fromBinary, fromJson, type JsonValue } from '@bufbuild/protobuf';
import { ACTION_NAMES, OBJECT_TYPE_NAMES, actionName, objectTypeName, parseActionName, parseObjectTypeName } from '@larder/core';
import type { ActionName, ObjectTypeName } from '@larder/core';
import { registryV1, tfmdV0, typesV1 } from '@larder/proto';
import { schemaFromText } from '@larder/validation';
import { captureCallsite, DefinitionError, markDefinition, type Callsite, type DefinitionKind } from './definition';
import { durationSeconds, durationFromSeconds, type DurationInput } from './duration';
import { lookupValueType, type ValueTypeInput } from './value-type';

/** Key/value labels. */
export type Tags = Readonly<Record<string, string>>;

/** Metadata every object can carry. */
export interface DescribedInput {
  description?: string;
  tags?: Tags;
  owner?: string;
}

/** A typed column: a feature of a view or a field of a request source. */
export interface FieldInput {
  name: string;
  valueType: ValueTypeInput;
  description?: string;
  tags?: Tags;
}

export interface ProjectInput extends DescribedInput {
  name: string;
}

export interface EntityInput extends DescribedInput {
  name: string;
  /** The key column; empty or absent means the entity's name. */
  joinKey?: string;
  valueType: ValueTypeInput;
}

/** Fields shared by batch and stream sources. */
export interface SourceInput extends DescribedInput {
  name: string;
  timestampField?: string;
  createdTimestampColumn?: string;
  fieldMapping?: Tags;
  datePartitionColumn?: string;
}

export interface FileSourceInput extends SourceInput {
  path: string;
  format?: 'parquet' | 'csv';
}

/** A table or a query, exactly one of them. */
export type TableOrQuery = { table: string; query?: never } | { query: string; table?: never };

export type BigQuerySourceInput = SourceInput & TableOrQuery;
export type PostgresSourceInput = SourceInput & TableOrQuery;

export type KafkaMessageFormatInput =
  | 'json'
  | { json: Record<string, never> }
  | { avro: { inlineSchema: string } | { schemaRegistryUrl: string } }
  | { protobuf: { messageType: string; descriptorSet: Uint8Array } };

/** A data source by name or the object itself. */
export type SourceRef = string | registryV1.DataSource;

export interface KafkaSourceInput extends SourceInput {
  bootstrapServers: readonly string[];
  topic: string;
  messageFormat: KafkaMessageFormatInput;
  watermarkDelay?: DurationInput;
  batchSource?: SourceRef;
  deadLetterTopic?: string;
  consumerGroup?: string;
}

export interface PushSourceInput extends SourceInput {
  batchSource?: SourceRef;
}

export interface RequestSourceInput extends DescribedInput {
  name: string;
  schema: readonly FieldInput[];
}

export interface FeatureViewInput extends DescribedInput {
  name: string;
  entities?: readonly (string | registryV1.Entity)[];
  schema: readonly FieldInput[];
  /** Seconds or a duration string such as '1d'; absent or 0 means no limit. */
  ttl?: DurationInput;
  online?: boolean;
  offline?: boolean;
  /** Where materialization and historical retrieval read; a stream-fed view may go without one. */
  batchSource?: SourceRef;
  streamSource?: SourceRef;
  /** Data-quality expectations (a TFDV schema) and what to do with data that breaks them. */
  validation?: FeatureViewValidationInput;
}

/**
 * A TFDV schema for the view's features: the message itself, its text format
 * (the content of a schema.pbtxt), its binary form (a schema.pb), or its
 * protobuf JSON with proto field names (`{ feature: [{ name, presence: { min_fraction: 1 } }] }`).
 */
export type TfdvSchemaInput = tfmdV0.Schema | string | Uint8Array | { readonly [key: string]: JsonValue };

export interface FeatureViewValidationInput {
  schema?: TfdvSchemaInput;
  /** An event breaking the schema: to the dead-letter topic with the reason (default), or written and counted. */
  ingestion?: 'dead_letter' | 'count';
  /** A batch whose statistics break the schema: the job fails before writing (default), or writes and warns. */
  materialization?: 'fail' | 'warn';
}

/** A view by name or the object itself. */
export type ViewRef = string | registryV1.FeatureView | registryV1.OnDemandFeatureView;

/** A selection of a view's features. */
export interface ProjectionInput {
  featureView: ViewRef;
  alias?: string;
  /** Absent or empty means all of the view's features. */
  features?: readonly string[];
  joinKeyMap?: Tags;
}

export type OnDemandSourceInput =
  registryV1.DataSource | registryV1.FeatureView | registryV1.OnDemandFeatureView | { requestSource: SourceRef } | { featureView: ProjectionInput };

export interface OnDemandOutputInput {
  name: string;
  valueType: ValueTypeInput;
  /** CEL over the sources, e.g. `driver_hourly_stats.conv_rate + vals_to_add.val_to_add`. */
  expression: string;
  description?: string;
  tags?: Tags;
}

export interface OnDemandFeatureViewInput extends DescribedInput {
  name: string;
  sources: readonly OnDemandSourceInput[];
  outputs: readonly OnDemandOutputInput[];
}

export interface FeatureServiceInput extends DescribedInput {
  name: string;
  /** Whole views, or selections of their features, in output order. */
  projections: readonly (registryV1.FeatureView | registryV1.OnDemandFeatureView | ProjectionInput)[];
}

/** Who a permission grants its actions to; see Policy in permission.proto. */
export interface PolicyInput {
  /** Roles or groups from the caller's token (its groups claim). */
  roles?: readonly string[];
  /** Token subjects (`sub`). */
  users?: readonly string[];
  /** Kubernetes namespaces: any service account in them. */
  namespaces?: readonly string[];
  /** Kubernetes service accounts as `<namespace>/<name>`. */
  serviceAccounts?: readonly string[];
  /** Client-certificate common names or subject alternative names. */
  certificateSubjects?: readonly string[];
  /** Every authenticated caller. */
  anyAuthenticated?: boolean;
}

export interface PermissionInput extends DescribedInput {
  name: string;
  /** Object types covered (`feature_view`, ...); absent or empty: every type. */
  types?: readonly (ObjectTypeName | registryV1.ObjectKind)[];
  /** Globs over object names (`*`, `?`); absent or empty: every name. */
  namePatterns?: readonly string[];
  /** Objects must carry all of these tags. */
  requiredTags?: Tags;
  /** What is granted: `describe`, `read_online`, ... */
  actions: readonly (ActionName | registryV1.Action)[];
  policy: PolicyInput;
}

/** Builds one object and turns bad input into a DefinitionError naming the field. */
class Builder {
  readonly callsite: Callsite | undefined = captureCallsite();
  constructor(
    readonly kind: DefinitionKind,
    readonly name: string,
  ) {}

  fail(field: string, reason: string): never {
    throw new DefinitionError(this.kind, this.name, field, reason, this.callsite);
  }

  valueType(input: ValueTypeInput, field: string): typesV1.ValueType {
    if (typeof input === 'number') {
      if (typesV1.ValueType[input] === undefined) this.fail(field, `${input} is not a value type`);
      return input;
    }
    const type = lookupValueType(input);
    if (type === undefined) this.fail(field, `unknown value type '${String(input)}'`);
    return type;
  }

  duration(input: DurationInput, field: string) {
    const seconds = durationSeconds(input);
    if (seconds === undefined) this.fail(field, `'${String(input)}' is not a duration: use seconds or units like '1d', '2h30m', '45s'`);
    return durationFromSeconds(seconds);
  }

  fields(inputs: readonly FieldInput[], field: string): registryV1.Field[] {
    return inputs.map((f, i) =>
      create(registryV1.FieldSchema, {
        name: f.name,
        valueType: this.valueType(f.valueType, `${field}[${i}].value_type`),
        description: f.description ?? '',
        tags: { ...f.tags },
      }),
    );
  }

  ref(input: string | { $typeName: string; name: string }, expected: readonly string[], field: string): string {
    if (typeof input === 'string') return input;
    if (!expected.includes(input.$typeName)) this.fail(field, `expected a name or a ${expected.join(' or ')}, got a ${input.$typeName}`);
    return input.name;
  }

  tfdvSchema(input: TfdvSchemaInput, field: string): tfmdV0.Schema {
    try {
      if (typeof input === 'string') return schemaFromText(input);
      if (input instanceof Uint8Array) return fromBinary(tfmdV0.SchemaSchema, input);
      if ('$typeName' in input && input['$typeName'] === tfmdV0.SchemaSchema.typeName) return input as tfmdV0.Schema;
      return fromJson(tfmdV0.SchemaSchema, input as JsonValue);
    } catch (error) {
      return this.fail(field, `not a TFDV schema: ${(error as Error).message}`);
    }
  }

  validation(input: FeatureViewValidationInput): registryV1.FeatureViewValidation {
    const policies = {
      ingestion: { dead_letter: registryV1.IngestionValidationPolicy.DEAD_LETTER, count: registryV1.IngestionValidationPolicy.COUNT },
      materialization: { fail: registryV1.MaterializationValidationPolicy.FAIL, warn: registryV1.MaterializationValidationPolicy.WARN },
    };
    const policy = <K extends keyof typeof policies>(key: K, value: string | undefined): number => {
      if (value === undefined) return 0;
      const found = (policies[key] as Record<string, number>)[value];
      if (found === undefined) this.fail(`validation.${key}`, `'${value}' is not one of ${Object.keys(policies[key]).join(', ')}`);
      return found;
    };
    return create(registryV1.FeatureViewValidationSchema, {
      ...(input.schema === undefined ? {} : { schema: this.tfdvSchema(input.schema, 'validation.schema') }),
      ingestion: policy('ingestion', input.ingestion),
      materialization: policy('materialization', input.materialization),
    });
  }

  /** A name (`read_online`) or a defined enum number, else a DefinitionError listing the names. */
  enumValue<E extends number>(
    input: string | E,
    field: string,
    what: string,
    parse: (text: string) => E | undefined,
    nameOf: (value: E) => string | undefined,
    names: readonly string[],
  ): E {
    const value = typeof input === 'number' ? (nameOf(input) === undefined ? undefined : input) : parse(input);
    if (value === undefined) this.fail(field, `${JSON.stringify(input)} is not ${what}; use one of ${names.join(', ')}`);
    return value;
  }

  mark<T extends Parameters<typeof markDefinition>[0]>(message: T): T {
    return markDefinition(message, this.kind, this.callsite);
  }
}

const DATA_SOURCE = ['larder.registry.v1.DataSource'];
const ENTITY = ['larder.registry.v1.Entity'];
const VIEWS = ['larder.registry.v1.FeatureView', 'larder.registry.v1.OnDemandFeatureView'];

function described(input: DescribedInput) {
  return { description: input.description ?? '', tags: { ...input.tags }, owner: input.owner ?? '' };
}

function sourceCommon(input: SourceInput) {
  return {
    name: input.name,
    timestampField: input.timestampField ?? '',
    createdTimestampColumn: input.createdTimestampColumn ?? '',
    fieldMapping: { ...input.fieldMapping },
    datePartitionColumn: input.datePartitionColumn ?? '',
    ...described(input),
  };
}

/** The project's own metadata (its name must match larder.yaml's `project`). */
export function defineProject(input: ProjectInput): registryV1.Project {
  const b = new Builder('project', input.name);
  return b.mark(create(registryV1.ProjectSchema, { name: input.name, ...described(input) }));
}

export function defineEntity(input: EntityInput): registryV1.Entity {
  const b = new Builder('entity', input.name);
  return b.mark(
    create(registryV1.EntitySchema, {
      name: input.name,
      joinKey: input.joinKey ?? '',
      valueType: b.valueType(input.valueType, 'value_type'),
      ...described(input),
    }),
  );
}

export function defineFileSource(input: FileSourceInput): registryV1.DataSource {
  const b = new Builder('data-source', input.name);
  const format =
    input.format === undefined
      ? registryV1.FileFormat.UNSPECIFIED
      : input.format === 'parquet'
        ? registryV1.FileFormat.PARQUET
        : input.format === 'csv'
          ? registryV1.FileFormat.CSV
          : b.fail('format', `unknown file format '${String(input.format)}' (parquet or csv)`);
  return b.mark(
    create(registryV1.DataSourceSchema, {
      ...sourceCommon(input),
      kind: { case: 'file', value: { path: input.path, format } },
    }),
  );
}

function tableOrQuery(b: Builder, input: TableOrQuery) {
  const hasTable = typeof input.table === 'string';
  const hasQuery = typeof input.query === 'string';
  if (hasTable === hasQuery) b.fail(hasTable ? 'query' : 'table', 'set exactly one of table and query');
  return hasTable
    ? { location: { case: 'table' as const, value: input.table as string } }
    : { location: { case: 'query' as const, value: input.query as string } };
}

export function defineBigQuerySource(input: BigQuerySourceInput): registryV1.DataSource {
  const b = new Builder('data-source', input.name);
  return b.mark(
    create(registryV1.DataSourceSchema, {
      ...sourceCommon(input),
      kind: { case: 'bigquery', value: tableOrQuery(b, input) },
    }),
  );
}

export function definePostgresSource(input: PostgresSourceInput): registryV1.DataSource {
  const b = new Builder('data-source', input.name);
  return b.mark(
    create(registryV1.DataSourceSchema, {
      ...sourceCommon(input),
      kind: { case: 'postgres', value: tableOrQuery(b, input) },
    }),
  );
}

function messageFormat(b: Builder, input: KafkaMessageFormatInput): registryV1.KafkaMessageFormat {
  const field = 'kind.kafka.message_format';
  if (input === 'json' || (typeof input === 'object' && 'json' in input)) {
    return create(registryV1.KafkaMessageFormatSchema, { format: { case: 'json', value: {} } });
  }
  if (typeof input === 'object' && 'avro' in input) {
    const avro = input.avro;
    const schema =
      'inlineSchema' in avro
        ? { case: 'inlineSchema' as const, value: avro.inlineSchema }
        : 'schemaRegistryUrl' in avro
          ? { case: 'schemaRegistryUrl' as const, value: avro.schemaRegistryUrl }
          : b.fail(`${field}.avro`, 'set inline_schema or schema_registry_url');
    return create(registryV1.KafkaMessageFormatSchema, { format: { case: 'avro', value: { schema } } });
  }
  if (typeof input === 'object' && 'protobuf' in input) {
    return create(registryV1.KafkaMessageFormatSchema, {
      format: { case: 'protobuf', value: { messageType: input.protobuf.messageType, descriptorSet: input.protobuf.descriptorSet } },
    });
  }
  return b.fail(field, 'expected json, avro or protobuf');
}

export function defineKafkaSource(input: KafkaSourceInput): registryV1.DataSource {
  const b = new Builder('data-source', input.name);
  return b.mark(
    create(registryV1.DataSourceSchema, {
      ...sourceCommon(input),
      kind: {
        case: 'kafka',
        value: {
          bootstrapServers: [...input.bootstrapServers],
          topic: input.topic,
          messageFormat: messageFormat(b, input.messageFormat),
          ...(input.watermarkDelay === undefined ? {} : { watermarkDelay: b.duration(input.watermarkDelay, 'kind.kafka.watermark_delay') }),
          batchSource: input.batchSource === undefined ? '' : b.ref(input.batchSource, DATA_SOURCE, 'kind.kafka.batch_source'),
          deadLetterTopic: input.deadLetterTopic ?? '',
          consumerGroup: input.consumerGroup ?? '',
        },
      },
    }),
  );
}

export function definePushSource(input: PushSourceInput): registryV1.DataSource {
  const b = new Builder('data-source', input.name);
  return b.mark(
    create(registryV1.DataSourceSchema, {
      ...sourceCommon(input),
      kind: {
        case: 'push',
        value: { batchSource: input.batchSource === undefined ? '' : b.ref(input.batchSource, DATA_SOURCE, 'kind.push.batch_source') },
      },
    }),
  );
}

export function defineRequestSource(input: RequestSourceInput): registryV1.DataSource {
  const b = new Builder('data-source', input.name);
  return b.mark(
    create(registryV1.DataSourceSchema, {
      name: input.name,
      ...described(input),
      kind: { case: 'request', value: { schema: b.fields(input.schema, 'kind.request.schema') } },
    }),
  );
}

export function defineFeatureView(input: FeatureViewInput): registryV1.FeatureView {
  const b = new Builder('feature-view', input.name);
  return b.mark(
    create(registryV1.FeatureViewSchema, {
      name: input.name,
      entities: (input.entities ?? []).map((e, i) => b.ref(e, ENTITY, `entities[${i}]`)),
      schema: b.fields(input.schema, 'schema'),
      ...(input.ttl === undefined ? {} : { ttl: b.duration(input.ttl, 'ttl') }),
      ...(input.online === undefined ? {} : { online: input.online }),
      ...(input.offline === undefined ? {} : { offline: input.offline }),
      batchSource: input.batchSource === undefined ? '' : b.ref(input.batchSource, DATA_SOURCE, 'batch_source'),
      streamSource: input.streamSource === undefined ? '' : b.ref(input.streamSource, DATA_SOURCE, 'stream_source'),
      ...described(input),
      ...(input.validation === undefined ? {} : { validation: b.validation(input.validation) }),
    }),
  );
}

function isMessage(value: object): value is { $typeName: string; name: string } {
  return '$typeName' in value;
}

function projection(b: Builder, input: registryV1.FeatureView | registryV1.OnDemandFeatureView | ProjectionInput, field: string) {
  if (isMessage(input)) {
    return create(registryV1.FeatureViewProjectionSchema, { featureView: b.ref(input, VIEWS, `${field}.feature_view`) });
  }
  return create(registryV1.FeatureViewProjectionSchema, {
    featureView: b.ref(input.featureView, VIEWS, `${field}.feature_view`),
    alias: input.alias ?? '',
    features: [...(input.features ?? [])],
    joinKeyMap: { ...input.joinKeyMap },
  });
}

function onDemandSource(b: Builder, input: OnDemandSourceInput, field: string): registryV1.OnDemandSource {
  if (isMessage(input)) {
    if (input.$typeName === 'larder.registry.v1.DataSource') {
      return create(registryV1.OnDemandSourceSchema, { source: { case: 'requestSource', value: input.name } });
    }
    return create(registryV1.OnDemandSourceSchema, { source: { case: 'featureView', value: projection(b, input, `${field}.feature_view`) } });
  }
  if ('requestSource' in input) {
    return create(registryV1.OnDemandSourceSchema, {
      source: { case: 'requestSource', value: b.ref(input.requestSource, DATA_SOURCE, `${field}.request_source`) },
    });
  }
  return create(registryV1.OnDemandSourceSchema, {
    source: { case: 'featureView', value: projection(b, input.featureView, `${field}.feature_view`) },
  });
}

export function defineOnDemandFeatureView(input: OnDemandFeatureViewInput): registryV1.OnDemandFeatureView {
  const b = new Builder('on-demand-feature-view', input.name);
  return b.mark(
    create(registryV1.OnDemandFeatureViewSchema, {
      name: input.name,
      sources: input.sources.map((s, i) => onDemandSource(b, s, `sources[${i}]`)),
      outputs: input.outputs.map((o, i) =>
        create(registryV1.OnDemandOutputSchema, {
          name: o.name,
          valueType: b.valueType(o.valueType, `outputs[${i}].value_type`),
          expression: o.expression,
          description: o.description ?? '',
          tags: { ...o.tags },
        }),
      ),
      ...described(input),
    }),
  );
}

export function defineFeatureService(input: FeatureServiceInput): registryV1.FeatureService {
  const b = new Builder('feature-service', input.name);
  return b.mark(
    create(registryV1.FeatureServiceSchema, {
      name: input.name,
      projections: input.projections.map((p, i) => projection(b, p, `projections[${i}]`)),
      ...described(input),
    }),
  );
}

/** Grants `actions` on the project's objects of `types` matching `namePatterns` and `requiredTags` to the identities of `policy`. */
export function definePermission(input: PermissionInput): registryV1.Permission {
  const b = new Builder('permission', input.name);
  const policy = input.policy;
  return b.mark(
    create(registryV1.PermissionSchema, {
      name: input.name,
      types: (input.types ?? []).map((t, i) => b.enumValue(t, `types[${i}]`, 'an object type', parseObjectTypeName, objectTypeName, OBJECT_TYPE_NAMES)),
      namePatterns: [...(input.namePatterns ?? [])],
      requiredTags: { ...input.requiredTags },
      actions: input.actions.map((a, i) => b.enumValue(a, `actions[${i}]`, 'an action', parseActionName, actionName, ACTION_NAMES)),
      policy: {
        roles: [...(policy.roles ?? [])],
        users: [...(policy.users ?? [])],
        namespaces: [...(policy.namespaces ?? [])],
        serviceAccounts: [...(policy.serviceAccounts ?? [])],
        certificateSubjects: [...(policy.certificateSubjects ?? [])],
        anyAuthenticated: policy.anyAuthenticated ?? false,
      },
      ...described(input),
    }),
  );
}
