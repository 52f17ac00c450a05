// The materialization lease, on both stores: refusals, takeover of an
// expired lease, sharded runs, and atomicity across two store instances.
import { create } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { registryV1 } from '@larder/proto';
import type { RegistryStoreError } from './errors';
import type { RegistryStore } from './registry-store';
import { fileBackend, postgresBackend } from './testing/backends';
import type { Backend } from './testing/backends';
import { driverRequest, storeRejection as rejection } from './testing/fixtures';

const S = registryV1.MaterializationStatus;
const VIEW = 'driver_stats_0';

interface Report {
  job: string;
  run?: string;
  status: registryV1.MaterializationStatus;
  leaseMs?: number;
  shard?: [number, number];
  watermark?: number;
  interval?: [number, number];
}

function request(r: Report): registryV1.UpdateMaterializationStateRequest {
  return create(registryV1.UpdateMaterializationStateRequestSchema, {
    project: 'rides',
    featureView: VIEW,
    jobId: r.job,
    runId: r.run ?? '',
    status: r.status,
    ...(r.leaseMs !== undefined && { leaseDuration: { seconds: BigInt(Math.floor(r.leaseMs / 1000)), nanos: (r.leaseMs % 1000) * 1e6 } }),
    ...(r.shard && { shardIndex: r.shard[0], shardCount: r.shard[1] }),
    ...(r.watermark !== undefined && { watermark: { seconds: BigInt(r.watermark) } }),
    intervalStart: { seconds: BigInt(r.interval?.[0] ?? 100) },
    intervalEnd: { seconds: BigInt(r.interval?.[1] ?? 200) },
    ...(r.status === S.FAILED && { error: 'offline store unavailable' }),
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([
  ['file', fileBackend],
  ['postgres', postgresBackend],
] as const)('%s store: materialization leases', (_name, makeBackend) => {
  let backend: Backend;
  let store: RegistryStore;
  let other: RegistryStore;
  const report = (r: Report, on: RegistryStore = store) => on.updateMaterializationState(request(r));
  const state = async () => (await store.getMaterializationState('rides', [VIEW]))[0]!;

  beforeEach(async () => {
    backend = makeBackend();
    store = await backend.open();
    await store.apply(driverRequest('rides'));
    other = await backend.another();
  });
  afterEach(() => backend.cleanup());

  test('another run is refused while the lease is held, naming the holder and the expiry; the final report releases it', async () => {
    const acquired = await report({ job: 'job-a', status: S.RUNNING, leaseMs: 60_000 });
    expect(acquired).toMatchObject({ leaseRunId: 'job-a', leaseJobId: 'job-a', runShardCount: 1, lastJobStatus: S.RUNNING });
    const expiry = timestampDate(acquired.leaseExpireTime!);
    expect(expiry.getTime()).toBeGreaterThan(Date.now() + 50_000);

    const refused = await rejection(report({ job: 'job-b', status: S.RUNNING, leaseMs: 60_000 }, other));
    expect(refused.kind).toBe('PRECONDITION');
    expect(refused.message).toContain(`feature view '${VIEW}'`);
    expect(refused.message).toContain('being materialized by job job-a');
    expect(refused.message).toContain(expiry.toISOString());
    // Reports without a lease and final reports of other jobs are refused too: they would overwrite the holder's record.
    expect((await rejection(report({ job: 'job-b', status: S.RUNNING }, other))).kind).toBe('PRECONDITION');
    expect((await rejection(report({ job: 'job-b', status: S.SUCCEEDED, watermark: 999 }, other))).message).toContain('no longer holds the lease');
    expect((await state()).watermark).toBeUndefined();

    // Renewal by the holder extends the lease.
    const renewed = await report({ job: 'job-a', status: S.RUNNING, leaseMs: 120_000 });
    expect(timestampDate(renewed.leaseExpireTime!).getTime()).toBeGreaterThan(expiry.getTime());

    const done = await report({ job: 'job-a', status: S.SUCCEEDED, watermark: 200 });
    expect(done.watermark?.seconds).toBe(200n);
    expect(done.lastJobStatus).toBe(S.SUCCEEDED);
    expect(timestampDate(done.leaseExpireTime!).getTime()).toBeLessThanOrEqual(Date.now());
    expect((await report({ job: 'job-b', status: S.RUNNING, leaseMs: 60_000 }, other)).leaseRunId).toBe('job-b');
    // FAILED releases as well; the watermark stays.
    const failed = await report({ job: 'job-b', status: S.FAILED }, other);
    expect(failed).toMatchObject({ lastJobStatus: S.FAILED, lastError: 'offline store unavailable' });
    expect(failed.watermark?.seconds).toBe(200n);
    expect((await report({ job: 'job-c', status: S.RUNNING, leaseMs: 60_000 })).leaseRunId).toBe('job-c');
  });

  test('an expired lease is taken over, and the old holder can then neither renew nor advance the watermark', async () => {
    await report({ job: 'dead', status: S.RUNNING, leaseMs: 300 });
    expect((await rejection(report({ job: 'next', status: S.RUNNING, leaseMs: 60_000 }, other))).kind).toBe('PRECONDITION');
    await sleep(400);
    const taken = await report({ job: 'next', status: S.RUNNING, leaseMs: 60_000 }, other);
    expect(taken).toMatchObject({ leaseRunId: 'next', lastJobId: 'next' });
    const renew = await rejection(report({ job: 'dead', status: S.RUNNING, leaseMs: 300 }));
    expect(renew.kind).toBe('PRECONDITION');
    expect(renew.message).toContain('job next');
    expect((await rejection(report({ job: 'dead', status: S.SUCCEEDED, watermark: 500 }))).kind).toBe('PRECONDITION');
    expect((await state()).watermark).toBeUndefined();
    await report({ job: 'next', status: S.SUCCEEDED, watermark: 200 }, other);
    expect((await state()).watermark?.seconds).toBe(200n);
  });

  test('a sharded run: shards hold the lease together; the watermark advances when the last shard succeeds', async () => {
    await report({ job: 'j0', run: 'run-1', status: S.RUNNING, leaseMs: 60_000, shard: [0, 3] });
    await report({ job: 'j1', run: 'run-1', status: S.RUNNING, leaseMs: 60_000, shard: [1, 3] }, other);
    expect((await rejection(report({ job: 'x', run: 'run-2', status: S.RUNNING, leaseMs: 60_000, shard: [0, 3] }))).kind).toBe('PRECONDITION');
    // Every shard must agree on the count and the window.
    expect((await rejection(report({ job: 'j2', run: 'run-1', status: S.RUNNING, leaseMs: 60_000, shard: [2, 4] }))).message).toContain('same shard count');
    expect((await rejection(report({ job: 'j2', run: 'run-1', status: S.RUNNING, leaseMs: 60_000, shard: [2, 3], interval: [150, 200] }))).message).toContain(
      'same window',
    );

    const first = await report({ job: 'j1', run: 'run-1', status: S.SUCCEEDED, watermark: 200, shard: [1, 3] }, other);
    expect(first).toMatchObject({ lastJobStatus: S.RUNNING, runShardsSucceeded: [1] });
    expect(first.watermark).toBeUndefined();
    await report({ job: 'j0', run: 'run-1', status: S.SUCCEEDED, watermark: 200, shard: [0, 3] });
    // Shard 2 starts late (a sequential fan-out); the run's window is on record for it.
    const late = await report({ job: 'j2', run: 'run-1', status: S.RUNNING, leaseMs: 60_000, shard: [2, 3] });
    expect(late).toMatchObject({ runShardsSucceeded: [0, 1], runIntervalStart: { seconds: 100n }, runIntervalEnd: { seconds: 200n } });
    expect(late.watermark).toBeUndefined();
    const last = await report({ job: 'j2', run: 'run-1', status: S.SUCCEEDED, watermark: 200, shard: [2, 3] });
    expect(last).toMatchObject({ lastJobStatus: S.SUCCEEDED, runShardsSucceeded: [], runShardCount: 0 });
    expect(last.watermark?.seconds).toBe(200n);
    expect((await report({ job: 'y', status: S.RUNNING, leaseMs: 60_000 })).leaseRunId).toBe('y');
  });

  test('a failed shard leaves the watermark; rerunning it under the same run completes the run', async () => {
    await report({ job: 'j0', run: 'run-1', status: S.RUNNING, leaseMs: 60_000, shard: [0, 2] });
    await report({ job: 'j1', run: 'run-1', status: S.RUNNING, leaseMs: 60_000, shard: [1, 2] }, other);
    await report({ job: 'j0', run: 'run-1', status: S.SUCCEEDED, watermark: 200, shard: [0, 2] });
    const failed = await report({ job: 'j1', run: 'run-1', status: S.FAILED, shard: [1, 2] }, other);
    expect(failed).toMatchObject({ lastJobStatus: S.FAILED, runShardsSucceeded: [0] });
    expect(failed.watermark).toBeUndefined();
    const retry = await report({ job: 'j1-retry', run: 'run-1', status: S.RUNNING, leaseMs: 60_000, shard: [1, 2] });
    expect(retry.runShardsSucceeded).toEqual([0]);
    expect((await report({ job: 'j1-retry', run: 'run-1', status: S.SUCCEEDED, watermark: 200, shard: [1, 2] })).watermark?.seconds).toBe(200n);
  });

  test('after a failed shard another run may take the view over, and the old run can no longer complete', async () => {
    await report({ job: 'j0', run: 'run-1', status: S.RUNNING, leaseMs: 60_000, shard: [0, 2] });
    await report({ job: 'j0', run: 'run-1', status: S.FAILED, shard: [0, 2] });
    await report({ job: 'k', run: 'run-2', status: S.RUNNING, leaseMs: 60_000, shard: [0, 2] }, other);
    expect((await rejection(report({ job: 'j1', run: 'run-1', status: S.SUCCEEDED, watermark: 200, shard: [1, 2] }))).kind).toBe('PRECONDITION');
    await report({ job: 'k', run: 'run-2', status: S.CANCELLED, shard: [0, 2] }, other);
    // run-2 let go, but its record stands: run-1's late shard cannot complete a run it no longer has.
    const orphan = await rejection(report({ job: 'j1', run: 'run-1', status: S.SUCCEEDED, watermark: 200, shard: [1, 2] }));
    expect(orphan.message).toContain('rerun every shard');
    expect((await state()).watermark).toBeUndefined();
  });

  test('concurrent acquisitions from two store instances: exactly one run wins', async () => {
    const attempts = Array.from({ length: 12 }, (_, i) => report({ job: `job-${i}`, status: S.RUNNING, leaseMs: 60_000 }, i % 2 === 0 ? store : other));
    const outcomes = await Promise.allSettled(attempts);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as RegistryStoreError).kind).toBe('PRECONDITION');
    const winner = (won[0] as PromiseFulfilledResult<registryV1.MaterializationState>).value.leaseRunId;
    expect((await state()).leaseRunId).toBe(winner);
  });

  test('bad shard and lease fields are INVALID_ARGUMENT', async () => {
    expect((await rejection(report({ job: 'j', status: S.RUNNING, leaseMs: 60_000, shard: [2, 2] }))).message).toContain('shard_index');
    expect((await rejection(report({ job: 'j', status: S.RUNNING, shard: [0, 2] }))).message).toContain('lease_duration');
    expect((await rejection(report({ job: 'j', status: S.RUNNING, leaseMs: 48 * 3600_000 }))).kind).toBe('INVALID');
  });
});
