import { create } from '@bufbuild/protobuf';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { DEFAULT_MAX_FUTURE_SKEW_MS, futureTimeProblem, LOOPBACK_ALLOW_LIST, timestampMs, TimestampRangeError } from '@larder/core';
import type { EndpointAllowList } from '@larder/core';
import { registryV1 } from '@larder/proto';
import type { ObjectKindInProject, RegistryStore } from '@larder/registry-store';
import { Code, RpcError, implement } from '@larder/rpc';
import type { ServiceRegistration } from '@larder/rpc';
import { listStoredFeatures, searchStoredFeatures } from './discovery';
import { refuseDisallowedEndpoints } from './endpoints';
import { watchRegistry } from './watch';
import type { WatchStreams } from './watch';

const K = registryV1.ObjectKind;

function required(value: string, field: string): string {
  if (value === '') throw new RpcError(Code.INVALID_ARGUMENT, `${field}: required`);
  return value;
}

/** Get/List/Delete for one kind: the three rpcs differ only in their messages' field names. */
function kindRpcs<GetRes extends DescMessage, ListRes extends DescMessage, DelRes extends DescMessage>(
  store: RegistryStore,
  kind: ObjectKindInProject,
  messages: { get: GetRes; list: ListRes; del: DelRes; one: string; many: string },
) {
  return {
    get: async (req: { project: string; name: string }): Promise<MessageShape<GetRes>> => {
      const { value, version } = await store.getObject(kind, required(req.project, 'project'), required(req.name, 'name'));
      return create(messages.get, { [messages.one]: value, registryVersion: version } as never) as MessageShape<GetRes>;
    },
    list: async (
      req: { project: string; filter?: registryV1.ObjectFilter | undefined },
      keep: (obj: never) => boolean = () => true,
    ): Promise<MessageShape<ListRes>> => {
      const { value, version } = await store.listObjects(kind, required(req.project, 'project'), req.filter);
      return create(messages.list, { [messages.many]: value.filter((obj) => keep(obj as never)), registryVersion: version } as never) as MessageShape<ListRes>;
    },
    del: async (req: { project: string; name: string; expectedVersion?: bigint | undefined }): Promise<MessageShape<DelRes>> => {
      const version = await store.deleteObject(kind, required(req.project, 'project'), required(req.name, 'name'), req.expectedVersion);
      return create(messages.del, { version } as never) as MessageShape<DelRes>;
    },
  };
}

/**
 * A watermark or window ahead of now is refused before the store sees it: a
 * forged year-9999 watermark would make every incremental run start after
 * the data it should copy. The store's own checks (status, shards, lease)
 * follow.
 */
function checkReportTimes(req: registryV1.UpdateMaterializationStateRequest, nowMs: number, maxFutureSkewMs: number): void {
  for (const [field, ts] of [
    ['watermark', req.watermark],
    ['interval_start', req.intervalStart],
    ['interval_end', req.intervalEnd],
  ] as const) {
    if (ts === undefined) continue;
    try {
      const problem = futureTimeProblem(field, timestampMs(ts, field), nowMs, maxFutureSkewMs);
      if (problem !== undefined) throw new RpcError(Code.INVALID_ARGUMENT, `${field}: ${problem}`);
    } catch (error) {
      if (error instanceof TimestampRangeError) throw new RpcError(Code.INVALID_ARGUMENT, error.message);
      throw error;
    }
  }
}

export interface RegistryHandlerOptions {
  /** Hosts a source may name; loopback when not given. */
  endpoints?: EndpointAllowList;
  /** Watermarks and windows later than now + this are refused; see FUTURE_SKEW_SETTING. */
  maxFutureSkewMs: number;
}

/** RegistryService over a store; every error is the store's RpcError with its precise code. */
export function registryHandlers(
  store: RegistryStore,
  streams: WatchStreams,
  options: RegistryHandlerOptions = { maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS },
): ServiceRegistration {
  const entities = kindRpcs(store, K.ENTITY, {
    get: registryV1.GetEntityResponseSchema,
    list: registryV1.ListEntitiesResponseSchema,
    del: registryV1.DeleteEntityResponseSchema,
    one: 'entity',
    many: 'entities',
  });
  const sources = kindRpcs(store, K.DATA_SOURCE, {
    get: registryV1.GetDataSourceResponseSchema,
    list: registryV1.ListDataSourcesResponseSchema,
    del: registryV1.DeleteDataSourceResponseSchema,
    one: 'dataSource',
    many: 'dataSources',
  });
  const views = kindRpcs(store, K.FEATURE_VIEW, {
    get: registryV1.GetFeatureViewResponseSchema,
    list: registryV1.ListFeatureViewsResponseSchema,
    del: registryV1.DeleteFeatureViewResponseSchema,
    one: 'featureView',
    many: 'featureViews',
  });
  const odfvs = kindRpcs(store, K.ON_DEMAND_FEATURE_VIEW, {
    get: registryV1.GetOnDemandFeatureViewResponseSchema,
    list: registryV1.ListOnDemandFeatureViewsResponseSchema,
    del: registryV1.DeleteOnDemandFeatureViewResponseSchema,
    one: 'onDemandFeatureView',
    many: 'onDemandFeatureViews',
  });
  const services = kindRpcs(store, K.FEATURE_SERVICE, {
    get: registryV1.GetFeatureServiceResponseSchema,
    list: registryV1.ListFeatureServicesResponseSchema,
    del: registryV1.DeleteFeatureServiceResponseSchema,
    one: 'featureService',
    many: 'featureServices',
  });
  const datasets = kindRpcs(store, K.SAVED_DATASET, {
    get: registryV1.GetSavedDatasetResponseSchema,
    list: registryV1.ListSavedDatasetsResponseSchema,
    del: registryV1.DeleteSavedDatasetResponseSchema,
    one: 'savedDataset',
    many: 'savedDatasets',
  });
  const permissions = kindRpcs(store, K.PERMISSION, {
    get: registryV1.GetPermissionResponseSchema,
    list: registryV1.ListPermissionsResponseSchema,
    del: registryV1.DeletePermissionResponseSchema,
    one: 'permission',
    many: 'permissions',
  });

  return implement(registryV1.RegistryService, {
    applyRegistry: (req) => {
      required(req.project, 'project');
      refuseDisallowedEndpoints(req.dataSources, options.endpoints ?? LOOPBACK_ALLOW_LIST);
      return store.apply(req);
    },
    async getRegistryVersion() {
      const { version, updatedTime } = await store.version();
      return create(registryV1.GetRegistryVersionResponseSchema, { version, ...(updatedTime !== undefined && { updatedTime }) });
    },
    watchRegistry: (req, ctx) => watchRegistry(store, streams, req, ctx.signal),

    async getProject(req) {
      const { value, version } = await store.getProject(required(req.name, 'name'));
      return create(registryV1.GetProjectResponseSchema, { project: value, registryVersion: version });
    },
    async listProjects(req) {
      const { value, version } = await store.listProjects(req.filter);
      return create(registryV1.ListProjectsResponseSchema, { projects: value, registryVersion: version });
    },
    async deleteProject(req) {
      return create(registryV1.DeleteProjectResponseSchema, { version: await store.deleteProject(required(req.name, 'name'), req.expectedVersion) });
    },

    getEntity: entities.get,
    listEntities: (req) => entities.list(req),
    deleteEntity: entities.del,
    getDataSource: sources.get,
    listDataSources: (req) => sources.list(req),
    deleteDataSource: sources.del,
    getFeatureView: views.get,
    listFeatureViews: (req) => views.list(req, (view: registryV1.FeatureView) => req.entity === '' || view.entities.includes(req.entity)),
    deleteFeatureView: views.del,
    getOnDemandFeatureView: odfvs.get,
    listOnDemandFeatureViews: (req) => odfvs.list(req),
    deleteOnDemandFeatureView: odfvs.del,
    getFeatureService: services.get,
    listFeatureServices: (req) => services.list(req),
    deleteFeatureService: services.del,
    getSavedDataset: datasets.get,
    listSavedDatasets: (req) => datasets.list(req),
    deleteSavedDataset: datasets.del,
    getPermission: permissions.get,
    listPermissions: (req) => permissions.list(req),
    deletePermission: permissions.del,

    async getMaterializationState(req) {
      const states = await store.getMaterializationState(required(req.project, 'project'), req.featureViews);
      return create(registryV1.GetMaterializationStateResponseSchema, { states });
    },
    async updateMaterializationState(req) {
      checkReportTimes(req, Date.now(), options.maxFutureSkewMs);
      return create(registryV1.UpdateMaterializationStateResponseSchema, { state: await store.updateMaterializationState(req) });
    },

    listFeatures: (req) => listStoredFeatures(store, req),
    searchFeatures: (req) => searchStoredFeatures(store, req),
  });
}
