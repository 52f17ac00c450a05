// The HTTP/JSON gateway against a hostile client, on the real service in its own process:
// the same body limits, content-type check and slow-client timeouts as ingestion's /push
// (both read bodies through @larder/rpc's readJsonBody).
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { healthV1, registryV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { RpcClient, ServerHandle } from '@larder/rpc';
import { freePort, runInProcess, slowHttpClient, startLarderApp } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';
import { registryService } from '@larder/registry-service';
import { driverRepo } from './testing';

jest.setTimeout(120_000);

const MAX_BODY = 8 * 1024 * 1024;
const project = `limits${Math.random().toString(36).slice(2, 8)}`;
let dir: string;
let registry: ServerHandle;
let app: RunningLarderApp;
let httpPort: number;
let health: RpcClient<typeof healthV1.Health>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'larder-gateway-limits-'));
  registry = await runInProcess(registryService, { LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'), LARDER_LOG_LEVEL: 'warn' });
  const client = createClient(registryV1.RegistryService, registry.address);
  await client.applyRegistry({ ...driverRepo(project), project });
  client.close();
  httpPort = await freePort();
  app = await startLarderApp({
    app: 'online-serving',
    env: {
      LARDER_REGISTRY_ADDRESS: registry.address,
      LARDER_ONLINE_STORE_TYPE: 'sqlite',
      LARDER_ONLINE_STORE_PATH: path.join(dir, 'online.db'),
      LARDER_HTTP_PORT: String(httpPort),
      LARDER_HTTP_HEADERS_TIMEOUT: '1s',
      LARDER_HTTP_BODY_IDLE_TIMEOUT: '1s',
    },
  });
  health = createClient(healthV1.Health, app.address, { defaultTimeoutMs: 5_000 });
  await health.check({ service: '' });
}, 120_000);

afterAll(async () => {
  health?.close();
  await app?.stop();
  await registry?.shutdown('test over');
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const request = JSON.stringify({ project, features: ['driver_stats:conv_rate'], entities: { driver_id: [1001] } });

test('a body declared over the limit gets 413 before it is read, and health answers at once after', async () => {
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: httpPort,
        path: '/get-online-features',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(MAX_BODY + 1) },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    // Only the headers: the answer must not wait for the 8 MiB it announced.
    req.flushHeaders();
  });
  expect(answer.status).toBe(413);
  expect(JSON.parse(answer.body)).toEqual({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining(`over the limit of ${MAX_BODY} bytes`) });
  const started = performance.now();
  expect((await health.check({ service: '' })).status).toBe(healthV1.HealthCheckResponse_ServingStatus.SERVING);
  expect(performance.now() - started).toBeLessThan(100);
});

test('a streamed body past the limit is cut with 413', async () => {
  const res = await fetch(`http://127.0.0.1:${httpPort}/get-online-features`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // Streamed (no Content-Length): the limit is counted as the bytes arrive.
    body: new ReadableStream({
      start(controller) {
        for (let i = 0; i < 12; i++) controller.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
        controller.close();
      },
    }),
    duplex: 'half',
  } as RequestInit).catch((error: unknown) => error as Error);
  // The server answers 413 and drops the rest of the body (bounded), so the client still
  // sending reads the answer instead of a reset.
  expect(res instanceof Response ? res.status : res.message).toBe(413);
});

test('a text/plain POST gets 415; the same body as application/json is answered', async () => {
  for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
    const res = await fetch(`http://127.0.0.1:${httpPort}/get-online-features`, { method: 'POST', headers: { 'content-type': type }, body: request });
    expect([type, res.status, ((await res.json()) as { message: string }).message]).toEqual([
      type,
      415,
      expect.stringMatching(/^content-type: expected application\/json/),
    ]);
  }
  const res = await fetch(`http://127.0.0.1:${httpPort}/get-online-features`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: request,
  });
  expect(res.status).toBe(200);
});

test('slow clients are cut: unfinished headers after the headers timeout, a stalled body with 408', async () => {
  const headers = await slowHttpClient(httpPort, 'POST /get-online-features HTTP/1.1\r\nHost: larder\r\n');
  expect(headers.closedAfterMs).toBeGreaterThan(900);
  expect(headers.closedAfterMs).toBeLessThan(4_000);
  const body = await slowHttpClient(
    httpPort,
    'POST /get-online-features HTTP/1.1\r\nHost: larder\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"features":',
  );
  expect(body.received).toMatch(/^HTTP\/1\.1 408 /);
  expect(body.closedAfterMs).toBeGreaterThan(900);
  expect(body.closedAfterMs).toBeLessThan(4_000);
});
