import { toJson } from '@bufbuild/protobuf';
import type { JsonValue } from '@bufbuild/protobuf';
import { actionName, formatFeatureRef, kindName, objectTypeName, valueTypeName } from '@larder/core';
import type { RegistrySet } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { kindInfo } from '@larder/registry-store';
import type { RegistryObject } from '@larder/registry-store';
import { formatSeconds, formatTags, shorten } from './output';

const K = registryV1.ObjectKind;

/**
 * Proto JSON with the proto's snake_case names, as feature repo YAML writes
 * them; a permission's types and actions by their repo names too
 * (`feature_view`, `read_online`), so what `describe` prints can be pasted
 * into a `kind: Permission` document.
 */
export function objectJson(kind: registryV1.ObjectKind, object: RegistryObject | registryV1.Project): JsonValue {
  const schema = kind === K.PROJECT ? registryV1.ProjectSchema : kindInfo(kind).schema;
  const json = toJson(schema, object as never, { useProtoFieldName: true });
  if (kind !== K.PERMISSION || typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  const permission = object as registryV1.Permission;
  // An enum number this CLI does not know keeps its proto JSON form (a number).
  const named = <E extends number>(values: readonly E[], nameOf: (value: E) => string | undefined): JsonValue[] => values.map((v) => nameOf(v) ?? v);
  return {
    ...json,
    ...(permission.types.length > 0 && { types: named(permission.types, objectTypeName) }),
    ...(permission.actions.length > 0 && { actions: named(permission.actions, actionName) }),
  };
}

/** Who a permission grants to, as identity strings (`group:analysts`, `sa:serving/kserve`), as auth.operators writes them. */
export function policyText(policy: registryV1.Policy | undefined): string {
  if (policy === undefined) return '-';
  const who = [
    ...policy.roles.map((r) => `group:${r}`),
    ...policy.users.map((u) => `user:${u}`),
    ...policy.namespaces.map((n) => `namespace:${n}`),
    ...policy.serviceAccounts.map((s) => `sa:${s}`),
    ...policy.certificateSubjects.map((c) => `cert:${c}`),
    ...(policy.anyAuthenticated ? ['any authenticated'] : []),
  ];
  return who.length === 0 ? '-' : who.join(',');
}

export function featureInfoJson(info: registryV1.FeatureInfo): JsonValue {
  return toJson(registryV1.FeatureInfoSchema, info, { useProtoFieldName: true });
}

export function setJson(set: RegistrySet): Record<string, JsonValue> {
  const many = (kind: registryV1.ObjectKind, objects: readonly RegistryObject[]): JsonValue[] => objects.map((o) => objectJson(kind, o));
  return {
    project: objectJson(K.PROJECT, set.project),
    entities: many(K.ENTITY, set.entities),
    data_sources: many(K.DATA_SOURCE, set.dataSources),
    feature_views: many(K.FEATURE_VIEW, set.featureViews),
    on_demand_feature_views: many(K.ON_DEMAND_FEATURE_VIEW, set.onDemandFeatureViews),
    feature_services: many(K.FEATURE_SERVICE, set.featureServices),
    saved_datasets: many(K.SAVED_DATASET, set.savedDatasets),
    permissions: many(K.PERMISSION, set.permissions),
  };
}

function sourceKind(source: registryV1.DataSource): [string, string] {
  const kind = source.kind;
  switch (kind.case) {
    case 'file':
      return ['file', kind.value.path];
    case 'bigquery':
    case 'postgres':
      return [kind.case, kind.value.location.case === 'query' ? `query: ${shorten(kind.value.location.value, 40)}` : (kind.value.location.value ?? '')];
    case 'kafka':
      return ['kafka', `${kind.value.topic} @ ${kind.value.bootstrapServers.join(',')}`];
    case 'push':
      return ['push', kind.value.batchSource ? `batch: ${kind.value.batchSource}` : ''];
    case 'request':
      return ['request', kind.value.schema.map((f) => f.name).join(',')];
    default:
      return ['-', ''];
  }
}

/** Table headers and one row per object, for `larder list <kind>`. */
export function objectTable(kind: registryV1.ObjectKind, objects: readonly (RegistryObject | registryV1.Project)[]): { headers: string[]; rows: string[][] } {
  switch (kind) {
    case K.PROJECT:
      return {
        headers: ['NAME', 'OWNER', 'TAGS', 'DESCRIPTION'],
        rows: (objects as registryV1.Project[]).map((p) => [p.name, p.owner, formatTags(p.tags), shorten(p.description)]),
      };
    case K.ENTITY:
      return {
        headers: ['NAME', 'JOIN KEY', 'TYPE', 'OWNER', 'DESCRIPTION'],
        rows: (objects as registryV1.Entity[]).map((e) => [e.name, e.joinKey, valueTypeName(e.valueType), e.owner, shorten(e.description)]),
      };
    case K.DATA_SOURCE:
      return {
        headers: ['NAME', 'TYPE', 'TIMESTAMP FIELD', 'LOCATION'],
        rows: (objects as registryV1.DataSource[]).map((s) => {
          const [type, location] = sourceKind(s);
          return [s.name, type, s.timestampField, location];
        }),
      };
    case K.FEATURE_VIEW:
      return {
        headers: ['NAME', 'ENTITIES', 'FEATURES', 'TTL', 'ONLINE', 'BATCH SOURCE', 'STREAM SOURCE', 'OWNER'],
        rows: (objects as registryV1.FeatureView[]).map((v) => [
          v.name,
          v.entities.join(','),
          String(v.schema.length),
          v.ttl ? formatSeconds(v.ttl.seconds) : '-',
          v.online === false ? 'no' : 'yes',
          v.batchSource,
          v.streamSource,
          v.owner,
        ]),
      };
    case K.ON_DEMAND_FEATURE_VIEW:
      return {
        headers: ['NAME', 'SOURCES', 'OUTPUTS', 'OWNER'],
        rows: (objects as registryV1.OnDemandFeatureView[]).map((v) => [
          v.name,
          v.sources.map((s) => (s.source.case === 'featureView' ? s.source.value.featureView : (s.source.value ?? ''))).join(','),
          v.outputs.map((o) => `${o.name}:${valueTypeName(o.valueType)}`).join(','),
          v.owner,
        ]),
      };
    case K.FEATURE_SERVICE:
      return {
        headers: ['NAME', 'VIEWS', 'FEATURES', 'OWNER', 'DESCRIPTION'],
        rows: (objects as registryV1.FeatureService[]).map((s) => [
          s.name,
          s.projections.map((p) => (p.alias ? `${p.featureView} as ${p.alias}` : p.featureView)).join(','),
          s.projections.some((p) => p.features.length === 0) ? 'all' : String(s.projections.reduce((n, p) => n + p.features.length, 0)),
          s.owner,
          shorten(s.description),
        ]),
      };
    case K.SAVED_DATASET:
      return {
        headers: ['NAME', 'FEATURES', 'ROWS', 'STORAGE', 'OWNER'],
        rows: (objects as registryV1.SavedDataset[]).map((d) => [
          d.name,
          String(d.features.length),
          String(d.rowCount),
          d.storage?.kind.case === 'file' ? d.storage.kind.value.path : (d.storage?.kind.value?.toString() ?? ''),
          d.owner,
        ]),
      };
    case K.PERMISSION:
      return {
        headers: ['NAME', 'TYPES', 'NAMES', 'TAGS', 'ACTIONS', 'WHO'],
        rows: (objects as registryV1.Permission[]).map((p) => [
          p.name,
          p.types.length === 0 ? 'all' : p.types.map((t) => objectTypeName(t) ?? String(t)).join(','),
          p.namePatterns.length === 0 ? '*' : p.namePatterns.join(','),
          formatTags(p.requiredTags),
          p.actions.map((a) => actionName(a) ?? String(a)).join(','),
          policyText(p.policy),
        ]),
      };
    default:
      throw new Error(`no table for kind ${kindName(kind)}`);
  }
}

export function featureTable(features: readonly registryV1.FeatureInfo[], withProject: boolean): { headers: string[]; rows: string[][] } {
  return {
    headers: [...(withProject ? ['PROJECT'] : []), 'FEATURE', 'TYPE', 'ENTITIES', 'OWNER', 'TAGS', 'DESCRIPTION'],
    rows: features.map((f) => [
      ...(withProject ? [f.project] : []),
      formatFeatureRef({ featureView: f.featureView, feature: f.name }),
      valueTypeName(f.valueType),
      f.entities.join(','),
      f.owner,
      formatTags(f.tags),
      shorten(f.description, 50),
    ]),
  };
}
