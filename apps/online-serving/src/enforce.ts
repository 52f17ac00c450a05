import type { AuditSink, Authorizer, Principal } from '@larder/auth';
import { servedObjects } from './access';
import { requestedObjects } from '@larder/auth';
import type { AccessLookup } from '@larder/auth';
import type { ObjectRef } from '@larder/auth';
import type { PlanRequest, ServingPlan } from './plan';

/**
 * READ_ONLINE for every front door (gRPC, Feast's gRPC, HTTP): on what a compiled plan
 * reads, worked out once per plan (plans live for one registry version). A request that
 * cannot be planned is checked on what it names first, so a caller learns nothing about
 * objects it may not read, not even whether they exist.
 */
export class ReadAccess {
  private readonly objects = new WeakMap<ServingPlan, readonly ObjectRef[]>();

  constructor(
    private readonly registry: AccessLookup,
    private readonly authorizer: () => Authorizer,
    private readonly audit: AuditSink,
  ) {}

  plan(principal: Principal, request: PlanRequest, compile: () => ServingPlan, requestId?: string): ServingPlan {
    if (principal.operator) return compile();
    const authorizer = this.authorizer();
    let plan: ServingPlan;
    try {
      plan = compile();
    } catch (error) {
      authorizer.require(principal, 'read_online', requestedObjects(request.project, request.features, this.registry), this.audit, requestId);
      throw error;
    }
    let objects = this.objects.get(plan);
    if (objects === undefined) {
      objects = servedObjects(request.features, plan.resolved, this.registry);
      this.objects.set(plan, objects);
    }
    authorizer.require(principal, 'read_online', objects, this.audit, requestId);
    return plan;
  }
}
