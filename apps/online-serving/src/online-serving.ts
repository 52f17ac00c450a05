import type { Principal } from '@larder/auth';
import { DEFAULT_ROW_COST_LIMIT } from '@larder/core';
import type { FeatureRequest } from '@larder/core';
import type { OnlineStore } from '@larder/online-store';
import type { servingV1, typesV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import { DEFAULT_ONLINE_ON_DEMAND_REQUEST_COST } from './config';
import { PlanCache } from './plan';
import type { RegistrySource, ServingPlan } from './plan';
import { serveOnline } from './serve';
import type { OnDemandLimits, ServingCall } from './serve';
import type { ReadAccess } from './enforce';
import type { ServingValueMetrics } from './value-metrics';

export interface OnlineServingOptions {
  /** Project of requests that name none; '' = the registry's only project. */
  defaultProject: string;
  maxEntityRows: number;
  storeTimeoutMs: number;
  planCacheSize: number;
  /** Whether the registry copy holds a snapshot yet. */
  registryReady: () => boolean;
  /** Cost units on-demand features may take per row and per request (see @larder/core's EvaluationBudget). */
  onDemandRowCost?: number;
  onDemandRequestCost?: number;
  now?: () => number;
  /** Who may read what; without it every call is served (embedded use and tests of the serving path). */
  access?: ReadAccess;
  /** Per-feature counters of values breaking their view's TFDV schema; without it nothing is counted. */
  valueMetrics?: ServingValueMetrics;
}

const NO_CALL: ServingCall = { timeRemainingMs: () => undefined };

/** What both front doors (gRPC and HTTP/JSON) ask for. */
export interface FeatureQuery {
  project: string;
  features: FeatureRequest | undefined;
  fullFeatureNames: boolean;
}

type Columns = Readonly<Record<string, readonly typesV1.Value[] | undefined>>;

/** Milliseconds to leave between the store's deadline and the caller's, so our UNAVAILABLE reaches it first. */
function storeDeadline(remaining: number | undefined, configured: number): number {
  if (remaining === undefined) return configured;
  const margin = Math.min(50, Math.max(2, remaining * 0.1));
  return Math.max(1, Math.min(configured, Math.floor(remaining - margin)));
}

/** GetOnlineFeatures over a registry copy and an online store. */
export class OnlineServing {
  readonly plans: PlanCache;
  private readonly now: () => number;
  private readonly onDemandLimits: OnDemandLimits;

  constructor(
    private readonly registry: RegistrySource,
    private readonly store: OnlineStore,
    private readonly options: OnlineServingOptions,
  ) {
    this.plans = new PlanCache(registry, options.planCacheSize, options.valueMetrics);
    this.onDemandLimits = {
      rowCost: options.onDemandRowCost ?? DEFAULT_ROW_COST_LIMIT,
      requestCost: options.onDemandRequestCost ?? DEFAULT_ONLINE_ON_DEMAND_REQUEST_COST,
    };
    this.now = options.now ?? Date.now;
  }

  /**
   * The compiled plan for a query (types of entity and request columns, for the JSON gateway),
   * once the caller may read what it reads. With access configured, every front door passes
   * the caller; a call without one is an error, never an unchecked read.
   */
  plan(query: FeatureQuery, principal?: Principal, requestId?: string): ServingPlan {
    if (!this.options.registryReady()) throw new RpcError(Code.UNAVAILABLE, 'the registry copy is not loaded yet; retry shortly');
    if (query.features === undefined) throw new RpcError(Code.INVALID_ARGUMENT, 'kind: set either features (a list of view:feature refs) or feature_service');
    const access = this.options.access;
    if (access === undefined)
      return this.plans.plan({ project: this.project(query.project), features: query.features, fullFeatureNames: query.fullFeatureNames });
    if (principal === undefined) throw new Error('online serving: a read without its caller; every front door must pass the principal');
    const request = { project: this.project(query.project, principal), features: query.features, fullFeatureNames: query.fullFeatureNames };
    return access.plan(principal, request, () => this.plans.plan(request), requestId);
  }

  async get(plan: ServingPlan, entities: Columns, requestContext: Columns, call: ServingCall = NO_CALL): Promise<servingV1.GetOnlineFeaturesResponse> {
    return serveOnline(this.store, {
      plan,
      entities,
      requestContext,
      storeTimeoutMs: storeDeadline(call.timeRemainingMs(), this.options.storeTimeoutMs),
      maxEntityRows: this.options.maxEntityRows,
      now: this.now(),
      onDemandLimits: this.onDemandLimits,
      call,
    });
  }

  /** The gRPC request, answered. */
  async getOnlineFeatures(
    request: servingV1.GetOnlineFeaturesRequest,
    call: ServingCall = NO_CALL,
    principal?: Principal,
    requestId?: string,
  ): Promise<servingV1.GetOnlineFeaturesResponse> {
    const { kind } = request;
    const features: FeatureRequest | undefined =
      kind.case === 'features' ? { refs: kind.value.val } : kind.case === 'featureService' ? { featureService: kind.value } : undefined;
    const plan = this.plan({ project: request.project, features, fullFeatureNames: request.fullFeatureNames }, principal, requestId);
    return this.get(plan, unwrap(request.entities), unwrap(request.requestContext), call);
  }

  private project(requested: string, principal?: Principal): string {
    if (requested !== '') return requested;
    if (this.options.defaultProject !== '') return this.options.defaultProject;
    const names = this.registry.projectNames();
    if (names.length === 1) return names[0] as string;
    // The projects' names are not every caller's to read.
    if (principal !== undefined && !principal.operator) throw new RpcError(Code.INVALID_ARGUMENT, 'project: required; name the project to read from');
    throw new RpcError(
      names.length === 0 ? Code.NOT_FOUND : Code.INVALID_ARGUMENT,
      names.length === 0
        ? 'the registry holds no project yet; apply a feature repo first'
        : `project: the registry holds several projects (${names.join(', ')}); name one in the request or set LARDER_PROJECT`,
    );
  }
}

function unwrap(columns: Readonly<Record<string, typesV1.RepeatedValue>>): Record<string, typesV1.Value[]> {
  const out: Record<string, typesV1.Value[]> = {};
  for (const key of Object.keys(columns)) out[key] = (columns[key] as typesV1.RepeatedValue).val;
  return out;
}
