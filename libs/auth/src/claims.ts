import type { JWTPayload } from 'jose';
import type { Principal } from './principal';

const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:([^:]+):([^:]+)$/;

/** A claim that makes the token unusable, with the reason the caller is told. */
export class ClaimError extends Error {
  override readonly name = 'ClaimError';
}

/**
 * The principal a verified token stands for. Kubernetes service-account tokens (sub
 * `system:serviceaccount:<ns>:<name>`, and the `kubernetes.io` claim on projected tokens)
 * get their namespace and service account, and the groups the API server gives them.
 */
export function tokenPrincipal(payload: JWTPayload, groupsClaim: string, isOperator: (p: Principal) => boolean): Principal {
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub === '') throw new ClaimError('token has no subject (sub)');
  const groups = new Set(claimStrings(payload, groupsClaim));
  let namespace: string | undefined;
  let serviceAccount: string | undefined;
  const sa = SERVICE_ACCOUNT_SUBJECT.exec(sub);
  if (sa !== null) {
    namespace = sa[1] as string;
    const name = sa[2] as string;
    const k8s = payload['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown } } | undefined;
    if (k8s !== undefined && k8s !== null && typeof k8s === 'object') {
      if ((k8s.namespace !== undefined && k8s.namespace !== namespace) || (k8s.serviceaccount?.name !== undefined && k8s.serviceaccount.name !== name)) {
        throw new ClaimError('token kubernetes.io claim does not match its subject');
      }
    }
    serviceAccount = `${namespace}/${name}`;
    groups.add('system:serviceaccounts');
    groups.add(`system:serviceaccounts:${namespace}`);
  }
  const base = {
    kind: 'token' as const,
    subject: sub,
    ...(typeof payload.iss === 'string' && { issuer: payload.iss }),
    groups: Object.freeze([...groups]),
    ...(namespace !== undefined && { namespace }),
    ...(serviceAccount !== undefined && { serviceAccount }),
    id: serviceAccount !== undefined ? `sa:${serviceAccount}` : `user:${sub}`,
    operator: false,
  };
  return Object.freeze({ ...base, operator: isOperator(base) });
}

/** A claim by dot path (`realm_access.roles`) as a list of strings: an array's strings, or one string. */
export function claimStrings(payload: JWTPayload, path: string): string[] {
  let value: unknown = payload;
  // A claim whose name itself holds dots ("https://example.com/groups") is tried whole first.
  if (Object.hasOwn(payload, path)) value = payload[path];
  else {
    for (const part of path.split('.')) {
      if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return [];
      value = (value as Record<string, unknown>)[part];
    }
  }
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return [];
}
