import { create } from '@bufbuild/protobuf';
import { allowAllAuthorizer, compileAuthorizer, objectRef, principalOf } from '@larder/auth';
import type { AuditSink, Authorizer, Principal } from '@larder/auth';
import type { RegistrySet } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { RegistryState } from '@larder/registry-client';
import { RegistryStoreError } from '@larder/registry-store';
import type { RegistryStore } from '@larder/registry-store';
import { Code, RpcError } from '@larder/rpc';
import type { AnyHandler, HandlerContext, ServiceRegistration } from '@larder/rpc';
import { applyChecks, featureInfoRef, REGISTRY_ACCESS, visibleChanges } from './access';
import type { AccessCheck, RegistryLookup, RegistryRule } from './access';
import type { Action, ObjectRef, ObjectType } from '@larder/auth';
import { watchParts } from './watch';

/**
 * The registry as the checks see it: an in-memory copy of the store (for the tags of the
 * objects a request names) and the authorizer compiled from its permissions, both moved
 * to each new version as the store commits it (before any watch stream sees it).
 */
export class RegistryAccess implements RegistryLookup {
  private readonly copy = new RegistryState();
  private current: Authorizer;
  private readonly sets = new Map<string, RegistrySet | undefined>();
  private unsubscribe: () => void = () => undefined;

  private constructor(private readonly enforced: boolean) {
    this.current = allowAllAuthorizer(0n);
  }

  /** Follows `store`; `enforced` false (auth mode none) allows everything at no cost. */
  static async follow(store: RegistryStore, enforced: boolean): Promise<RegistryAccess> {
    const access = new RegistryAccess(enforced);
    const early: registryV1.WatchRegistryResponse[] = [];
    let loaded = false;
    // Subscribe before the snapshot, so a commit in between is not missed.
    access.unsubscribe = store.subscribe((change) => (loaded ? access.apply(change) : early.push(change)));
    access.apply(await store.snapshot());
    for (const change of early) if (change.version > access.copy.version) access.apply(change);
    loaded = true;
    return access;
  }

  private apply(message: registryV1.WatchRegistryResponse): void {
    this.copy.apply(message);
    this.sets.clear();
    if (this.enforced) {
      const permissions = this.copy.projectNames().flatMap((project) => this.copy.list('permissions', project));
      this.current = compileAuthorizer(permissions, this.copy.version);
    } else this.current = allowAllAuthorizer(this.copy.version);
  }

  get authorizer(): Authorizer {
    return this.current;
  }

  /** Memoized per version: a RegistrySet is built (and sorted) on each call of the copy. */
  registrySet(project: string): RegistrySet | undefined {
    if (!this.sets.has(project)) this.sets.set(project, this.copy.registrySet(project));
    return this.sets.get(project);
  }

  close(): void {
    this.unsubscribe();
  }
}

export interface RegistryGuardOptions {
  access: RegistryAccess;
  store: RegistryStore;
  audit: AuditSink;
}

/** Actions whose success is a write, audited as one. */
const WRITES: ReadonlySet<Action> = new Set(['create', 'update', 'delete', 'manage_permissions', 'materialize']);

/** Where each narrowed answer keeps its objects, and what they are. */
const LISTED: Readonly<Record<string, { field: string; type: ObjectType }>> = {
  listProjects: { field: 'projects', type: 'project' },
  listEntities: { field: 'entities', type: 'entity' },
  listDataSources: { field: 'dataSources', type: 'data_source' },
  listFeatureViews: { field: 'featureViews', type: 'feature_view' },
  listOnDemandFeatureViews: { field: 'onDemandFeatureViews', type: 'on_demand_feature_view' },
  listFeatureServices: { field: 'featureServices', type: 'feature_service' },
  listSavedDatasets: { field: 'savedDatasets', type: 'saved_dataset' },
  listPermissions: { field: 'permissions', type: 'permission' },
};

function denyUnmapped(method: string): AnyHandler {
  return () => {
    throw new RpcError(Code.PERMISSION_DENIED, `${method} has no access rule; it is refused until it gets one`);
  };
}

/**
 * RegistryService with every rpc checked by its rule (access.ts): per-request checks
 * before the handler runs, applies checked per object of their plan, lists, discovery
 * and the change feed narrowed to what the caller may describe, and every write and
 * denial audited. An rpc without a rule is refused, never let through.
 */
export function guardRegistry(registration: ServiceRegistration, options: RegistryGuardOptions): ServiceRegistration {
  const impl = registration.impl as Record<string, AnyHandler | undefined>;
  const guarded: Record<string, AnyHandler> = {};
  for (const method of registryV1.RegistryService.methods) {
    const handler = impl[method.localName];
    if (handler === undefined) continue;
    const rule = REGISTRY_ACCESS[method.localName];
    guarded[method.localName] = rule === undefined ? denyUnmapped(method.name) : guardOne(method.localName, rule, handler, options);
  }
  return { ...registration, impl: guarded as ServiceRegistration['impl'] };
}

function requireAll(principal: Principal, checks: readonly AccessCheck[], options: RegistryGuardOptions, ctx: HandlerContext): void {
  const authorizer = options.access.authorizer;
  for (const check of checks) authorizer.require(principal, check.action, check.objects, options.audit, ctx.requestId);
}

function auditWrites(principal: Principal, checks: readonly AccessCheck[], options: RegistryGuardOptions, ctx: HandlerContext): void {
  for (const check of checks) {
    if (WRITES.has(check.action))
      options.audit.write({ identity: principal.id, action: check.action, objects: check.objects, outcome: 'success', requestId: ctx.requestId });
  }
}

function guardOne(name: string, rule: RegistryRule, handler: AnyHandler, options: RegistryGuardOptions): AnyHandler {
  switch (rule.kind) {
    case 'authenticated':
      return handler;
    case 'checks':
      return async (request: unknown, ctx: HandlerContext) => {
        const principal = principalOf(ctx);
        const checks = rule.checks(request as never, options.access);
        requireAll(principal, checks, options, ctx);
        const response: unknown = await handler(request, ctx);
        auditWrites(principal, checks, options, ctx);
        return response;
      };
    case 'apply':
      return (request: registryV1.ApplyRegistryRequest, ctx: HandlerContext) => guardedApply(request, ctx, handler, options);
    case 'filtered':
      return name === 'watchRegistry' ? guardedWatch(handler, options) : guardedList(name, handler, options);
  }
}

/**
 * Plans the apply (the store's own diff, nothing written), checks the caller may make each
 * change, then applies at the planned version: a commit in between makes the store answer
 * ABORTED instead of writing a diff nobody checked, and the plan is made again (a caller's
 * own expected_version is kept, so its ABORTED reaches it).
 */
async function guardedApply(
  request: registryV1.ApplyRegistryRequest,
  ctx: HandlerContext,
  handler: AnyHandler,
  options: RegistryGuardOptions,
): Promise<registryV1.ApplyRegistryResponse> {
  const principal = principalOf(ctx);
  if (principal.operator) {
    // Nothing to check (and mode none makes everyone an operator): one pass, audited by its diff.
    const applied = (await handler(request, ctx)) as registryV1.ApplyRegistryResponse;
    if (applied.applied) auditWrites(principal, applyChecks(request, applied.diffs, options.access), options, ctx);
    return applied;
  }
  for (let attempt = 0; ; attempt++) {
    const plan = (await handler(create(registryV1.ApplyRegistryRequestSchema, { ...request, planOnly: true }), ctx)) as registryV1.ApplyRegistryResponse;
    const checks = applyChecks(request, plan.diffs, options.access);
    requireAll(principal, checks, options, ctx);
    if (request.planOnly) return plan;
    try {
      const applied = (await handler(
        create(registryV1.ApplyRegistryRequestSchema, { ...request, expectedVersion: request.expectedVersion ?? plan.version }),
        ctx,
      )) as registryV1.ApplyRegistryResponse;
      if (applied.applied) auditWrites(principal, checks, options, ctx);
      return applied;
    } catch (error) {
      // Another writer committed between the plan and the write: plan again (the checks with it).
      const conflict = error instanceof RegistryStoreError ? error.kind === 'CONFLICT' : error instanceof RpcError && error.code === Code.ABORTED;
      if (request.expectedVersion === undefined && attempt < 4 && conflict) continue;
      throw error;
    }
  }
}

function guardedList(name: string, handler: AnyHandler, options: RegistryGuardOptions): AnyHandler {
  return async (request: { project?: string; limit?: number }, ctx: HandlerContext) => {
    const principal = principalOf(ctx);
    if (principal.operator) return handler(request, ctx);
    const authorizer = options.access.authorizer;
    const visible = (ref: ObjectRef): boolean => authorizer.allowed(principal, 'describe', ref);
    const listed = LISTED[name];
    if (listed !== undefined) {
      const response = (await handler(request, ctx)) as Record<string, unknown>;
      const objects = response[listed.field] as { name: string; tags: Record<string, string> }[];
      const project = (o: { name: string }): string => (listed.type === 'project' ? o.name : (request.project ?? ''));
      return { ...response, [listed.field]: objects.filter((o) => visible({ project: project(o), type: listed.type, name: o.name, tags: o.tags })) };
    }
    if (name === 'getMaterializationState') {
      const response = (await handler(request, ctx)) as registryV1.GetMaterializationStateResponse;
      return {
        ...response,
        states: response.states.filter((s) =>
          visible(objectRef(options.access.registrySet(request.project ?? ''), request.project ?? '', 'feature_view', s.featureView)),
        ),
      };
    }
    if (name === 'listFeatures' || name === 'searchFeatures') {
      // Search ranks before it limits: ask for every match, narrow, then keep the limit.
      const limit = request.limit === undefined || request.limit <= 0 ? 100 : request.limit;
      const all = name === 'searchFeatures' ? { ...request, limit: 2 ** 31 - 1 } : request;
      const response = (await handler(all, ctx)) as registryV1.ListFeaturesResponse;
      const features = response.features.filter((f) => visible(featureInfoRef(f, options.access)));
      return { ...response, features: name === 'searchFeatures' ? features.slice(0, limit) : features };
    }
    throw new RpcError(Code.PERMISSION_DENIED, `${name} has no narrowing rule; it is refused until it gets one`);
  };
}

function touchesPermissions(message: registryV1.WatchRegistryResponse): boolean {
  return message.changes.some((c) => c.kind === registryV1.ObjectKind.PERMISSION);
}

/**
 * The change feed, narrowed to what the caller may describe. A version that changes
 * permissions may change what the caller sees, so once it is whole the caller gets a new
 * snapshot, narrowed under the new permissions, and later versions resume from there.
 */
function guardedWatch(handler: AnyHandler, options: RegistryGuardOptions): AnyHandler {
  return async function* (request: registryV1.WatchRegistryRequest, ctx: HandlerContext): AsyncGenerator<registryV1.WatchRegistryResponse> {
    const principal = principalOf(ctx);
    const stream = handler(request, ctx) as AsyncIterable<registryV1.WatchRegistryResponse>;
    if (principal.operator) {
      yield* stream;
      return;
    }
    const visible = (ref: ObjectRef): boolean => options.access.authorizer.allowed(principal, 'describe', ref);
    let resumeAfter = -1n;
    let permissionsChanged = false;
    for await (const message of stream) {
      if (message.version <= resumeAfter) continue;
      permissionsChanged ||= !message.snapshot && touchesPermissions(message);
      yield visibleChanges(message, visible);
      if (message.continued || !permissionsChanged) continue;
      permissionsChanged = false;
      const snapshot = await options.store.snapshot(request.project === '' ? undefined : request.project);
      resumeAfter = snapshot.version;
      yield* watchParts(visibleChanges(snapshot, visible));
    }
  };
}
