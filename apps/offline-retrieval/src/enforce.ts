import type { AuditSink, Authorizer, Principal } from '@larder/auth';
import { FeatureResolutionError, resolveFeatures } from '@larder/core';
import type { offlineV1, statisticsV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { RegistryClient } from '@larder/registry-client';
import { requestedObjects } from '@larder/auth';
import { featureRequestOfQuery, trainingSetObjects, saveChecks } from './access';
import type { AccessCheck } from './access';
import type { ObjectRef } from '@larder/auth';

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
        authorizer.require(principal, 'read_offline', trainingSetObjects(features, resolved, this.registry), this.audit, requestId);
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

/**
 * READ_OFFLINE for statistics: they describe the data of what they cover (a feature view,
 * the views of a feature service, a saved dataset). Computing needs it on the scope; a
 * listed or fetched record is shown only to those who have it, a hidden one answering as a
 * missing one.
 */
export class StatisticsAccess {
  constructor(
    private readonly registry: RegistryClient,
    private readonly authorizer: () => Authorizer,
    private readonly audit: AuditSink,
    private readonly defaultProject: string,
  ) {}

  private project(requested: string): string {
    if (requested !== '' || this.defaultProject !== '') return requested !== '' ? requested : this.defaultProject;
    const names = this.registry.projectNames();
    return names.length === 1 ? (names[0] as string) : '';
  }

  /** What a scope covers; a feature service with the views it projects. */
  scopeObjects(scope: statisticsV1.StatisticsScope | undefined): ObjectRef[] {
    const project = this.project(scope?.project ?? '');
    const set = this.registry.registrySet(project);
    const view = (name: string): ObjectRef => {
      if (set?.onDemandFeatureViews.some((v) => v.name === name) === true) return { project, type: 'on_demand_feature_view', name };
      const found = set?.featureViews.find((v) => v.name === name);
      return found === undefined ? { project, type: 'feature_view', name } : { project, type: 'feature_view', name, tags: found.tags };
    };
    const kind = scope?.kind;
    switch (kind?.case) {
      case 'featureView':
      case 'ingested':
      case 'materialized':
        return [view(kind.value.featureView)];
      case 'featureService': {
        const service = set?.featureServices.find((s) => s.name === kind.value.featureService);
        const ref: ObjectRef =
          service === undefined
            ? { project, type: 'feature_service', name: kind.value.featureService }
            : { project, type: 'feature_service', name: service.name, tags: service.tags };
        return [ref, ...(service?.projections ?? []).map((p) => view(p.featureView))];
      }
      case 'savedDataset': {
        const dataset = set?.savedDatasets.find((d) => d.name === kind.value.savedDataset);
        return [
          dataset === undefined
            ? { project, type: 'saved_dataset', name: kind.value.savedDataset }
            : { project, type: 'saved_dataset', name: dataset.name, tags: dataset.tags },
        ];
      }
      default:
        return [{ project, type: 'project', name: project }];
    }
  }

  compute(principal: Principal, request: statisticsV1.ComputeStatisticsRequest, requestId: string): void {
    this.authorizer().require(principal, 'read_offline', this.scopeObjects(request.scope), this.audit, requestId);
  }

  private readable(principal: Principal, record: statisticsV1.StatisticsRecord): boolean {
    if (principal.operator) return true;
    const authorizer = this.authorizer();
    return this.scopeObjects(record.scope).every((o) => authorizer.allowed(principal, 'read_offline', o));
  }

  list(principal: Principal, response: statisticsV1.ListStatisticsResponse): statisticsV1.ListStatisticsResponse {
    return principal.operator ? response : { ...response, records: response.records.filter((r) => this.readable(principal, r)) };
  }

  /** The record, or the service's own NOT_FOUND for an id it does not have. */
  get(principal: Principal, request: statisticsV1.GetStatisticsRequest, response: statisticsV1.GetStatisticsResponse): statisticsV1.GetStatisticsResponse {
    if (response.record === undefined || this.readable(principal, response.record)) return response;
    throw new RpcError(Code.NOT_FOUND, `id: no statistics '${request.id.slice(0, 100)}' in project '${this.project(request.project)}'`);
  }
}
