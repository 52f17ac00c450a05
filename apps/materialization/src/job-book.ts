import { clone, create } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { timestampParts } from '@larder/offline-store';
import { materializationV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { RunShard, ViewLease } from './lease';
import type { ViewPlan } from './view-plan';

const S = materializationV1.JobState;
type Job = materializationV1.Job;

// Windows and watermarks to the microsecond, as sources store event times: protobuf-es's
// timestampDate stops at the millisecond, which would move a window's edge across rows.
export const timestampFromDate = (date: Date): Timestamp => create(TimestampSchema, timestampParts(date));

export const isFinal = (state: materializationV1.JobState): boolean => state === S.SUCCEEDED || state === S.FAILED || state === S.CANCELLED;

export interface JobFilter {
  project: string;
  states: readonly materializationV1.JobState[];
  featureView: string;
  pageSize: number;
  pageToken: string;
}

/** A job this replica knows: its record (what the rpcs answer) and what runs it. */
export interface Tracked {
  readonly seq: number;
  readonly job: Job;
  readonly controller: AbortController;
  readonly plans: ViewPlan[];
  /** The job's part of its run. */
  readonly shard: RunShard;
  /** One per plan, in the same order: the views' leases in the registry. */
  readonly leases: ViewLease[];
  /** Resolved when the job reaches a final state. */
  done: Promise<void>;
  /** Bumped on every change; watchers wait for the next bump. */
  changed: Promise<void>;
  notify: () => void;
}

/** What a new job record says: its kind, window and views. */
export interface NewJob {
  id: string;
  shard: RunShard;
  leases: ViewLease[];
  project: string;
  kind: materializationV1.JobKind;
  plans: ViewPlan[];
  /** The run's start (range jobs); incremental jobs start each view at its own watermark. */
  start: Date | undefined;
  end: Date;
  windowOf: (plan: ViewPlan) => { start: Date; end: Date };
  /** The replica's parallel streams per view. */
  shards: number;
  createTime: Date;
}

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 50;

/**
 * The job records of one replica: every job that is not finished plus the last
 * `history` finished ones (the registry keeps each view's last job for good), with
 * paging, watching and waiting. Knows nothing of how a job runs.
 */
export class JobBook {
  private readonly jobs = new Map<string, Tracked>();
  private seq = 0;

  constructor(private readonly history: number) {}

  /** Records a PENDING job; its `done` is set by whoever runs it. */
  add(spec: NewJob): Tracked {
    const job = create(materializationV1.JobSchema, {
      id: spec.id,
      project: spec.project,
      kind: spec.kind,
      state: S.PENDING,
      ...(spec.start !== undefined && { startTime: timestampFromDate(spec.start) }),
      endTime: timestampFromDate(spec.end),
      createTime: timestampFromDate(spec.createTime),
      runId: spec.shard.runId,
      shardIndex: spec.shard.index,
      shardCount: spec.shard.count,
      views: spec.plans.map((plan) => {
        const window = spec.windowOf(plan);
        return {
          featureView: plan.name,
          state: S.PENDING,
          startTime: timestampFromDate(window.start),
          endTime: timestampFromDate(window.end),
          shardCount: spec.shards,
        };
      }),
    });
    let notify = (): void => {};
    const tracked: Tracked = {
      seq: ++this.seq,
      job,
      controller: new AbortController(),
      plans: spec.plans,
      shard: spec.shard,
      leases: spec.leases,
      done: Promise.resolve(),
      changed: Promise.resolve(),
      notify: () => notify(),
    };
    const arm = (): void => {
      tracked.changed = new Promise<void>((resolve) => {
        notify = () => {
          arm();
          resolve();
        };
      });
    };
    arm();
    this.jobs.set(spec.id, tracked);
    return tracked;
  }

  find(id: string): Tracked {
    const tracked = this.jobs.get(id);
    if (tracked === undefined) {
      throw new RpcError(
        Code.NOT_FOUND,
        `job '${id}' not found (this replica keeps unfinished jobs and the last ${this.history} finished ones; the registry's materialization state has each view's last job)`,
      );
    }
    return tracked;
  }

  unfinished(): Tracked[] {
    return [...this.jobs.values()].filter((t) => !isFinal(t.job.state));
  }

  list(filter: JobFilter): { jobs: Job[]; nextPageToken: string } {
    if (filter.pageSize < 0) throw new RpcError(Code.INVALID_ARGUMENT, 'page_size: must not be negative');
    const size = Math.min(filter.pageSize === 0 ? DEFAULT_PAGE : filter.pageSize, MAX_PAGE);
    let before = Number.POSITIVE_INFINITY;
    if (filter.pageToken !== '') {
      before = Number(Buffer.from(filter.pageToken, 'base64url').toString());
      if (!Number.isSafeInteger(before)) throw new RpcError(Code.INVALID_ARGUMENT, 'page_token: not a token from a previous ListJobs');
    }
    const matching = [...this.jobs.values()]
      .filter((t) => t.seq < before)
      .filter((t) => filter.project === '' || t.job.project === filter.project)
      .filter((t) => filter.states.length === 0 || filter.states.includes(t.job.state))
      .filter((t) => filter.featureView === '' || t.job.views.some((v) => v.featureView === filter.featureView))
      .sort((a, b) => b.seq - a.seq);
    const page = matching.slice(0, size);
    const last = page[page.length - 1];
    const nextPageToken = matching.length > size && last ? Buffer.from(String(last.seq)).toString('base64url') : '';
    return { jobs: page.map((t) => clone(materializationV1.JobSchema, t.job)), nextPageToken };
  }

  /** The job now, then after every change, until it is final. */
  async *watch(id: string, signal: AbortSignal): AsyncGenerator<Job> {
    const tracked = this.find(id);
    const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    for (;;) {
      const changed = tracked.changed;
      const snapshot = clone(materializationV1.JobSchema, tracked.job);
      yield snapshot;
      // The snapshot's state, not the job's: the final state must be sent before the stream ends.
      if (isFinal(snapshot.state)) return;
      await Promise.race([changed, aborted]);
      if (signal.aborted) return;
    }
  }

  /** Forgets the oldest finished jobs past the history kept. */
  evict(): void {
    const finished = [...this.jobs.values()].filter((t) => isFinal(t.job.state));
    for (const t of finished.slice(0, Math.max(0, finished.length - this.history))) this.jobs.delete(t.job.id);
  }
}
