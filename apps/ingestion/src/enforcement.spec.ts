// Ingestion with authentication and Permission objects on: pushes and online writes through
// gRPC and HTTP, allowed and denied, with tokens from a real issuer; writes audited.
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { ingestionV1, registryV1, typesV1 } from '@larder/proto';
import { Code, createClient } from '@larder/rpc';
import type { RpcClient, ServerHandle } from '@larder/rpc';
import { freePort, rpcRejection as failure, runInProcess, TestIssuer } from '@larder/testing';
import { ingestionService } from './service';
import { startTestRegistry, uniqueName } from './testing';
import type { TestRegistry } from './testing';

jest.setTimeout(60_000);

const T = typesV1.ValueType;
const K = registryV1.ObjectKind;
const A = registryV1.Action;
type Ingest = RpcClient<typeof ingestionV1.IngestionService>;
const project = uniqueName('enforced');
let dir: string;
let registry: TestRegistry;
let ingestion: ServerHandle;
let issuer: TestIssuer;
let url: string;
const logs: string[] = [];
const clients: Ingest[] = [];
let tokens: Record<'producer' | 'reader', string>;

const permission = (name: string, init: Omit<MessageInitShape<typeof registryV1.PermissionSchema>, 'name' | '$typeName'>) =>
  create(registryV1.PermissionSchema, { ...init, name } as MessageInitShape<typeof registryV1.PermissionSchema>);

function as(token: string | undefined): Ingest {
  const client = createClient(ingestionV1.IngestionService, ingestion.address, { ...(token !== undefined && { token }), defaultTimeoutMs: 10_000 });
  clients.push(client);
  return client;
}

const rows = () =>
  create(typesV1.RowBatchSchema, {
    columns: {
      driver_id: { val: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: 7n } })] },
      conv_rate: { val: [create(typesV1.ValueSchema, { val: { case: 'doubleVal', value: 0.5 } })] },
    },
    eventTimestamps: [timestampFromMs(Date.now() - 60_000)],
  });

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'larder-ingestion-enforced-'));
  issuer = await TestIssuer.start();
  registry = await startTestRegistry();
  await registry.apply({
    project,
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [
      { name: 'stats_file', timestampField: 'event_timestamp', kind: { case: 'file', value: { path: path.join(dir, 'stats.parquet') } } },
      { name: 'stats_push', kind: { case: 'push', value: { batchSource: 'stats_file' } } },
    ],
    featureViews: [
      {
        name: 'stats',
        entities: ['driver'],
        schema: [{ name: 'conv_rate', valueType: T.DOUBLE }],
        batchSource: 'stats_file',
        streamSource: 'stats_push',
        tags: { writer: 'stream' },
      },
      { name: 'private_stats', entities: ['driver'], schema: [{ name: 'conv_rate', valueType: T.DOUBLE }], batchSource: 'stats_file' },
    ],
    permissions: [
      permission('producer-writes', {
        types: [K.FEATURE_VIEW],
        requiredTags: { writer: 'stream' },
        actions: [A.WRITE_ONLINE],
        policy: { serviceAccounts: ['streaming/producer'] },
      }),
      permission('reader-describes', { actions: [A.DESCRIBE], policy: { users: ['reader'] } }),
    ],
  });
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  ingestion = await runInProcess(
    ingestionService,
    {
      LARDER_REGISTRY_ADDRESS: registry.address,
      LARDER_KAFKA_ENABLED: 'false',
      LARDER_ONLINE_STORE_TYPE: 'sqlite',
      LARDER_ONLINE_STORE_PATH: path.join(dir, 'online.db'),
      LARDER_OFFLINE_STORE_TYPE: 'duckdb',
      LARDER_INGESTION_HTTP_PORT: String(port),
      LARDER_LOG_LEVEL: 'info',
      LARDER_PROJECT: project,
      LARDER_AUTH_MODES: 'oidc',
      LARDER_AUTH_OIDC_ISSUER: issuer.issuer,
      LARDER_AUTH_OIDC_AUDIENCES: 'larder',
    },
    logs,
  );
  tokens = { producer: await issuer.serviceAccountToken({ namespace: 'streaming', name: 'producer' }), reader: await issuer.issue({ sub: 'reader' }) };
});

afterAll(async () => {
  for (const c of clients) c.close();
  await ingestion?.shutdown('test over');
  await registry?.stop();
  await issuer?.close();
  rmSync(dir, { recursive: true, force: true });
});

const push = (mode: ingestionV1.PushMode) => create(ingestionV1.PushRequestSchema, { project, pushSource: 'stats_push', rows: rows(), mode });

test('gRPC Push: the producer writes online to the views its tag grants; offline, another view, or another identity is refused', async () => {
  const producer = as(tokens.producer);
  expect((await producer.push(push(ingestionV1.PushMode.ONLINE))).rowsWritten).toBe(1n);
  expect(await failure(producer.push(push(ingestionV1.PushMode.OFFLINE)))).toMatchObject({
    code: Code.PERMISSION_DENIED,
    message: `principal sa:streaming/producer may not write_offline feature_view "stats" in project "${project}"`,
  });
  expect((await failure(producer.writeToOnlineStore({ project, featureView: 'private_stats', rows: rows() }))).code).toBe(Code.PERMISSION_DENIED);
  expect((await failure(as(tokens.reader).push(push(ingestionV1.PushMode.ONLINE)))).code).toBe(Code.PERMISSION_DENIED);
  // An unknown source is denied as a hidden one would be.
  expect(await failure(as(tokens.reader).push({ ...push(ingestionV1.PushMode.ONLINE), pushSource: 'nope' }))).toMatchObject({
    code: Code.PERMISSION_DENIED,
    message: `principal user:reader may not write_online data_source "nope" in project "${project}"`,
  });
  expect((await failure(as(undefined).push(push(ingestionV1.PushMode.ONLINE)))).code).toBe(Code.UNAUTHENTICATED);
});

test('HTTP /push: 401 without a token, 403 when denied, 200 for the producer; /health stays open', async () => {
  const body = JSON.stringify({
    project,
    push_source_name: 'stats_push',
    df: { driver_id: [8], conv_rate: [0.25], event_timestamp: [new Date(Date.now() - 60_000).toISOString()] },
    to: 'online',
  });
  const post = (token?: string) =>
    fetch(`${url}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }) },
      body,
    });
  const missing = await post();
  expect(missing.status).toBe(401);
  expect(await missing.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'missing bearer token' } });
  const denied = await post(tokens.reader);
  expect(denied.status).toBe(403);
  expect(((await denied.json()) as { error: { message: string } }).error.message).toBe(
    `principal user:reader may not write_online feature_view "stats" in project "${project}"`,
  );
  const ok = await post(tokens.producer);
  expect(ok.status).toBe(200);
  expect(((await ok.json()) as { rows_written: number }).rows_written).toBe(1);
  expect((await fetch(`${url}/health`)).status).toBe(200);
});

test('every push and every denial is audited with the identity, action, objects and outcome', () => {
  const audit = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'audit');
  expect(audit.filter((l) => l['identity'] === 'sa:streaming/producer' && l['action'] === 'write_online' && l['outcome'] === 'success').length).toBe(2);
  expect(audit.some((l) => l['identity'] === 'sa:streaming/producer' && l['action'] === 'write_offline' && l['outcome'] === 'denied')).toBe(true);
  expect(audit.some((l) => l['identity'] === 'unauthenticated' && l['outcome'] === 'denied')).toBe(true);
});
