import { registryV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { RpcClient } from '@larder/rpc';
import { timestampFromDate } from './job-book';
import { ViewLease } from './lease';
import type { RunShard } from './lease';
import type { ViewPlan } from './view-plan';

const M = registryV1.MaterializationStatus;

/** The registry rpcs that hold views' watermarks and leases. */
export type StateService = Pick<RpcClient<typeof registryV1.RegistryService>, 'getMaterializationState' | 'updateMaterializationState'>;

/**
 * The in-process lock: `project/view` -> the job holding it here, and its run. The
 * registry's leases are the real lock; this one lets the next request on this replica be
 * refused without asking. Shards of one run may share a replica.
 */
export class LocalViewLocks {
  private readonly held = new Map<string, { job: string; run: string }>();

  /** Refuses (FAILED_PRECONDITION naming the holder) when another run holds a view here. */
  checkFree(project: string, plans: readonly ViewPlan[], run: string): void {
    for (const plan of plans) {
      const holder = this.held.get(`${project}/${plan.name}`);
      if (holder !== undefined && holder.run !== run) {
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `feature view '${plan.name}' is being materialized by job ${holder.job}; wait for it to finish (WatchJob) or cancel it (CancelJob), then retry`,
        );
      }
    }
  }

  take(project: string, plans: readonly ViewPlan[], job: string, run: string): void {
    for (const plan of plans) this.held.set(`${project}/${plan.name}`, { job, run });
  }

  /** Gives back the views `job` still holds (another job of its run may hold them now). */
  release(project: string, plans: readonly ViewPlan[], job: string): void {
    for (const plan of plans) if (this.held.get(`${project}/${plan.name}`)?.job === job) this.held.delete(`${project}/${plan.name}`);
  }
}

/**
 * Takes each view's lease in the registry before the job is accepted, so
 * a run already holding a view (on any replica) refuses this one at once.
 * On a refusal the leases already taken are given back.
 */
export async function acquireLeases(
  service: StateService,
  leaseMs: number,
  job: { project: string; id: string; shard: RunShard },
  plans: readonly ViewPlan[],
  windowOf: (plan: ViewPlan) => { start: Date; end: Date },
): Promise<ViewLease[]> {
  const leases: ViewLease[] = [];
  try {
    for (const plan of plans) {
      const window = windowOf(plan);
      const lease = new ViewLease({
        service,
        project: job.project,
        view: plan.name,
        jobId: job.id,
        shard: job.shard,
        leaseMs,
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

/** The views' materialization states (watermarks, leases) in the registry, by view. */
export async function readStates(service: StateService, project: string, views: string[]): Promise<Map<string, registryV1.MaterializationState>> {
  let states: registryV1.MaterializationState[];
  try {
    states = (await service.getMaterializationState({ project, featureViews: views }, { timeoutMs: 10_000 })).states;
  } catch (error) {
    throw new RpcError(Code.UNAVAILABLE, `could not read the views' watermarks from the registry: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return new Map(states.map((s) => [s.featureView, s]));
}
