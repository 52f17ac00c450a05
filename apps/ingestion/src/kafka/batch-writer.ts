import type { KafkaMessage } from 'kafkajs';
import { backoffDelay } from '@larder/core';
import { InvalidRowError } from '@larder/online-store';
import type { Logger } from '@larder/rpc';
import type { IngestionMetrics } from '../metrics';
import type { BatchOutcome, BatchPipeline, BatchWork } from './batch-pipeline';
import type { DeadLetter } from './dead-letters';
import type { PartitionTable } from './partition-status';

/** Where a running write is: whether the partition is still ours, and its heartbeat. */
export interface WriteContext {
  partition: number;
  live: () => boolean;
  heartbeat: () => Promise<void>;
}

export interface BatchWriterOptions {
  pipeline: BatchPipeline;
  partitions: PartitionTable;
  metrics: IngestionMetrics;
  labels: { project: string; source: string; topic: string };
  log: Logger;
  /** Backoff between attempts of a batch whose writes failed. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** A write failed and the partition now waits to retry (the consumer reports PAUSED with the error). */
  onStall: (error: string) => void;
}

/**
 * Writes a batch until it is done. A failure that retrying may cure (a store or broker
 * unreachable, an unknown error) is retried with backoff while the partition waits, and
 * reported as a stall; a row the online store refuses for its content is isolated by
 * halving the batch, and the one message at fault goes to the dead-letter topic.
 */
export class BatchWriter {
  private waiting = 0;

  constructor(private readonly options: BatchWriterOptions) {}

  /** Batches now waiting to retry, over every partition. */
  get retrying(): number {
    return this.waiting;
  }

  /** The batch's outcome once written; undefined when the partition was taken away. */
  async write(
    messages: readonly KafkaMessage[],
    prepared: BatchWork | undefined,
    maxEventTsBefore: number,
    at: WriteContext,
  ): Promise<BatchOutcome | undefined> {
    const { pipeline, partitions, log } = this.options;
    let work = prepared;
    const backoff = { initialMs: this.options.retryInitialMs, maxMs: this.options.retryMaxMs };
    for (let attempt = 0; ; attempt++) {
      try {
        work ??= await pipeline.prepare(messages, maxEventTsBefore);
        await pipeline.apply(work, at.partition);
        partitions.stallEnded(at.partition);
        return work;
      } catch (error) {
        if (!at.live()) return undefined;
        if (error instanceof InvalidRowError) return this.isolate(messages, maxEventTsBefore, error, at);
        this.waiting++;
        const reason = (error as Error).message;
        this.options.onStall(reason);
        partitions.stalled(at.partition, reason);
        const delay = backoffDelay(attempt, backoff);
        log.warn('batch failed; partition waits and retries', {
          partition: at.partition,
          error: reason,
          retryInMs: delay,
          failedAttempts: partitions.get(at.partition).failedAttempts,
        });
        try {
          await sleepWhile(delay, at.live, at.heartbeat);
        } finally {
          this.waiting--;
        }
        if (!at.live()) return undefined;
      }
    }
  }

  /**
   * A poison batch: halves are written one after the other (the second from
   * the first's watermark) until the message at fault stands alone; that one
   * is dead-lettered and the rest are written. Parts already written before the
   * failure are written again: idempotent online, exact duplicates offline.
   */
  private async isolate(
    messages: readonly KafkaMessage[],
    maxEventTsBefore: number,
    error: InvalidRowError,
    at: WriteContext,
  ): Promise<BatchOutcome | undefined> {
    const { log } = this.options;
    if (messages.length === 1) {
      const message = messages[0] as KafkaMessage;
      log.warn('message refused by the online store; dead-lettered', { partition: at.partition, offset: message.offset, error: error.message });
      const letter: DeadLetter = { message, stage: 'write', reason: `online write refused: ${error.message}`, view: error.view };
      return this.write(messages, this.options.pipeline.deadLetterOnly(messages, letter, maxEventTsBefore), maxEventTsBefore, at);
    }
    this.options.metrics.poisonSplits.inc(this.options.labels);
    const half = Math.ceil(messages.length / 2);
    log.warn('batch refused by the online store for its content; writing it in halves to find the message at fault', {
      partition: at.partition,
      messages: messages.length,
      error: error.message,
    });
    const first = await this.write(messages.slice(0, half), undefined, maxEventTsBefore, at);
    if (first === undefined) return undefined;
    const second = await this.write(messages.slice(half), undefined, Math.max(maxEventTsBefore, first.maxEventTs), at);
    if (second === undefined) return undefined;
    return {
      maxEventTs: Math.max(first.maxEventTs, second.maxEventTs),
      lastEventTs: second.lastEventTs ?? first.lastEventTs,
      deadLetters: [...first.deadLetters, ...second.deadLetters],
    };
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
