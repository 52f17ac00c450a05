// The UI server's JSON API and static files against a real registry service, with a
// hostile client: traversal, oversize and malformed input, unknown routes, methods
// that would write, and attempts to steer it to another host.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { startLarderApp } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';
import type { Freshness, Lineage, ObjectDetail, Overview, SearchResult } from '../shared/api';
import { buildUi } from '../build';
import { parseSearch, prepareIndex, searchPrepared } from '../shared/search';
import type { SearchIndex } from '../shared/search';
import { startUiServer } from './ui-server';
import { bearerOf, callOptions } from './upstreams';
import type { UiServer } from './ui-server';

jest.setTimeout(60_000);

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-ui-server-'));
let registry: RunningLarderApp;
let ui: UiServer;
let base: string;
/** A TCP listener that counts connections: the "other host" a hostile client would name. */
let decoy: Server;
let decoyConnections = 0;

const T = typesV1.ValueType;

beforeAll(async () => {
  const dist = path.join(work, 'dist');
  await buildUi(dist);
  registry = await startLarderApp({ app: 'registry', env: { LARDER_REGISTRY_LOCATION: path.join(work, 'registry.json'), LARDER_METRICS_ENABLED: 'false' } });
  const client = createClient(registryV1.RegistryService, registry.address);
  try {
    await client.applyRegistry({
      project: 'rides',
      projectSpec: { name: 'rides', description: 'Ride features.', owner: 'rides-team@example.com' },
      entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
      dataSources: [
        { name: 'trips', timestampField: 'ts', kind: { case: 'file', value: { path: 'trips.parquet', format: registryV1.FileFormat.PARQUET } } },
        { name: 'req', kind: { case: 'request', value: { schema: [{ name: 'bonus', valueType: T.DOUBLE }] } } },
      ],
      featureViews: [
        {
          name: 'driver_trips',
          entities: ['driver'],
          batchSource: 'trips',
          owner: 'alice@example.com',
          tags: { team: 'pricing' },
          schema: [
            { name: 'trips_today', valueType: T.INT64, description: 'Trips since midnight.' },
            { name: 'rating', valueType: T.DOUBLE, tags: { pii: 'no' } },
          ],
        },
      ],
      onDemandFeatureViews: [
        {
          name: 'rating_plus',
          sources: [{ source: { case: 'featureView', value: { featureView: 'driver_trips' } } }, { source: { case: 'requestSource', value: 'req' } }],
          outputs: [{ name: 'boosted', valueType: T.DOUBLE, expression: 'driver_trips.rating + req.bonus' }],
        },
      ],
      featureServices: [{ name: 'pricing_model', projections: [{ featureView: 'driver_trips' }, { featureView: 'rating_plus' }] }],
    });
  } finally {
    client.close();
  }
  decoy = createServer((socket) => {
    decoyConnections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => decoy.listen(0, '127.0.0.1', resolve));
  ui = await startUiServer({
    env: {
      LARDER_UI_PORT: '0',
      LARDER_UI_DIST: dist,
      LARDER_REGISTRY_ADDRESS: registry.address,
      // Nothing listens here: the pages must say so and still show the registry's part.
      LARDER_MATERIALIZATION_ADDRESS: '127.0.0.1:1',
      LARDER_INGESTION_ADDRESS: '',
      LARDER_LOG_LEVEL: 'error',
    },
  });
  base = ui.listening.url;
  // The history starts with the change feed's snapshot.
  for (let i = 0; i < 200 && ui.history.registryVersion === 0n; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(ui.history.registryVersion).toBe(1n);
});

afterAll(async () => {
  await ui?.close();
  await registry?.stop();
  await new Promise((resolve) => decoy?.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

/** A raw request: fetch would normalise `..` and encodings before they reach the server. */
function raw(
  method: string,
  rawPath: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path: rawPath, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function json<T>(rawPath: string): Promise<{ status: number; body: T }> {
  const r = await raw('GET', rawPath);
  return { status: r.status, body: JSON.parse(r.text) as T };
}

test('the overview counts each kind and says which service did not answer', async () => {
  const { status, body } = await json<Overview>('/api/overview');
  expect(status).toBe(200);
  expect(body.projects).toEqual([
    {
      name: 'rides',
      description: 'Ride features.',
      owner: 'rides-team@example.com',
      counts: { entities: 1, dataSources: 2, featureViews: 1, onDemandFeatureViews: 1, featureServices: 1 },
    },
  ]);
  // Never materialized, served online from a batch source: stale.
  expect(body.attention).toEqual([expect.objectContaining({ kind: 'stale-view', project: 'rides', object: { kind: 'feature-view', name: 'driver_trips' } })]);
  expect(body.problems).toEqual([expect.objectContaining({ service: 'materialization' })]);
});

test('search narrows by tag, owner, entity and type, and refuses an unknown type naming q', async () => {
  const byTag = await json<SearchResult>(`/api/search?q=${encodeURIComponent('tag:pii=no')}`);
  expect(byTag.body.features.map((f) => `${f.featureView}:${f.name}`)).toEqual(['driver_trips:rating']);
  const byType = await json<SearchResult>(`/api/search?q=${encodeURIComponent('type:int64 entity:driver owner:alice@example.com')}`);
  expect(byType.body.features.map((f) => f.name)).toEqual(['trips_today']);
  const words = await json<SearchResult>(`/api/search?q=midnight`);
  expect(words.body.features.map((f) => f.name)).toEqual(['trips_today']);
  const badType = await json<{ error: string; field: string }>(`/api/search?q=${encodeURIComponent('type:int65')}`);
  expect(badType.status).toBe(400);
  expect(badType.body).toEqual({ error: expect.stringContaining('unknown value type "int65"'), field: 'q' });
  expect(parseSearch('tag:team=a tag:owner x:y')).toEqual({ ok: true, filters: { words: ['owner', 'x:y'], tags: { team: 'a' } } });
});

test('an object page carries its definition, YAML, users and history; an unknown one is a 404 naming it', async () => {
  const view = await json<ObjectDetail>('/api/objects/rides/feature-view/driver_trips');
  expect(view.status).toBe(200);
  expect(view.body.yaml).toContain('name: driver_trips');
  expect(view.body.yaml).not.toContain('meta');
  expect(view.body.usedBy).toEqual([
    { kind: 'on-demand-feature-view', name: 'rating_plus' },
    { kind: 'feature-service', name: 'pricing_model' },
  ]);
  expect(view.body.history).toEqual([expect.objectContaining({ version: '1', change: 'CREATE' })]);
  const odfv = await json<ObjectDetail>('/api/objects/rides/on-demand-feature-view/rating_plus');
  expect(JSON.stringify(odfv.body.object)).toContain('driver_trips.rating + req.bonus');

  // A change after the UI started arrives through the change feed.
  const client = createClient(registryV1.RegistryService, registry.address);
  try {
    const current = (await client.getEntity({ project: 'rides', name: 'driver' })).entity!;
    await client.applyRegistry({ project: 'rides', entities: [{ ...current, description: 'A driver.' }] });
  } finally {
    client.close();
  }
  let history: ObjectDetail['history'] = [];
  for (let i = 0; i < 100 && history.length < 2; i++) {
    history = (await json<ObjectDetail>('/api/objects/rides/entity/driver')).body.history;
    if (history.length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(history.map((h) => h.change)).toEqual(['UPDATE', 'CREATE']);

  const missing = await json<{ error: string; code: string }>('/api/objects/rides/feature-view/nope');
  expect(missing.status).toBe(404);
  expect(missing.body.code).toBe('NOT_FOUND');
  expect(missing.body.error).toContain('nope');
});

test('lineage links sources to views to on-demand views to services', async () => {
  const { body } = await json<Lineage>('/api/projects/rides/lineage');
  expect(body.edges).toEqual(
    expect.arrayContaining([
      { from: 'data-source:trips', to: 'feature-view:driver_trips' },
      { from: 'feature-view:driver_trips', to: 'on-demand-feature-view:rating_plus' },
      { from: 'data-source:req', to: 'on-demand-feature-view:rating_plus' },
      { from: 'feature-view:driver_trips', to: 'feature-service:pricing_model' },
      { from: 'on-demand-feature-view:rating_plus', to: 'feature-service:pricing_model' },
    ]),
  );
  expect(body.edges).toHaveLength(5);
});

test('freshness shows the views even when materialization is away', async () => {
  const { status, body } = await json<Freshness>('/api/freshness');
  expect(status).toBe(200);
  expect(body.views.map((v) => [v.name, v.stale])).toEqual([['driver_trips', true]]);
  expect(body.problems.map((p) => p.service)).toEqual(['materialization']);
});

describe('hostile client', () => {
  test('no path reaches a file outside the build: traversal, encodings and absolute paths', async () => {
    for (const attempt of [
      '/../package.json',
      '/assets/../../package.json',
      '/%2e%2e/%2e%2e/package.json',
      '/assets/%2e%2e%2fsrc%2fbuild.ts',
      '/assets/..%2f..%2fpackage.json',
      '//etc/passwd',
      '/assets//etc/passwd',
      '/assets/%00',
      '/assets/main.js%00.css',
    ]) {
      const r = await raw('GET', attempt);
      expect([attempt, r.text]).not.toEqual([attempt, expect.stringContaining('"name"')]);
      expect([attempt, r.text.includes('root:x:0')]).toEqual([attempt, false]);
      // Either a 404 or the app's page (which itself shows the 404): never a file's bytes.
      expect([attempt, r.status === 404 || r.headers['content-type'] === 'text/html; charset=utf-8']).toEqual([attempt, true]);
    }
    expect((await raw('GET', '/assets/nothing.js')).status).toBe(404);
  });

  test('unknown API routes and kinds are 404; page paths the app does not know are 404 with the app', async () => {
    for (const p of [
      '/api',
      '/api/',
      '/api/nope',
      '/api/objects/rides/secret-kind/x',
      '/api/projects/rides/lineage/more',
      '/api/search/extra',
      '/api/objects/rides/entity/driver/x/y',
    ]) {
      expect([p, (await raw('GET', p)).status]).toEqual([p, 404]);
    }
    const page = await raw('GET', '/no/such/page');
    expect(page.status).toBe(404);
    expect(page.text).toContain('<div id="app">');
    expect((await raw('GET', '/p/rides/feature-view/driver_trips')).status).toBe(200);
  });

  test('names that are not registry names are refused before any call, naming the parameter', async () => {
    const cases: [string, string][] = [
      ['/api/objects/rides/entity/..%2f..%2fetc', 'name'],
      ['/api/objects/%00/entity/driver', 'project'],
      [`/api/objects/rides/entity/${'a'.repeat(200)}`, 'name'],
      ['/api/projects/%E0%A4%A', 'project'],
      ['/api/projects/a%20b', 'project'],
    ];
    for (const [p, field] of cases) {
      const r = await json<{ field: string }>(p);
      expect([p, r.status, r.body.field]).toEqual([p, 400, field]);
    }
  });

  test('query sizes are bounded: long text, big limits, repeated parameters, long URLs', async () => {
    const long = await json<{ field: string; error: string }>(`/api/search?q=${'a'.repeat(257)}`);
    expect([long.status, long.body.field]).toEqual([400, 'q']);
    for (const limit of ['0', '201', '-1', '1e3', '99999999999', 'abc', '']) {
      const r = await json<{ field: string }>(`/api/search?q=x&limit=${limit}`);
      expect([limit, r.status, r.body.field]).toEqual([limit, 400, 'limit']);
    }
    const twice = await json<{ field: string }>('/api/search?q=a&q=b');
    expect([twice.status, twice.body.field]).toEqual([400, 'q']);
    expect((await raw('GET', `/api/search?q=x&pad=${'b'.repeat(5000)}`)).status).toBe(414);
  });

  test('the UI is read-only: writing methods are 405 and their bodies never reach a handler', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await raw(method, '/api/overview', { 'content-type': 'application/json' }, JSON.stringify({ project: 'rides' }));
      expect([method, r.status, r.headers['allow']]).toEqual([method, 405, 'GET, HEAD']);
    }
    // Still there, unchanged.
    expect((await json<Overview>('/api/overview')).body.projects).toHaveLength(1);
  });

  test('no request can name the host the server connects to', async () => {
    const decoyAddress = `127.0.0.1:${(decoy.address() as AddressInfo).port}`;
    const attempts = [
      raw('GET', `/api/overview?registry=${decoyAddress}`),
      raw('GET', `/api/search?q=x&address=${decoyAddress}&target=${decoyAddress}`),
      raw('GET', '/api/overview', { host: decoyAddress, 'x-forwarded-host': decoyAddress, forwarded: `host=${decoyAddress}` }),
      raw('GET', `http://${decoyAddress}/api/overview`),
      raw('GET', `/api/objects/rides/entity/${encodeURIComponent(decoyAddress)}`),
    ];
    const results = await Promise.all(attempts);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 400]);
    expect(decoyConnections).toBe(0);
  });

  test('only a well-formed bearer token is forwarded to the services', () => {
    const signal = new AbortController().signal;
    const seen = (authorization: string | undefined) =>
      callOptions(signal, bearerOf({ headers: authorization === undefined ? {} : { authorization } } as IncomingMessage)).headers?.['authorization'];
    expect(seen('Bearer abc.def.ghi')).toBe('Bearer abc.def.ghi');
    for (const forged of ['Basic dXNlcjpwYXNz', 'Bearer a b', 'Bearer abc\r\nx-admin: 1', `Bearer ${'x'.repeat(20_000)}`, 'bearer', '']) {
      expect(seen(forged)).toBeUndefined();
    }
    expect(seen(undefined)).toBeUndefined();
  });

  test('responses carry a strict content security policy and no sniffing', async () => {
    for (const p of ['/', '/api/overview']) {
      const r = await raw('GET', p);
      expect(r.headers['content-security-policy']).toContain("script-src 'self'");
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
  });
});

// Last: it adds a view, which the tests above do not expect.
test('the search index the page downloads answers as the server does, and a registry change reaches it through the feed', async () => {
  const r = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const url = new URL(`${base}/api/search-index`);
    httpRequest({ host: url.hostname, port: url.port, path: url.pathname, headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
  const text = r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.body).toString('utf8') : r.body.toString('utf8');
  const index = JSON.parse(text) as SearchIndex;
  expect(index.views.map((v) => `${v.name}:${v.features.map((f) => f[0]).join(',')}`)).toEqual(['driver_trips:trips_today,rating', 'rating_plus:boosted']);
  const prepared = prepareIndex(index);
  for (const q of ['tag:pii=no', 'trip', 'rating', 'type:double', 'entity:driver owner:alice@example.com']) {
    const local = parseSearch(q);
    if (!local.ok) throw new Error(local.message);
    const server = await json<SearchResult>(`/api/search?q=${encodeURIComponent(q)}`);
    expect([q, searchPrepared(prepared, local.filters, 50)]).toEqual([q, server.body.features]);
  }

  // Consistency: a view applied now is in the search, the counts and the index once the feed brings its version.
  const client = createClient(registryV1.RegistryService, registry.address);
  let version: bigint;
  try {
    const applied = await client.applyRegistry({
      project: 'rides',
      featureViews: [{ name: 'driver_tips', entities: ['driver'], batchSource: 'trips', schema: [{ name: 'tips_today', valueType: T.DOUBLE }] }],
    });
    version = applied.version;
  } finally {
    client.close();
  }
  await ui.catalog.registry.waitForVersion(version, 10_000);
  expect((await json<SearchResult>('/api/search?q=tips_today')).body.features.map((f) => f.featureView)).toEqual(['driver_tips']);
  expect((await json<Overview>('/api/overview')).body.projects[0]?.counts.featureViews).toBe(2);
  expect((await json<SearchIndex>('/api/search-index')).body.registryVersion).toBe(String(version));
});
