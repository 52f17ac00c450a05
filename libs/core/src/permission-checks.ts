import type { registryV1 } from '@larder/proto';
import { ACTION_NAMES, actionName, NAME_PATTERN_CHARS, OBJECT_TYPE_NAMES, objectTypeName, PERMISSION_LIMITS } from './permissions';

/** One problem with a permission: the field path (proto names) and the rest of the sentence after "permission 'x' ". */
export interface PermissionProblem {
  field: string;
  message: string;
}

const L = PERMISSION_LIMITS;

// Kubernetes names: a namespace is a DNS label, a service account a DNS subdomain.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
// Identities come from tokens and certificates: any printable text, but no
// control characters (they would forge audit and log lines) and no padding
// (it never matches what a token carries, so it is a mistake).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** A value quoted for a message, cut short so a hostile megabyte string is not echoed back. */
function shown(text: string): string {
  const max = 64;
  return text.length <= max ? `'${text}'` : `'${text.slice(0, max)}...' (${text.length} characters)`;
}

/**
 * Checks a Permission on its own (it refers to no other object): types and
 * actions known and set, name patterns that are plain globs of bounded size,
 * bounded required tags, and a policy that names someone with well-formed,
 * bounded identities. The name is checked with the other objects' names.
 */
export function permissionProblems(p: registryV1.Permission): PermissionProblem[] {
  const out: PermissionProblem[] = [];
  const add = (field: string, message: string): void => {
    out.push({ field, message });
  };
  checkEnums(add, 'types', p.types, objectTypeName, 'type', OBJECT_TYPE_NAMES, 'OBJECT_KIND_UNSPECIFIED');

  if (p.namePatterns.length > L.maxNamePatterns) {
    add(
      'name_patterns',
      `has ${p.namePatterns.length} name patterns, more than the ${L.maxNamePatterns} allowed; use wildcards ('*', '?') to cover many names with one pattern`,
    );
  } else {
    p.namePatterns.forEach((pattern, i) => {
      const at = `name_patterns[${i}]`;
      if (pattern === '') add(at, `has an empty name pattern (name_patterns entry #${i + 1}); use '*' to cover every name`);
      else if (pattern.length > L.maxPatternChars) add(at, `has a name pattern of ${pattern.length} characters, more than the ${L.maxPatternChars} allowed`);
      else if (!NAME_PATTERN_CHARS.test(pattern)) {
        add(
          at,
          `has name pattern ${shown(pattern)} with characters other than letters, digits, '_', '.', '-' and the wildcards '*' and '?' (patterns are globs, not regular expressions)`,
        );
      }
    });
  }

  const tags = Object.entries(p.requiredTags);
  if (tags.length > L.maxRequiredTags) {
    add('required_tags', `has ${tags.length} required tags, more than the ${L.maxRequiredTags} allowed`);
  } else {
    for (const [key, value] of tags) {
      if (key === '') add('required_tags', 'has a required tag with an empty key');
      else if (key.length > L.maxTagChars) add('required_tags', `has a required tag key of ${key.length} characters, more than the ${L.maxTagChars} allowed`);
      else if (value.length > L.maxTagChars)
        add(`required_tags.${key}`, `has a required tag value of ${value.length} characters, more than the ${L.maxTagChars} allowed`);
    }
  }

  if (p.actions.length === 0) add('actions', `grants no actions; list at least one of ${ACTION_NAMES.join(', ')}`);
  else checkEnums(add, 'actions', p.actions, actionName, 'action', ACTION_NAMES, 'ACTION_UNSPECIFIED');

  checkPolicy(add, p.policy);
  return out;
}

/** Checks a repeated enum field: every entry set, known to the contract, listed once. */
function checkEnums<E extends number>(
  add: (field: string, message: string) => void,
  path: string,
  values: readonly E[],
  nameOf: (value: E) => string | undefined,
  noun: string,
  choices: readonly string[],
  unspecified: string,
): void {
  // An enum list is at most one entry per choice once duplicates are refused,
  // so report the first few problems and stop: a million-entry list costs one pass.
  const seen = new Set<number>();
  let reported = 0;
  for (let i = 0; i < values.length && reported < 8; i++) {
    const value = values[i] as E;
    const at = `${path}[${i}]`;
    const name = nameOf(value);
    if (name === undefined) {
      const what = value === 0 ? `${unspecified} (not set)` : `unknown ${noun} ${value}`;
      add(at, `has ${what}; use one of ${choices.join(', ')}`);
      reported++;
    } else if (seen.has(value)) {
      add(at, `lists ${noun} '${name}' more than once`);
      reported++;
    }
    seen.add(value);
  }
}

function checkPolicy(add: (field: string, message: string) => void, policy: registryV1.Policy | undefined): void {
  const lists = [
    ['roles', policy?.roles ?? [], 'role'],
    ['users', policy?.users ?? [], 'user'],
    ['namespaces', policy?.namespaces ?? [], 'namespace'],
    ['service_accounts', policy?.serviceAccounts ?? [], 'service account'],
    ['certificate_subjects', policy?.certificateSubjects ?? [], 'certificate subject'],
  ] as const;
  if (policy === undefined || (!policy.anyAuthenticated && lists.every(([, list]) => list.length === 0))) {
    add('policy', 'names no one; set policy.roles, users, namespaces, service_accounts, certificate_subjects, or any_authenticated: true');
    return;
  }
  for (const [key, list, noun] of lists) {
    const path = `policy.${key}`;
    if (list.length > L.maxIdentities) {
      add(path, `lists ${list.length} ${noun}s, more than the ${L.maxIdentities} allowed; grant a role (group) instead of many users`);
      continue;
    }
    list.forEach((identity, i) => {
      const problem = identityProblem(key, identity);
      if (problem !== undefined) add(`${path}[${i}]`, `has ${noun} ${problem}`);
    });
  }
}

function identityProblem(list: string, identity: string): string | undefined {
  if (identity === '') return '"" (empty)';
  if (identity.length > L.maxIdentityChars) return `of ${identity.length} characters, more than the ${L.maxIdentityChars} allowed`;
  if (CONTROL.test(identity)) return `${shown(JSON.stringify(identity).slice(1, -1))} containing control characters`;
  if (identity.trim() !== identity) return `${shown(identity)} with leading or trailing spaces`;
  if (list === 'namespaces' && !(identity.length <= 63 && DNS_LABEL.test(identity))) {
    return `${shown(identity)}, which is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)`;
  }
  if (list === 'service_accounts') {
    const slash = identity.indexOf('/');
    const namespace = identity.slice(0, slash);
    const name = identity.slice(slash + 1);
    if (slash < 0 || !(namespace.length <= 63 && DNS_LABEL.test(namespace)) || !(name.length <= 253 && DNS_SUBDOMAIN.test(name))) {
      return `${shown(identity)}, which is not '<namespace>/<name>' of a Kubernetes service account, e.g. 'serving/kserve-risk'`;
    }
  }
  return undefined;
}
