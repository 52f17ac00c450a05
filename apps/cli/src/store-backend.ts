import { listFeatures, searchFeatures } from '@larder/core';
import { openRegistryStore } from '@larder/registry-store';
import type { RegistryBackend } from './backend';

/** The registry opened in-process: a file (the embedded default) or PostgreSQL. */
export async function storeBackend(location: string, baseDir: string): Promise<RegistryBackend> {
  const store = await openRegistryStore(location, { baseDir });
  const byProject = <T extends { project: { name: string } }>(sets: T[]): T[] =>
    sets.sort((a, b) => (a.project.name < b.project.name ? -1 : a.project.name > b.project.name ? 1 : 0));
  return {
    description: store.location.startsWith('file:') ? `file registry ${store.location.slice('file:'.length)}` : `registry ${store.location}`,
    apply: (request) => store.apply(request),
    version: async () => (await store.version()).version,
    listProjects: async () => (await store.listProjects()).value,
    getProject: async (name) => (await store.getProject(name)).value,
    deleteProject: (name) => store.deleteProject(name),
    list: async (kind, project, filter) => (await store.listObjects(kind, project, filter)).value,
    get: async (kind, project, name) => (await store.getObject(kind, project, name)).value,
    registrySets: async (project) => {
      const { value, version } = await store.registrySets(project);
      return { version, sets: byProject(value) };
    },
    // Discovery is core's, as in the registry service, so both answer alike.
    listFeatures: async (req) => {
      const { value } = await store.registrySets(req.project);
      const query = { filter: req.filter, featureView: req.featureView, entity: req.entity, owner: req.owner, valueType: req.valueType };
      return byProject(value).flatMap((set) => listFeatures(set, query));
    },
    searchFeatures: async (req) => {
      const { value } = await store.registrySets(req.project);
      const limit = req.limit <= 0 ? 100 : req.limit;
      return byProject(value)
        .flatMap((set) => searchFeatures(set, { ...req, project: set.project.name, limit }))
        .slice(0, limit);
    },
    close: () => store.close(),
  };
}
