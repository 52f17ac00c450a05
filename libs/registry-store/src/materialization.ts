import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Duration, Timestamp } from '@bufbuild/protobuf/wkt';
import { registryV1 } from '@larder/proto';
import { RegistryStoreError, invalidArgument } from './errors';

const S = registryV1.MaterializationStatus;
type State = registryV1.MaterializationState;
type Update = registryV1.UpdateMaterializationStateRequest;

/** Leases longer than a day are a mistake (a dead replica would block the view for that long). */
const MAX_LEASE_MS = 24 * 3600_000;

export function checkMaterializationUpdate(req: Update): void {
  if (req.project === '') throw invalidArgument('project: required');
  if (req.featureView === '') throw invalidArgument('feature_view: required');
  if (req.jobId === '') throw invalidArgument('job_id: required');
  if (req.status === S.UNSPECIFIED || S[req.status] === undefined) throw invalidArgument('status: one of RUNNING, SUCCEEDED, FAILED, CANCELLED is required');
  if (req.status === S.SUCCEEDED && req.watermark === undefined) throw invalidArgument('watermark: required when status is SUCCEEDED');
  if (req.shardCount < 0) throw invalidArgument(`shard_count: must not be negative, got ${req.shardCount}`);
  if (req.shardIndex < 0 || req.shardIndex >= Math.max(1, req.shardCount)) {
    throw invalidArgument(`shard_index: must be in [0, shard_count), got ${req.shardIndex} of ${Math.max(1, req.shardCount)}`);
  }
  if (req.leaseDuration !== undefined) {
    const ms = durationMs(req.leaseDuration);
    if (ms <= 0 || ms > MAX_LEASE_MS) throw invalidArgument(`lease_duration: must be positive and at most 24h, got ${ms} ms`);
  }
  if (req.status === S.RUNNING && req.shardCount > 1 && req.leaseDuration === undefined) {
    throw invalidArgument('lease_duration: required with RUNNING when shard_count > 1 (the shards of a run share a lease)');
  }
}

/**
 * The one record kept per view, with its lease. The last job's report
 * replaces the previous one, and the watermark becomes the later of the
 * stored one and a SUCCEEDED report's, so a late report never moves it back.
 *
 * The lease belongs to a run (the shards of one run share it): while it is
 * unexpired, every report from another run is refused with
 * FAILED_PRECONDITION, so two runs never interleave on a view and a run that
 * lost its lease (it stopped renewing, another took over) cannot advance the
 * watermark. A sharded run's SUCCEEDED reports are collected; only the one
 * completing the set advances the watermark. Callers run this under the
 * store's write lock (file) or in a transaction holding the view's lock
 * (PostgreSQL), so the read-check-write is atomic.
 */
export function mergeMaterializationState(previous: State | undefined, req: Update, now: Timestamp): State {
  const run = req.runId === '' ? req.jobId : req.runId;
  const shards = Math.max(1, req.shardCount);
  const nowMs = timestampDate(now).getTime();
  const next = create(registryV1.MaterializationStateSchema, {
    ...(previous !== undefined && copyLease(previous)),
    featureView: req.featureView,
    ...(previous?.watermark !== undefined && { watermark: previous.watermark }),
    lastJobId: req.jobId,
    lastJobStatus: req.status,
    lastError: req.status === S.FAILED ? req.error : '',
    ...(req.intervalStart !== undefined && { lastIntervalStart: req.intervalStart }),
    ...(req.intervalEnd !== undefined && { lastIntervalEnd: req.intervalEnd }),
    updatedTime: now,
  });
  const held = previous !== undefined && leaseHeld(previous, nowMs);
  const mine = previous !== undefined && previous.leaseRunId === run;
  if (held && !mine) throw refusal(previous, req, run);
  const inRun = mine && previous.runShardCount > 0;
  const renewal = (): Timestamp | undefined => {
    if (req.leaseDuration === undefined) return next.leaseExpireTime;
    const until = nowMs + durationMs(req.leaseDuration);
    const current = next.leaseExpireTime === undefined ? 0 : timestampDate(next.leaseExpireTime).getTime();
    return timestampFromMs(Math.max(current, until));
  };

  if (req.status === S.RUNNING) {
    if (inRun) {
      checkSameRun(previous, req, run, shards);
    } else if (req.leaseDuration !== undefined) {
      startRun(next, run, shards, req);
    }
    if (req.leaseDuration !== undefined) {
      next.leaseJobId = req.jobId;
      setExpiry(next, renewal());
    }
    return next;
  }

  if (req.status === S.SUCCEEDED) {
    if (!inRun) {
      if (shards > 1) {
        throw new RegistryStoreError(
          'PRECONDITION',
          `shard ${req.shardIndex} of run ${run} (job ${req.jobId}) has no run in progress on feature view ` +
            `'${req.featureView}' (its lease expired and another run took over, or the run already finished); the ` +
            `watermark was not advanced: rerun every shard of the run`,
        );
      }
      advance(next, req.watermark);
      return next;
    }
    checkSameRun(previous, req, run, shards);
    const succeeded = new Set(previous.runShardsSucceeded).add(req.shardIndex);
    if (succeeded.size >= previous.runShardCount) {
      advance(next, req.watermark);
      endRun(next, now);
      return next;
    }
    // Other shards are still to come: the view stays RUNNING, and the lease is kept for them.
    next.runShardsSucceeded = [...succeeded].sort((a, b) => a - b);
    next.lastJobStatus = S.RUNNING;
    setExpiry(next, renewal());
    return next;
  }

  // FAILED or CANCELLED: the run lets go of the lease (any other run may take
  // the view now) but keeps its record, so rerunning the failed shard under
  // the same run id completes the run unless another run took over first.
  if (inRun) setExpiry(next, now);
  return next;
}

/** Whether a run holds the view now (by the registry's clock). */
export function leaseHeld(state: State, nowMs: number): boolean {
  return state.leaseRunId !== '' && state.leaseExpireTime !== undefined && timestampDate(state.leaseExpireTime).getTime() > nowMs;
}

function refusal(holder: State, req: Update, run: string): RegistryStoreError {
  const until = timestampDate(holder.leaseExpireTime!).toISOString();
  // A run of one job is named by its job, as the materialization service reports it.
  const who =
    holder.leaseJobId === '' || holder.leaseJobId === holder.leaseRunId ? `job ${holder.leaseRunId}` : `run ${holder.leaseRunId} (job ${holder.leaseJobId})`;
  if (req.status === S.RUNNING) {
    return new RegistryStoreError(
      'PRECONDITION',
      `feature view '${req.featureView}' of project '${req.project}' is being materialized by ${who}, whose lease expires at ${until} unless renewed; wait for it to finish or cancel it, then retry`,
    );
  }
  return new RegistryStoreError(
    'PRECONDITION',
    `job ${req.jobId} of run ${run} no longer holds the lease on feature view '${req.featureView}' of project ` +
      `'${req.project}': ${who} took it over (lease until ${until}); this report was not recorded and the watermark ` +
      `did not move`,
  );
}

function checkSameRun(previous: State, req: Update, run: string, shards: number): void {
  if (shards !== previous.runShardCount) {
    throw new RegistryStoreError(
      'PRECONDITION',
      `run ${run} on feature view '${req.featureView}' was started with ${previous.runShardCount} shard(s), but job ${req.jobId} reports ${shards}; every shard of a run must use the same shard count`,
    );
  }
  const differs = (a: Timestamp | undefined, b: Timestamp | undefined): boolean => a !== undefined && b !== undefined && compareTimestamps(a, b) !== 0;
  if (differs(req.intervalStart, previous.runIntervalStart) || differs(req.intervalEnd, previous.runIntervalEnd)) {
    throw new RegistryStoreError(
      'PRECONDITION',
      `run ${run} on feature view '${req.featureView}' covers [${iso(previous.runIntervalStart)}, ` +
        `${iso(previous.runIntervalEnd)}], but job ${req.jobId} asks for [${iso(req.intervalStart)}, ` +
        `${iso(req.intervalEnd)}]; every shard of a run must cover the same window`,
    );
  }
}

function startRun(next: State, run: string, shards: number, req: Update): void {
  next.leaseRunId = run;
  next.runShardCount = shards;
  next.runShardsSucceeded = [];
  setRunInterval(next, req.intervalStart, req.intervalEnd);
  setExpiry(next, undefined);
}

function endRun(next: State, now: Timestamp): void {
  next.runShardCount = 0;
  next.runShardsSucceeded = [];
  setRunInterval(next, undefined, undefined);
  setExpiry(next, now);
}

function advance(next: State, watermark: Timestamp | undefined): void {
  if (watermark !== undefined && (next.watermark === undefined || compareTimestamps(watermark, next.watermark) > 0)) next.watermark = watermark;
}

function setExpiry(next: State, at: Timestamp | undefined): void {
  if (at === undefined) delete next.leaseExpireTime;
  else next.leaseExpireTime = at;
}

function setRunInterval(next: State, start: Timestamp | undefined, end: Timestamp | undefined): void {
  if (start === undefined) delete next.runIntervalStart;
  else next.runIntervalStart = start;
  if (end === undefined) delete next.runIntervalEnd;
  else next.runIntervalEnd = end;
}

function copyLease(previous: State) {
  return {
    leaseRunId: previous.leaseRunId,
    leaseJobId: previous.leaseJobId,
    ...(previous.leaseExpireTime !== undefined && { leaseExpireTime: previous.leaseExpireTime }),
    runShardCount: previous.runShardCount,
    runShardsSucceeded: [...previous.runShardsSucceeded],
    ...(previous.runIntervalStart !== undefined && { runIntervalStart: previous.runIntervalStart }),
    ...(previous.runIntervalEnd !== undefined && { runIntervalEnd: previous.runIntervalEnd }),
  };
}

function durationMs(d: Duration): number {
  return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
}

const iso = (t: Timestamp | undefined): string => (t === undefined ? '?' : timestampDate(t).toISOString());

export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1;
  return a.nanos - b.nanos;
}
