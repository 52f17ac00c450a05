import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createOnlineStore } from '@larder/online-store';
import type { OnlineStore, ViewDescriptor } from '@larder/online-store';
import { ingestionV1, typesV1 } from '@larder/proto';
import { createLogger } from '@larder/rpc';
import { KAFKA_VERSION, cacheDir, sharedSupervisor, startKafka, startRedis, testServices } from '@larder/testing';
import type { ManagedProcess } from '@larder/testing';
import { createTopic, kafkaClient, produce, startIngestion, startTestRegistry, uniqueName, waitFor } from './testing';
import type { RunningIngestion, TestRegistry } from './testing';

jest.setTimeout(120_000);

const T = typesV1.ValueType;
const services = testServices();
const BASE = Date.UTC(2026, 2, 1);

let registry: TestRegistry;
beforeAll(async () => {
  registry = await startTestRegistry();
}, 90_000);
afterAll(async () => {
  await registry?.stop();
});

/** A project with one JSON Kafka source on `topic` feeding view `counts` (feature seq). */
async function defineProject(brokers: string[], topic: string): Promise<{ project: string; view: ViewDescriptor }> {
  const project = uniqueName('delivery');
  await registry.apply({
    project,
    entities: [{ name: 'item', joinKey: 'id', valueType: T.INT64 }],
    dataSources: [
      {
        name: 'events',
        timestampField: 'ts',
        kind: { case: 'kafka', value: { bootstrapServers: brokers, topic, messageFormat: { format: { case: 'json', value: {} } } } },
      },
    ],
    featureViews: [{ name: 'counts', entities: ['item'], schema: [{ name: 'seq', valueType: T.INT64 }], streamSource: 'events', offline: false }],
  });
  return { project, view: { project, name: 'counts', joinKeys: ['id'], features: [{ name: 'seq', type: T.INT64 }] } };
}

const events = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => ({ key: String(from + i), value: JSON.stringify({ id: from + i, seq: (from + i) * 10, ts: BASE + from + i }) }));

/** How many of ids [from, to) are stored with the value their event carried. */
async function stored(online: OnlineStore, view: ViewDescriptor, from: number, to: number): Promise<number> {
  const ids = Array.from({ length: to - from }, (_, i) => from + i);
  const [rows] = await online.read(
    [
      {
        view,
        entityKeys: ids.map((id) => ({ joinKeys: ['id'], entityValues: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(id) } })] })),
      },
    ],
    { timeoutMs: 5_000 },
  );
  return (rows ?? []).filter((row, i) => row?.values[0]?.val.value === BigInt((ids[i] as number) * 10)).length;
}

/** The real store, but every `every`-th write fails before reaching Redis. */
function flakyStore(store: OnlineStore, every: number): OnlineStore & { failed(): number } {
  let writes = 0;
  let failed = 0;
  return {
    read: (requests, options) => store.read(requests, options),
    write: async (view, rows, options) => {
      if (++writes % every === 0) {
        failed++;
        throw new Error('injected write failure');
      }
      return store.write(view, rows, options);
    },
    deleteView: (view) => store.deleteView(view),
    close: () => store.close(),
    failed: () => failed,
  };
}

const committed = (r: RunningIngestion): bigint => (r.ingestion.consumers?.statuses()[0]?.partitions ?? []).reduce((sum, p) => sum + p.committedOffset, 0n);
const assigned = (r: RunningIngestion): number => r.ingestion.consumers?.statuses()[0]?.partitions.length ?? 0;

describe('delivery', () => {
  it('a consumer stopped mid-stream and replaced loses nothing: every event lands', async () => {
    const brokers = services.kafka.brokers;
    const topic = uniqueName('restart');
    await createTopic(brokers, topic, 4);
    const { project, view } = await defineProject(brokers, topic);
    const online = createOnlineStore({ type: 'redis', url: services.redis.url, keyPrefix: `${project}:` });
    const N = 4_000;
    await produce(brokers, topic, events(0, N));
    const first = await startIngestion({ registryAddress: registry.address, project, online, kafka: { maxBytesPerPartition: 8 * 1024 } });
    await waitFor(() => committed(first) >= 400n, 30_000, 'some events committed by the first consumer');
    await first.stop();
    const handledFirst = committed(first);
    expect(handledFirst).toBeLessThan(BigInt(N));
    const second = await startIngestion({ registryAddress: registry.address, project, online });
    try {
      await waitFor(async () => (await stored(online, view, 0, N)) === N, 60_000, `all ${N} events stored`);
      await waitFor(() => committed(second) === BigInt(N), 10_000, 'every offset committed');
    } finally {
      await second.stop();
      await online.close();
    }
  });

  it('two instances split the partitions, and one takes them all when the other leaves', async () => {
    const brokers = services.kafka.brokers;
    const topic = uniqueName('rebalance');
    await createTopic(brokers, topic, 4);
    const { project, view } = await defineProject(brokers, topic);
    const online = createOnlineStore({ type: 'redis', url: services.redis.url, keyPrefix: `${project}:` });
    const a = await startIngestion({ registryAddress: registry.address, project, online });
    const b = await startIngestion({ registryAddress: registry.address, project, online });
    try {
      await waitFor(() => assigned(a) > 0 && assigned(b) > 0 && assigned(a) + assigned(b) === 4, 30_000, 'the partitions split between both instances');
      await produce(brokers, topic, events(0, 2_000));
      await waitFor(async () => (await stored(online, view, 0, 2_000)) === 2_000, 30_000, 'the first 2,000 events stored');
      await b.stop();
      await waitFor(() => assigned(a) === 4, 30_000, 'all partitions on the remaining instance');
      await produce(brokers, topic, events(2_000, 3_000));
      await waitFor(async () => (await stored(online, view, 2_000, 3_000)) === 1_000, 30_000, 'the next 1,000 events stored');
      expect(a.ingestion.consumers?.statuses()[0]?.state).toBe(ingestionV1.ConsumerState.RUNNING);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await online.close();
    }
  });

  it('offsets are committed only after the writes they cover, with batches written in the background and a flaky store', async () => {
    const brokers = services.kafka.brokers;
    const topic = uniqueName('flaky');
    await createTopic(brokers, topic, 1);
    const { project, view } = await defineProject(brokers, topic);
    const online = createOnlineStore({ type: 'redis', url: services.redis.url, keyPrefix: `${project}:` });
    const store = flakyStore(online, 3);
    const N = 3_000;
    // One partition, produced in order: event i is at offset i, so committed offset c
    // promises that events 0 .. c-1 are stored.
    await produce(brokers, topic, events(0, N));
    const running = await startIngestion({
      registryAddress: registry.address,
      project,
      online: store,
      kafka: { maxBytesPerPartition: 8 * 1024, commitIntervalMs: 0 },
    });
    let checkedMidStream = 0;
    // At every look, the events a committed offset covers must be stored; a look that finds
    // fewer is recorded here (not thrown, which the wait would take for "not yet").
    const uncovered: string[] = [];
    try {
      await waitFor(
        async () => {
          const c = Number(committed(running));
          const found = c > 0 ? await stored(online, view, 0, c) : 0;
          if (found !== c) uncovered.push(`offset ${c} committed with ${found} events stored`);
          if (c > 0 && c < N) checkedMidStream++;
          return c === N;
        },
        60_000,
        `all ${N} offsets committed`,
      );
    } finally {
      await running.stop();
      await online.close();
    }
    expect(uncovered).toEqual([]);
    expect(store.failed()).toBeGreaterThan(0);
    expect(checkedMidStream).toBeGreaterThan(0);
  });

  it('a Redis outage pauses the partition and retries; nothing is lost when Redis is back', async () => {
    const brokers = services.kafka.brokers;
    const topic = uniqueName('redis_down');
    await createTopic(brokers, topic, 1);
    const { project, view } = await defineProject(brokers, topic);
    let redis = await startRedis();
    const port = redis.port;
    const online = createOnlineStore({ type: 'redis', url: redis.url, writeTimeoutMs: 500 });
    const running = await startIngestion({ registryAddress: registry.address, project, online, kafka: { storeTimeoutMs: 500 } });
    try {
      await produce(brokers, topic, events(0, 200));
      await waitFor(async () => (await stored(online, view, 0, 200)) === 200, 30_000, 'events before the outage');
      await redis.stop();
      await produce(brokers, topic, events(200, 400));
      await waitFor(() => running.ingestion.consumers?.statuses()[0]?.state === ingestionV1.ConsumerState.PAUSED, 20_000, 'the consumer paused');
      const status = running.ingestion.consumers?.statuses()[0];
      expect(status?.lastError).not.toBe('');
      expect(status?.partitions[0]?.committedOffset).toBe(200n);
      // The stall is reported per partition, and as a metric that grows while it lasts.
      await waitFor(() => (running.ingestion.consumers?.statuses()[0]?.partitions[0]?.failedAttempts ?? 0n) >= 3n, 20_000, 'three failed attempts');
      const stalled = running.ingestion.consumers?.statuses()[0]?.partitions[0];
      expect(stalled?.stalledSince).toBeDefined();
      expect(stalled?.lastError).not.toBe('');
      const stalledSeconds = async (): Promise<number> =>
        Number(
          /larder_ingestion_partition_stalled_seconds\{[^}]*partition="0"\} ([0-9.e-]+)/.exec(await running.ingestion.metrics.registry.metrics())?.[1] ?? -1,
        );
      await waitFor(async () => (await stalledSeconds()) > 0, 10_000, 'a stall of more than 0 s in the metric');
      // One more failed write attempt later (a retry interval and a store timeout, several
      // commit intervals), still nothing of the unwritten events is committed.
      const attempts = running.ingestion.consumers?.statuses()[0]?.partitions[0]?.failedAttempts ?? 0n;
      await waitFor(() => (running.ingestion.consumers?.statuses()[0]?.partitions[0]?.failedAttempts ?? 0n) >= attempts + 1n, 20_000, 'another failed attempt');
      expect(running.ingestion.consumers?.statuses()[0]?.partitions[0]?.committedOffset).toBe(200n);
      redis = await startRedis({ port });
      // The restarted Redis is empty (no persistence in tests): the 200 events held back must all arrive.
      await waitFor(async () => (await stored(online, view, 200, 400)) === 200, 30_000, 'the held-back events stored after the outage');
      await waitFor(() => running.ingestion.consumers?.statuses()[0]?.state === ingestionV1.ConsumerState.RUNNING, 10_000, 'running again');
      await waitFor(() => running.ingestion.consumers?.statuses()[0]?.partitions[0]?.committedOffset === 400n, 10_000, 'offset 400 committed');
      const moving = running.ingestion.consumers?.statuses()[0]?.partitions[0];
      expect(moving?.stalledSince).toBeUndefined();
      expect(moving).toMatchObject({ failedAttempts: 0n, lastError: '' });
      expect(await stalledSeconds()).toBe(0);
    } finally {
      await running.stop();
      await online.close();
      await redis.stop();
    }
  });

  it('a broker restart: the consumer reconnects and carries on from its committed offsets', async () => {
    const kafka = await startKafka();
    const brokers = kafka.brokers;
    const dir = path.dirname(kafka.process.logFile);
    let broker: ManagedProcess = kafka.process;
    const topic = uniqueName('broker_restart');
    const { project, view } = await defineProject(brokers, topic);
    await createTopic(brokers, topic, 2);
    const online = createOnlineStore({ type: 'redis', url: services.redis.url, keyPrefix: `${project}:` });
    const lines: string[] = [];
    const logger = createLogger({ service: 'ingestion-test', level: 'info', write: (line) => lines.push(line) });
    const running = await startIngestion({ registryAddress: registry.address, project, online, logger });
    try {
      await produce(brokers, topic, events(0, 300));
      await waitFor(async () => (await stored(online, view, 0, 300)) === 300, 30_000, 'events before the restart');
      await broker.stop();
      // The same broker again: same config, data folder and ports.
      broker = sharedSupervisor().spawn({
        name: 'kafka-restarted',
        command: 'java',
        args: [
          '-Xmx512m',
          `-Dlog4j2.configurationFile=${path.join(dir, 'log4j2.properties')}`,
          '-cp',
          `${path.join(cacheDir(), `kafka-${KAFKA_VERSION}`, 'libs')}/*`,
          'kafka.Kafka',
          path.join(dir, 'server.properties'),
        ],
        cwd: dir,
        logFile: path.join(dir, 'kafka-restarted.log'),
      });
      await waitFor(
        async () => {
          const admin = kafkaClient(brokers).admin();
          try {
            await admin.connect();
            return (await admin.fetchTopicOffsets(topic)).length === 2;
          } catch {
            return false;
          } finally {
            await admin.disconnect().catch(() => undefined);
          }
        },
        60_000,
        'the restarted broker',
      );
      await produce(brokers, topic, events(300, 600));
      await waitFor(async () => (await stored(online, view, 0, 600)) === 600, 60_000, 'every event stored after the restart').catch((error: unknown) => {
        throw new Error(
          `${(error as Error).message}\nstatus: ` +
            `${JSON.stringify(running.ingestion.consumers?.statuses()[0], (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n${lines.slice(-30).join('')}`,
        );
      });
    } finally {
      await running.stop();
      await online.close();
      await broker.stop();
    }
  });
});
