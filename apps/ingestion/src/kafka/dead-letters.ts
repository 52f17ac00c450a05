import { ConfigResourceTypes } from 'kafkajs';
import type { Admin, IHeaders, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Logger } from '@larder/rpc';

export type DeadLetterStage = 'decode' | 'validate' | 'late' | 'future' | 'write';

export interface DeadLetter {
  message: KafkaMessage;
  stage: DeadLetterStage;
  reason: string;
  view?: string;
}

/** Where a dead letter came from, written into its headers. */
export interface LetterOrigin {
  project: string;
  source: string;
  topic: string;
  partition: number;
}

export interface DeadLetterSettings {
  /** Partitions of a dead-letter topic created here; 0: as many as the source topic. */
  partitions: number;
  /** Largest record batch sent; 0: the topic's max.message.bytes as the broker reports it. */
  maxBytes: number;
}

export interface DeadLetterCounters {
  truncated(): void;
  split(): void;
  dropped(): void;
}

/** Kafka's default message.max.bytes, for a broker that will not say. */
const BROKER_DEFAULT_MAX_BYTES = 1_048_588;
/** A record batch's own header (v2), not counting its records. */
const BATCH_OVERHEAD = 61;
/** Bytes a record spends beyond its key, value and headers: length, attributes, deltas, counts (varints at their widest). */
const RECORD_OVERHEAD = 40;
const HEADER_OVERHEAD = 10;
/** A reason longer than this is cut: it is for a person, and must leave room for the payload. */
const MAX_REASON_CHARS = 2_000;

/** Kafka protocol errors that name the payload itself: sending the same bytes again can never succeed. */
const PAYLOAD_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP']);

/** Whether a producer error is about what was sent (retrying cannot cure it) rather than the broker's availability. */
export function isPayloadRejection(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && PAYLOAD_ERRORS.has(type)) return true;
  }
  return false;
}

const isUnknownTopic = (error: unknown): boolean => {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
  }
  return false;
};

const byteLength = (v: Buffer | string | null | undefined): number =>
  v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;

function headersSize(headers: IHeaders | undefined): number {
  let size = 0;
  for (const [k, v] of Object.entries(headers ?? {})) {
    const values = Array.isArray(v) ? v : [v];
    for (const one of values) size += HEADER_OVERHEAD + Buffer.byteLength(k) + byteLength(one as Buffer | string | undefined);
  }
  return size;
}

/** An upper bound of a record's size in a batch, uncompressed. */
export function recordSize(message: Message): number {
  return RECORD_OVERHEAD + byteLength(message.key) + byteLength(message.value) + headersSize(message.headers);
}

/**
 * The dead-letter topic of one source: created before first use (as many
 * partitions as the source topic, or a configured count), and written in
 * produce requests that fit the broker's limit. A record too large on its own
 * is cut to fit, saying so in a header. A piece the broker still refuses for
 * its content is split in halves down to single records, and a single record
 * is cut further; one that cannot be sent even bare is logged and dropped, so
 * a partition never waits on something retrying cannot cure. Failures of
 * availability (broker down) are thrown: the batch is retried.
 */
export class DeadLetterTopic {
  private ready: Promise<number> | undefined;

  constructor(
    readonly topic: string,
    private readonly sourceTopic: string,
    private readonly producer: Producer,
    private readonly admin: Admin,
    private readonly settings: DeadLetterSettings,
    private readonly counters: DeadLetterCounters,
    private readonly log: Logger,
  ) {}

  /** Creates the topic when missing and reads its size limit; memoized, reset after a failure. */
  private limit(): Promise<number> {
    this.ready ??= this.prepare().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private async prepare(): Promise<number> {
    await this.admin.connect();
    const existing = await this.admin.listTopics();
    if (!existing.includes(this.topic)) {
      let partitions = this.settings.partitions;
      if (partitions === 0) {
        const { topics } = await this.admin.fetchTopicMetadata({ topics: [this.sourceTopic] });
        partitions = Math.max(1, topics[0]?.partitions.length ?? 1);
      }
      // False when another consumer created it meanwhile: fine either way.
      const created = await this.admin.createTopics({ topics: [{ topic: this.topic, numPartitions: partitions }], waitForLeaders: true });
      if (created) this.log.info('dead-letter topic created', { deadLetterTopic: this.topic, partitions });
    }
    if (this.settings.maxBytes > 0) return this.settings.maxBytes;
    const limit = await this.brokerLimit();
    this.log.info('dead letters are sent in pieces within the topic limit', { deadLetterTopic: this.topic, maxMessageBytes: limit });
    return limit;
  }

  /** The topic's max.message.bytes (which defaults to the broker's message.max.bytes). */
  private async brokerLimit(): Promise<number> {
    try {
      const topic = await this.admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: this.topic, configNames: ['max.message.bytes'] }],
      });
      const value = Number(topic.resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
      if (Number.isInteger(value) && value > 0) return value;
      const { brokers } = await this.admin.describeCluster();
      const broker = brokers[0];
      if (broker !== undefined) {
        const described = await this.admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: ConfigResourceTypes.BROKER, name: String(broker.nodeId), configNames: ['message.max.bytes'] }],
        });
        const brokerValue = Number(described.resources[0]?.configEntries.find((e) => e.configName === 'message.max.bytes')?.configValue);
        if (Number.isInteger(brokerValue) && brokerValue > 0) return brokerValue;
      }
    } catch (error) {
      this.log.warn("cannot read the dead-letter topic's size limit; assuming Kafka's default", {
        deadLetterTopic: this.topic,
        error: (error as Error).message,
      });
    }
    return BROKER_DEFAULT_MAX_BYTES;
  }

  /** Sends every letter, or throws an availability failure (nothing about the letters themselves). */
  async send(letters: readonly DeadLetter[], origin: LetterOrigin): Promise<void> {
    if (letters.length === 0) return;
    const limit = await this.limit();
    const budget = Math.max(1024, limit - BATCH_OVERHEAD);
    const records = letters.map((letter) => this.fit(this.record(letter, origin), budget));
    let piece: Message[] = [];
    let size = 0;
    for (const record of records) {
      const s = recordSize(record);
      if (piece.length > 0 && size + s > budget) {
        await this.sendPiece(piece, budget);
        piece = [];
        size = 0;
      }
      piece.push(record);
      size += s;
    }
    if (piece.length > 0) await this.sendPiece(piece, budget);
  }

  private record({ message, stage, reason, view }: DeadLetter, origin: LetterOrigin): Message {
    const headers: IHeaders = {
      ...message.headers,
      'larder.error.stage': stage,
      'larder.error.reason': reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}…` : reason,
      'larder.source.project': origin.project,
      'larder.source.name': origin.source,
      'larder.source.topic': origin.topic,
      'larder.source.partition': String(origin.partition),
      'larder.source.offset': message.offset,
      ...(view !== undefined && { 'larder.feature_view': view }),
    };
    return { key: message.key, value: message.value, headers, timestamp: message.timestamp };
  }

  /**
   * A record within `budget` bytes: the value is cut to what fits (a prefix, so
   * it still shows what arrived), then, if the key or the original headers alone
   * are too large, those are dropped too. A header says what was cut.
   */
  private fit(record: Message, budget: number): Message {
    if (recordSize(record) <= budget) return record;
    this.counters.truncated();
    const value = record.value === null || record.value === undefined ? Buffer.alloc(0) : Buffer.from(record.value);
    const ours = Object.fromEntries(Object.entries(record.headers ?? {}).filter(([k]) => k.startsWith('larder.')));
    const note = (kept: number, extra: string): string =>
      `value of ${value.length} bytes cut to ${kept} bytes${extra} to fit the dead-letter topic's limit of ${budget + BATCH_OVERHEAD} bytes`;
    // The note's own length is part of the budget: reserve its longest form.
    const reserve = HEADER_OVERHEAD + 'larder.error.truncated'.length + Buffer.byteLength(note(value.length, '; key and original headers dropped'));
    const withoutValue = recordSize({ ...record, value: null }) + reserve;
    if (withoutValue <= budget) {
      const kept = budget - withoutValue;
      return { ...record, value: value.subarray(0, kept), headers: { ...record.headers, 'larder.error.truncated': note(kept, '') } };
    }
    const bare: Message = { key: null, value: null, headers: ours, ...(record.timestamp !== undefined && { timestamp: record.timestamp }) };
    const kept = Math.max(0, budget - recordSize(bare) - reserve);
    return { ...bare, value: value.subarray(0, kept), headers: { ...ours, 'larder.error.truncated': note(kept, '; key and original headers dropped') } };
  }

  private async sendPiece(piece: Message[], budget: number): Promise<void> {
    try {
      await this.producer.send({ topic: this.topic, messages: piece, acks: -1 });
      return;
    } catch (error) {
      if (isUnknownTopic(error)) this.ready = undefined; // deleted meanwhile: create it again on the retry
      if (!isPayloadRejection(error)) throw error;
      this.counters.split();
      if (piece.length > 1) {
        // Refused for its content (the limit set here is above the broker's, or the topic's was lowered): halves, then single records.
        const half = Math.ceil(piece.length / 2);
        this.log.warn('dead-letter piece refused by the broker; sending it in halves', {
          deadLetterTopic: this.topic,
          records: piece.length,
          error: (error as Error).message,
        });
        await this.sendPiece(piece.slice(0, half), budget);
        await this.sendPiece(piece.slice(half), budget);
        return;
      }
      const record = piece[0] as Message;
      const size = recordSize(record);
      const smaller = Math.floor(Math.min(budget, size) / 2);
      if (byteLength(record.value) > 0 && smaller >= 256) {
        await this.sendPiece([this.fit(record, smaller)], smaller);
        return;
      }
      this.counters.dropped();
      this.log.error('dead letter refused by the broker even cut down; dropped', {
        deadLetterTopic: this.topic,
        headers: record.headers,
        error: (error as Error).message,
      });
    }
  }
}
