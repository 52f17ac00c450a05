import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, createLogger, loadConfig } from '@larder/rpc';
import type { ConfigOverrides } from '@larder/rpc';
import { TestIssuer } from '@larder/testing';
import { authConfigSchema } from './config';
import type { AuthConfigSchema } from './config';
import { startServiceAuth } from './service-auth';
import type { ServiceAuth } from './service-auth';

type AuthOverrides = NonNullable<ConfigOverrides<AuthConfigSchema>['auth']>;

const lines: string[] = [];
const logger = createLogger({ service: 'service-auth-test', level: 'info', write: (l) => lines.push(l) });
let issuer: TestIssuer;
let server: Server | undefined;

beforeAll(async () => {
  issuer = await TestIssuer.start();
});
afterAll(async () => {
  await issuer.close();
});
afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
  lines.length = 0;
});

function auth(overrides: AuthOverrides) {
  return loadConfig(authConfigSchema(), { overrides: { auth: overrides } }).auth;
}

function oidcAuth(rest: Omit<AuthOverrides, 'oidc'> = {}): ServiceAuth {
  return startServiceAuth({
    service: 'test',
    auth: auth({ modes: ['oidc'], oidc: { issuer: issuer.issuer, audiences: ['larder'] }, ...rest }),
    hosts: ['127.0.0.1'],
    logger,
  });
}

/** A server answering with the caller's id, through httpPrincipal; and /metrics through the guard. */
async function serve(serviceAuth: ServiceAuth): Promise<string> {
  server = createServer((req, res) => {
    if (req.url === '/metrics') {
      void serviceAuth.metricsGuard?.(req).then((refusal) => {
        if (refusal === undefined) res.writeHead(200).end('metrics\n');
        else res.writeHead(refusal.status, { ...refusal.headers }).end(refusal.body);
      });
      return;
    }
    void serviceAuth.httpPrincipal(req, res).then((principal) => {
      if (principal !== undefined) res.writeHead(200).end(principal.id);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server?.address() as AddressInfo).port}`;
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('startServiceAuth', () => {
  it('refuses mode none on a non-loopback listener unless allowed', () => {
    expect(() => startServiceAuth({ service: 'test', auth: auth({}), hosts: ['127.0.0.1', '0.0.0.0'], logger })).toThrow(ConfigError);
    const allowed = startServiceAuth({ service: 'test', auth: auth({ allowInsecure: true }), hosts: ['0.0.0.0'], logger });
    expect(allowed.metricsGuard).toBeUndefined();
    expect(lines.some((l) => l.includes('"level":"warn"') && l.includes('auth.allowInsecure'))).toBe(true);
  });

  it('the HTTP guard answers 401 for a missing or bad token and gives the caller otherwise', async () => {
    const url = await serve(oidcAuth());
    const missing = await fetch(url);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await missing.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'missing bearer token' } });
    const wrongAudience = await fetch(url, bearer(await issuer.issue({ sub: 'alice', aud: 'other' })));
    expect(wrongAudience.status).toBe(401);
    expect(((await wrongAudience.json()) as { error: { message: string } }).error.message).toMatch(/audience/);
    const ok = await fetch(url, bearer(await issuer.serviceAccountToken({ namespace: 'ml', name: 'trainer' })));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('sa:ml/trainer');
  });

  it('/metrics: 401 without a token, 403 for others, open to metrics readers and operators; denials audited', async () => {
    const url = `${await serve(oidcAuth({ metricsReaders: ['sa:monitoring/prometheus'], operators: ['user:root'] }))}/metrics`;
    expect((await fetch(url)).status).toBe(401);
    const other = await fetch(url, bearer(await issuer.issue({ sub: 'alice' })));
    expect(other.status).toBe(403);
    expect(await other.json()).toEqual({ error: { code: 'PERMISSION_DENIED', message: 'principal user:alice may not read /metrics (auth.metricsReaders)' } });
    expect((await fetch(url, bearer(await issuer.serviceAccountToken({ namespace: 'monitoring', name: 'prometheus' })))).status).toBe(200);
    expect((await fetch(url, bearer(await issuer.issue({ sub: 'root' })))).status).toBe(200);
    const audit = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'audit');
    expect(audit.map((l) => [l['identity'], l['outcome']])).toEqual([
      ['unauthenticated', 'denied'],
      ['user:alice', 'denied'],
    ]);
  });
});
