import { listFeatures, searchFeatures } from '@larder/core';
import { issuesTrailer, openRegistryStore, RegistryStoreError } from '@larder/registry-store';
import type { RegistryStoreErrorKind } from '@larder/registry-store';
import { Code, RpcError } from '@larder/rpc';
import type { RegistryBackend } from './backend';

// The registry service's statuses for the store's refusals (libs/registry-service/src/store-errors.ts),
// so a command says the same of a file registry as of a remote one.
const STATUS: Readonly<Record<RegistryStoreErrorKind, Code>> = {
  NOT_FOUND: Code.NOT_FOUND,
  INVALID: Code.INVALID_ARGUMENT,
  CONFLICT: Code.ABORTED,
  PRECONDITION: Code.FAILED_PRECONDITION,
};

function asStatus(error: unknown): unknown {
  if (!(error instanceof RegistryStoreError)) return error;
  return new RpcError(STATUS[error.kind], error.message, { metadata: issuesTrailer(error.issues), cause: error });
}

/** `fn`, failing with the RpcError a remote registry would send. */
function withStatus<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return (...args) => fn(...args).catch((error: unknown) => Promise.reject(asStatus(error)));
}

/** The registry opened in-process: a file (the embedded default) or PostgreSQL. */
export async function storeBackend(location: string, baseDir: string): Promise<RegistryBackend> {
  const store = await openRegistryStore(location, { baseDir });
  const byProject = <T extends { project: { name: string } }>(sets: T[]): T[] =>
    sets.sort((a, b) => (a.project.name < b.project.name ? -1 : a.project.name > b.project.name ? 1 : 0));
  return {
    description: store.location.startsWith('file:') ? `file registry ${store.location.slice('file:'.length)}` : `registry ${store.location}`,
    apply: withStatus((request) => store.apply(request)),
    version: withStatus(async () => (await store.version()).version),
    listProjects: withStatus(async () => (await store.listProjects()).value),
    getProject: withStatus(async (name) => (await store.getProject(name)).value),
    deleteProject: withStatus((name) => store.deleteProject(name)),
    list: withStatus(async (kind, project, filter) => (await store.listObjects(kind, project, filter)).value),
    get: withStatus(async (kind, project, name) => (await store.getObject(kind, project, name)).value),
    registrySets: withStatus(async (project) => {
      const { value, version } = await store.registrySets(project);
      return { version, sets: byProject(value) };
    }),
    // Discovery is core's, as in the registry service, so both answer alike.
    listFeatures: withStatus(async (req) => {
      const { value } = await store.registrySets(req.project);
      const query = { filter: req.filter, featureView: req.featureView, entity: req.entity, owner: req.owner, valueType: req.valueType };
      return byProject(value).flatMap((set) => listFeatures(set, query));
    }),
    searchFeatures: withStatus(async (req) => {
      const { value } = await store.registrySets(req.project);
      const limit = req.limit <= 0 ? 100 : req.limit;
      return byProject(value)
        .flatMap((set) => searchFeatures(set, { ...req, project: set.project.name, limit }))
        .slice(0, limit);
    }),
    close: () => store.close(),
  };
}
