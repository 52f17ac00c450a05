import { registryV1 } from '@larder/proto';
import type { ObjectKindInProject, RegistryObject } from '@larder/registry-store';
import { RegistryClient } from '@larder/registry-client';
import { createClient } from '@larder/rpc';
import type { ClientSecurity } from '@larder/rpc';
import type { RegistryBackend } from './backend';

const K = registryV1.ObjectKind;

/** A running registry service, over gRPC. */
export function remoteBackend(address: string, security: ClientSecurity = {}): RegistryBackend {
  const rpc = createClient(registryV1.RegistryService, address, { ...security, defaultTimeoutMs: 60_000 });
  const list = async (kind: ObjectKindInProject, project: string, filter?: registryV1.ObjectFilter): Promise<RegistryObject[]> => {
    const req = { project, ...(filter !== undefined && { filter }) };
    switch (kind) {
      case K.ENTITY:
        return (await rpc.listEntities(req)).entities;
      case K.DATA_SOURCE:
        return (await rpc.listDataSources(req)).dataSources;
      case K.FEATURE_VIEW:
        return (await rpc.listFeatureViews(req)).featureViews;
      case K.ON_DEMAND_FEATURE_VIEW:
        return (await rpc.listOnDemandFeatureViews(req)).onDemandFeatureViews;
      case K.FEATURE_SERVICE:
        return (await rpc.listFeatureServices(req)).featureServices;
      case K.SAVED_DATASET:
        return (await rpc.listSavedDatasets(req)).savedDatasets;
      case K.PERMISSION:
        return (await rpc.listPermissions(req)).permissions;
    }
  };
  const get = async (kind: ObjectKindInProject, project: string, name: string): Promise<RegistryObject> => {
    const req = { project, name };
    // Each Get answer carries the object in a field named after its kind.
    const found = await (async () => {
      switch (kind) {
        case K.ENTITY:
          return (await rpc.getEntity(req)).entity;
        case K.DATA_SOURCE:
          return (await rpc.getDataSource(req)).dataSource;
        case K.FEATURE_VIEW:
          return (await rpc.getFeatureView(req)).featureView;
        case K.ON_DEMAND_FEATURE_VIEW:
          return (await rpc.getOnDemandFeatureView(req)).onDemandFeatureView;
        case K.FEATURE_SERVICE:
          return (await rpc.getFeatureService(req)).featureService;
        case K.SAVED_DATASET:
          return (await rpc.getSavedDataset(req)).savedDataset;
        case K.PERMISSION:
          return (await rpc.getPermission(req)).permission;
      }
    })();
    if (found === undefined) throw new Error(`the registry answered without the ${name} object`);
    return found;
  };
  return {
    description: `registry service at ${address}`,
    apply: (request) => rpc.applyRegistry(request),
    version: async () => (await rpc.getRegistryVersion({})).version,
    listProjects: async () => (await rpc.listProjects({})).projects,
    getProject: async (name) => {
      const { project } = await rpc.getProject({ name });
      if (project === undefined) throw new Error(`the registry answered without project ${name}`);
      return project;
    },
    deleteProject: async (name) => (await rpc.deleteProject({ name })).version,
    list,
    get,
    // One WatchRegistry snapshot: every object at one version, in one call.
    registrySets: async (project) => {
      // Fails fast (UNAVAILABLE) when nothing listens, instead of waiting for a snapshot.
      await rpc.getRegistryVersion({}, { timeoutMs: 10_000 });
      const client = await RegistryClient.connect({ address, project, clientOptions: security, timeoutMs: 30_000, backoff: { initialMs: 100, maxMs: 1000 } });
      try {
        const names = client.projectNames().filter((name) => project === '' || name === project);
        const sets = names.flatMap((name) => client.registrySet(name) ?? []);
        return { version: client.version, sets };
      } finally {
        await client.closed();
      }
    },
    listFeatures: async (req) => (await rpc.listFeatures(req)).features,
    searchFeatures: async (req) => (await rpc.searchFeatures(req)).features,
    close: async () => rpc.close(),
  };
}
