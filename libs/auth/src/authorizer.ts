import { ACTION_NAMES, actionName, OBJECT_TYPE_NAMES, objectTypeName } from '@larder/core';
import type { ActionName, ObjectTypeName } from '@larder/core';
import { Code, RpcError } from '@larder/rpc';
import type { AuditSink } from './audit';
import { compileGlob } from './glob';
import type { GlobMatcher } from './glob';
import type { Principal } from './principal';

/** What a call does to an object: @larder/core's names of larder.registry.v1.Action (`read_online`). */
export type Action = ActionName;
/** The kind of object acted on: @larder/core's names of larder.registry.v1.ObjectKind (`feature_view`). */
export type ObjectType = ObjectTypeName;

/** Bit of each object type in a compiled permission's type mask. */
const TYPE_BIT = new Map<ObjectType, number>(OBJECT_TYPE_NAMES.map((name, i) => [name, 1 << i]));

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
 * fits it: enums are numbers); the project is the object's `meta.project`, as the registry
 * stores it.
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

/** For each project, per action index, the permissions granting that action (to anyone, or to one principal). */
type Grants = Map<string, Array<readonly CompiledPermission[] | undefined>>;

const ALL_TYPES = (1 << OBJECT_TYPE_NAMES.length) - 1;
const ACTION_INDEX = new Map<Action, number>(ACTION_NAMES.map((name, i) => [name, i]));
const NONE: readonly CompiledPermission[] = Object.freeze([]);

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
  // project -> action index -> permissions granting it (to someone)
  const byProject = new Map<string, CompiledPermission[][]>();
  for (const permission of permissions) {
    const project = permission.meta?.project ?? '';
    if (project === '') continue; // not stored in a project: covers nothing
    const compiled = compilePermission(permission);
    for (const value of new Set(permission.actions)) {
      const action = actionName(value);
      if (action === undefined) continue;
      let perAction = byProject.get(project);
      if (perAction === undefined) byProject.set(project, (perAction = []));
      const index = ACTION_INDEX.get(action) as number;
      (perAction[index] ??= []).push(compiled);
    }
  }

  // Per principal, filled on demand: a first call pays for one (project, action) list, not all.
  // Only projects that have permissions get an entry, so made-up project names grow nothing.
  const grantsOf = new WeakMap<Principal, Grants>();
  const grantsFor = (principal: Principal, project: string, action: Action): readonly CompiledPermission[] => {
    const all = byProject.get(project);
    if (all === undefined) return NONE;
    const index = ACTION_INDEX.get(action);
    if (index === undefined) return NONE;
    let g = grantsOf.get(principal);
    if (g === undefined) grantsOf.set(principal, (g = new Map()));
    let perAction = g.get(project);
    if (perAction === undefined) g.set(project, (perAction = []));
    let list = perAction[index];
    if (list === undefined) {
      const covered = all[index]?.filter((p) => policyCovers(p.policy, principal)) ?? [];
      perAction[index] = list = covered.length === 0 ? NONE : covered;
    }
    return list;
  };

  const allowed = (principal: Principal, action: Action, object: ObjectRef): boolean => {
    if (principal.operator) return true;
    const list = grantsFor(principal, object.project, action);
    if (list.length === 0) return false;
    const typeBit = TYPE_BIT.get(object.type) ?? 0;
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
  const what =
    object.type === 'project'
      ? `project ${JSON.stringify(object.name)}`
      : `${object.type} ${JSON.stringify(object.name)} in project ${JSON.stringify(object.project)}`;
  return `principal ${principal.id} may not ${action} ${what}`;
}

function compilePermission(permission: PermissionInput): CompiledPermission {
  let types = 0;
  for (const value of permission.types) {
    const type = objectTypeName(value);
    if (type !== undefined) types |= TYPE_BIT.get(type) ?? 0;
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
