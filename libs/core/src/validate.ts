import { registryV1, typesV1 } from '@larder/proto';
import { checkOnDemandView } from './cel/compile';
import { onDemandInputs } from './cel/inputs';
import { tryParseFeatureRef } from './feature-ref';
import { kindLabel } from './kinds';
import { permissionProblems } from './permission-checks';
import type { RegistryIssue, RegistrySet } from './registry-set';
import { knownList } from './suggest';
import { sourceQueryProblem } from './source-query';
import { validationSchemaProblems } from './validation-schema';
import { isListValueType, isUsableValueType, VALUE_TYPE_NAMES, valueTypeName } from './value-types';

const { ObjectKind } = registryV1;

// Names that become columns, CEL variables and output names (`view__feature`).
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Services and datasets are only ever named, never used as columns or variables.
const LOOSE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
// Feast's rule (feast.repo_operations.is_valid_name): word characters in any script and
// hyphens, not starting with '_' or '-'; `larder-compat` shares Redis with a Feast project.
const PROJECT_NAME = /^(?![_-])[\p{L}\p{N}_-]+$/u;
export const PROJECT_NAME_RULE = "letters, digits, underscores and hyphens, not starting with '_' or '-' (as Feast allows)";

/** Whether Feast would accept `name` as a project name; Larder accepts the same ones. */
export function isValidProjectName(name: string): boolean {
  return PROJECT_NAME.test(name);
}

const BATCH_KINDS = new Set(['file', 'bigquery', 'postgres']);
const STREAM_KINDS = new Set(['kafka', 'push']);
const KIND_CHOICES = 'file, bigquery, postgres, kafka, push, request';

/** A view that features can be read from: a feature view or an on-demand one. */
interface ViewFeatures {
  kind: registryV1.ObjectKind;
  features: Map<string, typesV1.ValueType>;
  joinKeys: string[];
}

class Checker {
  readonly issues: RegistryIssue[] = [];
  readonly entities = new Map<string, registryV1.Entity>();
  readonly sources = new Map<string, registryV1.DataSource>();
  readonly views = new Map<string, ViewFeatures>();
  readonly services = new Set<string>();

  constructor(readonly set: RegistrySet) {}

  add(kind: registryV1.ObjectKind, name: string, field: string, message: string): void {
    this.issues.push({ kind, name, field, message });
  }

  /** An issue whose message starts with the object, e.g. "feature view 'x' ...". */
  about(kind: registryV1.ObjectKind, name: string, field: string, rest: string): void {
    this.add(kind, name, field, `${kindLabel(kind)} '${name}' ${rest}`);
  }
}

/**
 * Checks one project's definitions as a whole: names, duplicates, references
 * between objects, feature schemas, ttl, source kinds, and the CEL of
 * on-demand views. Returns every problem found (empty when the set is valid),
 * in definition order, each naming the object, the field path and what to do.
 */
export function validateRegistrySet(set: RegistrySet): RegistryIssue[] {
  const c = new Checker(set);
  checkProject(c);
  indexObjects(c);
  set.entities.forEach((e) => checkEntity(c, e));
  set.dataSources.forEach((s) => checkDataSource(c, s));
  set.featureViews.forEach((v) => checkFeatureView(c, v));
  set.onDemandFeatureViews.forEach((v) => checkOnDemandFeatureView(c, v));
  checkOnDemandCycles(c);
  set.featureServices.forEach((s) => checkFeatureService(c, s));
  set.savedDatasets.forEach((d) => checkSavedDataset(c, d));
  set.permissions.forEach((p) => checkPermission(c, p));
  return c.issues;
}

function checkProject(c: Checker): void {
  const name = c.set.project.name;
  if (name === '') {
    c.add(ObjectKind.PROJECT, name, 'name', `the project has no name; set one (${PROJECT_NAME_RULE})`);
  } else if (!PROJECT_NAME.test(name)) {
    c.about(ObjectKind.PROJECT, name, 'name', `has an invalid name; use ${PROJECT_NAME_RULE}`);
  }
}

function checkName(c: Checker, kind: registryV1.ObjectKind, name: string, index: number, pattern: RegExp): boolean {
  if (name === '') {
    c.add(kind, name, 'name', `${kindLabel(kind)} #${index + 1} has no name; every ${kindLabel(kind)} needs one`);
    return false;
  }
  if (!pattern.test(name)) {
    const allowed =
      pattern === IDENTIFIER
        ? 'letters, digits and underscores, not starting with a digit'
        : 'letters, digits, underscores, dots and hyphens, starting with a letter or underscore';
    c.about(kind, name, 'name', `has an invalid name; use ${allowed}`);
  }
  return true;
}

/** Registers every named object, reporting empty, invalid and duplicate names. */
function indexObjects(c: Checker): void {
  const seen = new Map<string, Set<string>>();
  const unique = (kind: registryV1.ObjectKind, name: string, namespace: string, what: string): boolean => {
    const names = seen.get(namespace) ?? new Set<string>();
    seen.set(namespace, names);
    if (names.has(name)) {
      c.about(kind, name, 'name', `is defined more than once; ${what} names must be unique in the project`);
      return false;
    }
    names.add(name);
    return true;
  };

  c.set.entities.forEach((e, i) => {
    if (checkName(c, ObjectKind.ENTITY, e.name, i, IDENTIFIER) && unique(ObjectKind.ENTITY, e.name, 'entity', 'entity')) c.entities.set(e.name, e);
  });
  c.set.dataSources.forEach((s, i) => {
    if (checkName(c, ObjectKind.DATA_SOURCE, s.name, i, IDENTIFIER) && unique(ObjectKind.DATA_SOURCE, s.name, 'source', 'data source'))
      c.sources.set(s.name, s);
  });
  c.set.featureViews.forEach((v, i) => {
    if (!checkName(c, ObjectKind.FEATURE_VIEW, v.name, i, IDENTIFIER)) return;
    if (!unique(ObjectKind.FEATURE_VIEW, v.name, 'view', 'feature view and on-demand feature view')) return;
    c.views.set(v.name, {
      kind: ObjectKind.FEATURE_VIEW,
      features: new Map(v.schema.map((f) => [f.name, f.valueType])),
      joinKeys: v.entities.flatMap((name) => {
        const entity = c.entities.get(name);
        return entity === undefined ? [] : [joinKeyOf(entity)];
      }),
    });
  });
  c.set.onDemandFeatureViews.forEach((v, i) => {
    if (!checkName(c, ObjectKind.ON_DEMAND_FEATURE_VIEW, v.name, i, IDENTIFIER)) return;
    if (!unique(ObjectKind.ON_DEMAND_FEATURE_VIEW, v.name, 'view', 'feature view and on-demand feature view')) return;
    c.views.set(v.name, { kind: ObjectKind.ON_DEMAND_FEATURE_VIEW, features: new Map(v.outputs.map((o) => [o.name, o.valueType])), joinKeys: [] });
  });
  c.set.featureServices.forEach((s, i) => {
    if (checkName(c, ObjectKind.FEATURE_SERVICE, s.name, i, LOOSE_NAME) && unique(ObjectKind.FEATURE_SERVICE, s.name, 'service', 'feature service'))
      c.services.add(s.name);
  });
  c.set.savedDatasets.forEach((d, i) => {
    if (checkName(c, ObjectKind.SAVED_DATASET, d.name, i, LOOSE_NAME)) unique(ObjectKind.SAVED_DATASET, d.name, 'dataset', 'saved dataset');
  });
  c.set.permissions.forEach((p, i) => {
    if (checkName(c, ObjectKind.PERMISSION, p.name, i, LOOSE_NAME)) unique(ObjectKind.PERMISSION, p.name, 'permission', 'permission');
  });
}

/** The column an entity's key is carried in. */
export function joinKeyOf(entity: registryV1.Entity): string {
  return entity.joinKey === '' ? entity.name : entity.joinKey;
}

function checkValueType(c: Checker, kind: registryV1.ObjectKind, name: string, field: string, what: string, type: typesV1.ValueType): void {
  if (type === typesV1.ValueType.UNSPECIFIED) {
    c.about(kind, name, field, `${what} has no value type; set one of ${VALUE_TYPE_NAMES.join(', ')}`);
  } else if (!isUsableValueType(type)) {
    c.about(kind, name, field, `${what} has value type ${valueTypeName(type)}, which cannot be declared; use one of ${VALUE_TYPE_NAMES.join(', ')}`);
  }
}

function checkEntity(c: Checker, e: registryV1.Entity): void {
  if (e.name === '') return;
  const K = ObjectKind.ENTITY;
  if (e.joinKey !== '' && !IDENTIFIER.test(e.joinKey)) {
    c.about(K, e.name, 'join_key', `has an invalid join key '${e.joinKey}'; use letters, digits and underscores, not starting with a digit`);
  }
  checkValueType(c, K, e.name, 'value_type', 'its join key', e.valueType);
  if (isListValueType(e.valueType)) {
    c.about(K, e.name, 'value_type', `has a list join key type (${valueTypeName(e.valueType)}); join keys must be scalars such as int64 or string`);
  }
}

/** Checks a list of named, typed fields (a view's schema, a request source's schema). */
function checkFields(
  c: Checker,
  kind: registryV1.ObjectKind,
  name: string,
  path: string,
  fields: ReadonlyArray<{ name: string; valueType: typesV1.ValueType }>,
  noun: string,
  types = true,
): Set<string> {
  const names = new Set<string>();
  fields.forEach((f, i) => {
    const at = `${path}[${i}]`;
    if (f.name === '') {
      c.about(kind, name, `${at}.name`, `has ${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun} with no name (${path} entry #${i + 1})`);
      return;
    }
    if (!IDENTIFIER.test(f.name)) {
      c.about(kind, name, `${at}.name`, `has ${noun} '${f.name}' with an invalid name; use letters, digits and underscores, not starting with a digit`);
    }
    if (names.has(f.name)) {
      c.about(kind, name, `${at}.name`, `declares ${noun} '${f.name}' more than once`);
    }
    names.add(f.name);
    if (types) checkValueType(c, kind, name, `${at}.value_type`, `${noun} '${f.name}'`, f.valueType);
  });
  return names;
}

function sourceKindOf(s: registryV1.DataSource | undefined): string | undefined {
  return s?.kind.case;
}

/** Checks that `ref` names a data source of one of `kinds`. */
function checkSourceRef(c: Checker, kind: registryV1.ObjectKind, name: string, field: string, ref: string, kinds: ReadonlySet<string>, role: string): void {
  const source = c.sources.get(ref);
  if (source === undefined) {
    const candidates = [...c.sources.values()].filter((s) => kinds.has(sourceKindOf(s) ?? '')).map((s) => s.name);
    c.about(kind, name, field, `references data source '${ref}', which is not defined${knownList(`${role} sources`, ref, candidates)}`);
    return;
  }
  const actual = sourceKindOf(source);
  if (actual !== undefined && !kinds.has(actual)) {
    c.about(
      kind,
      name,
      field,
      `uses data source '${ref}' as its ${role} source, but '${ref}' is a ${actual} source; a ${role} source must be ${[...kinds].join(', ')}`,
    );
  }
}

function checkDataSource(c: Checker, s: registryV1.DataSource): void {
  if (s.name === '') return;
  const K = ObjectKind.DATA_SOURCE;
  const kind = s.kind;
  if (kind.case === undefined) {
    c.about(K, s.name, 'kind', `has no kind; set one of ${KIND_CHOICES}`);
    return;
  }
  for (const [from, to] of Object.entries(s.fieldMapping)) {
    if (from === '' || to === '') c.about(K, s.name, `field_mapping.${from}`, 'has a field_mapping entry with an empty column name');
  }
  const needsTimestamp = kind.case !== 'request' && !(kind.case === 'push' && kind.value.batchSource !== '');
  if (needsTimestamp && s.timestampField === '') {
    c.about(K, s.name, 'timestamp_field', `is a ${kind.case} source without a timestamp_field; name the column holding each row's event time`);
  }
  switch (kind.case) {
    case 'file':
      if (kind.value.path === '') c.about(K, s.name, 'kind.file.path', 'is a file source with no path; set a file, directory or glob such as data/*.parquet');
      break;
    case 'bigquery':
    case 'postgres': {
      const location = kind.value.location;
      if (location.case === undefined || location.value.trim() === '') {
        c.about(K, s.name, `kind.${kind.case}.location`, `is a ${kind.case} source with neither a table nor a query; set one`);
      } else if (location.case === 'query') {
        const problem = sourceQueryProblem(location.value);
        if (problem !== undefined) c.about(K, s.name, `kind.${kind.case}.query`, `has a query that ${problem}`);
      }
      break;
    }
    case 'kafka': {
      const k = kind.value;
      if (k.bootstrapServers.length === 0 || k.bootstrapServers.some((b) => b.trim() === '')) {
        c.about(K, s.name, 'kind.kafka.bootstrap_servers', 'is a kafka source without bootstrap servers; list brokers as host:port');
      }
      if (k.topic === '') c.about(K, s.name, 'kind.kafka.topic', 'is a kafka source without a topic');
      const format = k.messageFormat?.format;
      if (format === undefined || format.case === undefined) {
        c.about(K, s.name, 'kind.kafka.message_format', 'is a kafka source without a message_format; set json, avro or protobuf');
      } else if (format.case === 'avro' && (format.value.schema.case === undefined || format.value.schema.value === '')) {
        c.about(K, s.name, 'kind.kafka.message_format.avro', 'has an avro message format without a schema; set inline_schema or schema_registry_url');
      } else if (format.case === 'protobuf' && format.value.messageType === '') {
        c.about(K, s.name, 'kind.kafka.message_format.protobuf.message_type', 'has a protobuf message format without a message_type');
      }
      if (k.watermarkDelay !== undefined && isNegative(k.watermarkDelay)) {
        c.about(K, s.name, 'kind.kafka.watermark_delay', 'has a negative watermark_delay; use zero or a positive duration');
      }
      if (k.batchSource !== '') checkSourceRef(c, K, s.name, 'kind.kafka.batch_source', k.batchSource, BATCH_KINDS, 'batch');
      break;
    }
    case 'push':
      if (kind.value.batchSource !== '') checkSourceRef(c, K, s.name, 'kind.push.batch_source', kind.value.batchSource, BATCH_KINDS, 'batch');
      break;
    case 'request':
      if (kind.value.schema.length === 0) c.about(K, s.name, 'kind.request.schema', 'is a request source with no fields; list the fields a request carries');
      checkFields(c, K, s.name, 'kind.request.schema', kind.value.schema, 'field');
      break;
  }
}

function isNegative(d: { seconds: bigint; nanos: number }): boolean {
  return d.seconds < 0n || (d.seconds === 0n && d.nanos < 0);
}

function checkFeatureView(c: Checker, v: registryV1.FeatureView): void {
  if (v.name === '') return;
  const K = ObjectKind.FEATURE_VIEW;
  const joinKeys = new Map<string, string>();
  const listed = new Set<string>();
  v.entities.forEach((name, i) => {
    if (listed.has(name)) c.about(K, v.name, `entities[${i}]`, `lists entity '${name}' more than once`);
    listed.add(name);
    const entity = c.entities.get(name);
    if (entity === undefined) {
      c.about(K, v.name, `entities[${i}]`, `references entity '${name}', which is not defined${knownList('entities', name, [...c.entities.keys()])}`);
    } else {
      const key = joinKeyOf(entity);
      const other = joinKeys.get(key);
      if (other !== undefined && other !== name) {
        c.about(K, v.name, `entities[${i}]`, `has entities '${other}' and '${name}' with the same join key '${key}'; give one a distinct join_key`);
      }
      joinKeys.set(key, name);
    }
  });

  if (v.schema.length === 0) c.about(K, v.name, 'schema', 'has no features; list at least one in schema');
  checkFields(c, K, v.name, 'schema', v.schema, 'feature');
  const batch = v.batchSource === '' ? undefined : c.sources.get(v.batchSource);
  v.schema.forEach((f, i) => {
    const entity = joinKeys.get(f.name);
    if (entity !== undefined) {
      c.about(
        K,
        v.name,
        `schema[${i}].name`,
        `has feature '${f.name}', which collides with the join key of entity '${entity}'; join keys are not features, so rename or remove it`,
      );
    }
    if (batch !== undefined && f.name !== '' && (f.name === batch.timestampField || f.name === batch.createdTimestampColumn)) {
      c.about(
        K,
        v.name,
        `schema[${i}].name`,
        `has feature '${f.name}', which is a timestamp column of its batch source '${batch.name}'; timestamps are not features`,
      );
    }
  });

  if (v.ttl !== undefined && isNegative(v.ttl)) {
    c.about(K, v.name, 'ttl', 'has a negative ttl; use a positive duration, or zero for no limit');
  }
  if (v.batchSource === '' && v.streamSource === '') {
    c.about(K, v.name, 'batch_source', 'has no source; set batch_source (a file, bigquery or postgres source) and optionally stream_source');
  }
  if (v.batchSource !== '') checkSourceRef(c, K, v.name, 'batch_source', v.batchSource, BATCH_KINDS, 'batch');
  if (v.streamSource !== '') checkSourceRef(c, K, v.name, 'stream_source', v.streamSource, STREAM_KINDS, 'stream');
  checkReachable(c, v);
  for (const p of validationSchemaProblems(v)) c.about(K, v.name, `validation.schema.${p.field}`, p.message);
}

/** A view must be readable somewhere: online, or offline through a batch source (its own or its stream source's). */
function checkReachable(c: Checker, v: registryV1.FeatureView): void {
  if (v.online !== false) return;
  const K = ObjectKind.FEATURE_VIEW;
  if (v.offline === false) {
    c.about(K, v.name, 'online', 'is online: false and offline: false, so nothing would be written to it or read from it; set one of them to true');
    return;
  }
  if (v.batchSource !== '' || v.streamSource === '') return;
  const stream = c.sources.get(v.streamSource);
  const via = stream?.kind.case === 'kafka' || stream?.kind.case === 'push' ? stream.kind.value.batchSource : undefined;
  if (via === '') {
    c.about(
      K,
      v.name,
      'online',
      `is online: false, has no batch_source and its stream source '${v.streamSource}' names no batch_source either, so its rows could be written nowhere; set online: true or a batch_source`,
    );
  }
}

/** Checks a projection's view, features and join key map; `path` is where it sits in its object. */
function checkProjection(c: Checker, kind: registryV1.ObjectKind, name: string, path: string, p: registryV1.FeatureViewProjection): ViewFeatures | undefined {
  if (p.featureView === '') {
    c.about(kind, name, `${path}.feature_view`, 'has a projection with no feature_view; name the view to take features from');
    return undefined;
  }
  const view = c.views.get(p.featureView);
  if (view === undefined) {
    c.about(
      kind,
      name,
      `${path}.feature_view`,
      `references feature view '${p.featureView}', which is not defined${knownList('feature views', p.featureView, [...c.views.keys()])}`,
    );
    return undefined;
  }
  p.features.forEach((feature, i) => {
    if (!view.features.has(feature)) {
      c.about(
        kind,
        name,
        `${path}.features[${i}]`,
        `references feature '${feature}' of view '${p.featureView}', which has no such feature${knownList(`features of '${p.featureView}'`, feature, [...view.features.keys()])}`,
      );
    }
  });
  if (p.alias !== '' && !IDENTIFIER.test(p.alias)) {
    c.about(kind, name, `${path}.alias`, `has an invalid alias '${p.alias}'; use letters, digits and underscores, not starting with a digit`);
  }
  for (const key of Object.keys(p.joinKeyMap)) {
    if (!view.joinKeys.includes(key)) {
      const known =
        view.joinKeys.length === 0 ? `view '${p.featureView}' has no join keys` : `the join keys of '${p.featureView}' are ${view.joinKeys.join(', ')}`;
      c.about(kind, name, `${path}.join_key_map.${key}`, `maps join key '${key}', which view '${p.featureView}' does not have; ${known}`);
    }
  }
  return view;
}

function checkOnDemandFeatureView(c: Checker, v: registryV1.OnDemandFeatureView): void {
  if (v.name === '') return;
  const K = ObjectKind.ON_DEMAND_FEATURE_VIEW;
  if (v.sources.length === 0) c.about(K, v.name, 'sources', 'has no sources; list a request source or feature views its expressions read');
  // Variable names (clashes, reserved words) are checked with the CEL below.
  v.sources.forEach((s, i) => {
    const src = s.source;
    if (src.case === undefined) {
      c.about(K, v.name, `sources[${i}]`, 'has an empty source; set request_source or feature_view');
    } else if (src.case === 'requestSource') {
      checkSourceRef(c, K, v.name, `sources[${i}].request_source`, src.value, new Set(['request']), 'request');
    } else if (src.value.featureView === v.name) {
      c.about(K, v.name, `sources[${i}].feature_view.feature_view`, 'reads its own features; an on-demand view cannot be its own source');
    } else {
      checkProjection(c, K, v.name, `sources[${i}].feature_view`, src.value);
    }
  });

  if (v.outputs.length === 0) c.about(K, v.name, 'outputs', 'has no outputs; list the features it computes');
  // Output types and expressions are checked with the CEL below.
  checkFields(c, K, v.name, 'outputs', v.outputs, 'output', false);
  const { inputs } = onDemandInputs(v, c.set);
  c.issues.push(...checkOnDemandView(v, inputs));
}

/** On-demand views may read each other, but never in a loop. */
function checkOnDemandCycles(c: Checker): void {
  const edges = new Map<string, string[]>();
  for (const v of c.set.onDemandFeatureViews) {
    edges.set(
      v.name,
      v.sources.flatMap((s) => (s.source.case === 'featureView' && s.source.value.featureView !== v.name ? [s.source.value.featureView] : [])),
    );
  }
  const done = new Set<string>();
  const reported = new Set<string>();
  const visit = (name: string, path: string[]): void => {
    if (done.has(name)) return;
    const at = path.indexOf(name);
    if (at >= 0) {
      const cycle = [...path.slice(at), name];
      if (!reported.has(name)) {
        cycle.slice(0, -1).forEach((n) => reported.add(n));
        c.about(ObjectKind.ON_DEMAND_FEATURE_VIEW, name, 'sources', `is part of a cycle of on-demand views (${cycle.join(' -> ')}); break the loop`);
      }
      return;
    }
    for (const next of edges.get(name) ?? []) {
      if (edges.has(next)) visit(next, [...path, name]);
    }
    done.add(name);
  };
  for (const name of edges.keys()) visit(name, []);
}

function checkFeatureService(c: Checker, s: registryV1.FeatureService): void {
  if (s.name === '') return;
  const K = ObjectKind.FEATURE_SERVICE;
  if (s.projections.length === 0) c.about(K, s.name, 'projections', 'selects no features; add at least one feature view projection');
  const outputs = new Map<string, number>();
  s.projections.forEach((p, i) => {
    checkProjection(c, K, s.name, `projections[${i}]`, p);
    const output = p.alias === '' ? p.featureView : p.alias;
    const earlier = outputs.get(output);
    if (earlier !== undefined && output !== '') {
      c.about(K, s.name, `projections[${i}]`, `selects view '${output}' twice (projections ${earlier + 1} and ${i + 1}); merge them or give one an alias`);
    }
    outputs.set(output, i);
  });
}

function checkSavedDataset(c: Checker, d: registryV1.SavedDataset): void {
  if (d.name === '') return;
  const K = ObjectKind.SAVED_DATASET;
  if (d.features.length === 0) c.about(K, d.name, 'features', 'lists no features; record the view:feature refs it was built from');
  d.features.forEach((ref, i) => {
    const parsed = tryParseFeatureRef(ref);
    if (parsed === undefined) {
      c.about(K, d.name, `features[${i}]`, `has feature reference '${ref}', which is not of the form 'view:feature'`);
      return;
    }
    const view = c.views.get(parsed.featureView);
    if (view === undefined) {
      c.about(
        K,
        d.name,
        `features[${i}]`,
        `references feature '${ref}' of view '${parsed.featureView}', which is not defined${knownList('feature views', parsed.featureView, [...c.views.keys()])}`,
      );
    } else if (!view.features.has(parsed.feature)) {
      c.about(
        K,
        d.name,
        `features[${i}]`,
        `references feature '${ref}', but view '${parsed.featureView}' has no feature ` +
          `'${parsed.feature}'${knownList(`features of '${parsed.featureView}'`, parsed.feature, [...view.features.keys()])}`,
      );
    }
  });
  if (d.featureService !== '' && !c.services.has(d.featureService)) {
    c.about(
      K,
      d.name,
      'feature_service',
      `references feature service '${d.featureService}', which is not defined${knownList('feature services', d.featureService, [...c.services])}`,
    );
  }
  if (d.storage === undefined || d.storage.kind.case === undefined) {
    c.about(K, d.name, 'storage', 'has no storage; set file, bigquery_table or postgres_table');
  }
}

function checkPermission(c: Checker, p: registryV1.Permission): void {
  if (p.name === '') return;
  for (const problem of permissionProblems(p)) c.about(ObjectKind.PERMISSION, p.name, problem.field, problem.message);
}
