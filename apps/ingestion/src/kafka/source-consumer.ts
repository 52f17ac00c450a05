import { create } from '@bufbuild/protobuf';
import type { Admin, Consumer, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import { backoffDelay } from '@larder/core';
import type { EndpointAllowList } from '@larder/core';
import type { OfflineStore } from '@larder/offline-store';
import type { OnlineStore } from '@larder/online-store';
import { ingestionV1 } from '@larder/proto';
import type { registryV1 } from '@larder/proto';
import type { Logger } from '@larder/rpc';
import type { IngestionMetrics } from '../metrics';
import { recordPlan } from '../rows';
import type { RecordPlan } from '../rows';
import { FieldMap } from '../targets';
import type { ViewTarget } from '../targets';
import { BatchPipeline } from './batch-pipeline';
import type { BatchWork } from './batch-pipeline';
import { BatchWriter } from './batch-writer';
import { OffsetCommitter } from './committer';
import { DeadLetterTopic } from './dead-letters';
import { decoderFor } from './decode';
import type { SchemaRegistryCache } from './decode';
import { kafkaClients } from './kafka-clients';
import { PartitionTable } from './partition-status';
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
  private readonly fields: FieldMap;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly partitions: PartitionTable;
  private readonly pipeline: BatchPipeline;
  private readonly writer: BatchWriter;
  /** Per partition, the batch whose writes may still be running while the next one is fetched. */
  private readonly inFlight = new Map<number, InFlight>();
  private readonly committer: OffsetCommitter;
  private readonly rate = new RateWindow();
  private assigned: number[] = [];
  private state: ingestionV1.ConsumerState = State.STARTING;
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
    this.log = deps.logger.child({ project, source: source.name, topic: this.topic, group: this.groupId });
    ({
      consumer: this.consumer,
      producer: this.producer,
      admin: this.admin,
    } = kafkaClients({
      clientId: settings.clientId,
      brokers: kafka.bootstrapServers,
      groupId: this.groupId,
      endpoints: deps.endpoints,
      sessionTimeoutMs: settings.sessionTimeoutMs,
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      rebalanceTimeoutMs: settings.rebalanceTimeoutMs,
      maxBytesPerPartition: settings.maxBytesPerPartition,
      maxBytes: settings.maxBytes,
      maxWaitTimeMs: settings.maxWaitTimeMs,
      restartOnFailure: async () => !this.stopping,
      log: this.log,
    }));
    const labels = { project, source: source.name, topic: this.topic };
    const deadLetters = new DeadLetterTopic(
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
    this.partitions = new PartitionTable({ project, source: source.name, topic: this.topic, groupId: this.groupId }, deps.metrics, this.log);
    this.pipeline = new BatchPipeline(
      {
        project,
        source: source.name,
        topic: this.topic,
        decode: decoderFor(kafka.messageFormat, deps.schemas),
        timestampField: source.timestampField,
        createdField: source.createdTimestampColumn,
        watermarkDelayMs: durationMs(kafka.watermarkDelay),
      },
      { online: deps.online, offline: deps.offline, metrics: deps.metrics, storeTimeoutMs: settings.storeTimeoutMs, maxFutureSkewMs: settings.maxFutureSkewMs },
      deadLetters,
      this.log,
    );
    this.pipeline.plans = this.planOf(targets);
    this.writer = new BatchWriter({
      pipeline: this.pipeline,
      partitions: this.partitions,
      metrics: deps.metrics,
      labels,
      log: this.log,
      retryInitialMs: settings.retryInitialMs,
      retryMaxMs: settings.retryMaxMs,
      onStall: (error) => {
        this.state = State.PAUSED;
        this.lastError = error;
      },
    });
    this.committer = new OffsetCommitter(
      (offsets) => this.consumer.commitOffsets(offsets.map((o) => ({ topic: this.topic, ...o }))),
      settings.commitIntervalMs,
      (error) => this.log.debug('offset commit failed; the next one carries its offsets', { error: error.message }),
    );
    const { GROUP_JOIN, CRASH, REBALANCING, COMMIT_OFFSETS } = this.consumer.events;
    this.consumer.on(COMMIT_OFFSETS, (event) => {
      for (const { topic, partitions } of event.payload.topics) {
        if (topic !== this.topic) continue;
        for (const { partition, offset } of partitions) this.partitions.committed(Number(partition), BigInt(String(offset)));
      }
    });
    this.consumer.on(GROUP_JOIN, (event) => {
      this.assigned = [...(event.payload.memberAssignment[this.topic] ?? [])].sort((a, b) => a - b);
      this.committer.assign(this.assigned);
      this.partitions.keepOnly(this.assigned);
      if (this.writer.retrying === 0) this.state = State.RUNNING;
      this.log.info('partitions assigned', { partitions: this.assigned });
      this.scheduleRefresh();
    });
    this.consumer.on(REBALANCING, () => {
      if (this.writer.retrying === 0 && !this.stopping) this.state = State.STARTING;
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
    this.pipeline.plans = this.planOf(targets);
  }

  private planOf(targets: readonly ViewTarget[]): RecordPlan[] {
    return targets.map((t) => recordPlan(t, (column) => this.fields.fieldOf(column)));
  }

  /** Connects and joins the group; keeps trying (with backoff) while the brokers cannot be reached, until stop(). */
  async start(): Promise<void> {
    const backoff = { initialMs: this.deps.settings.retryInitialMs, maxMs: this.deps.settings.retryMaxMs };
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.connect();
        return;
      } catch (error) {
        this.lastError = (error as Error).message;
        const delay = backoffDelay(attempt, backoff);
        this.log.warn('cannot start consuming; retrying', { error: this.lastError, retryInMs: delay });
        await this.consumer.disconnect().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, delay));
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
    const stats = this.partitions.get(partition);
    stats.logEnd = BigInt(batch.highWatermark);
    if (batch.messages.length === 0) return;
    const live = (): boolean => isRunning() && !isStale() && !this.stopping;
    const previous = this.inFlight.get(partition);
    const before = previous === undefined ? stats.maxEventTs : previous.maxEventTs;
    let work: BatchWork | undefined;
    if (before !== undefined) {
      try {
        work = await this.pipeline.prepare(batch.messages, before);
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
  private async writeBatch(
    messages: readonly KafkaMessage[],
    partition: number,
    prepared: BatchWork | undefined,
    live: () => boolean,
    heartbeat: () => Promise<void>,
  ): Promise<boolean> {
    try {
      return await this.writeAndMark(messages, partition, prepared, live, heartbeat);
    } catch (error) {
      // A heartbeat refused mid-retry (a rebalance): this batch's partition goes back to the group uncommitted.
      this.log.warn('batch abandoned; its messages are redelivered from the committed offset', { partition, error: (error as Error).message });
      return false;
    }
  }

  /** Writes a batch (retrying while the partition waits, isolating poison messages), then marks its offset for commit. */
  private async writeAndMark(
    messages: readonly KafkaMessage[],
    partition: number,
    prepared: BatchWork | undefined,
    live: () => boolean,
    heartbeat: () => Promise<void>,
  ): Promise<boolean> {
    const stats = this.partitions.get(partition);
    const outcome = await this.writer.write(messages, prepared, stats.maxEventTs, { partition, live, heartbeat });
    if (outcome === undefined) return false;
    if (this.writer.retrying === 0 && this.state === State.PAUSED) {
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

  private scheduleRefresh(): void {
    if (this.stopping) return;
    this.refreshing = this.refreshing.then(() => this.refreshLag());
  }

  /** Log end and committed offsets of the assigned partitions, for lag while idle. */
  private async refreshLag(): Promise<void> {
    if (this.stopping) return;
    await this.partitions.refreshLag(this.admin, this.assigned);
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
      partitions: this.assigned.map((partition) => this.partitions.status(partition)),
      eventsPerSecond: this.rate.perSecond(),
      deadLetterCount: BigInt(this.deadLetterCount),
      deadLetterTopic: this.deadLetterTopic,
      lastError: this.state === State.RUNNING ? '' : this.lastError,
    });
  }
}
