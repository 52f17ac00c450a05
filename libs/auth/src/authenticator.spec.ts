import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Code, createLogger, loadConfig, RpcError } from '@larder/rpc';
import type { ConfigOverrides } from '@larder/rpc';
import { TestIssuer, waitUntil } from '@larder/testing';
import { createAuthenticator } from './authenticator';
import type { Authenticator, AuthenticatorOptions } from './authenticator';
import { authConfigSchema } from './config';
import type { AuthConfigSchema } from './config';

// Time logic: run under a zone far from UTC so nothing leans on the machine's offset.
const savedTz = process.env.TZ;
beforeAll(() => {
  process.env.TZ = 'Pacific/Kiritimati'; // UTC+14
});
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

type AuthOverrides = NonNullable<ConfigOverrides<AuthConfigSchema>['auth']>;

const logLines: string[] = [];
const logger = createLogger({ service: 'auth-test', level: 'debug', write: (l) => logLines.push(l) });

function authConfig(auth: AuthOverrides) {
  return loadConfig(authConfigSchema(), { overrides: { auth } }).auth;
}

function oidcAuthenticator(
  issuer: TestIssuer,
  oidc: AuthOverrides['oidc'] = {},
  rest: Omit<AuthOverrides, 'oidc'> = {},
  options: AuthenticatorOptions = {},
): Authenticator {
  return createAuthenticator(authConfig({ modes: ['oidc'], ...rest, oidc: { issuer: issuer.issuer, audiences: ['larder'], ...oidc } }), logger, options);
}

async function refusal(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('expected the credentials to be refused');
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('createAuthenticator: oidc against a test issuer over HTTP', () => {
  let issuer: TestIssuer;
  let auth: Authenticator;

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    auth = oidcAuthenticator(issuer, { groupsClaim: 'groups' }, { operators: ['user:root', 'group:platform'] });
  });
  afterAll(() => issuer.close());

  it('accepts a valid token: subject, issuer, groups, id; discovered through the openid-configuration', async () => {
    const principal = await auth.authenticate(bearer(await issuer.issue({ sub: 'alice', groups: ['risk-analysts', 'ml'] })));
    expect(principal).toMatchObject({
      kind: 'token',
      subject: 'alice',
      issuer: issuer.issuer,
      groups: ['risk-analysts', 'ml'],
      id: 'user:alice',
      operator: false,
    });
    expect(issuer.discoveryRequests).toBeGreaterThanOrEqual(1);
    expect(issuer.jwksRequests).toBeGreaterThanOrEqual(1);
  });

  it('caches a verified token: the same Principal object, no further key fetch', async () => {
    const token = await issuer.issue({ sub: 'carol' });
    const first = await auth.authenticate(bearer(token));
    const fetches = issuer.jwksRequests;
    const second = await auth.authenticate({ authorization: `bearer   ${token}  ` });
    expect(second).toBe(first);
    expect(issuer.jwksRequests).toBe(fetches);
  });

  it('tokens alternating call after call each keep their own identity (the cache and its last-digest shortcut)', async () => {
    const [dana, erin] = await Promise.all([issuer.issue({ sub: 'dana' }), issuer.issue({ sub: 'erin' })]);
    const seen: string[] = [];
    for (const token of [dana, erin, erin, dana, erin, dana, dana]) seen.push((await auth.authenticate(bearer(token))).subject);
    expect(seen).toEqual(['dana', 'erin', 'erin', 'dana', 'erin', 'dana', 'dana']);
    await expect(auth.authenticate(bearer(`${dana}x`))).rejects.toMatchObject({ code: Code.UNAUTHENTICATED });
    expect((await auth.authenticate(bearer(dana))).subject).toBe('dana');
  });

  it('marks operators from auth.operators by user and by group', async () => {
    expect((await auth.authenticate(bearer(await issuer.issue({ sub: 'root' })))).operator).toBe(true);
    expect((await auth.authenticate(bearer(await issuer.issue({ sub: 'dora', groups: ['platform'] })))).operator).toBe(true);
    expect((await auth.authenticate(bearer(await issuer.issue({ sub: 'dora', groups: ['platformers'] })))).operator).toBe(false);
  });

  it.each<[string, () => Promise<string>, string]>([
    ['expired', () => issuer.issue({ expiresIn: -120 }), 'token expired'],
    ['not yet valid', () => issuer.issue({ notBefore: 120 }), 'token not yet valid'],
    ['from another issuer', () => issuer.issue({ issuer: 'https://evil.example' }), 'token issuer "https://evil.example" not accepted'],
    ['for another audience', () => issuer.issue({ aud: 'other-service' }), 'token audience "other-service" not accepted'],
    ['unsigned (alg none)', () => issuer.issue({ alg: 'none' }), 'token algorithm none not allowed'],
    ['HS256 keyed with the public key (algorithm confusion)', () => issuer.issue({ alg: 'HS256' }), 'token algorithm "HS256" not allowed'],
    [
      'signed by a key not in the JWKS, under a published kid',
      async () => issuer.issue({ unpublishedKey: true, kid: issuer.currentKid }),
      'token signature invalid',
    ],
    ['without exp', () => issuer.issue({ noExpiry: true }), 'token has no exp claim'],
  ])('refuses a token %s with UNAUTHENTICATED and the reason', async (_label, make, reason) => {
    const error = await refusal(auth.authenticate(bearer(await make())));
    expect(error.code).toBe(Code.UNAUTHENTICATED);
    expect(error.message).toBe(reason);
  });

  it('allows exp and nbf within the clock skew (30 s)', async () => {
    await expect(auth.authenticate(bearer(await issuer.issue({ expiresIn: -10 })))).resolves.toMatchObject({ subject: 'alice' });
    await expect(auth.authenticate(bearer(await issuer.issue({ notBefore: 10 })))).resolves.toMatchObject({ subject: 'alice' });
  });

  it('judges expiry by the clock, also for a cached token', async () => {
    let now = Date.now();
    const timed = oidcAuthenticator(issuer, {}, {}, { now: () => now });
    const token = await issuer.issue({ expiresIn: 60, now });
    await expect(timed.authenticate(bearer(token))).resolves.toMatchObject({ subject: 'alice' });
    now += 60_000 + 29_000; // inside the skew
    await expect(timed.authenticate(bearer(token))).resolves.toMatchObject({ subject: 'alice' });
    now += 2_000;
    expect((await refusal(timed.authenticate(bearer(token)))).message).toBe('token expired');
  });

  it.each<[string, string | undefined, string]>([
    ['no Authorization', undefined, 'missing bearer token'],
    ['an empty one', '', 'missing bearer token'],
    ['Basic credentials', 'Basic YWxpY2U6c2VjcmV0', 'authorization is not a bearer token ("Bearer <jwt>")'],
    ['two tokens', 'Bearer a.b.c, Bearer d.e.f', 'authorization is not a bearer token ("Bearer <jwt>")'],
    ['not a JWT', 'Bearer not-a-jwt', 'token is not a valid JWT'],
    ['a JWT with a damaged header', 'Bearer bm90IGpzb24.e30.c2ln', 'token is not a valid JWT'],
  ])('refuses %s', async (_label, authorization, reason) => {
    const error = await refusal(auth.authenticate({ authorization }));
    expect(error.code).toBe(Code.UNAUTHENTICATED);
    expect(error.message).toBe(reason);
  });

  it('refuses a token over 16 KiB before parsing it', async () => {
    const huge = await issuer.issue({ claims: { padding: 'x'.repeat(20_000) } });
    const error = await refusal(auth.authenticate(bearer(huge)));
    expect(error.code).toBe(Code.UNAUTHENTICATED);
    expect(error.message).toMatch(/^bearer token too large \(\d+ bytes; at most 16384\)$/);
  });

  it('Kubernetes service-account tokens: namespace, service account and the API server groups', async () => {
    const token = await issuer.serviceAccountToken({ namespace: 'serving', name: 'kserve-risk', groups: ['extra'] });
    const principal = await auth.authenticate(bearer(token));
    expect(principal).toMatchObject({
      kind: 'token',
      subject: 'system:serviceaccount:serving:kserve-risk',
      namespace: 'serving',
      serviceAccount: 'serving/kserve-risk',
      id: 'sa:serving/kserve-risk',
    });
    expect([...principal.groups].sort()).toEqual(['extra', 'system:serviceaccounts', 'system:serviceaccounts:serving']);
  });

  it('refuses a service-account token whose kubernetes.io claim disagrees with its subject', async () => {
    const token = await issuer.serviceAccountToken({
      namespace: 'serving',
      name: 'kserve',
      claims: { 'kubernetes.io': { namespace: 'kube-system', serviceaccount: { name: 'kserve' } } },
    });
    expect((await refusal(auth.authenticate(bearer(token)))).message).toBe('token kubernetes.io claim does not match its subject');
  });

  it('operators by service account and namespace', async () => {
    const ops = oidcAuthenticator(issuer, {}, { operators: ['sa:platform/larder-admin', 'namespace:ops'] });
    expect((await ops.authenticate(bearer(await issuer.serviceAccountToken({ namespace: 'platform', name: 'larder-admin' })))).operator).toBe(true);
    expect((await ops.authenticate(bearer(await issuer.serviceAccountToken({ namespace: 'ops', name: 'anyone' })))).operator).toBe(true);
    expect((await ops.authenticate(bearer(await issuer.serviceAccountToken({ namespace: 'platform', name: 'other' })))).operator).toBe(false);
  });

  it('reads groups from a dot path (realm_access.roles)', async () => {
    const keycloak = oidcAuthenticator(issuer, { groupsClaim: 'realm_access.roles' });
    const principal = await keycloak.authenticate(
      bearer(await issuer.issue({ sub: 'kc', claims: { realm_access: { roles: ['risk-analysts', 7, 'admins'] } } })),
    );
    expect(principal.groups).toEqual(['risk-analysts', 'admins']);
  });

  it('accepts only the configured algorithms (an ES256 token when only RS256 is allowed)', async () => {
    const rsOnly = oidcAuthenticator(issuer, { algorithms: ['RS256'] });
    const es = await TestIssuer.start({ alg: 'ES256' });
    try {
      const esAuth = oidcAuthenticator(es);
      await expect(esAuth.authenticate(bearer(await es.issue()))).resolves.toMatchObject({ subject: 'alice' });
      const esOnIssuer = await es.issue({ issuer: issuer.issuer });
      expect((await refusal(rsOnly.authenticate(bearer(esOnIssuer)))).message).toBe('token algorithm "ES256" not allowed');
    } finally {
      await es.close();
    }
  });
});

describe('key rotation and unknown keys', () => {
  let issuer: TestIssuer;
  beforeEach(async () => {
    issuer = await TestIssuer.start();
  });
  afterEach(() => issuer.close());

  it('a new key is fetched when a token names it; the old one is refused once retired', async () => {
    let now = Date.now();
    const auth = oidcAuthenticator(issuer, { jwksCooldown: 0, jwksMaxAge: 60_000 }, {}, { now: () => now });
    const oldKid = issuer.currentKid;
    const oldToken = await issuer.issue({ sub: 'old' });
    await expect(auth.authenticate(bearer(oldToken))).resolves.toMatchObject({ subject: 'old' });

    const newKid = await issuer.rotate();
    expect(newKid).not.toBe(oldKid);
    const fetches = issuer.jwksRequests;
    await expect(auth.authenticate(bearer(await issuer.issue({ sub: 'new' })))).resolves.toMatchObject({ subject: 'new' });
    expect(issuer.jwksRequests).toBe(fetches + 1);

    issuer.retire(oldKid);
    now += 61_000; // past jwksMaxAge: the next call refreshes the set behind itself
    await waitUntil(
      async () => {
        try {
          await auth.authenticate(bearer(await issuer.issue({ sub: 'old-again', keyId: oldKid, now })));
          return false;
        } catch (error) {
          return error instanceof RpcError && error.message === 'token signed by an unknown key';
        }
      },
      { what: 'the retired key refused', timeoutMs: 10_000, intervalMs: 20 },
    );
    // The token verified before the retirement is not served from the cache either.
    expect((await refusal(auth.authenticate(bearer(oldToken)))).message).toBe('token signed by an unknown key');
    await expect(auth.authenticate(bearer(await issuer.issue({ sub: 'new', now })))).resolves.toMatchObject({ subject: 'new' });
  });

  it('unknown key ids refetch the set at most once per cooldown', async () => {
    const auth = oidcAuthenticator(issuer, { jwksCooldown: 600_000 });
    await auth.authenticate(bearer(await issuer.issue()));
    const fetches = issuer.jwksRequests;
    for (let i = 0; i < 20; i++) {
      const token = await issuer.issue({ unpublishedKey: true, kid: `random-${i}` });
      const error = await refusal(auth.authenticate(bearer(token)));
      expect(error.code).toBe(Code.UNAUTHENTICATED);
      expect(error.message).toBe('token signed by an unknown key');
    }
    expect(issuer.jwksRequests - fetches).toBeLessThanOrEqual(1);
  });

  it('concurrent tokens with a new key share one refetch', async () => {
    const auth = oidcAuthenticator(issuer, { jwksCooldown: 0 });
    await auth.authenticate(bearer(await issuer.issue()));
    await issuer.rotate();
    const fetches = issuer.jwksRequests;
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => issuer.issue({ sub: `c${i}` })));
    const principals = await Promise.all(tokens.map((t) => auth.authenticate(bearer(t))));
    expect(principals.map((p) => p.subject)).toEqual(tokens.map((_, i) => `c${i}`));
    expect(issuer.jwksRequests).toBe(fetches + 1);
  });

  it('uses auth.oidc.jwksUrl without discovery', async () => {
    const auth = oidcAuthenticator(issuer, { jwksUrl: issuer.jwksUrl });
    await expect(auth.authenticate(bearer(await issuer.issue()))).resolves.toMatchObject({ subject: 'alice' });
    expect(issuer.discoveryRequests).toBe(0);
  });
});

describe('the JWKS endpoint down', () => {
  let issuer: TestIssuer;
  beforeEach(async () => {
    issuer = await TestIssuer.start();
  });
  afterEach(() => issuer.close());

  it('answering 503: UNAVAILABLE with a reason that names no URL', async () => {
    issuer.jwksBehaviour = 'error';
    const auth = oidcAuthenticator(issuer);
    const error = await refusal(auth.authenticate(bearer(await issuer.issue())));
    expect(error.code).toBe(Code.UNAVAILABLE);
    expect(error.message).toBe("the issuer's signing keys cannot be fetched now; try again later");
    expect(error.message).not.toContain('127.0.0.1');
  });

  it('hanging: UNAVAILABLE after the fetch timeout, not a hung call', async () => {
    issuer.jwksBehaviour = 'hang';
    const auth = oidcAuthenticator(issuer, { fetchTimeout: 300 });
    const error = await refusal(auth.authenticate(bearer(await issuer.issue())));
    expect(error.code).toBe(Code.UNAVAILABLE);
    expect(issuer.jwksRequests).toBe(1);
  });

  it('gone (connection refused): UNAVAILABLE; keys already fetched keep verifying', async () => {
    const auth = oidcAuthenticator(issuer, { jwksCooldown: 0 });
    await auth.authenticate(bearer(await issuer.issue({ sub: 'before' })));
    const later = await issuer.issue({ sub: 'after' });
    const unknown = await issuer.issue({ unpublishedKey: true, kid: 'brand-new' });
    await issuer.close();
    await expect(auth.authenticate(bearer(later))).resolves.toMatchObject({ subject: 'after' });
    const error = await refusal(auth.authenticate(bearer(unknown)));
    expect(error.code).toBe(Code.UNAVAILABLE);

    const cold = oidcAuthenticator(issuer);
    expect((await refusal(cold.authenticate(bearer(later)))).code).toBe(Code.UNAVAILABLE);
    issuer = await TestIssuer.start(); // for afterEach
  });

  it('a discovery document naming another issuer is not trusted', async () => {
    const auth = createAuthenticator(authConfig({ modes: ['oidc'], oidc: { issuer: `${issuer.issuer}/`, audiences: ['larder'] } }), logger);
    const error = await refusal(auth.authenticate(bearer(await issuer.issue({ issuer: `${issuer.issuer}/` }))));
    expect(error.code).toBe(Code.UNAVAILABLE);
    expect(logLines.some((l) => l.includes('names issuer'))).toBe(true);
  });
});

describe('static keys from auth.oidc.keysFile', () => {
  let issuer: TestIssuer;
  let dir: string;
  beforeAll(async () => {
    issuer = await TestIssuer.start();
    dir = await mkdtemp(path.join(os.tmpdir(), 'larder-auth-'));
  });
  afterAll(async () => {
    await issuer.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('verifies with the file, fetches nothing, and picks up a rewritten file for a new key', async () => {
    const file = path.join(dir, 'jwks.json');
    await writeFile(file, JSON.stringify(issuer.jwks()));
    const auth = oidcAuthenticator(issuer, { keysFile: file, jwksCooldown: 0 });
    await expect(auth.authenticate(bearer(await issuer.issue({ sub: 'static' })))).resolves.toMatchObject({ subject: 'static' });
    expect(issuer.jwksRequests + issuer.discoveryRequests).toBe(0);

    await issuer.rotate();
    const rotated = await issuer.issue({ sub: 'rotated' });
    expect((await refusal(auth.authenticate(bearer(rotated)))).message).toBe('token signed by an unknown key');
    await new Promise((resolve) => setTimeout(resolve, 20)); // a later mtime
    await writeFile(file, JSON.stringify(issuer.jwks()));
    await expect(auth.authenticate(bearer(rotated))).resolves.toMatchObject({ subject: 'rotated' });
  });

  it('an unreadable keys file is a ConfigError naming auth.oidc.keysFile', () => {
    expect(() => oidcAuthenticator(issuer, { keysFile: path.join(dir, 'missing.json') })).toThrow(/auth\.oidc\.keysFile/);
  });

  it('drops private and symmetric keys from the file', async () => {
    const file = path.join(dir, 'oct.json');
    await writeFile(file, JSON.stringify({ keys: [{ kty: 'oct', k: Buffer.from(issuer.publicKeyPem()).toString('base64url'), kid: 'hmac' }] }));
    const auth = oidcAuthenticator(issuer, { keysFile: file, algorithms: ['RS256'] });
    const forged = await issuer.issue({ alg: 'HS256', kid: 'hmac' });
    expect((await refusal(auth.authenticate(bearer(forged)))).message).toBe('token algorithm "HS256" not allowed');
  });
});

describe('mtls and combined modes', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await TestIssuer.start();
  });
  afterAll(() => issuer.close());

  const cert = { subject: 'ingest', sans: ['ingest.kafka.svc', 'spiffe://cluster/ns/kafka/sa/ingest'] };

  it('mode mtls: the certificate is the identity; no certificate is refused', async () => {
    const auth = createAuthenticator(authConfig({ modes: ['mtls'], operators: ['cert:spiffe://cluster/ns/kafka/sa/ingest'] }), logger);
    const principal = await auth.authenticate({ certificate: cert });
    expect(principal).toMatchObject({ kind: 'certificate', subject: 'ingest', certificate: cert, id: 'cert:ingest', operator: true });
    expect(await auth.authenticate({ certificate: cert })).toBe(principal);
    const error = await refusal(auth.authenticate({ authorization: 'Bearer whatever' }));
    expect(error.code).toBe(Code.UNAUTHENTICATED);
    expect(error.message).toBe('missing client certificate');
  });

  it('a certificate without CN is known by its first SAN', async () => {
    const auth = createAuthenticator(authConfig({ modes: ['mtls'] }), logger);
    expect((await auth.authenticate({ certificate: { subject: '', sans: ['svc.example'] } })).id).toBe('cert:svc.example');
  });

  it('oidc,mtls: either identity; a bad token is refused even beside a good certificate', async () => {
    const auth = createAuthenticator(authConfig({ modes: ['oidc', 'mtls'], oidc: { issuer: issuer.issuer, audiences: ['larder'] } }), logger);
    expect((await auth.authenticate({ certificate: cert })).kind).toBe('certificate');
    expect((await auth.authenticate({ ...bearer(await issuer.issue({ sub: 'tok' })), certificate: cert })).id).toBe('user:tok');
    const expired = await issuer.issue({ expiresIn: -3600 });
    const error = await refusal(auth.authenticate({ ...bearer(expired), certificate: cert }));
    expect(error.message).toBe('token expired');
    expect((await refusal(auth.authenticate({}))).message).toBe('missing bearer token or client certificate');
  });

  it('mode none: every call is the anonymous operator', async () => {
    const auth = createAuthenticator(authConfig({}), logger);
    expect(auth.enabled).toBe(false);
    expect(await auth.authenticate({ authorization: 'Bearer garbage' })).toMatchObject({ kind: 'anonymous', operator: true, id: 'anonymous' });
  });
});
