import { ACTION_NAMES, OBJECT_TYPE_NAMES } from '@larder/core';
import { DURATION_PATTERN, VALUE_TYPE_SPELLINGS } from '@larder/sdk';

/**
 * The shape of a YAML document, declared once: the loader checks documents
 * against it and the JSON Schema for editors is generated from it, so the two
 * cannot disagree about which keys exist.
 */
export type Spec =
  | { type: 'string'; enum?: readonly string[]; pattern?: string; description?: string }
  | { type: 'boolean'; description?: string }
  | { type: 'duration'; description?: string }
  | { type: 'valueType'; description?: string }
  | { type: 'stringMap'; description?: string }
  | { type: 'list'; items: Spec; description?: string }
  /** A mapping checked by someone else (e.g. a TFDV schema, checked by protobuf's JSON parser). */
  | { type: 'mapping'; description?: string }
  | ObjectSpec;

export interface ObjectSpec {
  type: 'object';
  properties: Readonly<Record<string, Spec>>;
  required?: readonly string[];
  /** Exactly one of these keys must be present (a proto oneof). */
  exactlyOne?: readonly string[];
  description?: string;
}

const str = (description?: string): Spec => ({ type: 'string', ...(description === undefined ? {} : { description }) });
const tags: Spec = { type: 'stringMap', description: 'Key/value labels (string values).' };

const described = {
  description: str('Free text.'),
  tags,
  owner: str('Who to ask about this object.'),
};

const field: ObjectSpec = {
  type: 'object',
  properties: {
    name: str('Column name.'),
    value_type: { type: 'valueType', description: 'int64, double (float64), float (float32), string, bool, unix_timestamp, bytes, or <type>_list.' },
    description: str(),
    tags,
  },
  required: ['name', 'value_type'],
};

const projection: ObjectSpec = {
  type: 'object',
  properties: {
    feature_view: str('The view (or on-demand view) name.'),
    alias: str('Name used instead of the view in output names and CEL.'),
    features: { type: 'list', items: str(), description: 'Features to take; empty means all.' },
    join_key_map: { type: 'stringMap', description: "The view's join key -> the entity-row column carrying it." },
  },
  required: ['feature_view'],
};

const sourceCommon = {
  name: str('Source name, unique in the project.'),
  timestamp_field: str('Column holding each row’s event time.'),
  created_timestamp_column: str('Column holding when each row was written (breaks ties).'),
  field_mapping: { type: 'stringMap', description: 'Source column -> name used by entities and views.' } as Spec,
  date_partition_column: str(),
  ...described,
};

const tableOrQuery = {
  table: str('A table.'),
  query: str('A query whose result is the source.'),
};

const duration = (description: string): Spec => ({ type: 'duration', description });

/** Every document kind and its keys (besides `kind`), in proto field names. */
export const DOCUMENT_SPECS: Readonly<Record<string, ObjectSpec>> = {
  Project: {
    type: 'object',
    description: "The project's own metadata; name, when given, must equal larder.yaml's project.",
    properties: { name: str(), ...described },
  },
  Entity: {
    type: 'object',
    properties: {
      name: str('Entity name.'),
      join_key: str('Key column; defaults to the name.'),
      value_type: field.properties['value_type'] as Spec,
      ...described,
    },
    required: ['name', 'value_type'],
  },
  FileSource: {
    type: 'object',
    properties: {
      ...sourceCommon,
      path: str('A file, directory or glob, relative to the repo root.'),
      format: { type: 'string', enum: ['parquet', 'csv'] },
    },
    required: ['name', 'path'],
  },
  BigQuerySource: { type: 'object', properties: { ...sourceCommon, ...tableOrQuery }, required: ['name'], exactlyOne: ['table', 'query'] },
  PostgresSource: { type: 'object', properties: { ...sourceCommon, ...tableOrQuery }, required: ['name'], exactlyOne: ['table', 'query'] },
  KafkaSource: {
    type: 'object',
    properties: {
      ...sourceCommon,
      bootstrap_servers: { type: 'list', items: str(), description: 'Brokers as host:port.' },
      topic: str(),
      message_format: {
        type: 'object',
        properties: {
          json: { type: 'object', properties: {} },
          avro: {
            type: 'object',
            properties: { inline_schema: str('The Avro schema as JSON.'), schema_registry_url: str('A Confluent schema registry.') },
            exactlyOne: ['inline_schema', 'schema_registry_url'],
          },
          protobuf: {
            type: 'object',
            properties: {
              message_type: str('Fully qualified message type.'),
              descriptor_set_file: str('A serialized FileDescriptorSet (buf build -o), relative to the repo root.'),
            },
            required: ['message_type', 'descriptor_set_file'],
          },
        },
        exactlyOne: ['json', 'avro', 'protobuf'],
      },
      watermark_delay: duration('How late an event may arrive.'),
      batch_source: str('A batch source consumed rows are appended to.'),
      dead_letter_topic: str(),
      consumer_group: str(),
    },
    required: ['name', 'bootstrap_servers', 'topic', 'message_format'],
  },
  PushSource: {
    type: 'object',
    properties: { ...sourceCommon, batch_source: str('A batch source offline pushes append to.') },
    required: ['name'],
  },
  RequestSource: {
    type: 'object',
    properties: { name: str(), schema: { type: 'list', items: field }, ...described },
    required: ['name', 'schema'],
  },
  FeatureView: {
    type: 'object',
    properties: {
      name: str('View name.'),
      entities: { type: 'list', items: str(), description: 'Entity names.' },
      schema: { type: 'list', items: field, description: 'The features.' },
      ttl: duration("How long a value stays valid: seconds or '1d', '2h30m'; 0 means no limit."),
      online: { type: 'boolean' },
      offline: { type: 'boolean' },
      batch_source: str('The batch source rows are read from (materialization, historical retrieval); a stream-fed view may go without one.'),
      stream_source: str('A Kafka or push source keeping the view fresh.'),
      validation: {
        type: 'object',
        description: 'Data-quality expectations: a TFDV schema, checked at ingestion, materialization, training and serving.',
        properties: {
          schema_file: str('A TFDV schema file, relative to the repo root: text format (schema.pbtxt, as tfdv.write_schema_text writes it) or binary (.pb).'),
          schema: {
            type: 'mapping',
            description:
              'A TFDV schema inline, as protobuf JSON with proto field names: { feature: [{ name, type, presence: { min_fraction }, float_domain: { min, max } }] }.',
          },
          ingestion: {
            type: 'string',
            enum: ['dead_letter', 'count'],
            description: 'An event breaking the schema goes to the dead-letter topic (default) or is written and counted.',
          },
          materialization: {
            type: 'string',
            enum: ['fail', 'warn'],
            description: 'A batch breaking the schema fails the job before anything is written (default), or is written with a warning.',
          },
        },
      },
      ...described,
    },
    required: ['name', 'schema'],
  },
  OnDemandFeatureView: {
    type: 'object',
    properties: {
      name: str(),
      sources: {
        type: 'list',
        items: {
          type: 'object',
          properties: { request_source: str('A request source name.'), feature_view: projection },
          exactlyOne: ['request_source', 'feature_view'],
        },
      },
      outputs: {
        type: 'list',
        items: {
          type: 'object',
          properties: {
            name: str(),
            value_type: field.properties['value_type'] as Spec,
            expression: str('A CEL expression over the sources.'),
            description: str(),
            tags,
          },
          required: ['name', 'value_type', 'expression'],
        },
      },
      ...described,
    },
    required: ['name', 'sources', 'outputs'],
  },
  FeatureService: {
    type: 'object',
    properties: { name: str(), projections: { type: 'list', items: projection }, ...described },
    required: ['name', 'projections'],
  },
  Permission: {
    type: 'object',
    description: 'Grants actions on some of the project’s objects to some identities. Only allows; a project with no permissions is open to operators only.',
    properties: {
      name: str('Permission name, unique in the project.'),
      types: { type: 'list', items: { type: 'string', enum: OBJECT_TYPE_NAMES }, description: 'Object types covered; absent or empty: every type.' },
      name_patterns: { type: 'list', items: str(), description: "Globs over object names: '*' any run of characters, '?' one; absent or empty: every name." },
      required_tags: { type: 'stringMap', description: 'Objects must carry all of these tags with these values.' },
      actions: { type: 'list', items: { type: 'string', enum: ACTION_NAMES }, description: 'What is granted; at least one.' },
      policy: {
        type: 'object',
        description: 'Who is granted the actions: anyone matching one of the lists.',
        properties: {
          roles: { type: 'list', items: str(), description: 'Roles or groups from the caller’s token (its groups claim).' },
          users: { type: 'list', items: str(), description: 'Token subjects (sub).' },
          namespaces: { type: 'list', items: str(), description: 'Kubernetes namespaces: any service account in them.' },
          service_accounts: { type: 'list', items: str(), description: 'Kubernetes service accounts as <namespace>/<name>.' },
          certificate_subjects: { type: 'list', items: str(), description: 'Client-certificate common names or subject alternative names.' },
          any_authenticated: { type: 'boolean', description: 'Every authenticated caller.' },
        },
      },
      ...described,
    },
    required: ['name', 'actions', 'policy'],
  },
};

export const DOCUMENT_KINDS: readonly string[] = Object.keys(DOCUMENT_SPECS);

/** A path into a document: keys and list indexes. */
export type Segment = string | number;

export interface SpecProblem {
  path: Segment[];
  message: string;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Problems of a plain value against a spec: wrong types, unknown and missing keys. */
export function checkSpec(value: unknown, spec: Spec, path: Segment[] = []): SpecProblem[] {
  const wrong = (expected: string): SpecProblem[] => [{ path, message: `expected ${expected}, got ${describeValue(value)}` }];
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') return wrong('a string');
      if (spec.enum !== undefined && !spec.enum.includes(value)) return [{ path, message: `'${value}' is not one of ${spec.enum.join(', ')}` }];
      if (spec.pattern !== undefined && !new RegExp(spec.pattern).test(value)) return [{ path, message: `'${value}' does not match ${spec.pattern}` }];
      return [];
    case 'boolean':
      return typeof value === 'boolean' ? [] : wrong('true or false');
    case 'duration':
      if (typeof value === 'number' || (typeof value === 'string' && new RegExp(DURATION_PATTERN).test(value.trim()))) return [];
      return wrong("a duration (seconds, or units like '1d', '2h30m', '45s')");
    case 'valueType':
      if (typeof value !== 'string') return wrong('a value type name');
      return (VALUE_TYPE_SPELLINGS as readonly string[]).includes(value) ? [] : [{ path, message: `unknown value type '${value}'` }];
    case 'stringMap':
      if (!isPlainObject(value)) return wrong('a mapping of strings');
      return Object.entries(value).flatMap(([k, v]) =>
        typeof v === 'string' ? [] : [{ path: [...path, k], message: `expected a string, got ${describeValue(v)}` }],
      );
    case 'mapping':
      return isPlainObject(value) ? [] : wrong('a mapping');
    case 'list':
      if (!Array.isArray(value)) return wrong('a list');
      return value.flatMap((item, i) => checkSpec(item, spec.items, [...path, i]));
    case 'object':
      return checkObject(value, spec, path);
  }
}

function checkObject(value: unknown, spec: ObjectSpec, path: Segment[]): SpecProblem[] {
  if (!isPlainObject(value)) return [{ path, message: `expected a mapping, got ${describeValue(value)}` }];
  const problems: SpecProblem[] = [];
  for (const [key, v] of Object.entries(value)) {
    const child = spec.properties[key];
    if (child === undefined) {
      const known = Object.keys(spec.properties);
      problems.push({ path: [...path, key], message: `unknown key '${key}'${known.length > 0 ? ` (expected one of ${known.join(', ')})` : ''}` });
    } else {
      problems.push(...checkSpec(v, child, [...path, key]));
    }
  }
  for (const key of spec.required ?? []) {
    if (!(key in value)) problems.push({ path, message: `missing required key '${key}'` });
  }
  if (spec.exactlyOne !== undefined) {
    const present = spec.exactlyOne.filter((k) => k in value);
    if (present.length !== 1) {
      problems.push({ path, message: `set exactly one of ${spec.exactlyOne.join(', ')}${present.length > 1 ? ` (got ${present.join(', ')})` : ''}` });
    }
  }
  return problems;
}
