import type { RegistrySet } from '@larder/core';
import type { registryV1 } from '@larder/proto';
import type { ObjectKindInProject, RegistryObject } from '@larder/registry-store';
import type { ClientSecurity } from '@larder/rpc';

/**
 * What the commands need from a registry, whether it is a running registry
 * service or a store the CLI opens itself (a file, PostgreSQL). Failures are
 * RpcErrors with the registry's status codes in both cases.
 */
export interface RegistryBackend {
  /** For messages: "registry service at host:port", "file registry /path". */
  readonly description: string;
  apply(request: registryV1.ApplyRegistryRequest): Promise<registryV1.ApplyRegistryResponse>;
  version(): Promise<bigint>;
  listProjects(): Promise<registryV1.Project[]>;
  getProject(name: string): Promise<registryV1.Project>;
  /** Returns the registry version after the delete. */
  deleteProject(name: string): Promise<bigint>;
  list(kind: ObjectKindInProject, project: string, filter?: registryV1.ObjectFilter): Promise<RegistryObject[]>;
  get(kind: ObjectKindInProject, project: string, name: string): Promise<RegistryObject>;
  /** Whole projects (all when `project` is empty) at one version. */
  registrySets(project: string): Promise<{ version: bigint; sets: RegistrySet[] }>;
  listFeatures(request: registryV1.ListFeaturesRequest): Promise<registryV1.FeatureInfo[]>;
  searchFeatures(request: registryV1.SearchFeaturesRequest): Promise<registryV1.FeatureInfo[]>;
  close(): Promise<void>;
}

/** Where the registry is, as the user named it. */
export type RegistryTarget = { kind: 'remote'; address: string } | { kind: 'store'; location: string; baseDir: string };

const ADDRESS = /^(\[[0-9a-f:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/** `host:port` is a running service; `postgres://…` or a path is a store the CLI opens. */
export function parseRegistryTarget(text: string, baseDir: string): RegistryTarget {
  if (ADDRESS.test(text)) return { kind: 'remote', address: text };
  if (text.startsWith('grpc://')) return { kind: 'remote', address: text.slice('grpc://'.length) };
  return { kind: 'store', location: text, baseDir };
}

/** `security` (TLS, bearer token) applies to a registry service. */
export async function openBackend(target: RegistryTarget, security: ClientSecurity = {}): Promise<RegistryBackend> {
  // Only the modules of the chosen kind load: the other pulls in pg or grpc.
  if (target.kind === 'remote') return (await import('./remote-backend')).remoteBackend(target.address, security);
  return (await import('./store-backend')).storeBackend(target.location, target.baseDir);
}
