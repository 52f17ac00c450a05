// The UI with sign-in (auth.modes oidc) in front of a registry with authentication on.
// The UI server reads its registry copy with a token of its own (here the worst case: an
// operator's); each user sees only what they may describe, whether they sign in through
// the browser (authorization code flow with PKCE against TestIssuer) or send a bearer
// token. Forged, tampered and expired sessions and states are refused.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1, typesV1 } from '@larder/proto';
import { ConfigError, createClient } from '@larder/rpc';
import { locateChromium, startLarderApp, TestIssuer } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';
import { chromium } from 'playwright-core';
import type { Overview, SearchResult } from '../shared/api';
import { buildUi } from '../build';
import { CookieSealer } from './session';
import { startUiServer } from './ui-server';
import type { UiServer } from './ui-server';

jest.setTimeout(120_000);

const T = typesV1.ValueType;
const K = registryV1.ObjectKind;
const A = registryV1.Action;
const CLIENT_ID = 'larder-ui';

let dir = '';
let dist = '';
let issuer: TestIssuer;
let registry: RunningLarderApp;
let ui: UiServer;
let base = '';
let rootToken = '';
let tokenFile = '';
let keyFile = '';
let sealer: CookieSealer;

function uiEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LARDER_UI_PORT: '0',
    LARDER_UI_DIST: dist,
    LARDER_REGISTRY_ADDRESS: registry.address,
    LARDER_MATERIALIZATION_ADDRESS: '',
    LARDER_INGESTION_ADDRESS: '',
    LARDER_OFFLINE_RETRIEVAL_ADDRESS: '',
    LARDER_CLIENT_TOKEN_FILE: tokenFile,
    LARDER_AUTH_MODES: 'oidc',
    LARDER_AUTH_OIDC_ISSUER: issuer.issuer,
    LARDER_AUTH_OIDC_AUDIENCES: 'larder',
    LARDER_UI_OIDC_CLIENT_ID: CLIENT_ID,
    LARDER_UI_SESSION_KEY_FILE: keyFile,
    LARDER_LOG_LEVEL: 'error',
    ...extra,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-ui-auth-'));
  issuer = await TestIssuer.start();
  registry = await startLarderApp({
    app: 'registry',
    env: {
      LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'),
      LARDER_METRICS_ENABLED: 'false',
      LARDER_AUTH_MODES: 'oidc',
      LARDER_AUTH_OIDC_ISSUER: issuer.issuer,
      LARDER_AUTH_OIDC_AUDIENCES: 'larder',
      LARDER_AUTH_OPERATORS: 'user:root',
    },
  });
  rootToken = await issuer.issue({ sub: 'root', expiresIn: 3600 });
  const admin = createClient(registryV1.RegistryService, registry.address, { token: rootToken });
  try {
    await admin.applyRegistry({
      project: 'rides',
      entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
      dataSources: [{ name: 'trips', timestampField: 'ts', kind: { case: 'file', value: { path: 'trips.parquet', format: registryV1.FileFormat.PARQUET } } }],
      featureViews: [
        { name: 'driver_trips', entities: ['driver'], batchSource: 'trips', schema: [{ name: 'trips_today', valueType: T.INT64 }] },
        { name: 'driver_pay', entities: ['driver'], batchSource: 'trips', schema: [{ name: 'pay', valueType: T.DOUBLE }] },
      ],
      featureServices: [{ name: 'payroll', projections: [{ featureView: 'driver_pay' }] }],
      permissions: [
        { name: 'alice-trips', types: [K.FEATURE_VIEW], namePatterns: ['driver_trips'], actions: [A.DESCRIBE], policy: { users: ['alice'] } },
        { name: 'analysts-all', actions: [A.DESCRIBE], policy: { roles: ['analysts'] } },
      ],
    });
  } finally {
    admin.close();
  }
  tokenFile = path.join(dir, 'ui-token');
  await writeFile(tokenFile, rootToken);
  keyFile = path.join(dir, 'session.key');
  const key = randomBytes(32);
  await writeFile(keyFile, key);
  sealer = new CookieSealer(key);
  dist = path.join(dir, 'dist');
  await buildUi(dist);
  ui = await startUiServer({ env: uiEnv() });
  base = ui.listening.url;
  issuer.registerClient({ clientId: CLIENT_ID, redirectUri: `${base}/auth/callback` });
});

afterAll(async () => {
  await ui?.close();
  await registry?.stop();
  await issuer?.close();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

async function get(route: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(`${base}${route}`, { headers, redirect: 'manual' });
  return { status: response.status, body: await response.text(), headers: response.headers };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Signs `sub` in through the flow without a browser: login, the issuer, the callback. Returns the session cookie. */
async function signIn(sub: string, groups?: string[]): Promise<string> {
  issuer.loginUser = { sub, ...(groups && { groups }) };
  const start = await get('/auth/login?next=/search');
  const loginCookie = start.headers.getSetCookie()[0]!.split(';')[0]!;
  const atIssuer = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  const callback = new URL(atIssuer.headers.get('location')!);
  const done = await get(`${callback.pathname}${callback.search}`, { cookie: loginCookie });
  expect(done.status).toBe(302);
  const session = done.headers.getSetCookie().find((c) => c.startsWith('larder_session='));
  return session!.split(';')[0]!;
}

test('without a session the API is 401 with where to sign in, and pages send the browser to sign in', async () => {
  for (const route of ['/api/overview', '/api/search?q=driver', '/api/search-index', '/api/objects/rides/feature-view/driver_pay']) {
    const answer = await get(route);
    expect({ route, status: answer.status }).toEqual({ route, status: 401 });
    expect(JSON.parse(answer.body)).toMatchObject({ login: '/auth/login' });
    expect(answer.body).not.toContain('driver_pay');
  }
  // A malformed header is dropped, so it counts as nothing sent.
  expect((await get('/api/objects/rides/feature-view/driver_trips', { authorization: 'not a token' })).status).toBe(401);
  const page = await get('/search?q=pay');
  expect(page.status).toBe(302);
  expect(page.headers.get('location')).toBe(`/auth/login?next=${encodeURIComponent('/search?q=pay')}`);
  expect((await get('/api/me')).status).toBe(401);
});

test('two users with different permissions see different counts, search results, objects and lineage', async () => {
  const alice = bearer(await issuer.issue({ sub: 'alice' }));
  const ann = bearer(await issuer.issue({ sub: 'ann', groups: ['analysts'] }));
  const countsOf = async (h: Record<string, string>) => (JSON.parse((await get('/api/overview', h)).body) as Overview).projects.map((p) => [p.name, p.counts]);
  expect(await countsOf(alice)).toEqual([['rides', { entities: 0, dataSources: 0, featureViews: 1, onDemandFeatureViews: 0, featureServices: 0 }]]);
  expect(await countsOf(ann)).toEqual([['rides', { entities: 1, dataSources: 1, featureViews: 2, onDemandFeatureViews: 0, featureServices: 1 }]]);
  const found = async (h: Record<string, string>) =>
    (JSON.parse((await get('/api/search?q=driver', h)).body) as SearchResult).features.map((f) => f.featureView).sort();
  expect(await found(alice)).toEqual(['driver_trips']);
  expect(await found(ann)).toEqual(['driver_pay', 'driver_trips']);
  expect((await get('/api/search-index', alice)).body).not.toContain('driver_pay');
  // Hidden and missing answer alike, so existence does not leak.
  const hidden = await get('/api/objects/rides/feature-view/driver_pay', alice);
  const missing = await get('/api/objects/rides/feature-view/no_such_view', alice);
  expect([hidden.status, missing.status]).toEqual([404, 404]);
  expect(hidden.body).not.toContain('pay"');
  expect((await get('/api/objects/rides/feature-view/driver_pay', ann)).status).toBe(200);
  const lineage = JSON.parse((await get('/api/projects/rides/lineage', alice)).body) as { nodes: { id: string }[] };
  expect(lineage.nodes.map((n) => n.id)).toEqual(['feature-view:driver_trips']);
  // A user who may see nothing of a project does not learn it exists.
  const bob = bearer(await issuer.issue({ sub: 'bob' }));
  expect(JSON.parse((await get('/api/overview', bob)).body)).toMatchObject({ projects: [] });
  expect((await get('/api/projects/rides', bob)).status).toBe(404);
});

test('sign-in round trip in the browser: redirect to the issuer, callback, cookie, the page shows the user and only what they may see', async () => {
  const executablePath = locateChromium();
  if (executablePath === undefined) throw new Error('chromium is not installed (npm test installs it)');
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    issuer.loginUser = { sub: 'alice', name: 'Alice Example' };
    const before = issuer.authorizeRequests;
    await page.goto(`${base}/search?q=driver`);
    // Back from the issuer, on the page that was asked for, signed in.
    await page.locator('#signed-in-user').waitFor();
    expect(issuer.authorizeRequests).toBe(before + 1);
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/search?q=driver');
    expect(await page.locator('#signed-in-user').textContent()).toBe('Alice Example');
    await page.waitForFunction(() => document.getElementById('search-results')?.dataset.query === 'driver');
    const hits = await page.locator('#search-results a.hit .ref').allTextContents();
    expect(hits).toEqual(['driver_trips:trips_today']);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'larder_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(cookies.find((c) => c.name === 'larder_login')).toBeUndefined();

    // Sign out: the cookie goes, and the next page asks the issuer again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/auth/signed-out`);
    expect((await context.cookies()).find((c) => c.name === 'larder_session')).toBeUndefined();
    await page.goto(`${base}/`);
    await page.locator('#signed-in-user').waitFor();
    expect(issuer.authorizeRequests).toBe(before + 2);
  } finally {
    await browser.close();
  }
});

describe('attacks on the session and the sign-in', () => {
  test('a forged, tampered or re-purposed cookie is refused', async () => {
    const good = await signIn('alice');
    expect((await get('/api/me', { cookie: good })).status).toBe(200);
    const value = good.slice('larder_session='.length);
    const flipped = value.slice(0, 20) + (value[20] === 'A' ? 'B' : 'A') + value.slice(21);
    const token = await issuer.issue({ sub: 'root' });
    const cases: Record<string, string> = {
      random: `larder_session=v1.${randomBytes(200).toString('base64url')}`,
      tampered: `larder_session=${flipped}`,
      truncated: `larder_session=${value.slice(0, value.length - 10)}`,
      // Sealed with another key: a forger's own.
      otherKey: `larder_session=${new CookieSealer(randomBytes(32)).seal('session', { token, name: 'root', exp: Date.now() + 60_000 })}`,
      // Sealed with our key, but as a login in progress: purposes are not interchangeable.
      wrongPurpose: `larder_session=${sealer.seal('login', { token, name: 'root', exp: Date.now() + 60_000 })}`,
      plainJson: `larder_session=${Buffer.from(JSON.stringify({ token, exp: Date.now() + 60_000 })).toString('base64url')}`,
    };
    for (const [name, cookie] of Object.entries(cases)) {
      const answer = await get('/api/overview', { cookie });
      expect([name, answer.status]).toEqual([name, 401]);
    }
  });

  test('an expired session or token is refused and sends the user to sign in again', async () => {
    const expiredToken = await issuer.issue({ sub: 'alice', expiresIn: -120 });
    const tokenExpired = await get('/api/overview', {
      cookie: `larder_session=${sealer.seal('session', { token: expiredToken, name: 'a', exp: Date.now() + 60_000 })}`,
    });
    expect(tokenExpired.status).toBe(401);
    expect(JSON.parse(tokenExpired.body)).toEqual({ error: expect.stringContaining('expired'), login: '/auth/login' });
    const freshToken = await issuer.issue({ sub: 'alice' });
    const sessionOver = await get('/api/overview', {
      cookie: `larder_session=${sealer.seal('session', { token: freshToken, name: 'a', exp: Date.now() - 1000 })}`,
    });
    expect(sessionOver.status).toBe(401);
    expect(JSON.parse(sessionOver.body).error).toContain('expired');
    // A page with an expired session goes back through the issuer.
    const page = await get('/freshness', { cookie: `larder_session=${sealer.seal('session', { token: expiredToken, name: 'a', exp: Date.now() + 60_000 })}` });
    expect([page.status, page.headers.get('location')]).toEqual([302, '/auth/login?next=%2Ffreshness']);
  });

  test('the callback refuses a missing or foreign login, a state mismatch, a replayed code and an issuer refusal', async () => {
    issuer.loginUser = { sub: 'alice' };
    const start = async () => {
      const s = await get('/auth/login?next=/');
      const cookie = s.headers.getSetCookie()[0]!.split(';')[0]!;
      const authorize = new URL(s.headers.get('location')!);
      expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
      expect(authorize.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{32}$/);
      const back = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location')!);
      return { cookie, code: back.searchParams.get('code')!, state: back.searchParams.get('state')! };
    };
    const a = await start();
    const b = await start();
    const callback = (q: Record<string, string>, cookie?: string) =>
      get(`/auth/callback?${new URLSearchParams(q).toString()}`, cookie === undefined ? {} : { cookie });
    // No login cookie at all: a callback the attacker sends the victim.
    expect((await callback({ code: a.code, state: a.state })).status).toBe(400);
    // The victim's own login cookie with the attacker's state: state mismatch.
    const mismatch = await callback({ code: a.code, state: b.state }, a.cookie);
    expect(mismatch.status).toBe(400);
    expect(mismatch.body).toContain('state mismatch');
    // b's state with a's code: the PKCE verifier of b does not fit a's challenge.
    expect((await callback({ code: a.code, state: b.state }, b.cookie)).status).toBe(502);
    // a's code was spent by that attempt: replaying it fails at the issuer too.
    expect((await callback({ code: a.code, state: a.state }, a.cookie)).status).toBe(502);
    // The issuer said no.
    const c = await start();
    expect((await callback({ error: 'access_denied', state: c.state }, c.cookie)).status).toBe(403);
    // A login cookie that is not ours.
    expect(
      (
        await callback(
          { code: c.code, state: c.state },
          `larder_login=${new CookieSealer(randomBytes(32)).seal('login', { state: c.state, nonce: 'n', verifier: 'v', next: '/', exp: Date.now() + 60_000 })}`,
        )
      ).status,
    ).toBe(400);
    // None of that set a session.
    expect(mismatch.headers.getSetCookie().some((s) => s.startsWith('larder_session=v1'))).toBe(false);
  });

  test('the page to come back to is always on this site', async () => {
    for (const next of [
      '//evil.example/x',
      'https://evil.example/',
      '/\\evil.example',
      'javascript:alert(1)',
      '/ok\r\nx',
      '/caf\u00e9',
      `/${'a'.repeat(3000)}`,
    ]) {
      const start = await get(`/auth/login?next=${encodeURIComponent(next)}`);
      const cookie = start.headers.getSetCookie()[0]!.split(';')[0]!;
      const login = sealer.open('login', cookie.slice('larder_login='.length)) as { next: string };
      expect([next, login.next]).toEqual([next, '/']);
    }
    const kept = await get(`/auth/login?next=${encodeURIComponent('/p/rides/feature-view/driver_trips?tab=yaml')}`);
    const login = sealer.open('login', kept.headers.getSetCookie()[0]!.split(';')[0]!.slice('larder_login='.length)) as { next: string };
    expect(login.next).toBe('/p/rides/feature-view/driver_trips?tab=yaml');
  });

  test('signing out needs a POST; GET /auth/logout changes nothing', async () => {
    const cookie = await signIn('alice');
    const viaGet = await get('/auth/logout', { cookie });
    expect(viaGet.status).toBe(405);
    expect(viaGet.headers.getSetCookie()).toEqual([]);
    const viaPost = await fetch(`${base}/auth/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' });
    expect(viaPost.status).toBe(303);
    expect(viaPost.headers.getSetCookie()[0]).toMatch(/^larder_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax/);
  });
});

test('configuration that would show the UI account to anonymous visitors, or cannot sign anyone in, is refused at start', async () => {
  const refused = async (env: Record<string, string>) => {
    try {
      const started = await startUiServer({ env: uiEnv(env) });
      await started.close();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).issues.map((i) => i.key);
    }
    throw new Error('started');
  };
  expect(await refused({ LARDER_AUTH_MODES: 'none' })).toContain('auth.modes');
  expect(await refused({ LARDER_UI_OIDC_CLIENT_ID: '' })).toContain('ui.oidc.clientId');
  expect(await refused({ LARDER_UI_SESSION_KEY_FILE: '' })).toContain('ui.sessionKeyFile');
  const shortKey = path.join(dir, 'short.key');
  await writeFile(shortKey, 'too short');
  expect(await refused({ LARDER_UI_SESSION_KEY_FILE: shortKey })).toContain('ui.sessionKeyFile');
});
