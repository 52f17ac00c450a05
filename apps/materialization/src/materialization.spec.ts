import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampDate, TimestampSchema } from '@bufbuild/protobuf/wkt';
import { DuckDBOfflineStore, PostgresOfflineStore } from '@larder/offline-store';
import type { BatchSource, OfflineStore } from '@larder/offline-store';
import { materializationV1, registryV1 } from '@larder/proto';
import type { typesV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import { testServices } from '@larder/testing';
import { Client } from 'pg';
import { valueToCell } from '@larder/offline-store';
import { compareWithHistorical } from './consistency';
import {
  BASE,
  MINUTE,
  WINDOW,
  driverSource,
  flagsDescriptor,
  historicalView,
  repo,
  startHarness,
  statsDescriptor,
  ts,
  watchToEnd,
  writeParquet,
  writePostgresTable,
} from './testing';
import type { Harness, OfflineUnderTest, OnlineUnderTest } from './testing';

const S = materializationV1.JobState;
const ROWS = 20_000;
const DRIVERS = 3_000;
// Ids past DRIVERS never have rows: they must stay absent online.
const driverIds = Array.from({ length: DRIVERS + 20 }, (_, i) => BigInt(i));
const END2 = new Date(BASE + 240 * MINUTE);

function sourceOf(harness: Harness, offline: OfflineUnderTest): BatchSource {
  return driverSource(
    offline.type === 'postgres'
      ? { kind: 'table', table: tableName(harness) }
      : { kind: 'file', path: path.join(harness.dir, 'driver.parquet'), format: 'parquet' },
  );
}
const tableName = (harness: Harness) => `src_${harness.project}`;

async function expectRpcError(promise: Promise<unknown>, code: Code, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RpcError);
  expect((error as RpcError).code).toBe(code);
  expect((error as RpcError).message).toMatch(pattern);
}

async function states(harness: Harness, project = harness.project): Promise<Map<string, registryV1.MaterializationState>> {
  const res = await harness.registry.getMaterializationState({ project });
  return new Map(res.states.map((s) => [s.featureView, s]));
}

const cases: [string, () => OnlineUnderTest, OfflineUnderTest['type']][] = [
  ['sqlite <- duckdb', () => ({ type: 'sqlite' }), 'duckdb'],
  ['redis packed <- duckdb', () => ({ type: 'redis', url: testServices().redis.url, layout: 'packed' }), 'duckdb'],
  ['redis feast <- duckdb', () => ({ type: 'redis', url: testServices().redis.url, layout: 'feast' }), 'duckdb'],
  ['redis packed <- postgres', () => ({ type: 'redis', url: testServices().redis.url, layout: 'packed' }), 'postgres'],
];

describe.each(cases)('materialization, %s', (_name, onlineOf, offlineType) => {
  let harness: Harness;
  let offline: OfflineStore;
  let offlineSpec: OfflineUnderTest;

  beforeAll(async () => {
    offlineSpec = offlineType === 'postgres' ? { type: 'postgres', url: testServices().postgres.url } : { type: 'duckdb' };
    harness = await startHarness({
      online: onlineOf(),
      offline: offlineSpec,
      env: { LARDER_MATERIALIZATION_CHUNK_ROWS: '1000' },
      ...(offlineType === 'postgres' && {
        source: (_dir: string, project: string) =>
          ({ case: 'postgres', value: { location: { case: 'table', value: `src_${project}` } } }) as registryV1.DataSource['kind'],
      }),
    });
    if (offlineSpec.type === 'postgres') {
      await writePostgresTable(offlineSpec.url, tableName(harness), ROWS, DRIVERS);
      offline = new PostgresOfflineStore({ connectionString: offlineSpec.url });
    } else {
      await writeParquet(path.join(harness.dir, 'driver.parquet'), ROWS, DRIVERS);
      offline = await DuckDBOfflineStore.create();
    }
  }, 60_000);

  afterAll(async () => {
    await offline?.close();
    await harness?.close();
  });

  it('writes the latest row per entity in the window: online equals the historical values at the end, for every entity', async () => {
    // A streamed row newer than anything in the batch: the job must not overwrite it.
    const streamed = {
      entityKey: { joinKeys: ['driver_id'], entityValues: [{ $typeName: 'larder.types.v1.Value', val: { case: 'int64Val', value: 7n } } as typesV1.Value] },
    };
    await harness.store.write(statsDescriptor(harness.project), [
      {
        ...streamed,
        eventTs: WINDOW.end.getTime() + MINUTE,
        values: { trips: { $typeName: 'larder.types.v1.Value', val: { case: 'int64Val', value: -1n } } as typesV1.Value },
      },
    ]);

    const { job } = await harness.jobs.materialize({ startTime: ts(WINDOW.start), endTime: ts(WINDOW.end) });
    expect(job!.state).toBe(S.PENDING);
    expect(job!.kind).toBe(materializationV1.JobKind.RANGE);
    expect(job!.views.map((v) => v.featureView).sort()).toEqual(['driver_flags', 'driver_stats']);
    const snapshots: materializationV1.Job[] = [];
    const done = await watchToEnd(harness.jobs, job!.id, (j) => void snapshots.push(j));
    expect(done.error).toBe('');
    expect(done.state).toBe(S.SUCCEEDED);
    expect(snapshots[0]!.state === S.PENDING || snapshots[0]!.state === S.RUNNING).toBe(true);
    expect(snapshots.some((s) => s.state === S.RUNNING)).toBe(true);

    const source = sourceOf(harness, offlineSpec);
    const windowMs = WINDOW.end.getTime() - WINDOW.start.getTime();
    const stats = await compareWithHistorical(
      offline,
      harness.store,
      historicalView(source, statsDescriptor(harness.project), windowMs),
      statsDescriptor(harness.project),
      driverIds.filter((id) => id !== 7n),
      WINDOW.end,
    );
    expect(stats.mismatches.slice(0, 5)).toEqual([]);
    expect(stats.present).toBeGreaterThan(DRIVERS * 0.9);
    const flags = await compareWithHistorical(
      offline,
      harness.store,
      historicalView(source, flagsDescriptor(harness.project), windowMs),
      flagsDescriptor(harness.project),
      driverIds,
      WINDOW.end,
    );
    expect(flags.mismatches.slice(0, 5)).toEqual([]);

    const statsProgress = done.views.find((v) => v.featureView === 'driver_stats')!;
    // Driver 7's batch row lost to the newer streamed row: read, not written.
    expect(statsProgress.rowsRead).toBe(BigInt(stats.present + 1));
    expect(statsProgress.rowsWritten).toBe(BigInt(stats.present));
    expect(statsProgress.state).toBe(S.SUCCEEDED);
    expect(statsProgress.shardsCompleted).toBe(statsProgress.shardCount);
    const [kept] = await harness.store.read([{ view: statsDescriptor(harness.project), features: ['trips'], entityKeys: [streamed.entityKey] }]);
    expect(kept![0]!.eventTs).toBe(WINDOW.end.getTime() + MINUTE);
    expect(valueToCell(kept![0]!.values[0]!)).toBe(-1n);

    // The first range job of a never-materialized view sets its watermark; the offline-only view is untouched.
    const after = await states(harness);
    expect(timestampDate(after.get('driver_stats')!.watermark!)).toEqual(WINDOW.end);
    expect(after.get('driver_stats')!.lastJobId).toBe(job!.id);
    expect(after.get('driver_stats')!.lastJobStatus).toBe(registryV1.MaterializationStatus.SUCCEEDED);
    expect(after.get('offline_only')?.watermark).toBeUndefined();
  }, 90_000);

  it('runs incrementally from each watermark, advancing it only after success', async () => {
    const project = `${harness.project}i`;
    const kind =
      offlineSpec.type === 'postgres'
        ? ({ case: 'postgres', value: { location: { case: 'table', value: tableName(harness) } } } as registryV1.DataSource['kind'])
        : ({ case: 'file', value: { path: path.join(harness.dir, 'driver.parquet'), format: registryV1.FileFormat.PARQUET } } as registryV1.DataSource['kind']);
    await harness.registry.applyRegistry(repo(project, kind));
    const source = sourceOf(harness, offlineSpec);
    const check = async (at: Date, statsTtlMs: number) => {
      const stats = await compareWithHistorical(
        offline,
        harness.store,
        historicalView(source, statsDescriptor(project), statsTtlMs),
        statsDescriptor(project),
        driverIds,
        at,
      );
      expect(stats.mismatches.slice(0, 5)).toEqual([]);
      expect(stats.present).toBeGreaterThan(DRIVERS * 0.9);
      const flags = await compareWithHistorical(
        offline,
        harness.store,
        historicalView(source, flagsDescriptor(project), 0),
        flagsDescriptor(project),
        driverIds,
        at,
      );
      expect(flags.mismatches.slice(0, 5)).toEqual([]);
    };

    // First time: driver_stats from end - ttl, driver_flags (no ttl) from the earliest data.
    const first = await watchToEnd(harness.jobs, (await harness.jobs.materializeIncremental({ project, endTime: ts(WINDOW.end) })).job!.id);
    expect(first.state).toBe(S.SUCCEEDED);
    expect(first.kind).toBe(materializationV1.JobKind.INCREMENTAL);
    expect(first.startTime).toBeUndefined();
    const window = (job: materializationV1.Job, view: string) => {
      const v = job.views.find((x) => x.featureView === view)!;
      return [timestampDate(v.startTime!).getTime(), timestampDate(v.endTime!).getTime()];
    };
    expect(window(first, 'driver_stats')).toEqual([WINDOW.end.getTime() - 2 * 60 * MINUTE, WINDOW.end.getTime()]);
    expect(window(first, 'driver_flags')).toEqual([0, WINDOW.end.getTime()]);
    await check(WINDOW.end, 2 * 60 * MINUTE);
    let now = await states(harness, project);
    expect(timestampDate(now.get('driver_flags')!.watermark!)).toEqual(WINDOW.end);

    // Then from the watermark on.
    const second = await watchToEnd(harness.jobs, (await harness.jobs.materializeIncremental({ project, endTime: ts(END2) })).job!.id);
    expect(second.state).toBe(S.SUCCEEDED);
    expect(window(second, 'driver_stats')).toEqual([WINDOW.end.getTime(), END2.getTime()]);
    await check(END2, END2.getTime() - (WINDOW.end.getTime() - 2 * 60 * MINUTE));
    now = await states(harness, project);
    expect(timestampDate(now.get('driver_stats')!.watermark!)).toEqual(END2);

    // Nothing left: an empty window per view, nothing read.
    const third = await watchToEnd(
      harness.jobs,
      (await harness.jobs.materializeIncremental({ project, featureViews: ['driver_stats'], endTime: ts(END2) })).job!.id,
    );
    expect(third.state).toBe(S.SUCCEEDED);
    expect(third.views.map((v) => v.rowsRead)).toEqual([0n]);
  }, 90_000);

  // PostgreSQL stores timestamps to the microsecond; so must the rows it hands online.
  if (offlineType === 'postgres') {
    it('serves a PostgreSQL event time online to the microsecond', async () => {
      const project = `${harness.project}u`;
      const table = `src_${project}`;
      const client = new Client({ connectionString: testServices().postgres.url });
      await client.connect();
      try {
        await client.query(`DROP TABLE IF EXISTS ${table}`);
        await client.query(
          `CREATE TABLE ${table} (driver_id bigint, event_timestamp timestamptz, created timestamptz, conv_rate double precision, trips_raw bigint, label text, active boolean)`,
        );
        // Two rows of one driver 1 us apart within a millisecond: the later one wins, with its microseconds.
        await client.query(
          `INSERT INTO ${table} VALUES (5, '2026-01-01 01:30:00.123456+00', '2026-01-01 02:00:00+00', 0.5, 1, 'a', ` +
            `true), (5, '2026-01-01 01:30:00.123457+00', '2026-01-01 02:00:00+00', 0.75, 2, 'b', true)`,
        );
      } finally {
        await client.end();
      }
      await harness.registry.applyRegistry(
        repo(project, { case: 'postgres', value: { location: { case: 'table', value: table } } } as registryV1.DataSource['kind']),
      );
      const key = { joinKeys: ['driver_id'], entityValues: [{ $typeName: 'larder.types.v1.Value', val: { case: 'int64Val', value: 5n } } as typesV1.Value] };
      const online = async () => {
        const [row] = await harness.store.read([{ view: statsDescriptor(project), features: ['trips'], entityKeys: [key] }]);
        return [row![0]!.eventTs, valueToCell(row![0]!.values[0]!)]; // eventTs by the online store's rule: micros / 1000
      };
      const materialize = async (endMicros: bigint) => {
        const endTime = create(TimestampSchema, { seconds: endMicros / 1_000_000n, nanos: Number(endMicros % 1_000_000n) * 1000 });
        const done = await watchToEnd(
          harness.jobs,
          (await harness.jobs.materialize({ project, featureViews: ['driver_stats'], startTime: ts(WINDOW.start), endTime })).job!.id,
        );
        expect(done.error).toBe('');
      };
      // A window ending on the first row's microsecond takes it (ends are inclusive), not the row 1 us later.
      await materialize(1_767_231_000_123_456n);
      expect(await online()).toEqual([1_767_231_000_123_456 / 1000, 1n]);
      await materialize(1_767_231_000_123_457n);
      expect(await online()).toEqual([1_767_231_000_123_457 / 1000, 2n]);
    }, 60_000);
  }
});

describe('materialization jobs (sqlite <- duckdb)', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({
      online: { type: 'sqlite' },
      offline: { type: 'duckdb' },
      env: { LARDER_MATERIALIZATION_CHUNK_ROWS: '500', LARDER_MATERIALIZATION_WRITES_IN_FLIGHT: '1', LARDER_MATERIALIZATION_JOB_HISTORY: '5' },
    });
    await writeParquet(path.join(harness.dir, 'driver.parquet'), 200_000, 100_000);
  }, 60_000);
  afterAll(() => harness?.close());

  it('refuses a second job on a view being materialized, naming the running job', async () => {
    const request = { featureViews: ['driver_stats'], startTime: ts(new Date(BASE)), endTime: ts(END2) };
    const [a, b] = await Promise.allSettled([harness.jobs.materialize(request), harness.jobs.materialize(request)]);
    const ok = [a, b].filter((r) => r.status === 'fulfilled');
    const refused = [a, b].filter((r) => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const id = (ok[0] as PromiseFulfilledResult<materializationV1.MaterializeResponse>).value.job!.id;
    const error = (refused[0] as PromiseRejectedResult).reason as RpcError;
    expect(error.code).toBe(Code.FAILED_PRECONDITION);
    expect(error.message).toContain(`being materialized by job ${id}`);
    // Another view is free meanwhile.
    const other = await harness.jobs.materialize({ featureViews: ['driver_flags'], startTime: ts(new Date(BASE)), endTime: ts(END2) });
    expect((await watchToEnd(harness.jobs, other.job!.id)).state).toBe(S.SUCCEEDED);
    expect((await watchToEnd(harness.jobs, id)).state).toBe(S.SUCCEEDED);
  }, 60_000);

  it('cancels a running job: watermark unchanged, a rerun completes', async () => {
    // A project of its own, never materialized: the first incremental run reads every row.
    const project = `${harness.project}c`;
    await harness.registry.applyRegistry(
      repo(project, {
        case: 'file',
        value: { path: path.join(harness.dir, 'driver.parquet'), format: registryV1.FileFormat.PARQUET },
      } as registryV1.DataSource['kind']),
    );
    const request = { project, featureViews: ['driver_flags'], endTime: ts(END2) };
    const { job } = await harness.jobs.materializeIncremental(request);
    let cancelled: materializationV1.Job | undefined;
    const done = await watchToEnd(harness.jobs, job!.id, async (j) => {
      if (cancelled === undefined && j.views[0]!.rowsWritten > 0n) cancelled = (await harness.jobs.cancelJob({ jobId: j.id })).job!;
    });
    expect(cancelled).toBeDefined();
    expect(done.state).toBe(S.CANCELLED);
    expect(done.views[0]!.state).toBe(S.CANCELLED);
    expect(done.views[0]!.rowsWritten).toBeLessThan(done.views[0]!.rowsRead + 1n);
    const state = (await states(harness, project)).get('driver_flags')!;
    expect(state.watermark).toBeUndefined();
    expect(state.lastJobStatus).toBe(registryV1.MaterializationStatus.CANCELLED);
    await expectRpcError(harness.jobs.cancelJob({ jobId: job!.id }), Code.FAILED_PRECONDITION, /already finished \(CANCELLED\)/);

    const rerun = await watchToEnd(harness.jobs, (await harness.jobs.materializeIncremental(request)).job!.id);
    expect(rerun.state).toBe(S.SUCCEEDED);
    expect(rerun.views[0]!.rowsWritten).toBe(100_000n);
    expect(timestampDate((await states(harness, project)).get('driver_flags')!.watermark!)).toEqual(END2);
  }, 60_000);

  it('gets and lists jobs newest first, with filters and pages, keeping a bounded history', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { job } = await harness.jobs.materialize({
        project: harness.project,
        featureViews: ['driver_flags'],
        startTime: ts(new Date(END2.getTime() - MINUTE)),
        endTime: ts(END2),
      });
      ids.push(job!.id);
      await watchToEnd(harness.jobs, job!.id);
    }
    const got = await harness.jobs.getJob({ jobId: ids[2]! });
    expect(got.job!.state).toBe(S.SUCCEEDED);
    expect(got.job!.finishTime).toBeDefined();
    const page1 = await harness.jobs.listJobs({ featureView: 'driver_flags', pageSize: 2 });
    expect(page1.jobs.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    expect(page1.nextPageToken).not.toBe('');
    const page2 = await harness.jobs.listJobs({ featureView: 'driver_flags', pageSize: 2, pageToken: page1.nextPageToken });
    expect(page2.jobs[0]!.id).toBe(ids[0]);
    const cancelled = await harness.jobs.listJobs({ states: [S.CANCELLED] });
    expect(cancelled.jobs.every((j) => j.state === S.CANCELLED)).toBe(true);
    // History is bounded at 5 finished jobs: the earliest are gone.
    const all = await harness.jobs.listJobs({ pageSize: 1000 });
    expect(all.jobs).toHaveLength(5);
    await expectRpcError(harness.jobs.getJob({ jobId: 'nope' }), Code.NOT_FOUND, /job 'nope' not found/);
  }, 60_000);

  it('rejects bad requests with the field or view named', async () => {
    await expectRpcError(harness.jobs.materialize({ project: harness.project, endTime: ts(END2) }), Code.INVALID_ARGUMENT, /start_time: required/);
    await expectRpcError(
      harness.jobs.materialize({ project: harness.project, startTime: ts(END2), endTime: ts(WINDOW.end) }),
      Code.INVALID_ARGUMENT,
      /inverted/,
    );
    await expectRpcError(harness.jobs.materialize({ project: harness.project, startTime: ts(END2), endTime: ts(END2) }), Code.INVALID_ARGUMENT, /empty/);
    await expectRpcError(
      harness.jobs.materialize({ project: harness.project, featureViews: ['nope'], startTime: ts(WINDOW.start), endTime: ts(END2) }),
      Code.NOT_FOUND,
      /feature view 'nope' not found.*driver_stats/,
    );
    await expectRpcError(
      harness.jobs.materialize({ project: harness.project, featureViews: ['offline_only'], startTime: ts(WINDOW.start), endTime: ts(END2) }),
      Code.INVALID_ARGUMENT,
      /not online/,
    );
    await expectRpcError(harness.jobs.materializeIncremental({ project: 'ghost' }), Code.NOT_FOUND, /project 'ghost' not found/);
  });
});
