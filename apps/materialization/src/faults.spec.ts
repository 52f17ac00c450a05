// A backing store stopped in the middle of a job: the job fails with the
// reason, the watermark does not move, and a rerun completes.
import path from 'node:path';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { materializationV1, registryV1 } from '@larder/proto';
import { startPostgres, startRedis } from '@larder/testing';
import type { RunningPostgres, RunningRedis } from '@larder/testing';
import { BASE, MINUTE, startHarness, ts, watchToEnd, writeParquet, writePostgresTable } from './testing';
import type { Harness } from './testing';

const S = materializationV1.JobState;
const END = new Date(BASE + 240 * MINUTE);
const ROWS = 200_000;
const DRIVERS = 100_000;

async function flagsState(harness: Harness): Promise<registryV1.MaterializationState> {
  const res = await harness.registry.getMaterializationState({ project: harness.project, featureViews: ['driver_flags'] });
  return res.states[0]!;
}

/** Runs an incremental job on driver_flags and calls `fault` once rows have been written. */
async function jobWithFault(harness: Harness, fault: () => Promise<void>): Promise<materializationV1.Job> {
  const { job } = await harness.jobs.materializeIncremental({ featureViews: ['driver_flags'], endTime: ts(END) });
  let injected = false;
  const done = await watchToEnd(harness.jobs, job!.id, async (j) => {
    if (!injected && j.views[0]!.rowsWritten > 0n) {
      injected = true;
      await fault();
    }
  });
  expect(injected).toBe(true);
  return done;
}

describe('faults', () => {
  it('Redis stopped mid-job: the job fails with the reason, the watermark stays, a rerun completes', async () => {
    let redis: RunningRedis = await startRedis();
    const harness = await startHarness({
      online: { type: 'redis', url: redis.url, layout: 'packed' },
      offline: { type: 'duckdb' },
      env: { LARDER_MATERIALIZATION_CHUNK_ROWS: '1000', LARDER_MATERIALIZATION_WRITES_IN_FLIGHT: '1', LARDER_MATERIALIZATION_WRITE_TIMEOUT: '2s' },
    });
    try {
      await writeParquet(path.join(harness.dir, 'driver.parquet'), ROWS, DRIVERS);
      const failed = await jobWithFault(harness, () => redis.stop());
      expect(failed.state).toBe(S.FAILED);
      expect(failed.views[0]!.state).toBe(S.FAILED);
      expect(failed.views[0]!.rowsWritten).toBeLessThan(BigInt(DRIVERS));
      expect(failed.error).toMatch(/^driver_flags: StoreUnavailableError: redis (unavailable|did not answer)/);
      const state = await flagsState(harness);
      expect(state.watermark).toBeUndefined();
      expect(state.lastJobStatus).toBe(registryV1.MaterializationStatus.FAILED);
      expect(state.lastError).toMatch(/redis/);

      redis = await startRedis({ port: redis.port });
      const rerun = await watchToEnd(harness.jobs, (await harness.jobs.materializeIncremental({ featureViews: ['driver_flags'], endTime: ts(END) })).job!.id);
      expect(rerun.error).toBe('');
      expect(rerun.state).toBe(S.SUCCEEDED);
      expect(rerun.views[0]!.rowsWritten).toBe(BigInt(DRIVERS));
      expect(timestampDate((await flagsState(harness)).watermark!)).toEqual(END);
    } finally {
      await harness.close();
      await redis.stop();
    }
  }, 120_000);

  it('PostgreSQL stopped mid-job: the job fails with the reason, the watermark stays, a rerun completes', async () => {
    let postgres: RunningPostgres = await startPostgres();
    const table = 'driver_source_rows';
    const harness = await startHarness({
      online: { type: 'sqlite' },
      offline: { type: 'postgres', url: postgres.url },
      source: () => ({ case: 'postgres', value: { location: { case: 'table', value: table } } }) as registryV1.DataSource['kind'],
      env: { LARDER_MATERIALIZATION_CHUNK_ROWS: '500', LARDER_MATERIALIZATION_WRITES_IN_FLIGHT: '1' },
    });
    try {
      await writePostgresTable(postgres.url, table, ROWS, DRIVERS);
      const failed = await jobWithFault(harness, () => postgres.stop());
      expect(failed.state).toBe(S.FAILED);
      expect(failed.views[0]!.state).toBe(S.FAILED);
      expect(failed.error).toMatch(/^driver_flags: .*(terminat|connect|ECONNREFUSED|shut)/i);
      const state = await flagsState(harness);
      expect(state.watermark).toBeUndefined();
      expect(state.lastJobStatus).toBe(registryV1.MaterializationStatus.FAILED);

      // A fresh cluster on the same port, loaded again: the rerun completes.
      postgres = await startPostgres({ port: postgres.port });
      await writePostgresTable(postgres.url, table, ROWS, DRIVERS);
      const rerun = await watchToEnd(harness.jobs, (await harness.jobs.materializeIncremental({ featureViews: ['driver_flags'], endTime: ts(END) })).job!.id);
      expect(rerun.error).toBe('');
      expect(rerun.state).toBe(S.SUCCEEDED);
      expect(rerun.views[0]!.rowsWritten).toBe(BigInt(DRIVERS));
      expect(timestampDate((await flagsState(harness)).watermark!)).toEqual(END);
    } finally {
      await harness.close();
      await postgres.stop();
    }
  }, 180_000);
});
