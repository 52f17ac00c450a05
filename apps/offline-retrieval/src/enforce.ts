import { allowAllAuthorizer, compileAuthorizer } from '@larder/auth';
import type { AuditSink, Authorizer, Principal } from '@larder/auth';
import { FeatureResolutionError, resolveFeatures } from '@larder/core';
import type { offlineV1 } from '@larder/proto';
import type { RegistryClient } from '@larder/registry-client';
import { featureRequestOfQuery, planObjects, requestedObjects, saveChecks } from './access';
import type { AccessCheck } from './access';

/** The authorizer of a registry copy, compiled again for each version it reaches. */
export function followPermissions(registry: RegistryClient, enforced: boolean): () => Authorizer {
  const compile = (): Authorizer =>
    enforced ? compileAuthorizer(registry.projectNames().flatMap((p) => registry.permissions(p)), registry.version) : allowAllAuthorizer(registry.version);
  let current = compile();
  registry.onChange(() => {
    current = compile();
  });
  return () => current;
}

/**
 * READ_OFFLINE for historical retrieval, before any entity row is read: on what the query
 * names (so a hidden view is denied as a missing one), then on every view and on-demand
 * view it resolves to; CREATE (or UPDATE) of the dataset it saves. A query that does not
 * resolve is left to the retrieval's own error once its names pass.
 */
export class RetrievalAccess {
  constructor(
    private readonly registry: RegistryClient,
    private readonly authorizer: () => Authorizer,
    readonly audit: AuditSink,
    private readonly defaultProject: string,
  ) {}

  private project(requested: string): string {
    if (requested !== '' || this.defaultProject !== '') return requested !== '' ? requested : this.defaultProject;
    const names = this.registry.projectNames();
    return names.length === 1 ? (names[0] as string) : '';
  }

  /** Throws PERMISSION_DENIED (audited) unless the caller may run `query`; gives the writes it makes. */
  check(principal: Principal, query: offlineV1.HistoricalQuery, requestId: string): AccessCheck[] {
    const project = this.project(query.project);
    const saves = saveChecks(project, query, this.registry);
    if (principal.operator) return saves;
    const features = featureRequestOfQuery(query);
    if (features === undefined) return saves;
    const authorizer = this.authorizer();
    authorizer.require(principal, 'read_offline', requestedObjects(project, features, this.registry), this.audit, requestId);
    const set = this.registry.registrySet(project);
    if (set !== undefined) {
      try {
        const resolved = resolveFeatures(set, features, { fullFeatureNames: query.fullFeatureNames });
        authorizer.require(principal, 'read_offline', planObjects(features, resolved, this.registry), this.audit, requestId);
      } catch (error) {
        if (!(error instanceof FeatureResolutionError)) throw error;
      }
    }
    for (const check of saves) authorizer.require(principal, check.action, check.objects, this.audit, requestId);
    return saves;
  }

  saved(principal: Principal, saves: readonly AccessCheck[], requestId: string): void {
    for (const check of saves) this.audit.write({ identity: principal.id, action: check.action, objects: check.objects, outcome: 'success', requestId });
  }
}
