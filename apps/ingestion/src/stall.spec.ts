// No partition stalls for good: bursts of large dead letters go out in pieces the
// broker accepts, online-only views take any event order, a deployment without an
// offline store writes online only, and what cannot work is said at consumer start.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { InvalidRowError, createOnlineStore } from '@larder/online-store';
import type { OnlineStore, ViewDescriptor } from '@larder/online-store';
import { ingestionV1, typesV1 } from '@larder/proto';
import type { registryV1 } from '@larder/proto';
import { testServices } from '@larder/testing';
import { createTopic, kafkaClient, produce, readTopic, startIngestion, startTestRegistry, uniqueName, waitFor } from './testing';
import type { RunningIngestion, TestRegistry } from './testing';

jest.setTimeout(180_000);

const T = typesV1.ValueType;
const services = testServices();
const brokers = services.kafka.brokers;
const BASE = Date.UTC(2026, 3, 1);
const KiB = 1024;

let registry: TestRegistry;
let online: OnlineStore;
beforeAll(async () => {
  registry = await startTestRegistry();
  online = createOnlineStore({ type: 'redis', url: services.redis.url, keyPrefix: `${uniqueName('stall')}:` });
}, 90_000);
afterAll(async () => {
  await online?.close();
  await registry?.stop();
});

const counts = (project: string): ViewDescriptor => ({ project, name: 'counts', joinKeys: ['id'], features: [{ name: 'seq', type: T.INT64 }] });

/** A project with one JSON Kafka source on `topic` feeding view `counts` (feature seq). */
async function defineProject(
  topic: string,
  options: {
    view?: { online?: boolean; offline?: boolean | undefined; batchSource?: string };
    kafka?: { deadLetterTopic?: string };
    sources?: MessageInitShape<typeof registryV1.DataSourceSchema>[];
  } = {},
): Promise<string> {
  const project = uniqueName('stall');
  await registry.apply({
    project,
    entities: [{ name: 'item', joinKey: 'id', valueType: T.INT64 }],
    dataSources: [
      ...(options.sources ?? []),
      {
        name: 'events',
        timestampField: 'ts',
        kind: { case: 'kafka', value: { bootstrapServers: brokers, topic, messageFormat: { format: { case: 'json', value: {} } }, ...options.kafka } },
      },
    ],
    featureViews: [
      { name: 'counts', entities: ['item'], schema: [{ name: 'seq', valueType: T.INT64 }], streamSource: 'events', offline: false, ...options.view },
    ],
  });
  return project;
}

async function storedSeqs(project: string, ids: number[]): Promise<(bigint | undefined)[]> {
  const [rows] = await online.read(
    [
      {
        view: counts(project),
        entityKeys: ids.map((id) => ({ joinKeys: ['id'], entityValues: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(id) } })] })),
      },
    ],
    { timeoutMs: 5_000 },
  );
  return (rows ?? []).map((row) => row?.values[0]?.val.value as bigint | undefined);
}

/** A CSV file source with the view's columns, in a temp folder (for views with a batch_source). */
function historySource(): { dir: string; source: MessageInitShape<typeof registryV1.DataSourceSchema> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'larder-stall-'));
  writeFileSync(path.join(dir, 'counts.csv'), `id,seq,ts\n1,10,${new Date(BASE).toISOString()}\n`);
  return { dir, source: { name: 'history', timestampField: 'ts', kind: { case: 'file', value: { path: path.join(dir, 'counts.csv') } } } };
}

const status = (running: RunningIngestion) => running.ingestion.consumers?.statuses()[0];
const committed = (running: RunningIngestion, partition = 0) => status(running)?.partitions.find((p) => p.partition === partition)?.committedOffset;

interface Backlog {
  messages: { key: string; value: string }[];
  good: number[];
  bad: Map<number, string>;
  oversize: Set<number>;
}

/** Mostly malformed, large events: every `goodEvery`-th is good; `oversize` offsets carry a value bigger than `oversizeBytes`. */
function backlog(count: number, goodEvery: number, badBytes: number, oversize: number[], oversizeBytes: number): Backlog {
  const messages: { key: string; value: string }[] = [];
  const good: number[] = [];
  const bad = new Map<number, string>();
  for (let i = 0; i < count; i++) {
    if (i % goodEvery === 0) {
      good.push(i);
      messages.push({ key: String(i), value: JSON.stringify({ id: i, seq: i * 10, ts: BASE + i }) });
      continue;
    }
    const size = oversize.includes(i) ? oversizeBytes : badBytes;
    // Alternately undecodable and of the wrong type, padded to size.
    const value = i % 2 === 0 ? `{not json ${i} ${'y'.repeat(size)}` : JSON.stringify({ id: i, seq: `not a number ${'z'.repeat(size)}`, ts: BASE + i });
    bad.set(i, i % 2 === 0 ? 'decode' : 'validate');
    messages.push({ key: String(i), value });
  }
  return { messages, good, bad, oversize: new Set(oversize) };
}

/** Every good event stored, every bad one dead-lettered once with its stage and reason, offsets at the end. */
async function expectAllAccountedFor(running: RunningIngestion, project: string, dlq: string, b: Backlog, limit: number): Promise<void> {
  await waitFor(() => committed(running) === BigInt(b.messages.length), 90_000, `offset ${b.messages.length} committed`);
  expect(await storedSeqs(project, b.good)).toEqual(b.good.map((i) => BigInt(i * 10)));
  const letters = await readTopic(brokers, dlq, b.bad.size, 60_000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const byOffset = new Map(letters.map((l) => [Number(l.headers['larder.source.offset']), l]));
  expect(letters).toHaveLength(b.bad.size);
  expect([...byOffset.keys()].sort((x, y) => x - y)).toEqual([...b.bad.keys()]);
  for (const [offset, stage] of b.bad) {
    const letter = byOffset.get(offset);
    expect(letter?.headers['larder.error.stage']).toBe(stage);
    expect(letter?.headers['larder.error.reason']).toMatch(stage === 'decode' ? /^invalid JSON/ : /^seq: expected INT64/);
    const original = b.messages[offset]?.value ?? '';
    expect(letter?.size).toBeLessThanOrEqual(limit);
    if (b.oversize.has(offset)) {
      expect(letter?.headers['larder.error.truncated']).toMatch(
        new RegExp(`^value of ${Buffer.byteLength(original)} bytes cut to ${letter?.size ?? -1} bytes`),
      );
      expect(original.startsWith(letter?.value ?? '!')).toBe(true);
    } else {
      expect(letter?.headers['larder.error.truncated']).toBeUndefined();
      expect(letter?.value).toBe(original);
    }
  }
  const partition = status(running)?.partitions[0];
  expect(partition?.stalledSince).toBeUndefined();
  expect(status(running)?.state).toBe(ingestionV1.ConsumerState.RUNNING);
}

describe('dead-letter bursts', () => {
  it("a backlog of large malformed events: dead letters go out in pieces within the dead-letter topic's limit, an oversize one truncated, the partition moves on", async () => {
    const topic = uniqueName('burst');
    const dlq = `${topic}.dead`;
    const limit = 128 * KiB;
    await createTopic(brokers, topic, 1);
    await createTopic(brokers, dlq, 1, { 'max.message.bytes': String(limit) });
    const project = await defineProject(topic, { kafka: { deadLetterTopic: dlq } });
    // 240 bad events of ~12 KB and two of 300 KB: one fetch (4 MiB) holds over 3 MB of dead letters.
    const b = backlog(320, 4, 12 * KiB, [101, 202], 300 * KiB);
    await produce(brokers, topic, b.messages);
    const running = await startIngestion({ registryAddress: registry.address, project, online, kafka: { maxBytesPerPartition: 4 * 1024 * KiB } });
    try {
      await expectAllAccountedFor(running, project, dlq, b, limit);
      const metrics = await running.ingestion.metrics.registry.metrics();
      expect(metrics).toMatch(new RegExp(`larder_ingestion_dead_letters_truncated_total\\{project="${project}",source="events",topic="${topic}"\\} 2`));
    } finally {
      await running.stop();
    }
  });

  it('a dead-letter limit set above what the broker takes: the refused piece is split until each fits, and a single refused letter is cut down', async () => {
    const topic = uniqueName('split');
    const dlq = `${topic}.dead`;
    const limit = 64 * KiB;
    await createTopic(brokers, topic, 1);
    await createTopic(brokers, dlq, 1, { 'max.message.bytes': String(limit) });
    const project = await defineProject(topic, { kafka: { deadLetterTopic: dlq } });
    const b = backlog(60, 3, 20 * KiB, [31], 100 * KiB);
    await produce(brokers, topic, b.messages);
    const running = await startIngestion({ registryAddress: registry.address, project, online, kafka: { deadLetterMaxBytes: 1024 * KiB } });
    try {
      await expectAllAccountedFor(running, project, dlq, b, limit);
      const metrics = await running.ingestion.metrics.registry.metrics();
      expect(metrics).toMatch(new RegExp(`larder_ingestion_dead_letter_splits_total\\{project="${project}",source="events",topic="${topic}"\\} [1-9]`));
    } finally {
      await running.stop();
    }
  });

  it('a batch the online store refuses for one row is split until that message stands alone; it is dead-lettered and the rest written', async () => {
    const topic = uniqueName('poison');
    await createTopic(brokers, topic, 1);
    const project = await defineProject(topic);
    // The real store, refusing any write that carries id 13 (as it refuses a row that does not fit its view).
    const poisoned: OnlineStore = {
      read: (requests, options) => online.read(requests, options),
      write: async (view, rows, options) => {
        if (rows.some((r) => r.entityKey.entityValues[0]?.val.value === 13n)) throw new InvalidRowError(view.name, 'row for id 13 refused');
        return online.write(view, rows, options);
      },
      deleteView: (view) => online.deleteView(view),
      close: async () => undefined,
    } as OnlineStore;
    const ids = Array.from({ length: 40 }, (_, i) => i);
    await produce(
      brokers,
      topic,
      ids.map((id) => ({ key: String(id), value: JSON.stringify({ id, seq: id * 10, ts: BASE + id }) })),
    );
    const running = await startIngestion({ registryAddress: registry.address, project, online: poisoned });
    try {
      await waitFor(() => committed(running) === 40n, 30_000, 'offset 40 committed');
      expect(await storedSeqs(project, ids)).toEqual(ids.map((id) => (id === 13 ? undefined : BigInt(id * 10))));
      const [letter] = await readTopic(brokers, `${topic}.dlq`, 1);
      expect(letter?.headers).toMatchObject({ 'larder.error.stage': 'write', 'larder.source.offset': '13', 'larder.feature_view': 'counts' });
      expect(letter?.headers['larder.error.reason']).toMatch(/^online write refused: view counts: row for id 13 refused/);
      expect(status(running)?.deadLetterCount).toBe(1n);
    } finally {
      await running.stop();
    }
  });

  it.each([
    ["the source topic's partition count", 0, 3],
    ['kafka.deadLetterPartitions when set', 2, 2],
  ])('the dead-letter topic is created before first use with %s', async (_what, deadLetterPartitions, expected) => {
    const topic = uniqueName('three');
    await createTopic(brokers, topic, 3);
    const project = await defineProject(topic);
    const running = await startIngestion({ registryAddress: registry.address, project, online, kafka: { deadLetterPartitions } });
    try {
      await produce(
        brokers,
        topic,
        [0, 1, 2, 3, 4, 5].map((i) => ({ key: String(i), value: `{broken ${i}` })),
      );
      // Read only once the consumer sent them: a reader subscribing first would create the topic itself.
      await waitFor(() => status(running)?.deadLetterCount === 6n, 30_000, 'six dead letters sent');
      await readTopic(brokers, `${topic}.dlq`, 6);
      const admin = kafkaClient(brokers).admin();
      await admin.connect();
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [`${topic}.dlq`] });
        expect(topics[0]?.partitions).toHaveLength(expected);
      } finally {
        await admin.disconnect();
      }
    } finally {
      await running.stop();
    }
  });
});

describe('online-only views and deployments without an offline store', () => {
  it('an online-only view takes events in any order under the default watermark delay: nothing is dead-lettered as late', async () => {
    const topic = uniqueName('unordered');
    await createTopic(brokers, topic, 1);
    const project = await defineProject(topic);
    // Newest first, then ever older: each one but the first is behind the watermark.
    const ids = [1, 2, 3];
    const messages = [];
    for (let age = 0; age < 50; age++)
      for (const id of ids) messages.push({ key: String(id), value: JSON.stringify({ id, seq: age === 0 ? id * 10 : -age, ts: BASE - age * 1_000 }) });
    await produce(brokers, topic, messages);
    const running = await startIngestion({ registryAddress: registry.address, project, online });
    try {
      await waitFor(() => committed(running) === BigInt(messages.length), 30_000, 'every offset committed');
      expect(await storedSeqs(project, ids)).toEqual([10n, 20n, 30n]);
      expect(status(running)?.deadLetterCount).toBe(0n);
    } finally {
      await running.stop();
    }
  });

  it('with no offline store, a view that does not say offline: false is written online only, without retrying', async () => {
    const topic = uniqueName('no_offline');
    await createTopic(brokers, topic, 1);
    const { dir, source } = historySource();
    const project = await defineProject(topic, { view: { offline: undefined, batchSource: 'history' }, sources: [source] });
    await produce(
      brokers,
      topic,
      [1, 2, 3].map((id) => ({ key: String(id), value: JSON.stringify({ id, seq: id * 10, ts: BASE }) })),
    );
    const running = await startIngestion({ registryAddress: registry.address, project, online });
    try {
      await waitFor(() => committed(running) === 3n, 30_000, 'every offset committed');
      expect(await storedSeqs(project, [1, 2, 3])).toEqual([10n, 20n, 30n]);
      expect(status(running)?.state).toBe(ingestionV1.ConsumerState.RUNNING);
      const metrics = await running.ingestion.metrics.registry.metrics();
      expect(metrics).not.toMatch(new RegExp(`larder_ingestion_write_retries_total\\{project="${project}"`));
    } finally {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with no offline store, a stream-fed view that is not online cannot be written anywhere: the consumer is FAILED naming the view and the setting', async () => {
    const topic = uniqueName('nowhere');
    await createTopic(brokers, topic, 1);
    const { dir, source } = historySource();
    const project = await defineProject(topic, { view: { online: false, offline: undefined, batchSource: 'history' }, sources: [source] });
    const running = await startIngestion({ registryAddress: registry.address, project, online });
    try {
      await running.ingestion.consumers?.settled();
      const s = status(running);
      expect(s?.state).toBe(ingestionV1.ConsumerState.FAILED);
      expect(s?.lastError).toMatch(/feature view 'counts' is online: false.*offlineStore\.type is none/);
    } finally {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
