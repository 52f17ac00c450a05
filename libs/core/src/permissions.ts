import { registryV1 } from '@larder/proto';

const { Action, ObjectKind } = registryV1;

/**
 * How feature repos, the CLI and the authorizer write a Permission's actions:
 * the proto enum's name without its prefix, lower case (`ACTION_READ_ONLINE`
 * -> `read_online`).
 */
export type ActionName =
  'describe' | 'create' | 'update' | 'delete' | 'read_online' | 'read_offline' | 'write_online' | 'write_offline' | 'materialize' | 'manage_permissions';

/**
 * How a Permission's `types` are written: `feature_view`, `saved_dataset`.
 * Underscores, unlike the CLI's kind names (`feature-view`), because they
 * are YAML values beside `read_online` and the authorizer's object types.
 */
export type ObjectTypeName =
  'project' | 'entity' | 'data_source' | 'feature_view' | 'on_demand_feature_view' | 'feature_service' | 'saved_dataset' | 'permission';

const ACTIONS: ReadonlyArray<readonly [registryV1.Action, ActionName]> = [
  [Action.DESCRIBE, 'describe'],
  [Action.CREATE, 'create'],
  [Action.UPDATE, 'update'],
  [Action.DELETE, 'delete'],
  [Action.READ_ONLINE, 'read_online'],
  [Action.READ_OFFLINE, 'read_offline'],
  [Action.WRITE_ONLINE, 'write_online'],
  [Action.WRITE_OFFLINE, 'write_offline'],
  [Action.MATERIALIZE, 'materialize'],
  [Action.MANAGE_PERMISSIONS, 'manage_permissions'],
];

const OBJECT_TYPES: ReadonlyArray<readonly [registryV1.ObjectKind, ObjectTypeName]> = [
  [ObjectKind.PROJECT, 'project'],
  [ObjectKind.ENTITY, 'entity'],
  [ObjectKind.DATA_SOURCE, 'data_source'],
  [ObjectKind.FEATURE_VIEW, 'feature_view'],
  [ObjectKind.ON_DEMAND_FEATURE_VIEW, 'on_demand_feature_view'],
  [ObjectKind.FEATURE_SERVICE, 'feature_service'],
  [ObjectKind.SAVED_DATASET, 'saved_dataset'],
  [ObjectKind.PERMISSION, 'permission'],
];

/** Every action name, in enum order. */
export const ACTION_NAMES: readonly ActionName[] = ACTIONS.map(([, name]) => name);
/** Every object type name, in ObjectKind order. */
export const OBJECT_TYPE_NAMES: readonly ObjectTypeName[] = OBJECT_TYPES.map(([, name]) => name);

const actionByNumber = new Map<number, ActionName>(ACTIONS.map(([action, name]) => [action, name]));
const actionByName = new Map<string, registryV1.Action>(ACTIONS.map(([action, name]) => [name, action]));
const typeByNumber = new Map<number, ObjectTypeName>(OBJECT_TYPES.map(([kind, name]) => [kind, name]));
const typeByName = new Map<string, registryV1.ObjectKind>(OBJECT_TYPES.map(([kind, name]) => [name, kind]));

/** `Action.READ_ONLINE` -> `read_online`; undefined for UNSPECIFIED or a number the contract does not define. */
export function actionName(action: registryV1.Action): ActionName | undefined {
  return actionByNumber.get(action);
}

/** `read_online` -> `Action.READ_ONLINE`; exactly the names of ACTION_NAMES, else undefined. */
export function parseActionName(text: string): registryV1.Action | undefined {
  return actionByName.get(text);
}

/** `ObjectKind.FEATURE_VIEW` -> `feature_view`; undefined for UNSPECIFIED or an unknown number. */
export function objectTypeName(kind: registryV1.ObjectKind): ObjectTypeName | undefined {
  return typeByNumber.get(kind);
}

/** `feature_view` -> `ObjectKind.FEATURE_VIEW`; exactly the names of OBJECT_TYPE_NAMES, else undefined. */
export function parseObjectTypeName(text: string): registryV1.ObjectKind | undefined {
  return typeByName.get(text);
}

/**
 * Bounds on a Permission, so that a hostile apply cannot make the registry,
 * or every service compiling permissions, do unbounded work or hold huge
 * strings. Generous for real use: a team's permission names a few patterns,
 * tags and identities.
 */
export const PERMISSION_LIMITS = {
  /** Entries of `name_patterns`. */
  maxNamePatterns: 64,
  /** Characters of one name pattern. */
  maxPatternChars: 256,
  /** Entries of `required_tags`. */
  maxRequiredTags: 32,
  /** Characters of a required tag's key or value. */
  maxTagChars: 256,
  /** Entries of each policy list (roles, users, ...). */
  maxIdentities: 256,
  /** Characters of one identity (a role, a subject, a certificate name). */
  maxIdentityChars: 256,
} as const;

/** The characters a name pattern may hold: those of object and project names, plus `*` and `?`. */
export const NAME_PATTERN_CHARS = /^[\p{L}\p{N}_.*?-]+$/u;

/**
 * Whether `name` matches the glob `pattern`: `*` matches any run of
 * characters (including none), `?` exactly one, everything else itself.
 * Iterative with one backtrack point (the last `*`), so the work is at most
 * pattern length x name length steps, never exponential as a regular
 * expression built from user text can be.
 */
export function globMatches(pattern: string, name: string): boolean {
  // Code points, not UTF-16 units, so `?` matches one letter of any script.
  const p = [...pattern];
  const n = [...name];
  let pi = 0;
  let ni = 0;
  let star = -1;
  let resume = 0;
  while (ni < n.length) {
    const c = p[pi];
    if (c === '*') {
      star = pi++;
      resume = ni;
    } else if (c !== undefined && (c === '?' || c === n[ni])) {
      pi++;
      ni++;
    } else if (star >= 0) {
      pi = star + 1;
      ni = ++resume;
    } else {
      return false;
    }
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}
