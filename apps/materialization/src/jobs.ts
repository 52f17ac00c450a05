import { randomBytes } from 'node:crypto';
import { clone } from '@bufbuild/protobuf';
import { dateFromTimestamp, epochMicros, isoMicros } from '@larder/offline-store';
import type { OfflineStore } from '@larder/offline-store';
import type { OnlineStore } from '@larder/online-store';
import { DEFAULT_MAX_FUTURE_SKEW_MS } from '@larder/core';
import { materializationV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { Logger } from '@larder/rpc';
import { JobBook, isFinal } from './job-book';
import type { JobFilter, Tracked } from './job-book';
import { LocalViewLocks, acquireLeases, readStates } from './job-leases';
import type { StateService } from './job-leases';
import { runShardOf, startHeartbeat } from './lease';
import type { RunShard, ViewLease } from './lease';
import { checkWindowTimes } from './request-times';
import { runJob } from './run-views';
import type { JobRunner } from './run-views';
import { viewNames, viewPlan } from './view-plan';
import type { RegistryView, ViewPlan } from './view-plan';

type Job = materializationV1.Job;

/** What the job manager needs of the registry: definitions (a RegistryClient's copy) and the state rpcs. */
export interface RegistryAccess extends RegistryView {
  projectNames(): string[];
  readonly service: StateService;
}

export interface JobManagerOptions {
  registry: RegistryAccess;
  offline: OfflineStore;
  online: OnlineStore;
  logger: Logger;
  /** Project of requests naming none; empty: the registry's only project. */
  defaultProject: string;
  shards: number;
  /** How long a view's lease in the registry lasts unless renewed; the heartbeat renews it every third of that. */
  leaseMs: number;
  viewConcurrency: number;
  chunkRows: number;
  writesInFlight: number;
  writeTimeoutMs: number;
  /** Finished jobs kept in memory. */
  jobHistory: number;
  /** Window ends later than now + this are refused; default DEFAULT_MAX_FUTURE_SKEW_MS. */
  maxFutureSkewMs?: number;
  now?: () => Date;
}

class CancelledError extends Error {
  constructor() {
    super('cancelled on request');
  }
}

/**
 * Runs materialization jobs and keeps their records: every job that is not
 * finished plus the last `jobHistory` finished ones (the registry keeps each
 * view's last job for good). Two runs never work on the same view at once,
 * on any replica: a job takes a lease on each of its views in the registry
 * before it is accepted (the second run is refused with FAILED_PRECONDITION
 * naming the holder) and renews it while it runs; the in-process lock only
 * refuses early. The jobs of one sharded run share the leases.
 */
export class JobManager {
  private readonly book: JobBook;
  private readonly locks = new LocalViewLocks();
  private readonly runner: JobRunner;
  private closing = false;
  private readonly now: () => Date;

  constructor(private readonly options: JobManagerOptions) {
    this.now = options.now ?? (() => new Date());
    this.book = new JobBook(options.jobHistory);
    this.runner = {
      offline: options.offline,
      online: options.online,
      service: options.registry.service,
      logger: options.logger,
      shards: options.shards,
      viewConcurrency: options.viewConcurrency,
      chunkRows: options.chunkRows,
      writesInFlight: options.writesInFlight,
      writeTimeoutMs: options.writeTimeoutMs,
      now: this.now,
    };
  }

  /** Materialize(views, start, end). */
  async startRange(request: materializationV1.MaterializeRequest): Promise<Job> {
    if (request.startTime === undefined) throw new RpcError(Code.INVALID_ARGUMENT, 'start_time: required');
    if (request.endTime === undefined) throw new RpcError(Code.INVALID_ARGUMENT, 'end_time: required');
    checkWindowTimes(
      { start_time: request.startTime, end_time: request.endTime },
      this.now().getTime(),
      this.options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS,
    );
    const start = dateFromTimestamp(request.startTime);
    const end = dateFromTimestamp(request.endTime);
    if (epochMicros(start) >= epochMicros(end)) {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        `start_time (${isoMicros(start)}) must be before end_time (${isoMicros(end)}): the window is ${epochMicros(start) === epochMicros(end) ? 'empty' : 'inverted'}`,
      );
    }
    const project = this.project(request.project);
    const plans = this.plans(project, request.featureViews);
    const id = this.newJobId();
    const shard = runShardOf(request, id);
    this.locks.checkFree(project, plans, shard.runId);
    const windowOf = (): { start: Date; end: Date } => ({ start, end });
    const leases = await acquireLeases(this.options.registry.service, this.options.leaseMs, { project, id, shard }, plans, windowOf);
    const tracked = this.track(id, shard, leases, project, materializationV1.JobKind.RANGE, plans, start, end, windowOf);
    return clone(materializationV1.JobSchema, tracked.job);
  }

  /** MaterializeIncremental(views, end): each view from its watermark. */
  async startIncremental(request: materializationV1.MaterializeIncrementalRequest): Promise<Job> {
    if (request.shardCount > 1 && request.endTime === undefined) {
      throw new RpcError(Code.INVALID_ARGUMENT, 'end_time: required with shard_count > 1, so that every shard of the run covers the same window');
    }
    checkWindowTimes({ end_time: request.endTime }, this.now().getTime(), this.options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
    const end = request.endTime === undefined ? this.now() : dateFromTimestamp(request.endTime);
    const project = this.project(request.project);
    const plans = this.plans(project, request.featureViews);
    const id = this.newJobId();
    const shard = runShardOf(request, id);
    this.locks.checkFree(project, plans, shard.runId);
    const states = await readStates(
      this.options.registry.service,
      project,
      plans.map((p) => p.name),
    );
    const now = this.now();
    const windows = new Map<string, { start: Date; end: Date }>();
    for (const plan of plans) {
      const state = states.get(plan.name);
      // A later shard of a run starts where the run's first shard did (the
      // registry refuses a shard whose window differs), so all read the same rows.
      const recorded = state !== undefined && state.leaseRunId === shard.runId && state.runShardCount > 0 ? state.runIntervalStart : undefined;
      const watermark = recorded ?? state?.watermark;
      // The first time: now - ttl (but never past the requested end), or the earliest data.
      const start =
        watermark !== undefined ? dateFromTimestamp(watermark) : plan.ttlMs > 0 ? new Date(Math.min(now.getTime(), end.getTime()) - plan.ttlMs) : new Date(0);
      windows.set(plan.name, { start, end });
    }
    const windowOf = (plan: ViewPlan): { start: Date; end: Date } => windows.get(plan.name)!;
    const leases = await acquireLeases(this.options.registry.service, this.options.leaseMs, { project, id, shard }, plans, windowOf);
    const tracked = this.track(id, shard, leases, project, materializationV1.JobKind.INCREMENTAL, plans, undefined, end, windowOf);
    return clone(materializationV1.JobSchema, tracked.job);
  }

  get(id: string): Job {
    return clone(materializationV1.JobSchema, this.book.find(id).job);
  }

  list(filter: JobFilter): { jobs: Job[]; nextPageToken: string } {
    return this.book.list(filter);
  }

  cancel(id: string): Job {
    const tracked = this.book.find(id);
    if (isFinal(tracked.job.state)) {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        `job '${id}' already finished (${materializationV1.JobState[tracked.job.state]}); only pending or running jobs can be cancelled`,
      );
    }
    tracked.controller.abort(new CancelledError());
    return clone(materializationV1.JobSchema, tracked.job);
  }

  /** The job now, then after every change, until it is final. */
  watch(id: string, signal: AbortSignal): AsyncGenerator<Job> {
    return this.book.watch(id, signal);
  }

  /** Waits for a job to finish (tests, the quickstart). */
  async wait(id: string): Promise<Job> {
    const tracked = this.book.find(id);
    await tracked.done;
    return clone(materializationV1.JobSchema, tracked.job);
  }

  /** Cancels every unfinished job and waits for them (shutdown). */
  async close(): Promise<void> {
    this.closing = true;
    const running = this.book.unfinished();
    for (const t of running) t.controller.abort(new CancelledError());
    await Promise.all(running.map((t) => t.done));
  }

  private project(requested: string): string {
    if (requested !== '') return requested;
    if (this.options.defaultProject !== '') return this.options.defaultProject;
    const names = this.options.registry.projectNames();
    if (names.length === 1) return names[0]!;
    throw new RpcError(
      Code.INVALID_ARGUMENT,
      names.length === 0
        ? 'project: the registry has no project yet; apply a feature repo first'
        : `project: required, the registry has several (${names.join(', ')})`,
    );
  }

  private plans(project: string, requested: readonly string[]): ViewPlan[] {
    if (this.closing) throw new RpcError(Code.UNAVAILABLE, 'the materialization service is shutting down');
    const projects = this.options.registry.projectNames();
    if (!projects.includes(project)) throw new RpcError(Code.NOT_FOUND, `project '${project}' not found (projects: ${projects.join(', ') || 'none'})`);
    const names = viewNames(this.options.registry, project, requested);
    if (names.length === 0) throw new RpcError(Code.FAILED_PRECONDITION, `project '${project}' has no online feature view with a batch source to materialize`);
    return names.map((name) => viewPlan(this.options.registry, project, name));
  }

  private newJobId(): string {
    return `${this.now()
      .toISOString()
      .replace(/[-:.TZ]/g, '')
      .slice(0, 14)}-${randomBytes(4).toString('hex')}`;
  }

  /** Records the accepted job, holds its views here and starts it with the leases' heartbeat. */
  private track(
    id: string,
    shard: RunShard,
    leases: ViewLease[],
    project: string,
    kind: materializationV1.JobKind,
    plans: ViewPlan[],
    start: Date | undefined,
    end: Date,
    windowOf: (plan: ViewPlan) => { start: Date; end: Date },
  ): Tracked {
    const tracked = this.book.add({ id, shard, leases, project, kind, plans, start, end, windowOf, shards: this.options.shards, createTime: this.now() });
    this.locks.take(project, plans, id, shard.runId);
    const stopHeartbeat = startHeartbeat(leases, this.options.leaseMs);
    tracked.done = runJob(this.runner, tracked).finally(() => {
      stopHeartbeat();
      this.locks.release(project, plans, id);
      this.book.evict();
    });
    return tracked;
  }
}
