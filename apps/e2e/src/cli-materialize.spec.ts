// `larder materialize` / `materialize-incremental` as a pipeline step runs them: a child
// process against the real materialization and registry services.
import path from 'node:path';
import { registryV1 } from '@larder/proto';
import { runLarderCli as larder } from '@larder/testing';
import { materializationService } from '@larder/materialization-app';
import { registryService } from '@larder/registry-service';
import { materializationHarness } from '@larder/service-testing';

// Two apps together (the CLI and the materialization service), so it lives in e2e.
const { repo, writeParquet } = materializationHarness;
type Harness = materializationHarness.Harness;
const startHarness = (options: materializationHarness.HarnessOptions): Promise<Harness> =>
  materializationHarness.startMaterializationHarness({ registry: registryService, materialization: materializationService }, options);

interface Summary {
  job_id: string;
  state: string;
  kind: string;
  rows_written: number;
  error: string;
  views: { feature_view: string; state: string; rows_read: number; rows_written: number; start_time: string; end_time: string }[];
}

jest.setTimeout(120_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ online: { type: 'sqlite' }, offline: { type: 'duckdb' } });
  await writeParquet(path.join(harness.dir, 'driver.parquet'), 5_000, 1_000);
});
afterAll(() => harness?.close());

test('materialize runs a job to success: exit 0, a JSON summary on stdout, progress on stderr', async () => {
  const run = await larder(
    [
      'materialize',
      '2026-01-01T01:00:00Z',
      '2026-01-01T03:00:00',
      '--views',
      'driver_stats',
      '--materialization',
      harness.address,
      '-p',
      harness.project,
      '-o',
      'json',
    ],
    harness.dir,
  );
  expect(run.stderr).toMatch(/job \S+ started \(1 view: driver_stats\)/);
  expect(run.stderr).toMatch(/\[#+\] 100%\s+1\/1 views\s+[\d,]+ rows written/);
  expect(run.code).toBe(0);
  const summary = JSON.parse(run.stdout) as Summary;
  expect(summary.state).toBe('succeeded');
  expect(summary.kind).toBe('range');
  expect(summary.views).toHaveLength(1);
  expect(summary.views[0]).toMatchObject({
    feature_view: 'driver_stats',
    state: 'succeeded',
    start_time: '2026-01-01T01:00:00.000Z',
    end_time: '2026-01-01T03:00:00.000Z',
  });
  expect(summary.views[0]!.rows_written).toBeGreaterThan(900);
  expect(summary.rows_written).toBe(summary.views[0]!.rows_written);
  // The job is the service's: GetJob sees the same outcome.
  expect((await harness.jobs.getJob({ jobId: summary.job_id })).job!.views[0]!.rowsWritten).toBe(BigInt(summary.rows_written));
});

test('materialize-incremental starts at the watermark; a failed job exits 1 with the reason', async () => {
  const ok = await larder(
    ['materialize-incremental', '2026-01-01T04:00:00Z', '--views', 'driver_stats,driver_flags', '--materialization', harness.address, '-p', harness.project],
    harness.dir,
  );
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/Job \S+: succeeded/);
  // driver_stats continues from the previous job's end; the table lists both views.
  expect(ok.stdout).toMatch(/driver_stats\s+succeeded\s+2026-01-01T03:00:00.000Z\s+2026-01-01T04:00:00.000Z/);
  expect(ok.stdout).toMatch(/driver_flags\s+succeeded/);

  // A project whose source file does not exist: the job fails, the step fails.
  const broken = `${harness.project}x`;
  await harness.registry.applyRegistry(
    repo(broken, {
      case: 'file',
      value: { path: path.join(harness.dir, 'missing.parquet'), format: registryV1.FileFormat.PARQUET },
    } as registryV1.DataSource['kind']),
  );
  const failed = await larder(['materialize-incremental', '--materialization', harness.address, '-p', broken, '-o', 'json', '-q'], harness.dir);
  expect(failed.code).toBe(1);
  const summary = JSON.parse(failed.stdout) as Summary;
  expect(summary.state).toBe('failed');
  expect(summary.error).toMatch(/missing\.parquet/);
  expect(failed.stderr).toMatch(new RegExp(`larder materialize-incremental: job ${summary.job_id} failed: .*missing\\.parquet`));
  expect(failed.stderr).not.toMatch(/\[#/);
});

test('bad usage exits 2; an unreachable service exits 1 naming the address', async () => {
  const usage = await larder(['materialize', 'yesterday', '2026-01-01', '--materialization', harness.address], harness.dir);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toMatch(/START "yesterday" is not a time/);
  const down = await larder(['materialize', '2026-01-01', '2026-01-02', '--materialization', '127.0.0.1:1', '-p', harness.project], harness.dir);
  expect(down.code).toBe(1);
  expect(down.stderr).toMatch(/materialization service at 127\.0\.0\.1:1 is unavailable/);
});

test('--shard I/N with --run-id: N steps share one run; the watermark advances when the last shard succeeded', async () => {
  const project = `${harness.project}s`;
  await harness.registry.applyRegistry(
    repo(project, {
      case: 'file',
      value: { path: path.join(harness.dir, 'driver.parquet'), format: registryV1.FileFormat.PARQUET },
    } as registryV1.DataSource['kind']),
  );
  const runId = `pipeline-${Date.now()}`;
  const step = (shard: string) =>
    larder(
      [
        'materialize-incremental',
        '2026-01-01T04:00:00Z',
        '--views',
        'driver_flags',
        '--shard',
        shard,
        '--run-id',
        runId,
        '--materialization',
        harness.address,
        '-p',
        project,
        '-o',
        'json',
      ],
      harness.dir,
    );
  const watermark = async () => (await harness.registry.getMaterializationState({ project, featureViews: ['driver_flags'] })).states[0]!.watermark;

  const first = await step('0/2');
  expect(first.code).toBe(0);
  expect(first.stderr).toMatch(new RegExp(`job \\S+ \\(shard 0/2 of run ${runId}\\) started`));
  const s0 = JSON.parse(first.stdout) as Summary & { run_id: string; shard: { index: number; count: number } };
  expect(s0).toMatchObject({ state: 'succeeded', run_id: runId, shard: { index: 0, count: 2 } });
  expect(await watermark()).toBeUndefined();

  const second = await step('1/2');
  expect(second.code).toBe(0);
  const s1 = JSON.parse(second.stdout) as Summary & { shard: { index: number } };
  expect(s1.shard.index).toBe(1);
  expect(s1.views[0]!.start_time).toBe(s0.views[0]!.start_time);
  // The two shards split the entities between them.
  expect(s0.views[0]!.rows_read).toBeGreaterThan(0);
  expect(s1.views[0]!.rows_read).toBeGreaterThan(0);
  expect(s0.views[0]!.rows_read + s1.views[0]!.rows_read).toBe(1_000);
  expect((await watermark())?.seconds).toBe(BigInt(Date.UTC(2026, 0, 1, 4) / 1000));
});

test('bad --shard usage exits 2 with the reason', async () => {
  const cases: [string[], RegExp][] = [
    [['materialize', '2026-01-01', '2026-01-02', '--shard', '2/2', '--run-id', 'r'], /--shard "2\/2" is not a shard/],
    [['materialize', '2026-01-01', '2026-01-02', '--shard', '0/2'], /--shard needs --run-id/],
    [['materialize-incremental', '--shard', '0/2', '--run-id', 'r'], /END is required with --shard/],
  ];
  for (const [args, message] of cases) {
    const run = await larder([...args, '--materialization', harness.address, '-p', harness.project], harness.dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  }
});
