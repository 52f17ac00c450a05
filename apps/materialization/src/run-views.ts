import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { dateFromTimestamp, epochMicros } from '@larder/offline-store';
import type { OfflineStore } from '@larder/offline-store';
import type { OnlineStore } from '@larder/online-store';
import { materializationV1, registryV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { Logger } from '@larder/rpc';
import { timestampFromDate } from './job-book';
import type { Tracked } from './job-book';
import { readStates } from './job-leases';
import type { StateService } from './job-leases';
import { shardRanges } from './lease';
import { GroupedCopier } from './merge-copy';
import { validateBatch } from './validate-batch';
import type { ViewPlan } from './view-plan';

const S = materializationV1.JobState;
const M = registryV1.MaterializationStatus;
type Job = materializationV1.Job;
type ViewProgress = materializationV1.ViewProgress;

/** What running a job takes: the stores, the registry's state rpcs and the copy's limits. */
export interface JobRunner {
  offline: OfflineStore;
  online: OnlineStore;
  service: StateService;
  logger: Logger;
  /** The replica's parallel streams per view. */
  shards: number;
  viewConcurrency: number;
  chunkRows: number;
  writesInFlight: number;
  writeTimeoutMs: number;
  now: () => Date;
}

/** Runs a tracked job to its final state, updating its record and notifying watchers as it goes. */
export async function runJob(runner: JobRunner, tracked: Tracked): Promise<void> {
  const { job } = tracked;
  const log = runner.logger.child({ job: job.id, project: job.project });
  // Let Materialize answer with the PENDING job before any work starts.
  await new Promise((resolve) => setImmediate(resolve));
  job.state = S.RUNNING;
  job.runTime = timestampFromDate(runner.now());
  tracked.notify();
  log.info('materialization job running', { views: job.views.map((v) => v.featureView) });
  // Views sharing join keys run together and are copied in one merged pass (one write
  // per entity for all of them); viewConcurrency bounds the groups running at once.
  const copier = new GroupedCopier(runner.offline, runner.online, tracked.plans);
  const queue = copier.groups.map((group) => group.map((plan) => ({ plan, progress: job.views[tracked.plans.indexOf(plan)]! })));
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      await Promise.all(next.map(({ plan, progress }) => runView(runner, tracked, plan, progress, log, copier).finally(() => copier.leave(plan))));
    }
  };
  await Promise.all(Array.from({ length: Math.min(runner.viewConcurrency, queue.length) }, worker));
  const failed = job.views.filter((v) => v.state === S.FAILED);
  if (failed.length > 0) {
    job.state = S.FAILED;
    job.error = failed.map((v) => `${v.featureView}: ${v.error}`).join('; ');
  } else if (job.views.some((v) => v.state === S.CANCELLED)) job.state = S.CANCELLED;
  else job.state = S.SUCCEEDED;
  job.finishTime = timestampFromDate(runner.now());
  tracked.notify();
  log.info('materialization job finished', { state: S[job.state], error: job.error });
}

async function runView(runner: JobRunner, tracked: Tracked, plan: ViewPlan, progress: ViewProgress, log: Logger, copier: GroupedCopier): Promise<void> {
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
      const check = await validateBatch(runner.offline, plan, start, end, signal);
      if (check !== undefined) {
        if (plan.validation?.policy === 'warn')
          log.warn('the batch breaks the view schema; written anyway (materialization: warn)', { view: plan.name, anomalies: check.summary });
        else throw new RpcError(Code.FAILED_PRECONDITION, `the batch breaks the view's schema, nothing was written (materialization: fail): ${check.summary}`);
      }
      // This job's shard of the run, split into the replica's own parallel streams.
      await Promise.all(
        shardRanges(tracked.shard, runner.shards).map(async (range) => {
          const copied = await copier.copy(plan, {
            start,
            end,
            ...(range && { shard: range }),
            chunkRows: runner.chunkRows,
            writesInFlight: runner.writesInFlight,
            writeTimeoutMs: runner.writeTimeoutMs,
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
    await report(M.SUCCEEDED, { watermark: await watermarkAfter(runner.service, job, plan, end) });
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
async function watermarkAfter(service: StateService, job: Job, plan: ViewPlan, end: Date): Promise<Timestamp> {
  const endTs = timestampFromDate(end);
  if (job.kind === materializationV1.JobKind.INCREMENTAL) return endTs;
  const stored = (await readStates(service, job.project, [plan.name])).get(plan.name)?.watermark;
  if (stored === undefined) return endTs;
  return epochMicros(dateFromTimestamp(job.startTime!)) <= epochMicros(dateFromTimestamp(stored)) ? endTs : stored;
}

/** A reason a person can act on; store errors already name the store and what failed. */
function describe(error: unknown): string {
  if (error instanceof RpcError) return error.message;
  if (error instanceof Error) return `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`;
  return String(error);
}
