import { toJson } from '@bufbuild/protobuf';
import type { DescMessage, JsonValue, Message } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { registryV1, typesV1 } from '@larder/proto';
import type { RpcCallOptions } from '@larder/rpc';
import { stringify } from 'yaml';
import type { FeatureHit, Lineage, LineageEdge, LineageNode, ObjectDetail, ObjectKindSlug, ObjectRef, ProjectDetail, ProjectSummary, SearchFilters, SearchResult } from '../shared/api';
import type { ChangeHistory } from './change-history';
import { BadRequest } from './errors';
import { sourceDetail } from './kinds';
import type { Clients } from './upstreams';

/** Every object of one project, read with the user's own calls. */
export interface ProjectObjects {
  entities: registryV1.Entity[];
  dataSources: registryV1.DataSource[];
  featureViews: registryV1.FeatureView[];
  onDemandFeatureViews: registryV1.OnDemandFeatureView[];
  featureServices: registryV1.FeatureService[];
}

export async function projectObjects(upstreams: Clients, project: string, options: RpcCallOptions): Promise<ProjectObjects> {
  const r = upstreams.registry;
  const [entities, dataSources, featureViews, onDemandFeatureViews, featureServices] = await Promise.all([
    r.listEntities({ project }, options),
    r.listDataSources({ project }, options),
    r.listFeatureViews({ project }, options),
    r.listOnDemandFeatureViews({ project }, options),
    r.listFeatureServices({ project }, options),
  ]);
  return {
    entities: entities.entities,
    dataSources: dataSources.dataSources,
    featureViews: featureViews.featureViews,
    onDemandFeatureViews: onDemandFeatureViews.onDemandFeatureViews,
    featureServices: featureServices.featureServices,
  };
}

export async function projectSummaries(upstreams: Clients, options: RpcCallOptions): Promise<{ version: bigint; projects: ProjectSummary[]; objects: Map<string, ProjectObjects> }> {
  const listed = await upstreams.registry.listProjects({}, options);
  const objects = new Map<string, ProjectObjects>();
  const projects = await Promise.all(
    listed.projects.map(async (p): Promise<ProjectSummary> => {
      const o = await projectObjects(upstreams, p.name, options);
      objects.set(p.name, o);
      return {
        name: p.name,
        description: p.description,
        owner: p.owner,
        counts: {
          entities: o.entities.length,
          dataSources: o.dataSources.length,
          featureViews: o.featureViews.length,
          onDemandFeatureViews: o.onDemandFeatureViews.length,
          featureServices: o.featureServices.length,
        },
      };
    }),
  );
  return { version: listed.registryVersion, projects, objects };
}

const ref = (kind: ObjectKindSlug, o: { name: string; description: string; owner: string; tags: Record<string, string> }): ObjectRef => ({
  kind,
  name: o.name,
  description: o.description,
  owner: o.owner,
  tags: o.tags,
});

export async function projectDetail(upstreams: Clients, project: string, options: RpcCallOptions): Promise<ProjectDetail> {
  const [found, o] = await Promise.all([upstreams.registry.getProject({ name: project }, options), projectObjects(upstreams, project, options)]);
  return {
    project: json(registryV1.ProjectSchema, found.project!),
    objects: [
      ...o.entities.map((x) => ref('entity', x)),
      ...o.dataSources.map((x) => ref('data-source', x)),
      ...o.featureViews.map((x) => ref('feature-view', x)),
      ...o.onDemandFeatureViews.map((x) => ref('on-demand-feature-view', x)),
      ...o.featureServices.map((x) => ref('feature-service', x)),
    ],
  };
}

function json(schema: DescMessage, message: Message): Record<string, unknown> {
  return toJson(schema, message as never, { useProtoFieldName: true }) as Record<string, unknown>;
}

/** The definition as a feature repo would hold it: the proto's fields, without server-kept meta. */
function definitionYaml(object: Record<string, unknown>): string {
  const { meta: _meta, ...definition } = object;
  return stringify(definition as JsonValue);
}

async function readObject(upstreams: Clients, project: string, kind: ObjectKindSlug, name: string, options: RpcCallOptions): Promise<Record<string, unknown>> {
  const r = upstreams.registry;
  const q = { project, name };
  switch (kind) {
    case 'entity':
      return json(registryV1.EntitySchema, (await r.getEntity(q, options)).entity!);
    case 'data-source':
      return json(registryV1.DataSourceSchema, (await r.getDataSource(q, options)).dataSource!);
    case 'feature-view':
      return json(registryV1.FeatureViewSchema, (await r.getFeatureView(q, options)).featureView!);
    case 'on-demand-feature-view':
      return json(registryV1.OnDemandFeatureViewSchema, (await r.getOnDemandFeatureView(q, options)).onDemandFeatureView!);
    case 'feature-service':
      return json(registryV1.FeatureServiceSchema, (await r.getFeatureService(q, options)).featureService!);
  }
}

/** The objects that refer to `kind`/`name`: what would feel a change to it. */
function usedBy(o: ProjectObjects, kind: ObjectKindSlug, name: string): ObjectDetail['usedBy'] {
  const out: ObjectDetail['usedBy'] = [];
  const views = (pick: (v: registryV1.FeatureView) => boolean): void => {
    for (const v of o.featureViews) if (pick(v)) out.push({ kind: 'feature-view', name: v.name });
  };
  const onDemand = (pick: (s: registryV1.OnDemandSource) => boolean): void => {
    for (const v of o.onDemandFeatureViews) if (v.sources.some(pick)) out.push({ kind: 'on-demand-feature-view', name: v.name });
  };
  const services = (): void => {
    for (const s of o.featureServices) if (s.projections.some((p) => p.featureView === name)) out.push({ kind: 'feature-service', name: s.name });
  };
  switch (kind) {
    case 'entity':
      views((v) => v.entities.includes(name));
      break;
    case 'data-source':
      views((v) => v.batchSource === name || v.streamSource === name);
      for (const s of o.dataSources) {
        const batch = s.kind.case === 'push' ? s.kind.value.batchSource : s.kind.case === 'kafka' ? s.kind.value.batchSource : '';
        if (batch === name) out.push({ kind: 'data-source', name: s.name });
      }
      onDemand((s) => s.source.case === 'requestSource' && s.source.value === name);
      break;
    case 'feature-view':
      onDemand((s) => s.source.case === 'featureView' && s.source.value.featureView === name);
      services();
      break;
    case 'on-demand-feature-view':
      services();
      break;
    case 'feature-service':
      break;
  }
  return out;
}

export async function objectDetail(upstreams: Clients, history: ChangeHistory, project: string, kind: ObjectKindSlug, name: string, options: RpcCallOptions): Promise<ObjectDetail> {
  // The object first: an unknown one is a NOT_FOUND before anything else is asked.
  const object = await readObject(upstreams, project, kind, name, options);
  const [objects, states] = await Promise.all([
    projectObjects(upstreams, project, options),
    kind === 'feature-view' ? upstreams.registry.getMaterializationState({ project, featureViews: [name] }, options) : undefined,
  ]);
  const detail: ObjectDetail = { project, kind, name, object, yaml: definitionYaml(object), history: history.of(project, kind, name), usedBy: usedBy(objects, kind, name) };
  const state = states?.states[0];
  if (state !== undefined) {
    detail.materialization = {
      lastJobId: state.lastJobId,
      lastJobStatus: registryV1.MaterializationStatus[state.lastJobStatus] ?? 'UNSPECIFIED',
      lastError: state.lastError,
      ...(state.watermark === undefined ? {} : { watermark: timestampDate(state.watermark).toISOString() }),
      ...(state.updatedTime === undefined ? {} : { updatedTime: timestampDate(state.updatedTime).toISOString() }),
    };
  }
  return detail;
}

export async function lineage(upstreams: Clients, project: string, options: RpcCallOptions): Promise<Lineage> {
  await upstreams.registry.getProject({ name: project }, options);
  const o = await projectObjects(upstreams, project, options);
  const nodes: LineageNode[] = [];
  const edges: LineageEdge[] = [];
  const ids = new Set<string>();
  const add = (node: LineageNode): void => {
    nodes.push(node);
    ids.add(node.id);
  };
  const edge = (from: string, to: string): void => {
    if (ids.has(from) && ids.has(to)) edges.push({ from, to });
  };
  for (const s of o.dataSources) add({ id: `data-source:${s.name}`, column: 'source', kind: 'data-source', name: s.name, detail: sourceDetail(s) });
  for (const v of o.featureViews) {
    add({ id: `feature-view:${v.name}`, column: 'view', kind: 'feature-view', name: v.name, detail: `${v.schema.length} features` });
    if (v.batchSource !== '') edge(`data-source:${v.batchSource}`, `feature-view:${v.name}`);
    if (v.streamSource !== '') edge(`data-source:${v.streamSource}`, `feature-view:${v.name}`);
  }
  for (const v of o.onDemandFeatureViews) {
    add({ id: `on-demand-feature-view:${v.name}`, column: 'on-demand', kind: 'on-demand-feature-view', name: v.name, detail: `${v.outputs.length} outputs` });
    for (const s of v.sources) {
      if (s.source.case === 'requestSource') edge(`data-source:${s.source.value}`, `on-demand-feature-view:${v.name}`);
      else if (s.source.case === 'featureView') edge(`feature-view:${s.source.value.featureView}`, `on-demand-feature-view:${v.name}`);
    }
  }
  for (const s of o.featureServices) {
    add({ id: `feature-service:${s.name}`, column: 'service', kind: 'feature-service', name: s.name, detail: `${s.projections.length} views` });
    for (const p of s.projections) {
      edge(`feature-view:${p.featureView}`, `feature-service:${s.name}`);
      edge(`on-demand-feature-view:${p.featureView}`, `feature-service:${s.name}`);
    }
  }
  return { project, nodes, edges };
}

const FILTER_KEYS = ['tag', 'owner', 'entity', 'type', 'project'] as const;

/** Lower-case value type names people type (`int64`, `string_list`) to the enum. */
function valueTypeOf(name: string): typesV1.ValueType | undefined {
  const upper = name.toUpperCase();
  const value = (typesV1.ValueType as unknown as Record<string, number | string>)[upper];
  return typeof value === 'number' && value !== typesV1.ValueType.UNSPECIFIED ? (value as typesV1.ValueType) : undefined;
}

/**
 * Search text to filters: plain words match names, descriptions and tags; `tag:k=v`,
 * `owner:x`, `entity:x`, `type:int64` and `project:x` narrow the results.
 */
export function parseSearch(query: string): SearchFilters {
  const filters: SearchFilters = { words: [], tags: {} };
  for (const token of query.split(/\s+/).filter((t) => t !== '')) {
    const colon = token.indexOf(':');
    const field = colon > 0 ? token.slice(0, colon).toLowerCase() : '';
    const value = colon > 0 ? token.slice(colon + 1) : '';
    if (!(FILTER_KEYS as readonly string[]).includes(field) || value === '') {
      filters.words.push(token);
      continue;
    }
    switch (field as (typeof FILTER_KEYS)[number]) {
      case 'tag': {
        const eq = value.indexOf('=');
        // A tag key alone is matched as a word (tag keys are part of the free text).
        if (eq <= 0) filters.words.push(value);
        else filters.tags[value.slice(0, eq)] = value.slice(eq + 1);
        break;
      }
      case 'owner':
        filters.owner = value;
        break;
      case 'entity':
        filters.entity = value;
        break;
      case 'type':
        if (valueTypeOf(value) === undefined) throw new BadRequest(`q: unknown value type "${value.slice(0, 40)}" (e.g. int64, float, string, bool, double_list)`, 'q');
        filters.valueType = value.toLowerCase();
        break;
      case 'project':
        filters.project = value;
        break;
    }
  }
  return filters;
}

export async function search(upstreams: Clients, query: string, limit: number, options: RpcCallOptions): Promise<SearchResult> {
  const filters = parseSearch(query);
  const found = await upstreams.registry.searchFeatures(
    {
      query: filters.words.join(' '),
      project: filters.project ?? '',
      tags: filters.tags,
      owner: filters.owner ?? '',
      entity: filters.entity ?? '',
      valueType: filters.valueType === undefined ? typesV1.ValueType.UNSPECIFIED : valueTypeOf(filters.valueType)!,
      limit,
    },
    options,
  );
  const features: FeatureHit[] = found.features.map((f) => ({
    project: f.project,
    featureView: f.featureView,
    onDemand: f.onDemand,
    name: f.name,
    valueType: (typesV1.ValueType[f.valueType] ?? 'UNSPECIFIED').toLowerCase(),
    description: f.description,
    tags: f.tags,
    owner: f.owner,
    entities: f.entities,
  }));
  return { query, filters, features, registryVersion: String(found.registryVersion) };
}
