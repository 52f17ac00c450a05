// A data source naming a host the services may not connect to is refused at apply, with
// the allowed list and the setting in the message; nothing is stored.
import type { MessageInitShape } from '@bufbuild/protobuf';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registryV1, typesV1 } from '@larder/proto';
import { Code, createClient, RpcError } from '@larder/rpc';
import type { RpcClient, ServerHandle } from '@larder/rpc';
import { runInProcess } from '@larder/testing';
import { registryService } from './service';

/** JSON messages, or Avro whose schemas come from a registry at `schemaRegistryUrl`. */
function messageFormat(schemaRegistryUrl: string | undefined): MessageInitShape<typeof registryV1.KafkaMessageFormatSchema> {
  if (schemaRegistryUrl === undefined) return { format: { case: 'json', value: {} } };
  return { format: { case: 'avro', value: { schema: { case: 'schemaRegistryUrl', value: schemaRegistryUrl } } } };
}

const T = typesV1.ValueType;
const dir = mkdtempSync(path.join(os.tmpdir(), 'larder-registry-endpoints-'));
const running: { handle: ServerHandle; client: RpcClient<typeof registryV1.RegistryService> }[] = [];

async function startRegistry(name: string, env: Record<string, string> = {}): Promise<RpcClient<typeof registryV1.RegistryService>> {
  const handle = await runInProcess(registryService, { LARDER_REGISTRY_LOCATION: path.join(dir, `${name}.json`), LARDER_LOG_LEVEL: 'warn', ...env });
  const client = createClient(registryV1.RegistryService, handle.address, { defaultTimeoutMs: 10_000 });
  running.push({ handle, client });
  return client;
}

afterAll(async () => {
  for (const { handle, client } of running) {
    client.close();
    await handle.shutdown('test over');
  }
  rmSync(dir, { recursive: true, force: true });
});

type Avro = { schemaRegistryUrl: string } | undefined;
const kafkaProject = (project: string, bootstrapServers: string[], avro: Avro = undefined) => ({
  project,
  entities: [{ name: 'driver', joinKey: 'driver_id', valueType: T.INT64 }],
  dataSources: [
    {
      name: 'trips',
      timestampField: 'ts',
      kind: {
        case: 'kafka' as const,
        value: {
          bootstrapServers,
          topic: 'trips',
          messageFormat: messageFormat(avro?.schemaRegistryUrl),
        },
      },
    },
  ],
  featureViews: [
    { name: 'trip_stats', entities: ['driver'], schema: [{ name: 'n', valueType: T.INT64 }], streamSource: 'trips', online: true, offline: false },
  ],
});

async function refusal(call: Promise<unknown>): Promise<RpcError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RpcError);
  return error as RpcError;
}

test('by default only loopback brokers: 10.1.2.3:9092 is refused at apply naming source, field and the allowed list; nothing is stored', async () => {
  const registry = await startRegistry('default');
  const error = await refusal(registry.applyRegistry(kafkaProject('far', ['localhost:9092', '10.1.2.3:9092'])));
  expect(error.code).toBe(Code.INVALID_ARGUMENT);
  expect(error.message).toBe(
    `data source 'trips' kind.kafka.bootstrap_servers[1]: "10.1.2.3:9092" is not an allowed Kafka broker; allowed ` +
      `Kafka brokers: localhost:*, 127.0.0.1:*, [::1]:* (set by the services' endpoints.kafkaBrokers / ` +
      `LARDER_ALLOWED_KAFKA_BROKERS)`,
  );
  expect((await registry.listProjects({})).projects).toEqual([]);
  // Loopback brokers are applied.
  expect((await registry.applyRegistry(kafkaProject('near', ['localhost:9092', '127.0.0.1:19092', '[::1]:9092']))).version).toBeGreaterThan(0n);
});

test('a schema registry URL outside the allow-list (a cloud metadata address) is refused; a loopback one is applied', async () => {
  const registry = await startRegistry('schemas');
  const error = await refusal(
    registry.applyRegistry(kafkaProject('meta', ['localhost:9092'], { schemaRegistryUrl: 'http://169.254.169.254/latest/meta-data' })),
  );
  expect(error.code).toBe(Code.INVALID_ARGUMENT);
  expect(error.message).toBe(
    'data source \'trips\' kind.kafka.message_format.avro.schema_registry_url: "http://169.254.169.254/latest/meta-data" ' +
      "is not an allowed schema registry; allowed schema registries: localhost:*, 127.0.0.1:*, [::1]:* (set by the services' " +
      'endpoints.schemaRegistries / LARDER_ALLOWED_SCHEMA_REGISTRIES)',
  );
  const file = await refusal(registry.applyRegistry(kafkaProject('file', ['localhost:9092'], { schemaRegistryUrl: 'file:///etc/passwd' })));
  expect(file.message).toMatch(/schema_registry_url: "file:\/\/\/etc\/passwd" is not an http\(s\) URL/);
  expect((await registry.applyRegistry(kafkaProject('local', ['localhost:9092'], { schemaRegistryUrl: 'http://localhost:8081' }))).version).toBeGreaterThan(0n);
});

test('LARDER_ALLOWED_KAFKA_BROKERS sets the list: *.domain hosts and exact ports', async () => {
  const registry = await startRegistry('configured', { LARDER_ALLOWED_KAFKA_BROKERS: '*.kafka.internal:9092, broker-0.example:9093' });
  expect((await registry.applyRegistry(kafkaProject('ok', ['b1.kafka.internal:9092', 'broker-0.example:9093']))).version).toBeGreaterThan(0n);
  for (const host of ['kafka.internal.evil.example:9092', 'b1.kafka.internal:9093', 'localhost:9092', 'kafka.internal:9092']) {
    const error = await refusal(registry.applyRegistry(kafkaProject('no', [host])));
    expect([host, error.code, error.message]).toEqual([
      host,
      Code.INVALID_ARGUMENT,
      expect.stringContaining(`"${host}" is not an allowed Kafka broker; allowed Kafka brokers: *.kafka.internal:9092, broker-0.example:9093`),
    ]);
  }
});

test('a malformed pattern stops the service naming the key', async () => {
  await expect(startRegistry('bad', { LARDER_ALLOWED_KAFKA_BROKERS: 'kafka*.internal:9092' })).rejects.toThrow(
    /endpoints\.kafkaBrokers.*a \* in the host must be the whole host or lead as \*\.domain/,
  );
});
