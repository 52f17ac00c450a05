import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Admin } from 'kafkajs';
import type { ingestionV1 } from '@larder/proto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Logger } from '@larder/rpc';
import type { IngestionMetrics } from '../metrics';
import { RateWindow } from './rate';

/** What one assigned partition has done: offsets for lag, rates, dead letters, event times, stalls. */
export interface PartitionStats {
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

/** Who the partitions belong to, for metric labels and offset queries. */
export interface PartitionOwner {
  project: string;
  source: string;
  topic: string;
  groupId: string;
}

type PartitionStatusInit = MessageInitShape<typeof ingestionV1.PartitionStatusSchema>;

/**
 * The consumer's partitions as the status rpc and the metrics see them: committed and
 * log-end offsets (lag), stalls, and the periodic refresh of offsets from the brokers,
 * which keeps lag right while nothing is consumed.
 */
export class PartitionTable {
  private readonly stats = new Map<number, PartitionStats>();

  constructor(
    private readonly owner: PartitionOwner,
    private readonly metrics: IngestionMetrics,
    private readonly log: Logger,
  ) {}

  private labels(partition: number): { project: string; source: string; topic: string; partition: string } {
    return { project: this.owner.project, source: this.owner.source, topic: this.owner.topic, partition: String(partition) };
  }

  /** The partition's stats, made on first use. */
  get(partition: number): PartitionStats {
    let stats = this.stats.get(partition);
    if (stats === undefined) {
      stats = {
        committed: -1n,
        logEnd: -1n,
        rate: new RateWindow(),
        deadLetters: 0,
        lastEventTs: undefined,
        maxEventTs: -Infinity,
        stalledSince: undefined,
        failedAttempts: 0,
        lastError: '',
      };
      this.stats.set(partition, stats);
    }
    return stats;
  }

  /** Forgets partitions no longer assigned (a rebalance took them), with their stall gauges. */
  keepOnly(assigned: readonly number[]): void {
    for (const p of [...this.stats.keys()]) {
      if (assigned.includes(p)) continue;
      this.stats.delete(p);
      this.metrics.stalled.remove(this.labels(p));
    }
  }

  /** The broker accepted a commit: status and lag follow it. */
  committed(partition: number, next: bigint): void {
    const stats = this.stats.get(partition);
    if (stats === undefined || next <= stats.committed) return;
    stats.committed = next;
    if (stats.logEnd >= 0n) this.metrics.lag.set(this.labels(partition), Number(stats.logEnd - next));
  }

  /** A write of the partition's batch failed again: it stalls (gauge in seconds since the first failure). */
  stalled(partition: number, error: string): void {
    const stats = this.get(partition);
    const now = Date.now();
    stats.stalledSince ??= now;
    stats.failedAttempts++;
    stats.lastError = error;
    this.metrics.retries.inc({ project: this.owner.project, source: this.owner.source, topic: this.owner.topic });
    this.metrics.stalled.set(this.labels(partition), (now - stats.stalledSince) / 1000);
  }

  stallEnded(partition: number): void {
    const stats = this.get(partition);
    if (stats.stalledSince === undefined) return;
    this.log.info('partition moving again', { partition, stalledMs: Date.now() - stats.stalledSince, failedAttempts: stats.failedAttempts });
    stats.stalledSince = undefined;
    stats.failedAttempts = 0;
    stats.lastError = '';
    this.metrics.stalled.set(this.labels(partition), 0);
  }

  /** Log end and committed offsets of the assigned partitions, for lag while idle. */
  async refreshLag(admin: Admin, assigned: readonly number[]): Promise<void> {
    if (assigned.length === 0) return;
    try {
      const [ends, committed] = await Promise.all([
        admin.fetchTopicOffsets(this.owner.topic),
        admin.fetchOffsets({ groupId: this.owner.groupId, topics: [this.owner.topic] }),
      ]);
      const committedOf = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      for (const { partition, high } of ends) {
        if (!assigned.includes(partition)) continue;
        const stats = this.get(partition);
        stats.logEnd = BigInt(high);
        const c = committedOf.get(partition);
        if (c !== undefined && c > stats.committed) stats.committed = c;
        const lag = stats.logEnd - (stats.committed < 0n ? 0n : stats.committed);
        this.metrics.lag.set(this.labels(partition), Number(lag));
      }
    } catch (error) {
      this.log.debug('lag refresh failed', { error: (error as Error).message });
    }
  }

  /** One partition as the status rpc reports it. */
  status(partition: number): PartitionStatusInit {
    const s = this.get(partition);
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
  }
}
