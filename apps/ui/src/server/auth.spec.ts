// The UI in front of a registry with authentication on. The UI server has a token of its
// own (here the worst case: an operator's) for the change feed; a browser request must
// never borrow it. Without a token a visitor gets 401; with one, the registry decides
// what that user may describe, exactly as for any other client.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { ServerHandle } from '@larder/rpc';
import { runInProcess, TestIssuer } from '@larder/testing';
import { registryService } from '../../../registry/src/service';
import { buildUi } from '../build';
import { startUiServer } from './ui-server';
import type { UiServer } from './ui-server';

jest.setTimeout(90_000);

const T = typesV1.ValueType;
const K = registryV1.ObjectKind;
const A = registryV1.Action;

let dir = '';
let issuer: TestIssuer;
let registry: ServerHandle;
let ui: UiServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-ui-auth-'));
  issuer = await TestIssuer.start();
  registry = await runInProcess(registryService, {
    LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'),
    LARDER_METRICS_ENABLED: 'false',
    LARDER_AUTH_MODES: 'oidc',
    LARDER_AUTH_OIDC_ISSUER: issuer.issuer,
    LARDER_AUTH_OIDC_AUDIENCES: 'larder',
    LARDER_AUTH_OPERATORS: 'user:root',
  });
  const rootToken = await issuer.issue({ sub: 'root' });
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
      permissions: [{ name: 'alice-trips', types: [K.FEATURE_VIEW], namePatterns: ['driver_trips'], actions: [A.DESCRIBE], policy: { users: ['alice'] } }],
    });
  } finally {
    admin.close();
  }
  const tokenFile = path.join(dir, 'ui-token');
  await writeFile(tokenFile, rootToken);
  const dist = path.join(dir, 'dist');
  await buildUi(dist);
  ui = await startUiServer({
    env: {
      LARDER_UI_PORT: '0',
      LARDER_UI_DIST: dist,
      LARDER_REGISTRY_ADDRESS: registry.address,
      LARDER_MATERIALIZATION_ADDRESS: '',
      LARDER_INGESTION_ADDRESS: '',
      LARDER_CLIENT_TOKEN_FILE: tokenFile,
      LARDER_LOG_LEVEL: 'error',
    },
  });
});

afterAll(async () => {
  await ui?.close();
  await registry?.shutdown('test over');
  await issuer?.close();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

async function get(route: string, token?: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${ui.listening.url}${route}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.text() };
}

test('a visitor without a token is refused, not served as the UI server', async () => {
  for (const route of ['/api/overview', '/api/search?q=driver', '/api/objects/rides/feature-view/driver_pay']) {
    const answer = await get(route);
    expect({ route, status: answer.status }).toEqual({ route, status: 401 });
    expect(answer.body).not.toContain('driver_pay');
  }
  // A malformed header is dropped, so it counts as no token.
  expect((await get('/api/objects/rides/feature-view/driver_trips', 'not a token')).status).toBe(401);
});

test("a user's token reaches the registry: what they may describe is shown, the rest is not", async () => {
  const alice = await issuer.issue({ sub: 'alice' });
  const allowed = await get('/api/objects/rides/feature-view/driver_trips', alice);
  expect(allowed.status).toBe(200);
  expect(JSON.parse(allowed.body)).toMatchObject({ project: 'rides', name: 'driver_trips' });
  const hidden = await get('/api/objects/rides/feature-view/driver_pay', alice);
  expect([403, 404]).toContain(hidden.status);
  expect(hidden.body).not.toContain('pay"');
  const search = await get('/api/search?q=driver', alice);
  expect(search.body).not.toContain('driver_pay');
  const root = await get('/api/objects/rides/feature-view/driver_pay', await issuer.issue({ sub: 'root' }));
  expect(root.status).toBe(200);
});
