// Ingestion never dials a host outside its allow-list: a Kafka source already in the
// registry (written before the allow-list, or by a registry allowing more) is reported
// FAILED naming the setting, and no socket is opened to it. Nothing here sends a packet
// beyond loopback.
import type { MessageInitShape } from '@bufbuild/protobuf';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LOOPBACK_ALLOW_LIST } from '@larder/core';
import { ingestionV1, registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { ServerHandle } from '@larder/rpc';
import { runInProcess, startLarderApp } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';
import { registryService } from '@larder/registry-service';
import { allowedSocketFactory } from './kafka/allowed-socket';

jest.setTimeout(120_000);

/** JSON messages, or Avro whose schemas come from a registry at `schemaRegistryUrl`. */
function messageFormat(schemaRegistryUrl: string | undefined): MessageInitShape<typeof registryV1.KafkaMessageFormatSchema> {
  if (schemaRegistryUrl === undefined) return { format: { case: 'json', value: {} } };
  return { format: { case: 'avro', value: { schema: { case: 'schemaRegistryUrl', value: schemaRegistryUrl } } } };
}

const T = typesV1.ValueType;
const FAR = '10.1.2.3';
let dir: string;
let registry: ServerHandle;
let app: RunningLarderApp;

const source = (name: string, bootstrapServers: string[], schemaRegistryUrl?: string) => ({
  name,
  timestampField: 'ts',
  kind: {
    case: 'kafka' as const,
    value: {
      bootstrapServers,
      topic: name,
      messageFormat: messageFormat(schemaRegistryUrl),
    },
  },
});

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'larder-ingestion-endpoints-'));
  // A registry that allows any host: the sources below get in, as they would have before the allow-list.
  registry = await runInProcess(registryService, {
    LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'),
    LARDER_ALLOWED_KAFKA_BROKERS: '*:*',
    LARDER_ALLOWED_SCHEMA_REGISTRIES: '*:*',
    LARDER_LOG_LEVEL: 'warn',
  });
  const client = createClient(registryV1.RegistryService, registry.address);
  await client.applyRegistry({
    project: 'far',
    entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
    dataSources: [source('far_brokers', ['localhost:9', `${FAR}:9092`]), source('far_schemas', ['127.0.0.1:9'], 'http://169.254.169.254/')],
    featureViews: [
      { name: 'a', entities: ['driver'], schema: [{ name: 'n', valueType: T.INT64 }], streamSource: 'far_brokers', online: true, offline: false },
      { name: 'b', entities: ['driver'], schema: [{ name: 'n', valueType: T.INT64 }], streamSource: 'far_schemas', online: true, offline: false },
    ],
  });
  client.close();
  app = await startLarderApp({
    app: 'ingestion',
    env: {
      LARDER_REGISTRY_ADDRESS: registry.address,
      LARDER_ONLINE_STORE_TYPE: 'sqlite',
      LARDER_ONLINE_STORE_PATH: path.join(dir, 'online.db'),
      LARDER_OFFLINE_STORE_TYPE: 'none',
      LARDER_INGESTION_HTTP_ENABLED: 'false',
    },
  });
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await registry?.shutdown('test over');
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Remote addresses of the process's TCP sockets (any state), from /proc/<pid>/net/tcp. */
function remoteIpv4s(pid: number): string[] {
  return readFileSync(`/proc/${pid}/net/tcp`, 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[2])
    .filter((remote): remote is string => remote !== undefined && remote !== '')
    .map((remote) => [6, 4, 2, 0].map((i) => parseInt(remote.slice(i, i + 2), 16)).join('.'));
}

test('sources naming hosts outside the allow-list are FAILED naming the field and the setting, and never dialled', async () => {
  const ingestion = createClient(ingestionV1.IngestionService, app.address, { defaultTimeoutMs: 5_000 });
  try {
    let statuses: ingestionV1.ConsumerStatus[] = [];
    for (let i = 0; i < 100 && statuses.filter((s) => s.state === ingestionV1.ConsumerState.FAILED).length < 2; i++) {
      statuses = (await ingestion.getConsumerStatus({ project: 'far' })).consumers;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const byName = Object.fromEntries(statuses.map((s) => [s.dataSource, s]));
    expect(byName['far_brokers']?.state).toBe(ingestionV1.ConsumerState.FAILED);
    expect(byName['far_brokers']?.lastError).toBe(
      `data source 'far_brokers' kind.kafka.bootstrap_servers[1]: "${FAR}:9092" is not an allowed Kafka broker; ` +
        `allowed Kafka brokers: localhost:*, 127.0.0.1:*, [::1]:* (set by the services' endpoints.kafkaBrokers / ` +
        `LARDER_ALLOWED_KAFKA_BROKERS)`,
    );
    expect(byName['far_schemas']?.state).toBe(ingestionV1.ConsumerState.FAILED);
    expect(byName['far_schemas']?.lastError).toMatch(
      /kind\.kafka\.message_format\.avro\.schema_registry_url: "http:\/\/169\.254\.169\.254\/" is not an allowed schema registry.*LARDER_ALLOWED_SCHEMA_REGISTRIES/,
    );
    // Refused before any consumer existed: not even its allowed loopback broker was dialled.
    expect(remoteIpv4s(app.pid).filter((ip) => ip !== '0.0.0.0' && !ip.startsWith('127.'))).toEqual([]);
  } finally {
    ingestion.close();
  }
});

test("the consumers' socket factory refuses a broker outside the list without connecting, and connects to one inside", async () => {
  const factory = allowedSocketFactory(LOOPBACK_ALLOW_LIST);
  let connected = false;
  // A broker a cluster might advertise in its metadata.
  const refused = factory({ host: FAR, port: 9092, ssl: false as never, onConnect: () => (connected = true) });
  const error = await new Promise<Error>((resolve) => refused.once('error', resolve));
  expect(error.message).toBe(`broker ${FAR}:9092 is not allowed by LARDER_ALLOWED_KAFKA_BROKERS (localhost:*, 127.0.0.1:*, [::1]:*)`);
  expect([connected, refused.remoteAddress]).toEqual([false, undefined]);

  const server = net.createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const socket = await new Promise<net.Socket>((resolve) => {
      const s = factory({ host: '127.0.0.1', port, ssl: false as never, onConnect: () => resolve(s) });
    });
    expect(socket.remotePort).toBe(port);
    socket.destroy();
  } finally {
    server.close();
  }
});
