// TLS between the services and on every listener, as a cluster runs it: the registry
// requires client certificates (mTLS), online serving and ingestion dial it with theirs,
// a token file and the CA bundle, and serve gRPC, their HTTP endpoints and metrics over
// TLS. A value pushed over https comes back from the https gateway and over gRPC.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1, servingV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { ServerHandle } from '@larder/rpc';
import { createTestCertificates, runInProcess } from '@larder/testing';
import type { IssuedCertificate, TestCertificates } from '@larder/testing';
import { ingestionService } from '@larder/ingestion-app';
import { onlineServingService } from '@larder/online-serving-app';
import { registryService } from '@larder/registry-service';

jest.setTimeout(120_000);

const T = typesV1.ValueType;
const project = 'tls_e2e';
let dir: string;
let certs: TestCertificates;
let operator: IssuedCertificate;
const handles: ServerHandle[] = [];
const logs: { registry: string[]; serving: string[]; ingestion: string[] } = { registry: [], serving: [], ingestion: [] };
let registry: ServerHandle;
let serving: ServerHandle;
let ingestion: ServerHandle;

/** The `msg` line's field, e.g. the URL of "http gateway listening". */
function logged(lines: string[], msg: string, field: string): string {
  const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === msg);
  return String(line?.[field] ?? '');
}

/** https through node's fetch with our CA: undici takes a CA only through a dispatcher, so node:https it is. */
async function httpsJson(url: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      url,
      { method: text === undefined ? 'GET' : 'POST', ca: certs.ca.cert, headers: text === undefined ? {} : { 'content-type': 'application/json' } },
      (res) => {
        let data = '';
        res.on('data', (chunk: Buffer) => (data += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: data.startsWith('{') ? JSON.parse(data) : data }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-tls-e2e-'));
  certs = await createTestCertificates({ dir: path.join(dir, 'certs') });
  operator = await certs.client('operator');
  const servingCert = await certs.client('online-serving');
  const ingestionCert = await certs.client('ingestion');
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, 'projected-token');
  const serverTls = {
    LARDER_TLS_CERT_FILE: certs.server.certFile,
    LARDER_TLS_KEY_FILE: certs.server.keyFile,
    LARDER_METRICS_ENABLED: 'true',
    LARDER_METRICS_HOST: '127.0.0.1',
    LARDER_METRICS_PORT: '0',
  };
  registry = await runInProcess(
    registryService,
    {
      ...serverTls,
      LARDER_TLS_CLIENT_CA_FILE: certs.ca.certFile,
      LARDER_TLS_REQUIRE_CLIENT_CERT: 'true',
      LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'),
    },
    logs.registry,
  );
  handles.push(registry);
  const admin = createClient(registryV1.RegistryService, registry.address, {
    tls: { caFile: certs.ca.certFile, certFile: operator.certFile, keyFile: operator.keyFile },
    defaultTimeoutMs: 10_000,
  });
  await admin.applyRegistry({
    project,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [{ name: 'stats_push', timestampField: 'event_timestamp', kind: { case: 'push', value: {} } }],
    featureViews: [
      { name: 'stats', entities: ['driver'], schema: [{ name: 'conv_rate', valueType: T.DOUBLE }], streamSource: 'stats_push', online: true, offline: false },
    ],
  });
  admin.close();
  const dial = (cert: IssuedCertificate) => ({
    LARDER_REGISTRY_ADDRESS: registry.address,
    LARDER_CLIENT_TLS_CA_FILE: certs.ca.certFile,
    LARDER_CLIENT_TLS_CERT_FILE: cert.certFile,
    LARDER_CLIENT_TLS_KEY_FILE: cert.keyFile,
    LARDER_CLIENT_TOKEN_FILE: tokenFile,
    LARDER_ONLINE_STORE_TYPE: 'sqlite',
    LARDER_ONLINE_STORE_PATH: path.join(dir, 'online.db'),
  });
  serving = await runInProcess(
    onlineServingService,
    { ...serverTls, ...dial(servingCert), LARDER_HTTP_HOST: '127.0.0.1', LARDER_HTTP_PORT: '0', LARDER_SERVING_PROJECT: project },
    logs.serving,
  );
  handles.push(serving);
  ingestion = await runInProcess(
    ingestionService,
    {
      ...serverTls,
      ...dial(ingestionCert),
      LARDER_KAFKA_ENABLED: 'false',
      LARDER_OFFLINE_STORE_TYPE: 'none',
      LARDER_INGESTION_HTTP_HOST: '127.0.0.1',
      LARDER_INGESTION_HTTP_PORT: '0',
    },
    logs.ingestion,
  );
  handles.push(ingestion);
});

afterAll(async () => {
  for (const handle of handles.reverse()) await handle.shutdown('test over');
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('every listener says TLS: the listening lines, https URLs of metrics, gateway and push', () => {
  for (const [name, lines] of Object.entries(logs)) {
    expect({ name, tls: logged(lines, 'listening', 'tls'), metrics: logged(lines, 'listening', 'metrics') }).toEqual({
      name,
      tls: name === 'registry' ? 'mutual' : 'on',
      metrics: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/),
    });
  }
  expect(logged(logs.serving, 'http gateway listening', 'http')).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  expect(logged(logs.ingestion, 'http push endpoint listening', 'http')).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
});

test('a row pushed over https is served by the https gateway and over gRPC with TLS, both services following the mTLS registry', async () => {
  const pushUrl = logged(logs.ingestion, 'http push endpoint listening', 'http');
  const gatewayUrl = logged(logs.serving, 'http gateway listening', 'http');
  const pushed = await httpsJson(`${pushUrl}/push`, {
    project,
    push_source_name: 'stats_push',
    df: { driver_id: [7], conv_rate: [0.75], event_timestamp: [new Date().toISOString()] },
    to: 'online',
  });
  expect(pushed).toMatchObject({ status: 200, json: { rows_written: 1 } });

  const read = await httpsJson(`${gatewayUrl}/get-online-features`, { project, features: ['stats:conv_rate'], entities: { driver_id: [7] } });
  expect(read.status).toBe(200);
  expect(JSON.stringify(read.json)).toContain('0.75');

  const client = createClient(servingV1.OnlineServingService, serving.address, { tls: { caFile: certs.ca.certFile }, defaultTimeoutMs: 10_000 });
  try {
    const response = await client.getOnlineFeatures({
      project,
      kind: { case: 'features', value: { val: ['stats:conv_rate'] } },
      entities: { driver_id: { val: [{ val: { case: 'int64Val', value: 7n } }] } },
    });
    expect(response.results[1]?.values[0]?.val).toEqual({ case: 'doubleVal', value: 0.75 });
  } finally {
    client.close();
  }
  // Metrics over https; a plaintext scrape gets nothing.
  expect((await httpsJson(`${serving.metricsUrl}/metrics`)).status).toBe(200);
  await expect(fetch(`${serving.metricsUrl?.replace('https:', 'http:')}/metrics`)).rejects.toThrow();
});

test('the registry refuses a client without a certificate; a service with a missing key file stops with exit 2 naming the key', async () => {
  const anonymous = createClient(registryV1.RegistryService, registry.address, { tls: { caFile: certs.ca.certFile }, defaultTimeoutMs: 5_000 });
  try {
    await expect(anonymous.getRegistryVersion({})).rejects.toMatchObject({ code: 14 });
  } finally {
    anonymous.close();
  }
  const lines: string[] = [];
  await expect(
    runInProcess(onlineServingService, { LARDER_TLS_CERT_FILE: certs.server.certFile, LARDER_REGISTRY_ADDRESS: registry.address }, lines),
  ).rejects.toThrow(/exit 2/);
  expect(lines.join('\n')).toContain('tls.keyFile: required when tls.certFile is set');
  const missing: string[] = [];
  await expect(
    runInProcess(onlineServingService, { LARDER_CLIENT_TLS_CA_FILE: path.join(dir, 'no-ca.crt'), LARDER_REGISTRY_ADDRESS: registry.address }, missing),
  ).rejects.toThrow(/exit 2/);
  expect(missing.join('\n')).toMatch(/client\.tls\.caFile: cannot read .*no-ca\.crt: ENOENT/);
});
