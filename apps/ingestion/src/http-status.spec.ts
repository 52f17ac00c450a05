// Every gRPC code a push can end in has its HTTP status on /push: a refusal is never a 500
// "internal error" (which also hides the reason from the client).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { typesV1 } from '@larder/proto';
import type { ServerHandle } from '@larder/rpc';
import { freePort, runInProcess } from '@larder/testing';
import { ingestionService } from './service';
import { startTestRegistry, uniqueName } from './testing';
import type { TestRegistry } from './testing';

jest.setTimeout(60_000);

const T = typesV1.ValueType;
const project = uniqueName('http_status');
let outside: string;
let dir: string;
let registry: TestRegistry;
let ingestion: ServerHandle;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'larder-http-status-'));
  // Outside the service's read roots (its working directory by default).
  outside = mkdtempSync(path.join(os.tmpdir(), 'larder-http-status-outside-'));
  registry = await startTestRegistry();
  await registry.apply({
    project,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [
      { name: 'outside_file', timestampField: 'event_timestamp', kind: { case: 'file', value: { path: path.join(outside, 'stats.parquet') } } },
      { name: 'outside_push', kind: { case: 'push', value: { batchSource: 'outside_file' } } },
    ],
    featureViews: [
      { name: 'stats', entities: ['driver'], schema: [{ name: 'conv_rate', valueType: T.DOUBLE }], batchSource: 'outside_file', streamSource: 'outside_push' },
    ],
  });
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  ingestion = await runInProcess(ingestionService, {
    LARDER_REGISTRY_ADDRESS: registry.address,
    LARDER_KAFKA_ENABLED: 'false',
    LARDER_ONLINE_STORE_TYPE: 'sqlite',
    LARDER_ONLINE_STORE_PATH: path.join(dir, 'online.db'),
    LARDER_OFFLINE_STORE_TYPE: 'duckdb',
    LARDER_INGESTION_HTTP_PORT: String(port),
    LARDER_LOG_LEVEL: 'warn',
  });
});

afterAll(async () => {
  await ingestion?.shutdown('test over');
  await registry?.stop();
  for (const d of [dir, outside]) if (d !== undefined) rmSync(d, { recursive: true, force: true });
});

test('an offline push to a source outside the roots is 403 PERMISSION_DENIED with the reason, not 500', async () => {
  const res = await fetch(`${url}/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      project,
      push_source_name: 'outside_push',
      df: { driver_id: [1], conv_rate: [0.5], event_timestamp: [new Date().toISOString()] },
      to: 'offline',
    }),
  });
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect([res.status, body.error.code]).toEqual([403, 'PERMISSION_DENIED']);
  expect(body.error.message).toMatch(/^offline write: .*outside/);
  expect(readdirSync(outside)).toEqual([]);
});
