/** Who is calling, as the authenticator established it. */
export interface Principal {
  readonly kind: 'anonymous' | 'token' | 'certificate';
  /** Token `sub`, or the client certificate's common name; '' for anonymous. */
  readonly subject: string;
  readonly issuer?: string;
  /** From auth.oidc.groupsClaim, plus `system:serviceaccounts` and `system:serviceaccounts:<ns>` for Kubernetes tokens. */
  readonly groups: readonly string[];
  /** Kubernetes service-account token: the pod's namespace. */
  readonly namespace?: string;
  /** Kubernetes service-account token: "<namespace>/<name>". */
  readonly serviceAccount?: string;
  /** The verified client certificate, when the call came with one. */
  readonly certificate?: CertificateIdentity;
  /** Matched auth.operators (or auth is off): every action is allowed. */
  readonly operator: boolean;
  /** Short stable text for logs and audit: "user:alice", "sa:ml/trainer", "cert:ingest", "anonymous". */
  readonly id: string;
}

/** What a verified client certificate says about its holder (@larder/rpc's PeerCertificate fits). */
export interface CertificateIdentity {
  /** The subject's common name ('' when it has none). */
  readonly subject: string;
  /** Subject alternative names without their type prefix: DNS names, URIs, IP addresses, e-mail addresses. */
  readonly sans: readonly string[];
}

/** Every call while authentication is off: today's behaviour, everything allowed. */
export const ANONYMOUS_OPERATOR: Principal = Object.freeze({
  kind: 'anonymous',
  subject: '',
  groups: Object.freeze([]) as readonly string[],
  operator: true,
  id: 'anonymous',
});

export const IDENTITY_KINDS = ['user', 'group', 'sa', 'namespace', 'cert'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

/**
 * Why an identity string (as in auth.operators: `user:<sub>`, `group:<g>`, `sa:<ns>/<name>`,
 * `namespace:<ns>`, `cert:<CN or SAN>`) is malformed, or undefined when it is fine.
 */
export function identityProblem(text: string): string | undefined {
  const colon = text.indexOf(':');
  const kind = colon < 0 ? '' : text.slice(0, colon);
  const value = colon < 0 ? '' : text.slice(colon + 1);
  if (!(IDENTITY_KINDS as readonly string[]).includes(kind)) {
    return `identity ${JSON.stringify(text)} must start with one of ${IDENTITY_KINDS.map((k) => `${k}:`).join(', ')}`;
  }
  if (value === '') return `identity ${JSON.stringify(text)} names nobody after "${kind}:"`;
  if (kind === 'sa' && !/^[^/]+\/[^/]+$/.test(value)) return `identity ${JSON.stringify(text)} must be sa:<namespace>/<name>`;
  return undefined;
}

/**
 * A compiled list of identity strings (auth.operators, auth.metricsReaders): whether a
 * principal is one of them. Anonymous principals match nothing.
 */
export function identityMatcher(identities: readonly string[]): (principal: Principal) => boolean {
  const sets: Record<IdentityKind, Set<string>> = { user: new Set(), group: new Set(), sa: new Set(), namespace: new Set(), cert: new Set() };
  for (const text of identities) {
    const problem = identityProblem(text);
    if (problem !== undefined) throw new Error(problem);
    const colon = text.indexOf(':');
    sets[text.slice(0, colon) as IdentityKind].add(text.slice(colon + 1));
  }
  if (identities.length === 0) return () => false;
  return (principal) => {
    if (principal.kind === 'anonymous') return false;
    if (principal.kind === 'token' && sets.user.has(principal.subject)) return true;
    if (principal.serviceAccount !== undefined && sets.sa.has(principal.serviceAccount)) return true;
    if (principal.namespace !== undefined && sets.namespace.has(principal.namespace)) return true;
    for (const group of principal.groups) if (sets.group.has(group)) return true;
    const cert = principal.certificate;
    if (cert !== undefined && sets.cert.size > 0) {
      if (cert.subject !== '' && sets.cert.has(cert.subject)) return true;
      for (const san of cert.sans) if (sets.cert.has(san)) return true;
    }
    return false;
  };
}
