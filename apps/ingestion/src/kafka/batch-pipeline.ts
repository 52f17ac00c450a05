import type { KafkaMessage } from 'kafkajs';
import { futureTimeProblem } from '@larder/core';
import { OfflineStoreError } from '@larder/offline-store';
import type { OfflineStore } from '@larder/offline-store';
import type { OnlineStore } from '@larder/online-store';
import { tfmdV0 } from '@larder/proto';
import type { Logger } from '@larder/rpc';
import type { IngestionMetrics } from '../metrics';
import { OfflineBatches, RowProblem, readRecordField, shapeRow, violationReason, writeOnline } from '../rows';
import type { RecordPlan, ShapedRow } from '../rows';
import type { ViewTarget } from '../targets';
import { ValueError, toMillis } from '../values';
import type { DeadLetter, DeadLetterStage, DeadLetterTopic } from './dead-letters';
import { DecodeError } from './decode';
import type { DecodedRecord, Decoder } from './decode';

/** The work one batch needs done before its offsets may be committed. */
export interface BatchWork {
  messages: readonly KafkaMessage[];
  online: Map<ViewTarget, ShapedRow[]>;
  offline: OfflineBatches;
  deadLetters: DeadLetter[];
  lastEventTs: number | undefined;
  maxEventTs: number;
  done: { online: Set<ViewTarget>; offline: Set<string>; deadLetters: boolean };
}

/** What a written batch leaves for the partition's bookkeeping. */
export interface BatchOutcome {
  maxEventTs: number;
  lastEventTs: number | undefined;
  deadLetters: readonly DeadLetter[];
}

/** How a source's messages read: its decoder and the fields naming the times. */
export interface SourceRecords {
  project: string;
  source: string;
  topic: string;
  decode: Decoder;
  timestampField: string;
  /** '' when the source has none: the broker's timestamp stands in. */
  createdField: string;
  watermarkDelayMs: number;
}

export interface PipelineStores {
  online: OnlineStore;
  offline: OfflineStore | undefined;
  metrics: IngestionMetrics;
  /** Deadline of one store write attempt. */
  storeTimeoutMs: number;
  /** Event times later than now + this go to the dead-letter topic with stage `future`. */
  maxFutureSkewMs: number;
}

/**
 * One source's batches from messages to stored rows: decoding and shaping each message
 * for every view it feeds (prepare; a message that cannot be used becomes a dead letter,
 * never an error), then the writes (apply: online, offline, dead letters), each part done
 * once however often the batch is retried.
 */
export class BatchPipeline {
  /** The views' record plans; swapped on a registry change, used from the next batch on. */
  plans: readonly RecordPlan[] = [];

  constructor(
    private readonly source: SourceRecords,
    private readonly stores: PipelineStores,
    private readonly deadLetters: DeadLetterTopic,
    private readonly log: Logger,
  ) {}

  /**
   * Event times a store must not take: before 1970, or further ahead of now
   * than the allowed skew (it would win "last writer wins" over every real
   * event to come). Lateness is not checked here: it concerns the offline
   * path only (see prepare).
   */
  private eventTimeProblem(eventTs: number, nowMs: number): { stage: DeadLetterStage; reason: string } | undefined {
    if (eventTs < 0) return { stage: 'validate', reason: 'event time before 1970 cannot be stored' };
    const ahead = futureTimeProblem('event time', eventTs, nowMs, this.stores.maxFutureSkewMs);
    return ahead === undefined ? undefined : { stage: 'future', reason: ahead };
  }

  /** Decodes and shapes a batch; a message that cannot be used becomes a dead letter, never an error. */
  async prepare(messages: readonly KafkaMessage[], maxEventTsBefore: number): Promise<BatchWork> {
    const plans = this.plans;
    const { timestampField, createdField, watermarkDelayMs } = this.source;
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
        const decoded = this.source.decode(message.value);
        // JSON and Avro decode synchronously: no await (a microtask) per message.
        record = decoded instanceof Promise ? await decoded : decoded;
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        deadLetters.push({ message, stage: 'decode', reason: error.message });
        continue;
      }
      let eventTs: number;
      try {
        const raw = record[timestampField];
        if (raw === undefined || raw === null) throw new ValueError(`the timestamp field '${timestampField}' is missing`);
        eventTs = toMillis(raw);
      } catch (error) {
        deadLetters.push({ message, stage: 'validate', reason: `${timestampField}: ${(error as Error).message}` });
        continue;
      }
      const problem = this.eventTimeProblem(eventTs, receivedMs);
      if (problem !== undefined) {
        deadLetters.push({ message, stage: problem.stage, reason: `${timestampField}: ${problem.reason}` });
        continue;
      }
      // The broker's timestamp is the row's created time: the same on every
      // redelivery, so a replayed offline row is an exact duplicate.
      const createdRaw = createdField === '' ? undefined : record[createdField];
      let createdTs = Number(message.timestamp);
      if (createdRaw !== undefined && createdRaw !== null) {
        try {
          createdTs = toMillis(createdRaw);
        } catch {
          // A bad created time is not worth losing the row: the broker's stands in.
        }
      }
      const late = offlineBound && eventTs < maxEventTs - watermarkDelayMs;
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
          this.stores.metrics.schemaViolations.inc({
            project: this.source.project,
            view: plan.target.name,
            feature: violation.feature,
            type: tfmdV0.AnomalyInfo_Type[violation.type] ?? String(violation.type),
            outcome,
          });
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
          reason:
            `late: event time ${new Date(eventTs).toISOString()} is before the watermark ` +
            `${new Date(maxEventTs - watermarkDelayMs).toISOString()} (watermark delay ${watermarkDelayMs} ms); written ` +
            `online (last writer wins by event time), not offline`,
        });
      }
    }
    return { messages, online, offline, deadLetters, lastEventTs, maxEventTs, done: { online: new Set(), offline: new Set(), deadLetters: false } };
  }

  /** Work that only dead-letters `letter` (the message a store refused), writing nothing else. */
  deadLetterOnly(messages: readonly KafkaMessage[], letter: DeadLetter, maxEventTsBefore: number): BatchWork {
    return {
      messages,
      online: new Map(),
      offline: new OfflineBatches(),
      deadLetters: [letter],
      lastEventTs: undefined,
      maxEventTs: maxEventTsBefore,
      done: { online: new Set(), offline: new Set(), deadLetters: false },
    };
  }

  /** Runs the batch's pending writes; parts that succeeded are not redone on a retry. */
  async apply(work: BatchWork, partition: number): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [target, rows] of work.online) {
      if (work.done.online.has(target)) continue;
      writes.push(writeOnline(this.stores.online, target, rows, this.stores.storeTimeoutMs).then(() => void work.done.online.add(target)));
    }
    for (const batch of work.offline.all()) {
      if (work.done.offline.has(batch.source.name)) continue;
      const offline = this.stores.offline;
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
      await this.deadLetters.send(work.deadLetters, { project: this.source.project, source: this.source.source, topic: this.source.topic, partition });
      work.done.deadLetters = true;
    }
  }
}
