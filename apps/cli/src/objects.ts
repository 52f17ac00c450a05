import { toJson } from '@bufbuild/protobuf';
import type { JsonValue } from '@bufbuild/protobuf';
import { formatFeatureRef, kindName, valueTypeName } from '@larder/core';
import type { RegistrySet } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { kindInfo } from '@larder/registry-store';
import type { RegistryObject } from '@larder/registry-store';
import { formatSeconds, formatTags, shorten } from './output';

const K = registryV1.ObjectKind;

/** Proto JSON with the proto's snake_case names, as feature repo YAML writes them. */
export function objectJson(kind: registryV1.ObjectKind, object: RegistryObject | registryV1.Project): JsonValue {
  const schema = kind === K.PROJECT ? registryV1.ProjectSchema : kindInfo(kind).schema;
  return toJson(schema, object as never, { useProtoFieldName: true });
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
