import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin, Consumer, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import { futureTimeProblem } from '@larder/core';
import type { EndpointAllowList } from '@larder/core';
import { OfflineStoreError } from '@larder/offline-store';
import type { OfflineStore } from '@larder/offline-store';
import { InvalidRowError } from '@larder/online-store';
import type { OnlineStore } from '@larder/online-store';
import { ingestionV1, tfmdV0 } from '@larder/proto';
import type { registryV1 } from '@larder/proto';
import type { Logger } from '@larder/rpc';
import type { IngestionMetrics } from '../metrics';
import { OfflineBatches, RowProblem, readRecordField, recordPlan, shapeRow, violationReason, writeOnline } from '../rows';
import type { RecordPlan, ShapedRow } from '../rows';
import { FieldMap } from '../targets';
import type { ViewTarget } from '../targets';
import { ValueError, toMillis } from '../values';
import { allowedSocketFactory } from './allowed-socket';
import { OffsetCommitter } from './committer';
import { DeadLetterTopic } from './dead-letters';
import type { DeadLetter, DeadLetterStage } from './dead-letters';
import { DecodeError, decoderFor } from './decode';
import type { DecodedRecord, Decoder, SchemaRegistryCache } from './decode';
import { RateWindow } from './rate';

const State = ingestionV1.ConsumerState;

export interface ConsumerSettings {
  clientId: string;
  /** Group id of a source without consumer_group: `<prefix><project>.<source>`. */
  groupPrefix: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  /** Where a new consumer group starts: the oldest message (true) or new ones only. */
  fromBeginning: boolean;
  /** Partitions of one consumer handled side by side. */
  partitionsConsumedConcurrently: number;
  /** Deadline of one store write attempt. */
  storeTimeoutMs: number;
  /** Event times later than now + this go to the dead-letter topic with stage `future`. */
  maxFutureSkewMs: number;
  /** Backoff between attempts of a batch whose writes failed. */
  retryInitialMs: number;
  retryMaxMs: number;
  /**
   * Offsets are committed in the background, at most this often, once the
   * writes they cover succeeded; a crash replays at most this much (idempotently).
   */
  commitIntervalMs: number;
  /** How often log end and committed offsets are refreshed for lag. */
  lagRefreshMs: number;
  /** kafkajs fetch limits: they bound what one consumer holds in memory. */
  maxBytesPerPartition: number;
  maxBytes: number;
  /** How long the broker may hold a fetch that has no new messages yet. */
  maxWaitTimeMs: number;
  /** Partitions of a dead-letter topic created by the consumer; 0: as many as the source topic. */
  deadLetterPartitions: number;
  /** Largest produce of dead letters; 0: the dead-letter topic's max.message.bytes, read from the broker. */
  deadLetterMaxBytes: number;
}

export interface ConsumerDeps {
  online: OnlineStore;
  offline: OfflineStore | undefined;
  schemas: SchemaRegistryCache;
  metrics: IngestionMetrics;
  logger: Logger;
  settings: ConsumerSettings;
  /** Hosts the consumer may dial: the source's brokers are checked before it is built, and every socket (brokers the cluster advertises too) here. */
  endpoints: EndpointAllowList;
}

interface PartitionStats {
  committed: bigint;
  logEnd: bigint;
  rate: RateWindow;
  deadLetters: number;
  lastEventTs: number | undefined;
  /** Greatest event time seen: the watermark is this minus the source's watermark delay. */
  maxEventTs: number;
  /** While the batch now held keeps failing: when it first failed, how often, and why. */
  stalledSince: number | undefined;
  failedAttempts: number;
  lastError: string;
}

/** The work one batch needs done before its offsets may be committed. */
interface BatchWork {
  messages: readonly KafkaMessage[];
  online: Map<ViewTarget, ShapedRow[]>;
  offline: OfflineBatches;
  deadLetters: DeadLetter[];
  lastEventTs: number | undefined;
  maxEventTs: number;
  done: { online: Set<ViewTarget>; offline: Set<string>; deadLetters: boolean };
}

/** What a written batch leaves for the partition's bookkeeping. */
interface BatchOutcome {
  maxEventTs: number;
  lastEventTs: number | undefined;
  deadLetters: readonly DeadLetter[];
}

/** A batch handed to the background: its writes, then its offset mark. */
interface InFlight {
  /** True once written and marked for commit; false when abandoned (rebalance, stop). */
  readonly done: Promise<boolean>;
  /** The partition's greatest event time once this batch is in, when it was decoded up front. */
  readonly maxEventTs: number | undefined;
}

const durationMs = (d: { seconds: bigint; nanos: number } | undefined): number => (d === undefined ? 0 : Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6));

/**
 * Consumes one Kafka source in its consumer group and writes each message to
 * the views whose stream_source it is. A batch's offsets are committed only
 * after all its writes (online, offline, dead letters) succeeded; a failed
 * write is retried with backoff while the partition waits, so what is held in
 * memory is bounded by one fetch.
 */
export class SourceConsumer {
  readonly project: string;
  readonly sourceName: string;
  readonly topic: string;
  readonly groupId: string;
  readonly deadLetterTopic: string;
  private readonly deadLetters: DeadLetterTopic;
  private readonly fields: FieldMap;
  private readonly decode: Decoder;
  private readonly watermarkDelayMs: number;
  private readonly timestampField: string;
  private readonly createdField: string;
  private readonly kafka: Kafka;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly partitions = new Map<number, PartitionStats>();
  /** Per partition, the batch whose writes may still be running while the next one is fetched. */
  private readonly inFlight = new Map<number, InFlight>();
  private readonly committer: OffsetCommitter;
  private plans: readonly RecordPlan[];
  private readonly rate = new RateWindow();
  private assigned: number[] = [];
  private state: ingestionV1.ConsumerState = State.STARTING;
  private retrying = 0;
  private lastError = '';
  private deadLetterCount = 0;
  private lagTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> = Promise.resolve();
  private stopping = false;
  /** A restart after a crash that kafkajs gave up on; stop() waits for it. */
  private recovering: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(
    project: string,
    source: registryV1.DataSource,
    targets: readonly ViewTarget[],
    private readonly deps: ConsumerDeps,
  ) {
    if (source.kind.case !== 'kafka') throw new Error(`data source '${source.name}' is not a Kafka source`);
    const kafka = source.kind.value;
    const { settings } = deps;
    this.project = project;
    this.sourceName = source.name;
    this.topic = kafka.topic;
    this.groupId = kafka.consumerGroup || `${settings.groupPrefix}${project}.${source.name}`;
    this.deadLetterTopic = kafka.deadLetterTopic || `${kafka.topic}.dlq`;
    this.fields = new FieldMap(source.fieldMapping);
    this.plans = this.planOf(targets);
    this.decode = decoderFor(kafka.messageFormat, deps.schemas);
    this.watermarkDelayMs = durationMs(kafka.watermarkDelay);
    this.timestampField = source.timestampField;
    this.createdField = source.createdTimestampColumn;
    this.log = deps.logger.child({ project, source: source.name, topic: this.topic, group: this.groupId });
    const log = this.log;
    this.kafka = new Kafka({
      clientId: settings.clientId,
      brokers: kafka.bootstrapServers,
      socketFactory: allowedSocketFactory(deps.endpoints),
      retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 8 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => {
        const fields = { kafkajs: entry.namespace, error: entry.log.error };
        if (entry.level <= logLevel.ERROR) log.warn(entry.log.message, fields);
        else log.debug(entry.log.message, fields);
      },
    });
    this.consumer = this.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      maxBytesPerPartition: settings.maxBytesPerPartition,
      maxBytes: settings.maxBytes,
      maxWaitTimeInMs: settings.maxWaitTimeMs,
      retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 8, restartOnFailure: async () => !this.stopping },
    });
    // The dead-letter topic is created explicitly (with the source's partition count), never by a produce.
    this.producer = this.kafka.producer({ allowAutoTopicCreation: false, retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 5 } });
    this.admin = this.kafka.admin({ retry: { retries: 2 } });
    const labels = { project, source: source.name, topic: this.topic };
    this.deadLetters = new DeadLetterTopic(
      this.deadLetterTopic,
      this.topic,
      this.producer,
      this.admin,
      { partitions: settings.deadLetterPartitions, maxBytes: settings.deadLetterMaxBytes },
      {
        truncated: () => deps.metrics.deadLettersTruncated.inc(labels),
        split: () => deps.metrics.deadLetterSplits.inc(labels),
        dropped: () => deps.metrics.deadLettersDropped.inc(labels),
      },
      this.log,
    );
    this.committer = new OffsetCommitter(
      (offsets) => this.consumer.commitOffsets(offsets.map((o) => ({ topic: this.topic, ...o }))),
      settings.commitIntervalMs,
      (error) => this.log.debug('offset commit failed; the next one carries its offsets', { error: error.message }),
    );
    const { GROUP_JOIN, CRASH, REBALANCING, COMMIT_OFFSETS } = this.consumer.events;
    this.consumer.on(COMMIT_OFFSETS, (event) => {
      for (const { topic, partitions } of event.payload.topics) {
        if (topic !== this.topic) continue;
        for (const { partition, offset } of partitions) this.committed(Number(partition), BigInt(String(offset)));
      }
    });
    this.consumer.on(GROUP_JOIN, (event) => {
      this.assigned = [...(event.payload.memberAssignment[this.topic] ?? [])].sort((a, b) => a - b);
      this.committer.assign(this.assigned);
      for (const p of [...this.partitions.keys()]) {
        if (this.assigned.includes(p)) continue;
        this.partitions.delete(p);
        this.deps.metrics.stalled.remove({ project: this.project, source: this.sourceName, topic: this.topic, partition: String(p) });
      }
      if (this.retrying === 0) this.state = State.RUNNING;
      this.log.info('partitions assigned', { partitions: this.assigned });
      this.scheduleRefresh();
    });
    this.consumer.on(REBALANCING, () => {
      if (this.retrying === 0 && !this.stopping) this.state = State.STARTING;
    });
    this.consumer.on(CRASH, (event) => {
      this.lastError = event.payload.error.message;
      this.state = event.payload.restart && !this.stopping ? State.STARTING : State.FAILED;
      this.log.warn('consumer crashed', { error: event.payload.error.message, restart: event.payload.restart });
      // kafkajs restarts only after retriable errors; a broker restart can
      // surface as a non-retriable one ("Failed to find group coordinator"),
      // which would leave the source unconsumed for good.
      if (!event.payload.restart && !this.stopping) this.recover();
    });
  }

  /** Swaps the views written to (a registry change); the next batch uses them. */
  setTargets(targets: readonly ViewTarget[]): void {
    this.plans = this.planOf(targets);
  }

  private planOf(targets: readonly ViewTarget[]): RecordPlan[] {
    return targets.map((t) => recordPlan(t, (column) => this.fields.fieldOf(column)));
  }

  /** Connects and joins the group; keeps trying (with backoff) while the brokers cannot be reached, until stop(). */
  async start(): Promise<void> {
    let delay = this.deps.settings.retryInitialMs;
    while (!this.stopping) {
      try {
        await this.connect();
        return;
      } catch (error) {
        this.lastError = (error as Error).message;
        this.log.warn('cannot start consuming; retrying', { error: this.lastError, retryInMs: delay });
        await this.consumer.disconnect().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(this.deps.settings.retryMaxMs, delay * 2);
      }
    }
  }

  private recover(): void {
    if (this.recovering !== undefined) return;
    this.recovering = (async () => {
      if (this.lagTimer !== undefined) clearInterval(this.lagTimer);
      await this.consumer.disconnect().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, this.deps.settings.retryInitialMs));
      if (this.stopping) return;
      this.state = State.STARTING;
      this.log.info('restarting the consumer after a crash');
      await this.start();
    })().finally(() => {
      this.recovering = undefined;
    });
  }

  private async connect(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: this.deps.settings.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.deps.settings.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    this.lagTimer = setInterval(() => this.scheduleRefresh(), this.deps.settings.lagRefreshMs);
    this.lagTimer.unref();
    this.log.info('consumer started');
  }

  /**
   * Leaves the group. Writes already running finish (bounded by the store
   * timeout) and their offsets are committed first; a batch still waiting is
   * abandoned uncommitted (its messages go to the next owner).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.lagTimer !== undefined) clearInterval(this.lagTimer);
    await this.recovering;
    await this.refreshing;
    await Promise.all([...this.inFlight.values()].map((f) => f.done));
    // Committing what was written spares the next owner a replay; a broker that is
    // down must not hold the shutdown (kafkajs retries a commit for many seconds).
    await Promise.race([this.committer.flush(), new Promise((resolve) => setTimeout(resolve, Math.min(5_000, this.deps.settings.sessionTimeoutMs)).unref())]);
    this.committer.close();
    await this.consumer.disconnect().catch((error: unknown) => this.log.warn('consumer disconnect failed', { error }));
    await Promise.all([this.producer.disconnect(), this.admin.disconnect()]).catch(() => undefined);
    this.state = State.STOPPED;
    this.log.info('consumer stopped');
  }

  private partition(partition: number): PartitionStats {
    let stats = this.partitions.get(partition);
    if (stats === undefined) {
      stats = { committed: -1n, logEnd: -1n, rate: new RateWindow(), deadLetters: 0, lastEventTs: undefined, maxEventTs: -Infinity, stalledSince: undefined, failedAttempts: 0, lastError: '' };
      this.partitions.set(partition, stats);
    }
    return stats;
  }

  /** The broker accepted a commit: status and lag follow it. */
  private committed(partition: number, next: bigint): void {
    const stats = this.partitions.get(partition);
    if (stats === undefined || next <= stats.committed) return;
    stats.committed = next;
    if (stats.logEnd >= 0n) this.deps.metrics.lag.set({ project: this.project, source: this.sourceName, topic: this.topic, partition: String(partition) }, Number(stats.logEnd - next));
  }

  /**
   * Decodes a batch while the previous batch of its partition is still being
   * written, waits for that one, then starts this batch's writes and returns,
   * so kafkajs fetches the next batch meanwhile. At most two batches per
   * partition are held: one writing, one decoded and waiting. Offsets are
   * resolved here (kafkajs's fetch position; never committed by kafkajs since
   * autoCommit is off) and committed by the committer only after the writes.
   * If a batch is abandoned (rebalance, stop) so are those after it; kafkajs
   * then resumes from the committed offset, so nothing is skipped.
   */
  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const partition = batch.partition;
    const stats = this.partition(partition);
    stats.logEnd = BigInt(batch.highWatermark);
    if (batch.messages.length === 0) return;
    const live = (): boolean => isRunning() && !isStale() && !this.stopping;
    const previous = this.inFlight.get(partition);
    const before = previous === undefined ? stats.maxEventTs : previous.maxEventTs;
    let work: BatchWork | undefined;
    if (before !== undefined) {
      try {
        work = await this.prepare(batch.messages, before);
      } catch {
        // A transient failure (a schema registry down): the background retries it.
      }
    }
    if (previous !== undefined && !(await previous.done)) return;
    if (!live()) return;
    const entry: InFlight = { done: this.writeBatch(batch.messages, partition, work, live, heartbeat), maxEventTs: work?.maxEventTs };
    this.inFlight.set(partition, entry);
    void entry.done.finally(() => {
      if (this.inFlight.get(partition) === entry) this.inFlight.delete(partition);
    });
    resolveOffset((batch.messages[batch.messages.length - 1] as KafkaMessage).offset);
  }

  /** Runs in the background, so it never rejects: an unexpected failure abandons the batch (it is redelivered). */
  private async writeBatch(messages: readonly KafkaMessage[], partition: number, prepared: BatchWork | undefined, live: () => boolean, heartbeat: () => Promise<void>): Promise<boolean> {
    try {
      return await this.writeAndMark(messages, partition, prepared, live, heartbeat);
    } catch (error) {
      // A heartbeat refused mid-retry (a rebalance): this batch's partition goes back to the group uncommitted.
      this.log.warn('batch abandoned; its messages are redelivered from the committed offset', { partition, error: (error as Error).message });
      return false;
    }
  }

  /** Writes a batch (retrying while the partition waits, isolating poison messages), then marks its offset for commit. */
  private async writeAndMark(messages: readonly KafkaMessage[], partition: number, prepared: BatchWork | undefined, live: () => boolean, heartbeat: () => Promise<void>): Promise<boolean> {
    const stats = this.partition(partition);
    const outcome = await this.writeRetrying(messages, partition, prepared, stats.maxEventTs, live, heartbeat);
    if (outcome === undefined) return false;
    if (this.retrying === 0 && this.state === State.PAUSED) {
      this.state = State.RUNNING;
      this.log.info('writes succeeded again; partition resumed', { partition });
    }
    const next = BigInt((messages[messages.length - 1] as KafkaMessage).offset) + 1n;
    this.committer.mark(partition, next);

    stats.maxEventTs = Math.max(stats.maxEventTs, outcome.maxEventTs);
    if (outcome.lastEventTs !== undefined) stats.lastEventTs = outcome.lastEventTs;
    const count = messages.length;
    stats.rate.add(count);
    this.rate.add(count);
    stats.deadLetters += outcome.deadLetters.length;
    this.deadLetterCount += outcome.deadLetters.length;
    const labels = { project: this.project, source: this.sourceName, topic: this.topic };
    this.deps.metrics.events.inc({ ...labels, partition: String(partition) }, count);
    for (const letter of outcome.deadLetters) this.deps.metrics.deadLetters.inc({ ...labels, stage: letter.stage });
    return true;
  }

  /**
   * Writes messages until done. A failure that retrying may cure (a store or
   * broker unreachable, an unknown error) is retried with backoff while the
   * partition waits, and reported as a stall; a row the online store refuses
   * for its content is isolated by halving the batch, and the one message at
   * fault is dead-lettered. Undefined when the partition was taken away.
   */
  private async writeRetrying(messages: readonly KafkaMessage[], partition: number, prepared: BatchWork | undefined, maxEventTsBefore: number, live: () => boolean, heartbeat: () => Promise<void>): Promise<BatchOutcome | undefined> {
    const stats = this.partition(partition);
    let work = prepared;
    let delay = this.deps.settings.retryInitialMs;
    for (;;) {
      try {
        work ??= await this.prepare(messages, maxEventTsBefore);
        await this.apply(work, partition);
        this.stallEnded(partition, stats);
        return work;
      } catch (error) {
        if (!live()) return undefined;
        if (error instanceof InvalidRowError) return this.isolate(messages, partition, maxEventTsBefore, error, live, heartbeat);
        this.retrying++;
        this.state = State.PAUSED;
        this.lastError = (error as Error).message;
        this.stalled(partition, stats, this.lastError);
        this.log.warn('batch failed; partition waits and retries', { partition, error: this.lastError, retryInMs: delay, failedAttempts: stats.failedAttempts });
        try {
          await sleepWhile(delay, live, heartbeat);
        } finally {
          this.retrying--;
        }
        if (!live()) return undefined;
        delay = Math.min(this.deps.settings.retryMaxMs, delay * 2);
      }
    }
  }

  /**
   * A poison batch: halves are written one after the other (the second from
   * the first's watermark) until the message at fault stands alone; that one
   * is dead-lettered and the rest are written. Parts already written before the
   * failure are written again: idempotent online, exact duplicates offline.
   */
  private async isolate(messages: readonly KafkaMessage[], partition: number, maxEventTsBefore: number, error: InvalidRowError, live: () => boolean, heartbeat: () => Promise<void>): Promise<BatchOutcome | undefined> {
    const labels = { project: this.project, source: this.sourceName, topic: this.topic };
    if (messages.length === 1) {
      const message = messages[0] as KafkaMessage;
      this.log.warn('message refused by the online store; dead-lettered', { partition, offset: message.offset, error: error.message });
      const letter: DeadLetter = { message, stage: 'write', reason: `online write refused: ${error.message}`, view: error.view };
      const work: BatchWork = { messages, online: new Map(), offline: new OfflineBatches(), deadLetters: [letter], lastEventTs: undefined, maxEventTs: maxEventTsBefore, done: { online: new Set(), offline: new Set(), deadLetters: false } };
      return this.writeRetrying(messages, partition, work, maxEventTsBefore, live, heartbeat);
    }
    this.deps.metrics.poisonSplits.inc(labels);
    const half = Math.ceil(messages.length / 2);
    this.log.warn('batch refused by the online store for its content; writing it in halves to find the message at fault', { partition, messages: messages.length, error: error.message });
    const first = await this.writeRetrying(messages.slice(0, half), partition, undefined, maxEventTsBefore, live, heartbeat);
    if (first === undefined) return undefined;
    const second = await this.writeRetrying(messages.slice(half), partition, undefined, Math.max(maxEventTsBefore, first.maxEventTs), live, heartbeat);
    if (second === undefined) return undefined;
    return { maxEventTs: Math.max(first.maxEventTs, second.maxEventTs), lastEventTs: second.lastEventTs ?? first.lastEventTs, deadLetters: [...first.deadLetters, ...second.deadLetters] };
  }

  private stalled(partition: number, stats: PartitionStats, error: string): void {
    const now = Date.now();
    stats.stalledSince ??= now;
    stats.failedAttempts++;
    stats.lastError = error;
    this.deps.metrics.retries.inc({ project: this.project, source: this.sourceName, topic: this.topic });
    this.deps.metrics.stalled.set({ project: this.project, source: this.sourceName, topic: this.topic, partition: String(partition) }, (now - stats.stalledSince) / 1000);
  }

  private stallEnded(partition: number, stats: PartitionStats): void {
    if (stats.stalledSince === undefined) return;
    this.log.info('partition moving again', { partition, stalledMs: Date.now() - stats.stalledSince, failedAttempts: stats.failedAttempts });
    stats.stalledSince = undefined;
    stats.failedAttempts = 0;
    stats.lastError = '';
    this.deps.metrics.stalled.set({ project: this.project, source: this.sourceName, topic: this.topic, partition: String(partition) }, 0);
  }

  /**
   * Event times a store must not take: before 1970, or further ahead of now
   * than the allowed skew (it would win "last writer wins" over every real
   * event to come). Lateness is not checked here: it concerns the offline
   * path only (see prepare).
   */
  private eventTimeProblem(eventTs: number, nowMs: number): { stage: DeadLetterStage; reason: string } | undefined {
    if (eventTs < 0) return { stage: 'validate', reason: 'event time before 1970 cannot be stored' };
    const ahead = futureTimeProblem('event time', eventTs, nowMs, this.deps.settings.maxFutureSkewMs);
    return ahead === undefined ? undefined : { stage: 'future', reason: ahead };
  }

  /** Decodes and shapes a batch; a message that cannot be used becomes a dead letter, never an error. */
  private async prepare(messages: readonly KafkaMessage[], maxEventTsBefore: number): Promise<BatchWork> {
    const plans = this.plans;
    // Lateness means something only where rows are appended offline: an
    // online-only view takes any order (last writer wins keeps the newest).
    const offlineBound = plans.some((p) => p.target.offline !== undefined);
    const online = new Map<ViewTarget, ShapedRow[]>(plans.filter((p) => p.target.online).map((p) => [p.target, []]));
    const onlineRows = plans.map((p) => online.get(p.target));
    const offline = new OfflineBatches();
    const deadLetters: DeadLetter[] = [];
    let maxEventTs = maxEventTsBefore;
    let lastEventTs: number | undefined;
    const receivedMs = Date.now();
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i] as KafkaMessage;
      let record: DecodedRecord;
      try {
        if (message.value === null) throw new DecodeError('the message has no value (a tombstone)');
        const decoded = this.decode(message.value);
        // JSON and Avro decode synchronously: no await (a microtask) per message.
        record = decoded instanceof Promise ? await decoded : decoded;
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        deadLetters.push({ message, stage: 'decode', reason: error.message });
        continue;
      }
      let eventTs: number;
      try {
        const raw = record[this.timestampField];
        if (raw === undefined || raw === null) throw new ValueError(`the timestamp field '${this.timestampField}' is missing`);
        eventTs = toMillis(raw);
      } catch (error) {
        deadLetters.push({ message, stage: 'validate', reason: `${this.timestampField}: ${(error as Error).message}` });
        continue;
      }
      const problem = this.eventTimeProblem(eventTs, receivedMs);
      if (problem !== undefined) {
        deadLetters.push({ message, stage: problem.stage, reason: `${this.timestampField}: ${problem.reason}` });
        continue;
      }
      // The broker's timestamp is the row's created time: the same on every
      // redelivery, so a replayed offline row is an exact duplicate.
      const createdRaw = this.createdField === '' ? undefined : record[this.createdField];
      let createdTs = Number(message.timestamp);
      if (createdRaw !== undefined && createdRaw !== null) {
        try {
          createdTs = toMillis(createdRaw);
        } catch {
          // A bad created time is not worth losing the row: the broker's stands in.
        }
      }
      const late = offlineBound && eventTs < maxEventTs - this.watermarkDelayMs;
      maxEventTs = Math.max(maxEventTs, eventTs);
      lastEventTs = eventTs;
      for (let t = 0; t < plans.length; t++) {
        const plan = plans[t] as RecordPlan;
        let row: ShapedRow;
        try {
          row = shapeRow(plan, readRecordField, record, eventTs, createdTs);
        } catch (error) {
          if (!(error instanceof RowProblem)) throw error;
          deadLetters.push({ message, stage: 'validate', reason: error.message, view: plan.target.name });
          continue;
        }
        const schema = plan.target.validation;
        const violation = schema?.check(row.values);
        if (violation !== undefined) {
          const outcome = schema?.policy === 'count' ? 'counted' : 'dead_letter';
          this.deps.metrics.schemaViolations.inc({ project: this.project, view: plan.target.name, feature: violation.feature, type: tfmdV0.AnomalyInfo_Type[violation.type] ?? String(violation.type), outcome });
          if (outcome === 'dead_letter') {
            deadLetters.push({ message, stage: 'validate', reason: violationReason(plan.target.name, violation), view: plan.target.name });
            continue;
          }
        }
        onlineRows[t]?.push(row);
        if (!late) offline.add(i, plan.target, row);
      }
      if (late) {
        deadLetters.push({
          message,
          stage: 'late',
          reason: `late: event time ${new Date(eventTs).toISOString()} is before the watermark ${new Date(maxEventTs - this.watermarkDelayMs).toISOString()} (watermark delay ${this.watermarkDelayMs} ms); written online (last writer wins by event time), not offline`,
        });
      }
    }
    return { messages, online, offline, deadLetters, lastEventTs, maxEventTs, done: { online: new Set(), offline: new Set(), deadLetters: false } };
  }

  /** Runs the batch's pending writes; parts that succeeded are not redone on a retry. */
  private async apply(work: BatchWork, partition: number): Promise<void> {
    const { settings } = this.deps;
    const writes: Promise<void>[] = [];
    for (const [target, rows] of work.online) {
      if (work.done.online.has(target)) continue;
      writes.push(writeOnline(this.deps.online, target, rows, settings.storeTimeoutMs).then(() => void work.done.online.add(target)));
    }
    for (const batch of work.offline.all()) {
      if (work.done.offline.has(batch.source.name)) continue;
      const offline = this.deps.offline;
      writes.push(
        (async () => {
          if (offline === undefined) throw new Error('no offline store is configured');
          try {
            await offline.append(batch.source, batch.toAppendRows());
          } catch (error) {
            // A source the rows cannot fit (missing column, query source) will not heal by retrying.
            if (!(error instanceof OfflineStoreError)) throw error;
            this.log.error('offline append rejected; the rows are dead-lettered', { batchSource: batch.source.name, error: error.message });
            const reason = `offline append to '${batch.source.name}': ${error.message}`;
            for (const i of batch.indices()) work.deadLetters.push({ message: work.messages[i] as KafkaMessage, stage: 'write', reason });
          }
          work.done.offline.add(batch.source.name);
        })(),
      );
    }
    const results = await Promise.allSettled(writes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    if (!work.done.deadLetters && work.deadLetters.length > 0) {
      await this.deadLetters.send(work.deadLetters, { project: this.project, source: this.sourceName, topic: this.topic, partition });
      work.done.deadLetters = true;
    }
  }

  private scheduleRefresh(): void {
    if (this.stopping) return;
    this.refreshing = this.refreshing.then(() => this.refreshLag());
  }

  /** Log end and committed offsets of the assigned partitions, for lag while idle. */
  private async refreshLag(): Promise<void> {
    if (this.stopping || this.assigned.length === 0) return;
    try {
      const [ends, committed] = await Promise.all([this.admin.fetchTopicOffsets(this.topic), this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] })]);
      const committedOf = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      for (const { partition, high } of ends) {
        if (!this.assigned.includes(partition)) continue;
        const stats = this.partition(partition);
        stats.logEnd = BigInt(high);
        const c = committedOf.get(partition);
        if (c !== undefined && c > stats.committed) stats.committed = c;
        const lag = stats.logEnd - (stats.committed < 0n ? 0n : stats.committed);
        this.deps.metrics.lag.set({ project: this.project, source: this.sourceName, topic: this.topic, partition: String(partition) }, Number(lag));
      }
    } catch (error) {
      this.log.debug('lag refresh failed', { error: (error as Error).message });
    }
  }

  eventsPerSecond(): number {
    return this.rate.perSecond();
  }

  status(): ingestionV1.ConsumerStatus {
    return create(ingestionV1.ConsumerStatusSchema, {
      project: this.project,
      dataSource: this.sourceName,
      topic: this.topic,
      consumerGroup: this.groupId,
      state: this.state,
      partitions: this.assigned.map((partition) => {
        const s = this.partition(partition);
        const committed = s.committed < 0n ? 0n : s.committed;
        const logEnd = s.logEnd < 0n ? committed : s.logEnd;
        return {
          partition,
          committedOffset: committed,
          logEndOffset: logEnd,
          lag: logEnd > committed ? logEnd - committed : 0n,
          eventsPerSecond: s.rate.perSecond(),
          deadLetterCount: BigInt(s.deadLetters),
          ...(s.lastEventTs !== undefined && { lastEventTime: timestampFromMs(s.lastEventTs) }),
          ...(s.stalledSince !== undefined && { stalledSince: timestampFromMs(s.stalledSince) }),
          failedAttempts: BigInt(s.failedAttempts),
          lastError: s.lastError,
        };
      }),
      eventsPerSecond: this.rate.perSecond(),
      deadLetterCount: BigInt(this.deadLetterCount),
      deadLetterTopic: this.deadLetterTopic,
      lastError: this.state === State.RUNNING ? '' : this.lastError,
    });
  }
}

/** Waits `ms` while `live()` holds, heartbeating so the group does not evict us meanwhile. */
async function sleepWhile(ms: number, live: () => boolean, heartbeat: () => Promise<void>): Promise<void> {
  const until = Date.now() + ms;
  while (live() && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, until - Date.now())));
    await heartbeat();
  }
}
