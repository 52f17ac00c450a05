import { randomBytes } from 'node:crypto';
import { clone, create } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { dateFromTimestamp, epochMicros, isoMicros, timestampParts } from '@larder/offline-store';
import type { OfflineStore } from '@larder/offline-store';
import type { OnlineStore } from '@larder/online-store';
import { DEFAULT_MAX_FUTURE_SKEW_MS } from '@larder/core';
import { materializationV1, registryV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { Logger, RpcClient } from '@larder/rpc';
import { GroupedCopier } from './merge-copy';
import { ViewLease, runShardOf, shardRanges, startHeartbeat } from './lease';
import type { RunShard } from './lease';
import { checkWindowTimes } from './request-times';
import { validateBatch } from './validate-batch';
import { viewNames, viewPlan } from './view-plan';
import type { RegistryView, ViewPlan } from './view-plan';

// Windows and watermarks to the microsecond, as sources store event times: protobuf-es's
// timestampDate stops at the millisecond, which would move a window's edge across rows.
const timestampFromDate = (date: Date): Timestamp => create(TimestampSchema, timestampParts(date));

const S = materializationV1.JobState;
const M = registryV1.MaterializationStatus;
type Job = materializationV1.Job;
type ViewProgress = materializationV1.ViewProgress;

/** What the job manager needs of the registry: definitions (a RegistryClient's copy) and the state rpcs. */
export interface RegistryAccess extends RegistryView {
  projectNames(): string[];
  readonly service: Pick<RpcClient<typeof registryV1.RegistryService>, 'getMaterializationState' | 'updateMaterializationState'>;
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

export interface JobFilter {
  project: string;
  states: readonly materializationV1.JobState[];
  featureView: string;
  pageSize: number;
  pageToken: string;
}

interface Tracked {
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

export const isFinal = (state: materializationV1.JobState): boolean => state === S.SUCCEEDED || state === S.FAILED || state === S.CANCELLED;

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 50;

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
  private readonly jobs = new Map<string, Tracked>();
  /** `project/view` -> the job holding it here, and its run. */
  private readonly locks = new Map<string, { job: string; run: string }>();
  private seq = 0;
  private closing = false;
  private readonly now: () => Date;

  constructor(private readonly options: JobManagerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Materialize(views, start, end). */
  async startRange(request: materializationV1.MaterializeRequest): Promise<Job> {
    if (request.startTime === undefined) throw new RpcError(Code.INVALID_ARGUMENT, 'start_time: required');
    if (request.endTime === undefined) throw new RpcError(Code.INVALID_ARGUMENT, 'end_time: required');
    checkWindowTimes({ start_time: request.startTime, end_time: request.endTime }, this.now().getTime(), this.options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
    const start = dateFromTimestamp(request.startTime);
    const end = dateFromTimestamp(request.endTime);
    if (epochMicros(start) >= epochMicros(end)) {
      throw new RpcError(Code.INVALID_ARGUMENT, `start_time (${isoMicros(start)}) must be before end_time (${isoMicros(end)}): the window is ${epochMicros(start) === epochMicros(end) ? 'empty' : 'inverted'}`);
    }
    const project = this.project(request.project);
    const plans = this.plans(project, request.featureViews);
    const id = this.newJobId();
    const shard = runShardOf(request, id);
    this.checkFree(project, plans, shard.runId);
    const leases = await this.acquire(project, id, shard, plans, () => ({ start, end }));
    const tracked = this.track(id, shard, leases, project, materializationV1.JobKind.RANGE, plans, start, end, () => ({ start, end }));
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
    this.checkFree(project, plans, shard.runId);
    const states = await this.readStates(project, plans.map((p) => p.name));
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
    const leases = await this.acquire(project, id, shard, plans, (plan) => windows.get(plan.name)!);
    const tracked = this.track(id, shard, leases, project, materializationV1.JobKind.INCREMENTAL, plans, undefined, end, (plan) => windows.get(plan.name)!);
    return clone(materializationV1.JobSchema, tracked.job);
  }

  get(id: string): Job {
    return clone(materializationV1.JobSchema, this.find(id).job);
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

  cancel(id: string): Job {
    const tracked = this.find(id);
    if (isFinal(tracked.job.state)) {
      throw new RpcError(Code.FAILED_PRECONDITION, `job '${id}' already finished (${S[tracked.job.state]}); only pending or running jobs can be cancelled`);
    }
    tracked.controller.abort(new CancelledError());
    return clone(materializationV1.JobSchema, tracked.job);
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

  /** Waits for a job to finish (tests, the quickstart). */
  async wait(id: string): Promise<Job> {
    const tracked = this.find(id);
    await tracked.done;
    return clone(materializationV1.JobSchema, tracked.job);
  }

  /** Cancels every unfinished job and waits for them (shutdown). */
  async close(): Promise<void> {
    this.closing = true;
    const running = [...this.jobs.values()].filter((t) => !isFinal(t.job.state));
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
      names.length === 0 ? 'project: the registry has no project yet; apply a feature repo first' : `project: required, the registry has several (${names.join(', ')})`,
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

  /** The in-process check: refuses before asking the registry. Shards of one run may share a replica. */
  private checkFree(project: string, plans: readonly ViewPlan[], run: string): void {
    for (const plan of plans) {
      const holder = this.locks.get(`${project}/${plan.name}`);
      if (holder !== undefined && holder.run !== run) {
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `feature view '${plan.name}' is being materialized by job ${holder.job}; wait for it to finish (WatchJob) or cancel it (CancelJob), then retry`,
        );
      }
    }
  }

  private newJobId(): string {
    return `${this.now().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(4).toString('hex')}`;
  }

  /**
   * Takes each view's lease in the registry before the job is accepted, so
   * a run already holding a view (on any replica) refuses this one at once.
   * On a refusal the leases already taken are given back.
   */
  private async acquire(
    project: string,
    jobId: string,
    shard: RunShard,
    plans: readonly ViewPlan[],
    windowOf: (plan: ViewPlan) => { start: Date; end: Date },
  ): Promise<ViewLease[]> {
    const leases: ViewLease[] = [];
    try {
      for (const plan of plans) {
        const window = windowOf(plan);
        const lease = new ViewLease({
          service: this.options.registry.service,
          project,
          view: plan.name,
          jobId,
          shard,
          leaseMs: this.options.leaseMs,
          interval: { start: timestampFromDate(window.start), end: timestampFromDate(window.end) },
          now: () => Date.now(),
        });
        await lease.acquire();
        leases.push(lease);
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      await Promise.all(leases.map((l) => l.finish(M.CANCELLED, { error: `not started: ${reason}` }).catch(() => undefined)));
      if (error instanceof RpcError && [Code.FAILED_PRECONDITION, Code.INVALID_ARGUMENT, Code.NOT_FOUND].includes(error.code)) {
        throw new RpcError(error.code, error.message);
      }
      throw new RpcError(Code.UNAVAILABLE, `could not take the views' leases in the registry: ${reason}`, { cause: error });
    }
    return leases;
  }

  private async readStates(project: string, views: string[]): Promise<Map<string, registryV1.MaterializationState>> {
    let states: registryV1.MaterializationState[];
    try {
      states = (await this.options.registry.service.getMaterializationState({ project, featureViews: views }, { timeoutMs: 10_000 })).states;
    } catch (error) {
      throw new RpcError(Code.UNAVAILABLE, `could not read the views' watermarks from the registry: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return new Map(states.map((s) => [s.featureView, s]));
  }

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
    const job = create(materializationV1.JobSchema, {
      id,
      project,
      kind,
      state: S.PENDING,
      ...(start !== undefined && { startTime: timestampFromDate(start) }),
      endTime: timestampFromDate(end),
      createTime: timestampFromDate(this.now()),
      runId: shard.runId,
      shardIndex: shard.index,
      shardCount: shard.count,
      views: plans.map((plan) => {
        const window = windowOf(plan);
        return {
          featureView: plan.name,
          state: S.PENDING,
          startTime: timestampFromDate(window.start),
          endTime: timestampFromDate(window.end),
          shardCount: this.options.shards,
        };
      }),
    });
    // The registry's leases are the real lock; this one lets the next request on this replica be refused without asking.
    for (const plan of plans) this.locks.set(`${project}/${plan.name}`, { job: id, run: shard.runId });
    let notify = (): void => {};
    const tracked: Tracked = {
      seq: ++this.seq,
      job,
      controller: new AbortController(),
      plans,
      shard,
      leases,
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
    this.jobs.set(id, tracked);
    const stopHeartbeat = startHeartbeat(leases, this.options.leaseMs);
    tracked.done = this.run(tracked).finally(() => {
      stopHeartbeat();
      for (const plan of plans) if (this.locks.get(`${project}/${plan.name}`)?.job === id) this.locks.delete(`${project}/${plan.name}`);
      this.evict();
    });
    return tracked;
  }

  private async run(tracked: Tracked): Promise<void> {
    const { job } = tracked;
    const log = this.options.logger.child({ job: job.id, project: job.project });
    // Let Materialize answer with the PENDING job before any work starts.
    await new Promise((resolve) => setImmediate(resolve));
    job.state = S.RUNNING;
    job.runTime = timestampFromDate(this.now());
    tracked.notify();
    log.info('materialization job running', { views: job.views.map((v) => v.featureView) });
    // Views sharing join keys run together and are copied in one merged pass (one write
    // per entity for all of them); viewConcurrency bounds the groups running at once.
    const copier = new GroupedCopier(this.options.offline, this.options.online, tracked.plans);
    const queue = copier.groups.map((group) => group.map((plan) => ({ plan, progress: job.views[tracked.plans.indexOf(plan)]! })));
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        await Promise.all(next.map(({ plan, progress }) => this.runView(tracked, plan, progress, log, copier).finally(() => copier.leave(plan))));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.viewConcurrency, queue.length) }, worker));
    const failed = job.views.filter((v) => v.state === S.FAILED);
    if (failed.length > 0) {
      job.state = S.FAILED;
      job.error = failed.map((v) => `${v.featureView}: ${v.error}`).join('; ');
    } else if (job.views.some((v) => v.state === S.CANCELLED)) job.state = S.CANCELLED;
    else job.state = S.SUCCEEDED;
    job.finishTime = timestampFromDate(this.now());
    tracked.notify();
    log.info('materialization job finished', { state: S[job.state], error: job.error });
  }

  private async runView(tracked: Tracked, plan: ViewPlan, progress: ViewProgress, log: Logger, copier: GroupedCopier): Promise<void> {
    const { job, controller } = tracked;
    const lease = tracked.leases[tracked.plans.indexOf(plan)]!;
    if (controller.signal.aborted) {
      progress.state = S.CANCELLED;
      tracked.notify();
      await lease.finish(M.CANCELLED, {}).catch((e: unknown) => log.warn('could not release the lease in the registry', { view: plan.name, error: String(e) }));
      return;
    }
    // The copy stops on a cancel, and when the view's lease is lost (another run took it over).
    const signal = AbortSignal.any([controller.signal, lease.lost.signal]);
    const start = dateFromTimestamp(progress.startTime!);
    const end = dateFromTimestamp(progress.endTime!);
    // RUNNING renews the lease; the final reports release it (and SUCCEEDED is refused when the lease was lost).
    const report = (status: registryV1.MaterializationStatus, extra: { watermark?: Timestamp; error?: string } = {}) =>
      status === M.RUNNING ? lease.acquire() : lease.finish(status, extra);
    progress.state = S.RUNNING;
    tracked.notify();
    try {
      await report(M.RUNNING);
      // An incremental view already at its end has nothing to read.
      if (epochMicros(start) < epochMicros(end)) {
        // The batch's statistics against the view's schema, before anything is written.
        const check = await validateBatch(this.options.offline, plan, start, end, signal);
        if (check !== undefined) {
          if (plan.validation?.policy === 'warn') log.warn('the batch breaks the view schema; written anyway (materialization: warn)', { view: plan.name, anomalies: check.summary });
          else throw new RpcError(Code.FAILED_PRECONDITION, `the batch breaks the view's schema, nothing was written (materialization: fail): ${check.summary}`);
        }
        // This job's shard of the run, split into the replica's own parallel streams.
        await Promise.all(
          shardRanges(tracked.shard, this.options.shards).map(async (range) => {
            const copied = await copier.copy(plan, {
              start,
              end,
              ...(range && { shard: range }),
              chunkRows: this.options.chunkRows,
              writesInFlight: this.options.writesInFlight,
              writeTimeoutMs: this.options.writeTimeoutMs,
              signal,
              onProgress: ({ read, written }) => {
                progress.rowsRead += BigInt(read);
                progress.rowsWritten += BigInt(written);
                tracked.notify();
              },
            });
            if (copied.valuesNulled > 0) {
              log.warn('NaN or ±Infinity feature values in the source were written as null', { view: plan.name, values: copied.valuesNulled });
            }
            progress.shardsCompleted++;
            tracked.notify();
          }),
        );
      } else {
        progress.shardsCompleted = progress.shardCount;
      }
      await report(M.SUCCEEDED, { watermark: await this.watermarkAfter(job, plan, end) });
      progress.state = S.SUCCEEDED;
    } catch (error) {
      if (controller.signal.aborted && error === controller.signal.reason) {
        progress.state = S.CANCELLED;
        await report(M.CANCELLED).catch((e: unknown) => log.warn('could not record the cancellation in the registry', { view: plan.name, error: String(e) }));
      } else {
        progress.state = S.FAILED;
        progress.error = describe(error);
        log.warn('materialization of a view failed', { view: plan.name, error: progress.error });
        await report(M.FAILED, { error: progress.error }).catch((e: unknown) =>
          log.warn('could not record the failure in the registry', { view: plan.name, error: String(e) }),
        );
      }
    }
    tracked.notify();
  }

  /**
   * The watermark to report after a view's window was written. Incremental:
   * the window's end. Range: the end only when the window reaches back to the
   * stored watermark (or the view was never materialized); a window that
   * leaves a gap keeps the stored watermark, since rows in the gap are not online.
   */
  private async watermarkAfter(job: Job, plan: ViewPlan, end: Date): Promise<Timestamp> {
    const endTs = timestampFromDate(end);
    if (job.kind === materializationV1.JobKind.INCREMENTAL) return endTs;
    const stored = (await this.readStates(job.project, [plan.name])).get(plan.name)?.watermark;
    if (stored === undefined) return endTs;
    return epochMicros(dateFromTimestamp(job.startTime!)) <= epochMicros(dateFromTimestamp(stored)) ? endTs : stored;
  }

  private find(id: string): Tracked {
    const tracked = this.jobs.get(id);
    if (tracked === undefined) {
      throw new RpcError(
        Code.NOT_FOUND,
        `job '${id}' not found (this replica keeps unfinished jobs and the last ${this.options.jobHistory} finished ones; the registry's materialization state has each view's last job)`,
      );
    }
    return tracked;
  }

  private evict(): void {
    const finished = [...this.jobs.values()].filter((t) => isFinal(t.job.state));
    for (const t of finished.slice(0, Math.max(0, finished.length - this.options.jobHistory))) this.jobs.delete(t.job.id);
  }
}

/** A reason a person can act on; store errors already name the store and what failed. */
function describe(error: unknown): string {
  if (error instanceof RpcError) return error.message;
  if (error instanceof Error) return `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`;
  return String(error);
}
