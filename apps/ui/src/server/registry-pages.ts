import { toJson } from '@bufbuild/protobuf';
import type { DescMessage, JsonValue, Message } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { registryV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { RpcCallOptions } from '@larder/rpc';
import { stringify } from 'yaml';
import { KIND_LABELS } from '../shared/api';
import type { Lineage, LineageEdge, LineageNode, ObjectDetail, ObjectKindSlug, ObjectRef, ProjectDetail, ProjectSummary, SearchResult } from '../shared/api';
import { parseSearch, searchPrepared } from '../shared/search';
import { accessRef } from './catalog';
import type { Catalog, ProjectCopy, Viewer, VisibleSet } from './catalog';
import type { ChangeHistory } from './change-history';
import { BadRequest } from './errors';
import { sourceDetail } from './kinds';
import type { Clients } from './upstreams';

const ORDER = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** An unknown project, or one the viewer may see nothing of: the same answer, so existence does not leak. */
function projectOf(catalog: Catalog, viewer: Viewer, project: string): ProjectCopy {
  const copy = catalog.project(project);
  if (copy === undefined || !catalog.projectVisible(viewer, copy)) throw new RpcError(Code.NOT_FOUND, `project "${project}" not found`);
  return copy;
}

/** Each project the viewer may see, with counts of the objects they may see in it. */
export function projectSummaries(catalog: Catalog, viewer: Viewer): { projects: ProjectSummary[]; objects: Map<string, VisibleSet> } {
  const objects = new Map<string, VisibleSet>();
  const projects = catalog.visibleProjects(viewer).map((p): ProjectSummary => {
    const o = catalog.visibleSet(viewer, p);
    objects.set(p.name, o);
    return {
      name: p.name,
      description: o.project.description,
      owner: o.project.owner,
      counts: {
        entities: o.entities.length,
        dataSources: o.dataSources.length,
        featureViews: o.featureViews.length,
        onDemandFeatureViews: o.onDemandFeatureViews.length,
        featureServices: o.featureServices.length,
      },
    };
  });
  return { projects: projects.sort(ORDER), objects };
}

const ref = (kind: ObjectKindSlug, o: { name: string; description: string; owner: string; tags: Record<string, string> }): ObjectRef => ({
  kind,
  name: o.name,
  description: o.description,
  owner: o.owner,
  tags: o.tags,
});

export function projectDetail(catalog: Catalog, viewer: Viewer, project: string): ProjectDetail {
  const o = catalog.visibleSet(viewer, projectOf(catalog, viewer, project));
  return {
    project: json(registryV1.ProjectSchema, o.project),
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

/** The object as proto JSON, when it exists and the viewer may describe it; else NOT_FOUND either way. */
function readObject(catalog: Catalog, viewer: Viewer, project: string, kind: ObjectKindSlug, name: string): Record<string, unknown> {
  const set = catalog.project(project)?.set;
  const find = <T extends { name: string; tags: Record<string, string> }>(list: readonly T[] | undefined): T | undefined => {
    const found = list?.find((o) => o.name === name);
    return found !== undefined && viewer.may(accessRef(project, kind, found)) ? found : undefined;
  };
  let object: Record<string, unknown> | undefined;
  switch (kind) {
    case 'entity': {
      const o = find(set?.entities);
      object = o && json(registryV1.EntitySchema, o);
      break;
    }
    case 'data-source': {
      const o = find(set?.dataSources);
      object = o && json(registryV1.DataSourceSchema, o);
      break;
    }
    case 'feature-view': {
      const o = find(set?.featureViews);
      object = o && json(registryV1.FeatureViewSchema, o);
      break;
    }
    case 'on-demand-feature-view': {
      const o = find(set?.onDemandFeatureViews);
      object = o && json(registryV1.OnDemandFeatureViewSchema, o);
      break;
    }
    case 'feature-service': {
      const o = find(set?.featureServices);
      object = o && json(registryV1.FeatureServiceSchema, o);
      break;
    }
  }
  if (object === undefined) throw new RpcError(Code.NOT_FOUND, `${KIND_LABELS[kind]} "${name}" not found in project "${project}"`);
  return object;
}

/** Throws NOT_FOUND unless the feature view exists and the viewer may describe it. */
export function objectDetailCheck(catalog: Catalog, viewer: Viewer, project: string, view: string): void {
  readObject(catalog, viewer, project, 'feature-view', view);
}

/** The objects that refer to `kind`/`name`: what would feel a change to it. */
function usedBy(o: VisibleSet, kind: ObjectKindSlug, name: string): ObjectDetail['usedBy'] {
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

export async function objectDetail(
  catalog: Catalog,
  viewer: Viewer,
  upstreams: Clients,
  history: ChangeHistory,
  project: string,
  kind: ObjectKindSlug,
  name: string,
  options: RpcCallOptions,
): Promise<ObjectDetail> {
  // The object first: an unknown (or hidden) one is a NOT_FOUND before anything else is asked.
  const object = readObject(catalog, viewer, project, kind, name);
  const objects = catalog.visibleSet(viewer, projectOf(catalog, viewer, project));
  const states = kind === 'feature-view' ? await upstreams.registry.getMaterializationState({ project, featureViews: [name] }, options) : undefined;
  const detail: ObjectDetail = {
    project,
    kind,
    name,
    object,
    yaml: definitionYaml(object),
    history: history.of(project, kind, name),
    usedBy: usedBy(objects, kind, name),
  };
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

export function lineage(catalog: Catalog, viewer: Viewer, project: string): Lineage {
  const o = catalog.visibleSet(viewer, projectOf(catalog, viewer, project));
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

/** Search from the viewer's index in memory; the page runs the same search over the same index. */
export function search(catalog: Catalog, viewer: Viewer, query: string, limit: number): SearchResult {
  const parsed = parseSearch(query);
  if (!parsed.ok) throw new BadRequest(parsed.message, parsed.field);
  const { prepared } = catalog.searchIndex(viewer);
  return { query, filters: parsed.filters, features: searchPrepared(prepared, parsed.filters, limit), registryVersion: prepared.registryVersion };
}
