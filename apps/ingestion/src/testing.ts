import { DEFAULT_MAX_FUTURE_SKEW_MS } from '@larder/core';
// Test helpers: a real registry service, an in-process ingestion over real
// stores, and Kafka plumbing. Not part of the service.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Kafka, logLevel } from 'kafkajs';
import type { Message } from 'kafkajs';
import type { OfflineStore } from '@larder/offline-store';
import type { OnlineStore } from '@larder/online-store';
import { registryV1 } from '@larder/proto';
import { RegistryClient } from '@larder/registry-client';
import { createClient, silentLogger } from '@larder/rpc';
import type { Logger, RpcClient } from '@larder/rpc';
import { startLarderApp, waitUntil } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';
import { Ingestion } from './ingestion';
import type { ConsumerSettings } from './kafka/source-consumer';

export interface TestRegistry {
  readonly address: string;
  apply(request: MessageInitShape<typeof registryV1.ApplyRegistryRequestSchema>): Promise<bigint>;
  stop(): Promise<void>;
}

/** The real registry service (apps/registry) over a file registry in a temp folder. */
export async function startTestRegistry(): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'larder-ingestion-registry-'));
  const app: RunningLarderApp = await startLarderApp({
    app: 'registry',
    startTimeoutMs: 60_000,
    env: { LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'), LARDER_METRICS_ENABLED: 'false', LARDER_SHUTDOWN_GRACE_PERIOD: '2s' },
  });
  const client: RpcClient<typeof registryV1.RegistryService> = createClient(registryV1.RegistryService, app.address, { defaultTimeoutMs: 10_000 });
  return {
    address: app.address,
    apply: async (request) => (await client.applyRegistry(request)).version,
    async stop() {
      client.close();
      await app.stop(5_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Consumer settings for tests: short group timeouts so joins, leaves and rebalances take seconds. */
export function testConsumerSettings(overrides: Partial<ConsumerSettings> = {}): ConsumerSettings {
  return {
    clientId: 'larder-ingestion-test',
    groupPrefix: `larder-test-${process.pid}.`,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 300,
    rebalanceTimeoutMs: 6_000,
    fromBeginning: true,
    partitionsConsumedConcurrently: 4,
    storeTimeoutMs: 2_000,
    maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS,
    retryInitialMs: 50,
    retryMaxMs: 500,
    commitIntervalMs: 100,
    maxWaitTimeMs: 100,
    lagRefreshMs: 300,
    maxBytesPerPartition: 1024 * 1024,
    maxBytes: 10 * 1024 * 1024,
    deadLetterPartitions: 0,
    deadLetterMaxBytes: 0,
    ...overrides,
  };
}

export interface RunningIngestion {
  readonly ingestion: Ingestion;
  readonly registry: RegistryClient;
  stop(): Promise<void>;
}

/** An Ingestion in this process, following the test registry, writing to the given stores. */
export async function startIngestion(options: {
  registryAddress: string;
  project: string;
  online: OnlineStore;
  offline?: OfflineStore;
  kafka?: Partial<ConsumerSettings> | false;
  basePath?: string;
  logger?: Logger;
}): Promise<RunningIngestion> {
  const registry = await RegistryClient.connect({ address: options.registryAddress, project: options.project });
  const ingestion = new Ingestion({
    registry,
    registryReady: () => true,
    online: options.online,
    offline: options.offline,
    logger: options.logger ?? silentLogger(),
    project: options.project,
    basePath: options.basePath ?? process.cwd(),
    storeTimeoutMs: 2_000,
    kafka: options.kafka === false ? undefined : testConsumerSettings(options.kafka ?? {}),
  });
  try {
    await ingestion.start();
  } catch (error) {
    registry.close();
    throw error;
  }
  return {
    ingestion,
    registry,
    async stop() {
      await ingestion.stop();
      registry.close();
    },
  };
}

export function kafkaClient(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'larder-ingestion-test-client', brokers, logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
}

/** Creates a topic; `config` sets topic configs such as max.message.bytes. */
export async function createTopic(brokers: string[], topic: string, partitions = 1, config: Record<string, string> = {}): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    const configEntries = Object.entries(config).map(([name, value]) => ({ name, value }));
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export async function produce(brokers: string[], topic: string, messages: Message[]): Promise<void> {
  const producer = kafkaClient(brokers).producer();
  await producer.connect();
  try {
    // Pieces of at most 1000 messages and ~512 KiB: a topic takes 1 MiB per partition per request by default.
    let piece: Message[] = [];
    let bytes = 0;
    for (const message of messages) {
      const size = (message.value?.length ?? 0) + (message.key?.length ?? 0);
      if (piece.length > 0 && (piece.length === 1000 || bytes + size > 512 * 1024)) {
        await producer.send({ topic, messages: piece, acks: -1 });
        piece = [];
        bytes = 0;
      }
      piece.push(message);
      bytes += size;
    }
    if (piece.length > 0) await producer.send({ topic, messages: piece, acks: -1 });
  } finally {
    await producer.disconnect();
  }
}

/** Reads every message of a topic from the start until `count` have arrived. */
export async function readTopic(
  brokers: string[],
  topic: string,
  count: number,
  timeoutMs = 20_000,
): Promise<{ value: string; headers: Record<string, string>; size: number }[]> {
  const consumer = kafkaClient(brokers).consumer({
    groupId: `reader-${topic}-${Date.now()}`,
    sessionTimeout: 6_000,
    heartbeatInterval: 300,
    maxBytesPerPartition: 8 * 1024 * 1024,
  });
  const seen: { value: string; headers: Record<string, string>; size: number }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        seen.push({ value: message.value?.toString('utf8') ?? '', headers, size: message.value?.length ?? 0 });
      },
    });
    await waitFor(() => seen.length >= count, timeoutMs, `${count} messages on ${topic}`);
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/** @larder/testing's waitUntil, in the argument order these specs use. */
export function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  return waitUntil(condition, { what, timeoutMs, intervalMs: 50 });
}

export const uniqueName = (prefix: string): string => `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
