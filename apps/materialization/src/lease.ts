// Scale-out across replicas: a job holds each of its views through a lease in
// the registry's materialization state (the one place every replica talks
// to), renewed by a heartbeat, and may be one shard of a run shared by jobs
// on several replicas.
import { create } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { registryV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { RpcClient } from '@larder/rpc';

const M = registryV1.MaterializationStatus;
type StateService = Pick<RpcClient<typeof registryV1.RegistryService>, 'updateMaterializationState'>;

/** This job's part of a run: shard `index` of `count` (0 of 1 when the job is the whole run). */
export interface RunShard {
  readonly runId: string;
  readonly index: number;
  readonly count: number;
}

/** Checks a request's shard fields; the run defaults to the job alone. */
export function runShardOf(request: { shardIndex: number; shardCount: number; runId: string }, jobId: string): RunShard {
  const count = request.shardCount === 0 ? 1 : request.shardCount;
  if (count < 1 || count > 4096) throw new RpcError(Code.INVALID_ARGUMENT, `shard_count: must be between 1 and 4096 (0 means 1), got ${request.shardCount}`);
  if (request.shardIndex < 0 || request.shardIndex >= count) {
    throw new RpcError(Code.INVALID_ARGUMENT, `shard_index: must be in [0, shard_count), got ${request.shardIndex} of ${count}`);
  }
  if (count > 1 && request.runId === '') {
    throw new RpcError(Code.INVALID_ARGUMENT, 'run_id: required with shard_count > 1, so that the shards of the run share its lease and complete it together');
  }
  if (request.runId.length > 200) throw new RpcError(Code.INVALID_ARGUMENT, 'run_id: at most 200 characters');
  return { runId: request.runId === '' ? jobId : request.runId, index: request.shardIndex, count };
}

/**
 * The hash ranges this job reads for a view: its shard of the run, split
 * further into `local` parallel streams. A key with hash h is in run shard
 * h mod count; the streams use the finer modulus count × local and take
 * index + count × k, which are exactly the keys of that run shard.
 * Undefined: the whole key space in one stream.
 */
export function shardRanges(shard: RunShard, local: number): ({ index: number; count: number } | undefined)[] {
  const total = shard.count * local;
  if (total === 1) return [undefined];
  return Array.from({ length: local }, (_, k) => ({ index: shard.index + shard.count * k, count: total }));
}

/** The view's lease is gone: another run took it over, or it could not be renewed before it expired. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

export interface ViewLeaseOptions {
  readonly service: StateService;
  readonly project: string;
  readonly view: string;
  readonly jobId: string;
  readonly shard: RunShard;
  readonly leaseMs: number;
  interval: { start: Timestamp; end: Timestamp };
  readonly now: () => number;
}

/**
 * One view's lease held by one job. Every report goes through one queue, so
 * a heartbeat never reaches the registry after the final report (it would
 * take the lease again for a finished run).
 */
export class ViewLease {
  /** Aborted with a LeaseLostError when the lease is lost; the view's copy stops. */
  readonly lost = new AbortController();
  private held = false;
  private queue: Promise<unknown> = Promise.resolve();
  private renewedAt = 0;

  constructor(private readonly options: ViewLeaseOptions) {}

  get isHeld(): boolean {
    return this.held;
  }

  /** RUNNING with a lease: acquires it, or renews it. Refusals come back as the registry's FAILED_PRECONDITION. */
  acquire(): Promise<registryV1.MaterializationState> {
    return this.enqueue(async () => {
      const state = await this.send(M.RUNNING, {});
      this.held = true;
      this.renewedAt = this.options.now();
      return state;
    });
  }

  /** The heartbeat: renews while held; marks the lease lost when the registry refuses or stays silent past the expiry. */
  renew(): Promise<void> {
    return this.enqueue(async () => {
      if (!this.held) return;
      try {
        await this.send(M.RUNNING, {});
        this.renewedAt = this.options.now();
      } catch (error) {
        if (!this.held) return;
        if (error instanceof RpcError && error.code === Code.FAILED_PRECONDITION) {
          this.loseWith(`lost the lease on feature view '${this.options.view}': ${error.message}`);
        } else if (this.options.now() - this.renewedAt >= this.options.leaseMs) {
          const reason = error instanceof Error ? error.message : String(error);
          this.loseWith(
            `could not renew the lease on feature view '${this.options.view}' before it expired (${reason}); another replica may have taken the view over`,
          );
        }
      }
    });
  }

  /** A final report (SUCCEEDED, FAILED, CANCELLED): releases the lease; no heartbeat follows it. */
  finish(status: registryV1.MaterializationStatus, extra: { watermark?: Timestamp; error?: string }): Promise<registryV1.MaterializationState> {
    this.held = false;
    return this.enqueue(() => this.send(status, extra));
  }

  private loseWith(message: string): void {
    this.held = false;
    this.lost.abort(new LeaseLostError(message));
  }

  private send(status: registryV1.MaterializationStatus, extra: { watermark?: Timestamp; error?: string }): Promise<registryV1.MaterializationState> {
    const o = this.options;
    return o.service
      .updateMaterializationState(
        {
          project: o.project,
          featureView: o.view,
          jobId: o.jobId,
          runId: o.shard.runId,
          shardIndex: o.shard.index,
          shardCount: o.shard.count,
          status,
          intervalStart: o.interval.start,
          intervalEnd: o.interval.end,
          ...(status === M.RUNNING && { leaseDuration: leaseDuration(o.leaseMs) }),
          ...extra,
        },
        { timeoutMs: 10_000 },
      )
      .then((r) => r.state!);
  }

  private enqueue<R>(work: () => Promise<R>): Promise<R> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** Renews a job's held leases every third of the lease duration until stopped. */
export function startHeartbeat(leases: readonly ViewLease[], leaseMs: number): () => void {
  const timer = setInterval(
    () => {
      for (const lease of leases) if (lease.isHeld) void lease.renew();
    },
    Math.max(50, Math.floor(leaseMs / 3)),
  );
  timer.unref();
  return () => clearInterval(timer);
}

function leaseDuration(ms: number) {
  return create(DurationSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
}
