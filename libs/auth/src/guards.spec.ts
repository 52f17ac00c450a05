import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { registryV1 } from '@larder/proto';
import { Code, createClient, createHttpListener, createLogger, implement, loadConfig, RpcError, serverConfigSchema, ServerTls, startServer } from '@larder/rpc';
import type { ClientOptions, ConfigOverrides, HttpListener, ServerHandle } from '@larder/rpc';
import { createTestCertificates, TestIssuer, waitUntil } from '@larder/testing';
import type { IssuedCertificate, TestCertificates } from '@larder/testing';
import { createAuditSink } from './audit';
import type { AuditSink } from './audit';
import { createAuthenticator } from './authenticator';
import type { Authenticator } from './authenticator';
import { authConfigSchema } from './config';
import type { AuthConfigSchema } from './config';
import { authenticateHttp, authInterceptor, principalOf, sendHttpAuthFailure } from './guards';

type AuthOverrides = NonNullable<ConfigOverrides<AuthConfigSchema>['auth']>;

let certs: TestCertificates;
let alice: IssuedCertificate;
let issuer: TestIssuer;
let dir: string;
const cleanups: Array<() => unknown> = [];
const silent = createLogger({ service: 'guards-test', level: 'error', write: () => undefined });

beforeAll(async () => {
  certs = await createTestCertificates();
  alice = await certs.client('alice', { sans: ['URI:spiffe://ml/sa/trainer'] });
  issuer = await TestIssuer.start();
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-guards-'));
});
afterAll(async () => {
  await issuer.close();
  await certs.remove();
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function authenticator(auth: AuthOverrides): Authenticator {
  const config = loadConfig(authConfigSchema(), {
    overrides: { auth: { ...auth, oidc: { issuer: issuer.issuer, audiences: ['larder'], ...auth.oidc } } },
  }).auth;
  return createAuthenticator(config, silent);
}

/** A server whose ListProjects answers with the caller's principal id as the one project name. */
async function startWhoAmI(auth: Authenticator, audit?: AuditSink): Promise<ServerHandle> {
  const config = loadConfig(serverConfigSchema(), {
    env: {},
    overrides: {
      grpc: { host: '127.0.0.1', port: 0 },
      metrics: { enabled: false },
      shutdown: { gracePeriod: 2000 },
      tls: { certFile: certs.server.certFile, keyFile: certs.server.keyFile, clientCaFile: certs.ca.certFile },
    },
  });
  const server = await startServer({
    name: 'guards-test',
    config,
    logger: silent,
    interceptors: [authInterceptor(auth, audit === undefined ? {} : { audit })],
    services: [
      implement(registryV1.RegistryService, {
        listProjects: (_request, ctx) => ({ projects: [{ name: principalOf(ctx).id }] }),
      }),
    ],
  });
  cleanups.push(() => server.shutdown('test done'));
  return server;
}

async function whoAmI(server: ServerHandle, options: ClientOptions & { headers?: Record<string, string> } = {}): Promise<string> {
  const { headers, ...clientOptions } = options;
  const client = createClient(registryV1.RegistryService, server.address, { defaultTimeoutMs: 5000, tls: { caFile: certs.ca.certFile }, ...clientOptions });
  cleanups.push(() => client.close());
  const response = await client.listProjects({}, headers === undefined ? {} : { headers });
  return response.projects[0]?.name ?? '';
}

async function refusal(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    return RpcError.from(error);
  }
  throw new Error('expected the call to be refused');
}

const withCert = (cert: IssuedCertificate) => ({ tls: { caFile: certs.ca.certFile, certFile: cert.certFile, keyFile: cert.keyFile } });

describe('authInterceptor over gRPC with TLS', () => {
  it('oidc: the token is the caller; none, expired and alg none are refused with the reason and audited', async () => {
    const auditFile = path.join(dir, 'audit-grpc.jsonl');
    const audit = createAuditSink({ service: 'registry', logger: silent, file: auditFile });
    cleanups.push(() => audit.close());
    const server = await startWhoAmI(authenticator({ modes: ['oidc'] }), audit);

    expect(await whoAmI(server, { token: await issuer.issue({ sub: 'alice' }) })).toBe('user:alice');
    expect(await whoAmI(server, { token: await issuer.serviceAccountToken({ namespace: 'ml', name: 'trainer' }) })).toBe('sa:ml/trainer');

    const missing = await refusal(whoAmI(server, { headers: { 'x-request-id': 'req-missing' } }));
    expect([missing.code, missing.message]).toEqual([Code.UNAUTHENTICATED, 'missing bearer token']);
    const expired = await refusal(whoAmI(server, { token: await issuer.issue({ expiresIn: -3600 }) }));
    expect([expired.code, expired.message]).toEqual([Code.UNAUTHENTICATED, 'token expired']);
    const unsigned = await refusal(whoAmI(server, { token: await issuer.issue({ alg: 'none' }) }));
    expect([unsigned.code, unsigned.message]).toEqual([Code.UNAUTHENTICATED, 'token algorithm none not allowed']);
    // A client certificate does not stand in for a token in mode oidc.
    expect((await refusal(whoAmI(server, withCert(alice)))).message).toBe('missing bearer token');

    await audit.close();
    const lines = (await readFile(auditFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      service: 'registry',
      identity: 'unauthenticated',
      action: 'authenticate',
      objects: ['/larder.registry.v1.RegistryService/ListProjects'],
      outcome: 'denied',
      reason: 'missing bearer token',
      requestId: 'req-missing',
    });
    expect(lines.map((l) => l.reason)).toEqual(['missing bearer token', 'token expired', 'token algorithm none not allowed', 'missing bearer token']);
  });

  it('oidc,mtls: a verified certificate is the caller without a token; a bad token beside it is refused', async () => {
    const server = await startWhoAmI(authenticator({ modes: ['oidc', 'mtls'] }));
    expect(await whoAmI(server, withCert(alice))).toBe('cert:alice');
    expect(await whoAmI(server, { ...withCert(alice), token: await issuer.issue({ sub: 'bob' }) })).toBe('user:bob');
    const bad = await refusal(whoAmI(server, { ...withCert(alice), token: await issuer.issue({ aud: 'elsewhere' }) }));
    expect([bad.code, bad.message]).toEqual([Code.UNAUTHENTICATED, 'token audience "elsewhere" not accepted']);
    // A certificate from a CA the server does not trust is no identity (the server only requests certificates).
    const forged = await certs.client('alice', { ca: 'other', name: 'alice-forged' });
    expect((await refusal(whoAmI(server, withCert(forged)))).message).toBe('missing bearer token or client certificate');
  });

  it('mtls with operators by SAN', async () => {
    const server = await startWhoAmI(authenticator({ modes: ['mtls'], operators: ['cert:spiffe://ml/sa/trainer'] }));
    expect(await whoAmI(server, withCert(alice))).toBe('cert:alice');
  });

  it('the issuer down: UNAVAILABLE, not a hung call', async () => {
    const down = await TestIssuer.start();
    cleanups.push(() => down.close());
    down.jwksBehaviour = 'hang';
    const config = loadConfig(authConfigSchema(), {
      overrides: { auth: { modes: ['oidc'], oidc: { issuer: down.issuer, audiences: ['larder'], fetchTimeout: 300 } } },
    }).auth;
    const server = await startWhoAmI(createAuthenticator(config, silent));
    const error = await refusal(whoAmI(server, { token: await down.issue() }));
    expect(error.code).toBe(Code.UNAVAILABLE);
  });

  it('mode none: every call is the anonymous operator', async () => {
    const server = await startWhoAmI(authenticator({ modes: ['none'] }));
    expect(await whoAmI(server)).toBe('anonymous');
  });

  it('principalOf refuses to guess when no interceptor ran', () => {
    expect(() => principalOf({ state: new Map() })).toThrow('authInterceptor is not installed');
  });
});

describe('an issuer served over HTTPS', () => {
  it('is trusted through auth.oidc.caFile, and refused (UNAVAILABLE) without it', async () => {
    const secure = await TestIssuer.start({ tls: { certFile: certs.server.certFile, keyFile: certs.server.keyFile } });
    cleanups.push(() => secure.close());
    expect(secure.issuer).toMatch(/^https:\/\/127\.0\.0\.1:/);
    const withCa = loadConfig(authConfigSchema(), {
      overrides: { auth: { modes: ['oidc'], oidc: { issuer: secure.issuer, audiences: ['larder'], caFile: certs.ca.certFile } } },
    }).auth;
    await expect(createAuthenticator(withCa, silent).authenticate({ authorization: `Bearer ${await secure.issue({ sub: 'tls' })}` })).resolves.toMatchObject({
      id: 'user:tls',
    });
    const withoutCa = loadConfig(authConfigSchema(), { overrides: { auth: { modes: ['oidc'], oidc: { issuer: secure.issuer, audiences: ['larder'] } } } }).auth;
    const error = await refusal(createAuthenticator(withoutCa, silent).authenticate({ authorization: `Bearer ${await secure.issue()}` }));
    expect(error.code).toBe(Code.UNAVAILABLE);
    expect(secure.jwksRequests).toBe(1); // the untrusted fetch never got past the handshake
  });
});

describe('authenticateHttp over HTTPS', () => {
  async function startGuarded(auth: Authenticator, audit?: AuditSink): Promise<HttpListener> {
    const tls = ServerTls.fromConfig({
      certFile: certs.server.certFile,
      keyFile: certs.server.keyFile,
      clientCaFile: certs.ca.certFile,
      requireClientCert: false,
    });
    cleanups.push(() => tls?.close());
    const listener = await createHttpListener({ host: '127.0.0.1', port: 0, tls }, (req, res) => {
      void authenticateHttp(auth, req, audit === undefined ? {} : { audit }).then((result) => {
        if (!result.ok) return sendHttpAuthFailure(res, result);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: result.principal.id }));
      });
    });
    cleanups.push(() => listener.close('all'));
    return listener;
  }

  function get(
    listener: HttpListener,
    options: { authorization?: string; cert?: IssuedCertificate } = {},
  ): Promise<{ status: number; headers: Record<string, unknown>; body: unknown }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${listener.url}/get-online-features`,
        {
          ca: certs.ca.cert,
          headers: options.authorization === undefined ? {} : { authorization: options.authorization },
          ...(options.cert !== undefined && { cert: options.cert.cert, key: options.cert.key }),
          agent: false,
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown) }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('401 with WWW-Authenticate and the error body; a token or a verified certificate gets through', async () => {
    const lines: string[] = [];
    const audit = createAuditSink({ service: 'online-serving', logger: createLogger({ service: 'online-serving', write: (l) => lines.push(l) }) });
    const listener = await startGuarded(authenticator({ modes: ['oidc', 'mtls'] }), audit);

    const missing = await get(listener);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="larder"');
    expect(missing.body).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'missing bearer token or client certificate' } });

    const expired = await get(listener, { authorization: `Bearer ${await issuer.issue({ expiresIn: -3600 })}` });
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toBe('Bearer realm="larder", error="invalid_token", error_description="token expired"');
    expect(expired.body).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'token expired' } });

    const confused = await get(listener, { authorization: `Bearer ${await issuer.issue({ alg: 'HS256' })}` });
    expect([confused.status, confused.body]).toEqual([401, { error: { code: 'UNAUTHENTICATED', message: 'token algorithm "HS256" not allowed' } }]);

    // Over HTTP Node's own 16 KiB header limit answers first (431), before any handler.
    expect((await get(listener, { authorization: `Bearer ${'a'.repeat(17 * 1024)}` })).status).toBe(431);
    const garbage = await get(listener, { authorization: `Bearer ${'a'.repeat(12 * 1024)}` });
    expect([garbage.status, garbage.body]).toEqual([401, { error: { code: 'UNAUTHENTICATED', message: 'token is not a valid JWT' } }]);

    expect(await get(listener, { authorization: `Bearer ${await issuer.issue({ sub: 'carol' })}` })).toMatchObject({ status: 200, body: { id: 'user:carol' } });
    expect(await get(listener, { cert: alice })).toMatchObject({ status: 200, body: { id: 'cert:alice' } });

    const audited = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audited.map((l) => [l.outcome, l.action, l.objects, l.reason])).toEqual([
      ['denied', 'authenticate', ['GET /get-online-features'], 'missing bearer token or client certificate'],
      ['denied', 'authenticate', ['GET /get-online-features'], 'token expired'],
      ['denied', 'authenticate', ['GET /get-online-features'], 'token algorithm "HS256" not allowed'],
      ['denied', 'authenticate', ['GET /get-online-features'], 'token is not a valid JWT'],
    ]);
  });

  it('503 with Retry-After when the issuer cannot give its keys', async () => {
    const down = await TestIssuer.start();
    cleanups.push(() => down.close());
    down.jwksBehaviour = 'error';
    const config = loadConfig(authConfigSchema(), { overrides: { auth: { modes: ['oidc'], oidc: { issuer: down.issuer, audiences: ['larder'] } } } }).auth;
    const listener = await startGuarded(createAuthenticator(config, silent));
    const answer = await get(listener, { authorization: `Bearer ${await down.issue()}` });
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('1');
    expect(answer.body).toEqual({ error: { code: 'UNAVAILABLE', message: "the issuer's signing keys cannot be fetched now; try again later" } });
    // Once the issuer answers again, the same kind of token gets through (after the failure backoff).
    down.jwksBehaviour = 'ok';
    await waitUntil(async () => (await get(listener, { authorization: `Bearer ${await down.issue()}` })).status === 200, {
      what: 'the issuer back',
      timeoutMs: 15_000,
      intervalMs: 250,
    });
  });
});
