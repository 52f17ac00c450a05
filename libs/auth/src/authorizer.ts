import { Code, RpcError } from '@larder/rpc';
import type { AuditSink } from './audit';
import { compileGlob } from './glob';
import type { GlobMatcher } from './glob';
import type { Principal } from './principal';

export const ACTIONS = ['describe', 'create', 'update', 'delete', 'read_online', 'read_offline', 'write_online', 'write_offline', 'materialize', 'manage_permissions'] as const;
export type Action = (typeof ACTIONS)[number];

export const OBJECT_TYPES = ['project', 'entity', 'data_source', 'feature_view', 'on_demand_feature_view', 'feature_service', 'saved_dataset', 'permission'] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

/** larder.registry.v1.Action numbers: ACTION_DESCRIBE = 1 ... ACTION_MANAGE_PERMISSIONS = 10 (0 is unspecified). */
export function actionFromProto(value: number): Action | undefined {
  return ACTIONS[value - 1];
}
export function actionToProto(action: Action): number {
  return ACTIONS.indexOf(action) + 1;
}
/** larder.registry.v1.ObjectKind numbers: OBJECT_KIND_PROJECT = 1 ... OBJECT_KIND_PERMISSION = 8. */
export function objectTypeFromProto(value: number): ObjectType | undefined {
  return OBJECT_TYPES[value - 1];
}
export function objectTypeToProto(type: ObjectType): number {
  return OBJECT_TYPES.indexOf(type) + 1;
}

/** The object a call acts on. Project-level actions use type 'project' and the project's name. */
export interface ObjectRef {
  readonly project: string;
  readonly type: ObjectType;
  readonly name: string;
  /** The object's tags, for permissions with required_tags; absent = no tags. */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The fields of larder.registry.v1.Permission the authorizer reads (the generated message
 * fits it); the project is the object's `meta.project`, as the registry stores it.
 */
export interface PermissionInput {
  readonly name: string;
  readonly types: readonly number[];
  readonly namePatterns: readonly string[];
  readonly requiredTags: Readonly<Record<string, string>>;
  readonly actions: readonly number[];
  readonly policy?: PolicyInput | undefined;
  readonly meta?: { readonly project: string } | undefined;
}

export interface PolicyInput {
  readonly roles: readonly string[];
  readonly users: readonly string[];
  readonly namespaces: readonly string[];
  readonly serviceAccounts: readonly string[];
  readonly certificateSubjects: readonly string[];
  readonly anyAuthenticated: boolean;
}

export interface Authorizer {
  /** The registry version the permissions were compiled from. */
  readonly version: bigint;
  allowed(principal: Principal, action: Action, object: ObjectRef): boolean;
  /**
   * Throws RpcError PERMISSION_DENIED naming the action and the first object refused (after
   * writing the denial to `audit`) unless every object is allowed.
   */
  require(principal: Principal, action: Action, objects: readonly ObjectRef[], audit?: AuditSink, requestId?: string): void;
}

interface CompiledPermission {
  readonly name: string;
  /** Bit per ObjectType index; all bits when the permission lists no types. */
  readonly types: number;
  /** Empty = every name. */
  readonly names: readonly GlobMatcher[];
  readonly tags: ReadonlyArray<readonly [string, string]>;
  readonly policy: PolicyInput;
}

/** Per principal: for each project and action, the permissions whose policy grants it to them. */
type Grants = Map<string, readonly CompiledPermission[]>;

const ALL_TYPES = (1 << OBJECT_TYPES.length) - 1;
const EMPTY: readonly CompiledPermission[] = Object.freeze([]);

/**
 * Compiles the permissions of one registry version. Allow-only with default deny: a call is
 * allowed when the principal is an operator or some permission of the object's project covers
 * the object (types, name globs, required tags), the action and the principal (policy).
 *
 * The work per call is a lookup of the principal's grants (computed once per principal object
 * and version — the authenticator hands out the same Principal for the same token) and a
 * type/glob/tag test over the few permissions that grant this principal this action.
 */
export function compileAuthorizer(permissions: readonly PermissionInput[], version: bigint): Authorizer {
  // project -> action -> permissions granting it
  const byProjectAction = new Map<string, CompiledPermission[]>();
  for (const permission of permissions) {
    const project = permission.meta?.project ?? '';
    if (project === '') continue; // not stored in a project: covers nothing
    const compiled = compilePermission(permission);
    for (const value of new Set(permission.actions)) {
      const action = actionFromProto(value);
      if (action === undefined) continue;
      const key = grantKey(project, action);
      let list = byProjectAction.get(key);
      if (list === undefined) byProjectAction.set(key, (list = []));
      list.push(compiled);
    }
  }

  const grantsOf = new WeakMap<Principal, Grants>();
  const grants = (principal: Principal): Grants => {
    let g = grantsOf.get(principal);
    if (g === undefined) {
      g = new Map();
      for (const [key, list] of byProjectAction) {
        const mine = list.filter((p) => policyCovers(p.policy, principal));
        if (mine.length > 0) g.set(key, mine);
      }
      grantsOf.set(principal, g);
    }
    return g;
  };

  const allowed = (principal: Principal, action: Action, object: ObjectRef): boolean => {
    if (principal.operator) return true;
    const list = grants(principal).get(grantKey(object.project, action)) ?? EMPTY;
    if (list.length === 0) return false;
    const typeBit = 1 << OBJECT_TYPES.indexOf(object.type);
    for (const p of list) {
      if ((p.types & typeBit) === 0) continue;
      if (p.names.length > 0 && !p.names.some((m) => m(object.name))) continue;
      if (!hasTags(object.tags, p.tags)) continue;
      return true;
    }
    return false;
  };

  return {
    version,
    allowed,
    require(principal, action, objects, audit, requestId) {
      if (principal.operator) return;
      for (const object of objects) {
        if (allowed(principal, action, object)) continue;
        const reason = deniedMessage(principal, action, object);
        audit?.write({ identity: principal.id, action, objects: [object], outcome: 'denied', reason, ...(requestId !== undefined && { requestId }) });
        throw new RpcError(Code.PERMISSION_DENIED, reason);
      }
    },
  };
}

/** Every call allowed, at no cost: mode none, where every principal is the anonymous operator anyway. */
export function allowAllAuthorizer(version: bigint): Authorizer {
  return { version, allowed: () => true, require: () => undefined };
}

/** `principal user:bob may not read_online feature_view "driver_stats" in project "p"` */
export function deniedMessage(principal: Principal, action: Action, object: ObjectRef): string {
  const what = object.type === 'project' ? `project ${JSON.stringify(object.name)}` : `${object.type} ${JSON.stringify(object.name)} in project ${JSON.stringify(object.project)}`;
  return `principal ${principal.id} may not ${action} ${what}`;
}

function grantKey(project: string, action: Action): string {
  return `${action}\0${project}`;
}

function compilePermission(permission: PermissionInput): CompiledPermission {
  let types = 0;
  for (const value of permission.types) {
    const type = objectTypeFromProto(value);
    if (type !== undefined) types |= 1 << OBJECT_TYPES.indexOf(type);
  }
  // A list of only unknown kinds covers nothing rather than everything.
  if (permission.types.length === 0) types = ALL_TYPES;
  const policy = permission.policy ?? { roles: [], users: [], namespaces: [], serviceAccounts: [], certificateSubjects: [], anyAuthenticated: false };
  return {
    name: permission.name,
    types,
    names: permission.namePatterns.map(compileGlob),
    tags: Object.entries(permission.requiredTags),
    policy,
  };
}

function policyCovers(policy: PolicyInput, principal: Principal): boolean {
  if (principal.kind === 'anonymous') return false;
  if (policy.anyAuthenticated) return true;
  if (principal.kind === 'token' && policy.users.includes(principal.subject)) return true;
  if (principal.namespace !== undefined && policy.namespaces.includes(principal.namespace)) return true;
  if (principal.serviceAccount !== undefined && policy.serviceAccounts.includes(principal.serviceAccount)) return true;
  if (policy.roles.length > 0 && principal.groups.some((g) => policy.roles.includes(g))) return true;
  const cert = principal.certificate;
  if (cert !== undefined && policy.certificateSubjects.length > 0) {
    if (cert.subject !== '' && policy.certificateSubjects.includes(cert.subject)) return true;
    if (cert.sans.some((s) => policy.certificateSubjects.includes(s))) return true;
  }
  return false;
}

function hasTags(tags: Readonly<Record<string, string>> | undefined, required: ReadonlyArray<readonly [string, string]>): boolean {
  if (required.length === 0) return true;
  if (tags === undefined) return false;
  for (const [key, value] of required) if (!Object.hasOwn(tags, key) || tags[key] !== value) return false;
  return true;
}
