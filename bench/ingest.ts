// Ingestion benchmark: JSON events with 10 features, Kafka -> ingestion -> Redis (packed).
// 1. Throughput: a backlog of events is preloaded into a 4-partition topic, then one
//    ingestion instance drains it; events/s counts written events (in Redis, and
//    dead-lettered if need be; the larder_ingestion_events_total counter) from the first
//    written batch to the last, so group-join time is left out. Offsets are committed in
//    the background after the writes (kafka.commitInterval, default 1 s): commit_lag_ms
//    is how long after the last write the last offset was committed.
// 2. Latency at 5,000 events/s: a load process (this file, run as a child process so it
//    does not share the ingestion's event loop) sends 50 events every 10 ms with a
//    kafkajs producer (acks=1; kafkajs has no linger: each send() goes out at once) and
//    reads 1 in 25 of them back from the online store every ~2 ms.
//    event-to-servable = first read that sees the event - the moment just before
//    producer.send() was called. So it includes the produce request and the broker's
//    append (what an application sending an event pays anyway), the consumer's fetch,
//    decode, the Redis write, and up to ~2 ms of polling granularity plus one read.
// 3. The same drain, preloaded by a non-Node producer: librdkafka through Python's
//    confluent-kafka (bench/python/produce_events.py, default batching), whose record
//    batches differ from kafkajs's (many smaller batches, linger 5 ms).
// 4. Restart after kill -9: a consumer in a child process holds the 4 partitions and is
//    killed with SIGKILL; a new consumer of the same group starts at once. Measured: kill
//    to the new consumer's assignment, and to an event on every partition being readable.
//    The group keeps the dead member until its session times out (or the rebalance
//    timeout ends the rebalance the newcomer started), so this is the price of
//    kafka.sessionTimeout / rebalanceTimeout, measured for a few settings.
// Broker, Redis, the ingestion process and the load process all share this 2-core
// machine (and whatever else runs on it: the load average is recorded).
import { DEFAULT_MAX_FUTURE_SKEW_MS } from '@larder/core';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { Kafka, logLevel } from 'kafkajs';
import type { Producer } from 'kafkajs';
import { RedisOnlineStore } from '@larder/online-store';
import type { ViewDescriptor } from '@larder/online-store';
import { ingestionV1, registryV1, typesV1 } from '@larder/proto';
import { silentLogger } from '@larder/rpc';
import { cacheDir, startKafka, startRedis } from '@larder/testing';
import { Ingestion } from '@larder/ingestion-app';
import type { ConsumerSettings, WatchedRegistry } from '@larder/ingestion-app';
import type { BenchRecord } from './table';

const T = typesV1.ValueType;
const PROJECT = 'bench';
const FEATURES = 10;
const EVENTS = Number(process.env.LARDER_BENCH_INGEST_EVENTS ?? 600_000);
const ENTITIES = 1_000_000;
const RATE = 5_000;
const RATE_SECONDS = Number(process.env.LARDER_BENCH_INGEST_RATE_SECONDS ?? 20);
const PARTITIONS = 4;

const featureName = (f: number): string => `f${f}`;

function registryOf(brokers: string[], topics: string[]): WatchedRegistry {
  const entity = create(registryV1.EntitySchema, { name: 'driver', joinKey: 'driver_id', valueType: T.INT64 });
  const sources = topics.map((topic) =>
    create(registryV1.DataSourceSchema, {
      name: `src_${topic}`,
      timestampField: 'ts',
      kind: { case: 'kafka', value: { bootstrapServers: brokers, topic, messageFormat: { format: { case: 'json', value: {} } } } },
    }),
  );
  const views = topics.map((topic) =>
    create(registryV1.FeatureViewSchema, {
      name: `view_${topic}`,
      entities: ['driver'],
      offline: false,
      streamSource: `src_${topic}`,
      schema: Array.from({ length: FEATURES }, (_, f) => ({ name: featureName(f), valueType: T.DOUBLE })),
    }),
  );
  return {
    projectNames: () => [PROJECT],
    featureView: (_p, name) => views.find((v) => v.name === name),
    featureViews: () => views,
    entity: () => entity,
    dataSource: (_p, name) => sources.find((s) => s.name === name),
    dataSources: () => sources,
    onChange: () => () => undefined,
  };
}

function event(id: number, ts: number): string {
  let body = `{"driver_id":${id},"ts":${ts}`;
  for (let f = 0; f < FEATURES; f++) body += `,"${featureName(f)}":${(id % 1000) / 7 + f}`;
  return `${body}}`;
}

const settings = (group: string, overrides: Partial<ConsumerSettings> = {}): ConsumerSettings => ({
  clientId: 'larder-bench',
  groupPrefix: `${group}.`,
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  rebalanceTimeoutMs: 10_000,
  fromBeginning: true,
  partitionsConsumedConcurrently: PARTITIONS,
  storeTimeoutMs: 10_000,
  maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS,
  retryInitialMs: 100,
  retryMaxMs: 2_000,
  commitIntervalMs: 1_000,
  maxWaitTimeMs: 100,
  lagRefreshMs: 1_000,
  maxBytesPerPartition: 2 * 1024 * 1024,
  maxBytes: 16 * 1024 * 1024,
  deadLetterPartitions: 0,
  deadLetterMaxBytes: 0,
  ...overrides,
});

const keyOf = (id: number) => ({ joinKeys: ['driver_id'], entityValues: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(id) } })] });
const latencyView: ViewDescriptor = {
  project: PROJECT,
  name: 'view_latency',
  joinKeys: ['driver_id'],
  features: Array.from({ length: FEATURES }, (_, f) => ({ name: featureName(f), type: T.DOUBLE })),
};

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

/** An ingestion instance consuming `topic` (group `<topic>.bench.<topic>`) into the Redis store. */
function benchIngestion(brokers: string[], topic: string, store: RedisOnlineStore, overrides: Partial<ConsumerSettings> = {}): Ingestion {
  return new Ingestion({
    registry: registryOf(brokers, [topic]),
    registryReady: () => true,
    online: store,
    offline: undefined,
    logger: silentLogger(),
    project: PROJECT,
    basePath: process.cwd(),
    storeTimeoutMs: 10_000,
    kafka: settings(topic, overrides),
  });
}

/** Drains a preloaded topic with one ingestion instance and measures it. */
async function drain(brokers: string[], store: RedisOnlineStore, topic: string, workload: string): Promise<BenchRecord> {
  const ingestion = benchIngestion(brokers, topic, store);
  const drainLoadAvg = os.loadavg()[0] as number;
  const cpuBefore = process.cpuUsage();
  await ingestion.start();
  const committed = (): number => (ingestion.consumers?.statuses()[0]?.partitions ?? []).reduce((sum, p) => sum + Number(p.committedOffset), 0);
  const written = async (): Promise<number> => (await ingestion.metrics.events.get()).values.reduce((sum, v) => sum + v.value, 0);
  let first: { at: number; count: number } | undefined;
  let peakRss = 0;
  for (;;) {
    const count = await written();
    if (count >= EVENTS) break;
    if (first === undefined && count > 0) first = { at: Date.now(), count };
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const end = Date.now();
  const cpu = process.cpuUsage(cpuBefore);
  while (committed() < EVENTS) await new Promise((resolve) => setTimeout(resolve, 20));
  const commitLagMs = Date.now() - end;
  await ingestion.stop();
  const drained = EVENTS - (first?.count ?? 0);
  const seconds = (end - (first?.at ?? end)) / 1000;
  return {
    workload,
    events: EVENTS,
    partitions: PARTITIONS,
    events_per_s: Math.round(drained / seconds),
    wall_s: round(seconds),
    cpu_s: round((cpu.user + cpu.system) / 1e6),
    cpu_us_per_event: round((cpu.user + cpu.system) / EVENTS, 1),
    load_avg_1m: round(drainLoadAvg, 1),
    peak_rss_mb: Math.round(peakRss / 1024 / 1024),
    commit_lag_ms: commitLagMs,
  };
}

export async function runIngestBenchmark(): Promise<BenchRecord[]> {
  const [kafka, redis] = await Promise.all([startKafka({ heap: '1g' }), startRedis()]);
  const client = new Kafka({ clientId: 'larder-bench-producer', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
  const admin = client.admin();
  await admin.connect();
  await admin.createTopics({
    topics: ['throughput', 'latency', 'throughput_librdkafka'].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
    waitForLeaders: true,
  });
  await admin.disconnect();
  const producer = client.producer();
  await producer.connect();
  const store = new RedisOnlineStore({ url: redis.url, writeTimeoutMs: 30_000 });
  const records: BenchRecord[] = [];
  try {
    // 1. Throughput, preloaded with kafkajs.
    const loadStarted = Date.now();
    const now = Date.now();
    for (let from = 0; from < EVENTS; from += 10_000) {
      const messages = [];
      for (let i = from; i < Math.min(EVENTS, from + 10_000); i++) messages.push({ value: event(Math.floor(Math.random() * ENTITIES), now - EVENTS + i) });
      await producer.send({ topic: 'throughput', messages, acks: 1 });
    }
    process.stdout.write(`preloaded ${EVENTS} events with kafkajs in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s\n`);
    records.push(await drain(kafka.brokers, store, 'throughput', 'kafka-json-10f->redis, backlog drain (kafkajs producer)'));

    // 3. Throughput, preloaded with librdkafka (Python confluent-kafka).
    const python = await pythonProducer();
    const preloaded = await preloadWithLibrdkafka(python, kafka.brokers, 'throughput_librdkafka');
    process.stdout.write(`preloaded ${preloaded.sent} events with librdkafka in ${preloaded.seconds} s\n`);
    records.push(await drain(kafka.brokers, store, 'throughput_librdkafka', 'kafka-json-10f->redis, backlog drain (librdkafka producer)'));

    // 4. Restart after kill -9, for the bench's settings and the service defaults.
    for (const timeouts of [
      { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 600, rebalanceTimeoutMs: 6_000 },
      { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, rebalanceTimeoutMs: 10_000 },
      { sessionTimeoutMs: 30_000, heartbeatIntervalMs: 3_000, rebalanceTimeoutMs: 60_000 },
    ]) {
      records.push(await restartAfterKill(kafka.brokers, redis.url, store, producer, timeouts));
    }

    // 2. Latency at 5,000 events/s.
    const view = latencyView;
    const live = benchIngestion(kafka.brokers, 'latency', store);
    await live.start();
    // Wait for the group join: a warm-up event must become readable first.
    const warmId = ENTITIES + 1;
    await producer.send({ topic: 'latency', messages: [{ value: event(warmId, Date.now()) }] });
    for (;;) {
      const [rows] = await store.read([{ view, entityKeys: [keyOf(warmId)] }]);
      if (rows?.[0] !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const loadAvg = os.loadavg()[0] as number;
    const { sent, latencies } = await runLoadProcess({ brokers: kafka.brokers, redisUrl: redis.url });
    await live.stop();
    latencies.sort((a, b) => a - b);
    records.push({
      workload: 'kafka-json-10f->redis, event-to-servable at 5,000/s',
      events: sent,
      events_per_s: Math.round(sent / RATE_SECONDS),
      probes: latencies.length,
      load_avg_1m: round(loadAvg, 1),
      p50_ms: percentile(latencies, 0.5),
      p99_ms: percentile(latencies, 0.99),
      p999_ms: percentile(latencies, 0.999),
    });
  } finally {
    await producer.disconnect();
    await store.close();
    await Promise.all([kafka.stop(), redis.stop()]);
  }
  return records;
}

const LIBRDKAFKA_REQUIREMENT = 'confluent-kafka==2.6.1';

/** Python with confluent-kafka, in a venv cached beside the other prerequisites. */
async function pythonProducer(): Promise<string> {
  const venv = path.join(cacheDir(), 'venv-kafka-producer');
  const stamp = path.join(venv, '.larder-requirements');
  const python = path.join(venv, 'bin', 'python');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === LIBRDKAFKA_REQUIREMENT) return python;
  rmSync(venv, { recursive: true, force: true });
  await run('python3', ['-m', 'venv', venv]);
  await run(path.join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', '--no-input', LIBRDKAFKA_REQUIREMENT]);
  writeFileSync(stamp, LIBRDKAFKA_REQUIREMENT);
  return python;
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error === null ? resolve(stdout) : reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stderr}`)),
    );
  });
}

async function preloadWithLibrdkafka(python: string, brokers: string[], topic: string): Promise<{ sent: number; seconds: number }> {
  const out = await run(python, [
    path.join(__dirname, 'python', 'produce_events.py'),
    brokers.join(','),
    topic,
    String(EVENTS),
    String(FEATURES),
    String(ENTITIES),
  ]);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as { sent: number; seconds: number };
}

interface ConsumerChildTarget {
  brokers: string[];
  redisUrl: string;
  topic: string;
  timeouts: Pick<ConsumerSettings, 'sessionTimeoutMs' | 'heartbeatIntervalMs' | 'rebalanceTimeoutMs'>;
}

/** Waits until every id is readable from the view of `topic`. */
async function readable(store: RedisOnlineStore, topic: string, ids: number[], timeoutMs: number): Promise<void> {
  const view: ViewDescriptor = { ...latencyView, name: `view_${topic}` };
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [rows] = await store.read([{ view, features: ['f0'], entityKeys: ids.map(keyOf) }]);
    if ((rows ?? []).every((row) => row !== undefined)) return;
    if (Date.now() > until) throw new Error(`events ${ids.join(',')} not readable after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A consumer in a child process holds the partitions and is killed with SIGKILL; how long until a new one has them. */
async function restartAfterKill(
  brokers: string[],
  redisUrl: string,
  store: RedisOnlineStore,
  producer: Producer,
  timeouts: ConsumerChildTarget['timeouts'],
): Promise<BenchRecord> {
  const topic = `restart_${timeouts.sessionTimeoutMs}`;
  const admin = new Kafka({ clientId: 'larder-bench-admin', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const target: ConsumerChildTarget = { brokers, redisUrl, topic, timeouts };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', __filename], {
    env: { ...process.env, LARDER_BENCH_INGEST_CONSUMER: JSON.stringify(target) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // Ids far from the drain's; one event per partition, written by the child.
  const base = ENTITIES + 1_000_000 + timeouts.sessionTimeoutMs;
  const perPartition = (from: number) => Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: event(from + p, Date.now()) }));
  await producer.send({ topic, messages: perPartition(base), acks: 1 });
  await readable(
    store,
    topic,
    [0, 1, 2, 3].map((p) => base + p),
    60_000,
  );
  // Let a heartbeat or two pass, as for a consumer that had been running a while.
  await new Promise((resolve) => setTimeout(resolve, timeouts.heartbeatIntervalMs * 2));
  child.kill('SIGKILL');
  const killedAt = Date.now();
  await exited;
  const restarted = benchIngestion(target.brokers, target.topic, store, target.timeouts);
  await restarted.start();
  await producer.send({ topic, messages: perPartition(base + 10), acks: 1 });
  let assignedMs = -1;
  const assigned = (async () => {
    for (;;) {
      const status = restarted.consumers?.statuses()[0];
      if (status?.partitions.length === PARTITIONS && status.state === ingestionV1.ConsumerState.RUNNING) return (assignedMs = Date.now() - killedAt);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  await readable(
    store,
    topic,
    [0, 1, 2, 3].map((p) => base + 10 + p),
    120_000,
  );
  const servedMs = Date.now() - killedAt;
  await assigned;
  await restarted.stop();
  return {
    workload: `restart after kill -9, sessionTimeout ${timeouts.sessionTimeoutMs / 1000} s, rebalanceTimeout ${timeouts.rebalanceTimeoutMs / 1000} s`,
    partitions: PARTITIONS,
    heartbeat_ms: timeouts.heartbeatIntervalMs,
    assigned_after_ms: assignedMs,
    served_after_ms: servedMs,
    load_avg_1m: round(os.loadavg()[0] as number, 1),
  };
}

/** The consumer of the restart case, in its own process so it can be killed with SIGKILL. */
async function consumerProcess(target: ConsumerChildTarget): Promise<void> {
  const store = new RedisOnlineStore({ url: target.redisUrl, writeTimeoutMs: 30_000 });
  await benchIngestion(target.brokers, target.topic, store, target.timeouts).start();
  await new Promise(() => undefined);
}

interface LoadResult {
  sent: number;
  latencies: number[];
}

/** Runs the latency load (producer + poller) in a child process and returns what it measured. */
function runLoadProcess(target: { brokers: string[]; redisUrl: string }): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', __filename], {
      env: { ...process.env, LARDER_BENCH_INGEST_LOAD: JSON.stringify(target) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') reject(new Error(`the load process exited with ${code}: ${out}`));
      else resolve(JSON.parse(line) as LoadResult);
    });
  });
}

/** The load process: sends RATE events/s for RATE_SECONDS and reads probes back from Redis. */
async function loadProcess(target: { brokers: string[]; redisUrl: string }): Promise<LoadResult> {
  const producer = new Kafka({ clientId: 'larder-bench-load', brokers: target.brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  const store = new RedisOnlineStore({ url: target.redisUrl, writeTimeoutMs: 30_000 });
  const pending = new Map<number, number>(); // probe id -> send time
  const latencies: number[] = [];
  let sending = true;
  let nextId = ENTITIES + 10;
  const poller = (async () => {
    while (sending || pending.size > 0) {
      if (pending.size > 0) {
        const ids = [...pending.keys()];
        const [rows] = await store.read([{ view: latencyView, features: ['f0'], entityKeys: ids.map(keyOf) }]);
        const seenAt = Date.now();
        ids.forEach((id, i) => {
          const sent = pending.get(id) as number;
          if ((rows?.[i]?.eventTs ?? -1) >= sent) {
            latencies.push(seenAt - sent);
            pending.delete(id);
          }
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  const started = Date.now();
  let sent = 0;
  while (Date.now() - started < RATE_SECONDS * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * RATE);
    if (due > sent) {
      const messages = [];
      const at = Date.now();
      for (; sent < due; sent++) {
        const id = nextId++;
        if (sent % 25 === 0) pending.set(id, at);
        messages.push({ value: event(id, at) });
      }
      await producer.send({ topic: 'latency', messages, acks: 1 });
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  sending = false;
  await poller;
  await Promise.all([producer.disconnect(), store.close()]);
  return { sent, latencies };
}

const consumerTarget = process.env.LARDER_BENCH_INGEST_CONSUMER;
if (consumerTarget !== undefined) {
  consumerProcess(JSON.parse(consumerTarget) as ConsumerChildTarget).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
}

const loadTarget = process.env.LARDER_BENCH_INGEST_LOAD;
if (loadTarget !== undefined) {
  loadProcess(JSON.parse(loadTarget) as { brokers: string[]; redisUrl: string }).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
}
