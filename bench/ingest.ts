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
// Broker, Redis, the ingestion process and the load process all share this 2-core
// machine (and whatever else runs on it: the load average is recorded).
import { spawn } from 'node:child_process';
import os from 'node:os';
import { create } from '@bufbuild/protobuf';
import { Kafka, logLevel } from 'kafkajs';
import { RedisOnlineStore } from '@larder/online-store';
import type { ViewDescriptor } from '@larder/online-store';
import { registryV1, typesV1 } from '@larder/proto';
import { silentLogger } from '@larder/rpc';
import { startKafka, startRedis } from '@larder/testing';
import { Ingestion } from '../apps/ingestion/src/ingestion';
import type { WatchedRegistry } from '../apps/ingestion/src/kafka/consumers';
import type { ConsumerSettings } from '../apps/ingestion/src/kafka/source-consumer';
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
    create(registryV1.DataSourceSchema, { name: `src_${topic}`, timestampField: 'ts', kind: { case: 'kafka', value: { bootstrapServers: brokers, topic, messageFormat: { format: { case: 'json', value: {} } } } } }),
  );
  const views = topics.map((topic) =>
    create(registryV1.FeatureViewSchema, { name: `view_${topic}`, entities: ['driver'], offline: false, streamSource: `src_${topic}`, schema: Array.from({ length: FEATURES }, (_, f) => ({ name: featureName(f), valueType: T.DOUBLE })) }),
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

const settings = (group: string): ConsumerSettings => ({
  clientId: 'larder-bench',
  groupPrefix: `${group}.`,
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  rebalanceTimeoutMs: 10_000,
  fromBeginning: true,
  partitionsConsumedConcurrently: PARTITIONS,
  storeTimeoutMs: 10_000,
  retryInitialMs: 100,
  retryMaxMs: 2_000,
  commitIntervalMs: 1_000,
  maxWaitTimeMs: 100,
  lagRefreshMs: 1_000,
  maxBytesPerPartition: 2 * 1024 * 1024,
  maxBytes: 16 * 1024 * 1024,
  deadLetterPartitions: 0,
  deadLetterMaxBytes: 0,
});

const keyOf = (id: number) => ({ joinKeys: ['driver_id'], entityValues: [create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(id) } })] });
const latencyView: ViewDescriptor = { project: PROJECT, name: 'view_latency', joinKeys: ['driver_id'], features: Array.from({ length: FEATURES }, (_, f) => ({ name: featureName(f), type: T.DOUBLE })) };

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

export async function runIngestBenchmark(): Promise<BenchRecord[]> {
  const [kafka, redis] = await Promise.all([startKafka({ heap: '1g' }), startRedis()]);
  const client = new Kafka({ clientId: 'larder-bench-producer', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
  const admin = client.admin();
  await admin.connect();
  await admin.createTopics({ topics: ['throughput', 'latency'].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })), waitForLeaders: true });
  await admin.disconnect();
  const producer = client.producer();
  await producer.connect();
  const store = new RedisOnlineStore({ url: redis.url, writeTimeoutMs: 30_000 });
  const records: BenchRecord[] = [];
  try {
    // 1. Throughput.
    const loadStarted = Date.now();
    const now = Date.now();
    for (let from = 0; from < EVENTS; from += 10_000) {
      const messages = [];
      for (let i = from; i < Math.min(EVENTS, from + 10_000); i++) messages.push({ value: event(Math.floor(Math.random() * ENTITIES), now + i) });
      await producer.send({ topic: 'throughput', messages, acks: 1 });
    }
    process.stdout.write(`preloaded ${EVENTS} events in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s\n`);
    const ingestion = new Ingestion({
      registry: registryOf(kafka.brokers, ['throughput']),
      registryReady: () => true,
      online: store,
      offline: undefined,
      logger: silentLogger(),
      project: PROJECT,
      basePath: process.cwd(),
      storeTimeoutMs: 10_000,
      kafka: settings('throughput'),
    });
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
    records.push({
      workload: 'kafka-json-10f->redis, backlog drain',
      events: EVENTS,
      partitions: PARTITIONS,
      events_per_s: Math.round(drained / seconds),
      wall_s: round(seconds),
      cpu_s: round((cpu.user + cpu.system) / 1e6),
      cpu_us_per_event: round((cpu.user + cpu.system) / EVENTS, 1),
      load_avg_1m: round(drainLoadAvg, 1),
      peak_rss_mb: Math.round(peakRss / 1024 / 1024),
      commit_lag_ms: commitLagMs,
    });

    // 2. Latency at 5,000 events/s.
    const view = latencyView;
    const live = new Ingestion({
      registry: registryOf(kafka.brokers, ['latency']),
      registryReady: () => true,
      online: store,
      offline: undefined,
      logger: silentLogger(),
      project: PROJECT,
      basePath: process.cwd(),
      storeTimeoutMs: 10_000,
      kafka: settings('latency'),
    });
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
