// `larder materialize START END` and `larder materialize-incremental END`: start a job
// on the materialization service, follow it with a progress bar on stderr, and exit
// with the job's outcome (0 succeeded, 1 failed or cancelled), so the command is a
// Kubeflow Pipelines or Airflow step as it is. `--output json` prints a summary.
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { materializationV1 } from '@larder/proto';
import { Code, RpcError, createClient } from '@larder/rpc';
import type { RpcClient } from '@larder/rpc';
import { UsageError } from '../args';
import type { CommandContext } from '../command-spec';
import { repoConfig } from '../context';
import { clientSecurity } from '../security';
import { formatJson, formatTable } from '../output';
import type { Io } from '../output';
import { Progress } from '../progress';

/** The service's default port (apps/materialization). */
const DEFAULT_ADDRESS = '127.0.0.1:6572';
const S = materializationV1.JobState;
type Job = materializationV1.Job;
type Client = RpcClient<typeof materializationV1.MaterializationService>;

/** ISO 8601 (a date, or a date-time; without a zone it is UTC) or `now`. */
export function parseTime(text: string, what: string, command: string): Date {
  if (text === 'now') return new Date();
  const zoned = /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(text) ? `${text}Z` : text;
  const date = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(zoned) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw new UsageError(`${what} "${text}" is not a time: use ISO 8601 (2026-01-31, 2026-01-31T12:00:00Z) or now`, command);
  return date;
}

/** `--shard I/N` and `--run-id ID`: this step's part of a run shared by N steps (each may reach another replica). */
export function parseShard(shard: string | undefined, runId: string | undefined, command: string): { shardIndex: number; shardCount: number; runId: string } {
  if (shard === undefined) {
    if (runId !== undefined && runId.trim() === '') throw new UsageError('--run-id must not be empty', command);
    return { shardIndex: 0, shardCount: 0, runId: runId ?? '' };
  }
  const match = /^(\d+)\/(\d+)$/.exec(shard.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) throw new UsageError(`--shard "${shard}" is not a shard: use I/N with 0 <= I < N, e.g. --shard 0/4`, command);
  if (count > 1 && (runId === undefined || runId.trim() === '')) {
    throw new UsageError(
      '--shard needs --run-id: the N steps of a sharded run pass the same id (e.g. the pipeline run id) so that they complete one run together',
      command,
    );
  }
  return { shardIndex: index, shardCount: count, runId: runId?.trim() ?? '' };
}

const shardOf = (ctx: CommandContext, command: string) =>
  parseShard(ctx.flags['shard'] as string | undefined, ctx.flags['run-id'] as string | undefined, command);

export async function materialize(ctx: CommandContext): Promise<number> {
  const start = parseTime(ctx.positionals[0]!, 'START', 'materialize');
  const end = parseTime(ctx.positionals[1]!, 'END', 'materialize');
  if (start.getTime() >= end.getTime()) throw new UsageError(`START (${start.toISOString()}) must be before END (${end.toISOString()})`, 'materialize');
  const shard = shardOf(ctx, 'materialize');
  return run(
    ctx,
    'materialize',
    async (client, project, views) =>
      (await client.materialize({ project, featureViews: views, startTime: timestampFromDate(start), endTime: timestampFromDate(end), ...shard })).job!,
  );
}

export async function materializeIncremental(ctx: CommandContext): Promise<number> {
  const shard = shardOf(ctx, 'materialize-incremental');
  // `now` differs from step to step: the shards of a run must name one END.
  if (shard.shardCount > 1 && (ctx.positionals[0] === undefined || ctx.positionals[0] === 'now')) {
    throw new UsageError('END is required with --shard, as a time (not now), so that every shard of the run covers the same window', 'materialize-incremental');
  }
  const end = parseTime(ctx.positionals[0] ?? 'now', 'END', 'materialize-incremental');
  return run(
    ctx,
    'materialize-incremental',
    async (client, project, views) => (await client.materializeIncremental({ project, featureViews: views, endTime: timestampFromDate(end), ...shard })).job!,
  );
}

async function run(ctx: CommandContext, command: string, start: (client: Client, project: string, views: string[]) => Promise<Job>): Promise<number> {
  const repo = await repoConfig(ctx);
  const address =
    (ctx.flags['materialization'] as string | undefined) ?? ctx.io.env['LARDER_MATERIALIZATION'] ?? repo?.services.materialization ?? DEFAULT_ADDRESS;
  const views = ((ctx.flags['views'] as string[] | undefined) ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  const project = ctx.flags.project ?? repo?.project ?? '';
  const client = createClient(materializationV1.MaterializationService, address, await clientSecurity(ctx));
  const bar = new JobProgress(ctx.io, ctx.flags.quiet !== true);
  let job: Job | undefined;
  // Stopping the step (Ctrl-C, or the orchestrator's SIGTERM) cancels the job rather than orphaning it.
  const cancel = (): void => {
    if (job) void client.cancelJob({ jobId: job.id }).catch(() => undefined);
  };
  try {
    job = await start(client, project, views);
    bar.started(job);
    process.on('SIGINT', cancel);
    process.on('SIGTERM', cancel);
    for await (const update of client.watchJob({ jobId: job.id })) {
      job = update.job!;
      bar.update(job);
    }
    bar.finished(job);
  } catch (error) {
    bar.finished(job);
    if (error instanceof RpcError && error.code === Code.UNAVAILABLE) {
      throw new Error(
        `the materialization service at ${address} is unavailable (${error.message}); start it, or point ` +
          `--materialization (or larder.yaml services.materialization) at ` +
          `one${job ? `. Job ${job.id} may still be running` : ''}`,
      );
    }
    throw error;
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
    client.close();
  }
  if (ctx.flags.output === 'json') ctx.io.out(formatJson(summary(job)));
  else ctx.io.out(table(job));
  if (job.state !== S.SUCCEEDED) ctx.io.err(`larder ${command}: job ${job.id} ${stateName(job.state)}${job.error ? `: ${job.error}` : ''}\n`);
  return job.state === S.SUCCEEDED ? 0 : 1;
}

const stateName = (state: materializationV1.JobState): string => (S[state] ?? 'UNSPECIFIED').toLowerCase();
const iso = (t: Timestamp | undefined): string | null => (t === undefined ? null : timestampDate(t).toISOString());

/** What `--output json` prints: plain JSON, numbers as numbers. */
export function summary(job: Job) {
  const seconds = job.runTime && job.finishTime ? (timestampDate(job.finishTime).getTime() - timestampDate(job.runTime).getTime()) / 1000 : null;
  return {
    job_id: job.id,
    project: job.project,
    kind: job.kind === materializationV1.JobKind.INCREMENTAL ? 'incremental' : 'range',
    run_id: job.runId,
    shard: { index: job.shardIndex, count: Math.max(1, job.shardCount) },
    state: stateName(job.state),
    start_time: iso(job.startTime),
    end_time: iso(job.endTime),
    elapsed_s: seconds,
    rows_read: job.views.reduce((n, v) => n + Number(v.rowsRead), 0),
    rows_written: job.views.reduce((n, v) => n + Number(v.rowsWritten), 0),
    error: job.error,
    views: job.views.map((v) => ({
      feature_view: v.featureView,
      state: stateName(v.state),
      start_time: iso(v.startTime),
      end_time: iso(v.endTime),
      rows_read: Number(v.rowsRead),
      rows_written: Number(v.rowsWritten),
      shards: v.shardCount,
      error: v.error,
    })),
  };
}

function table(job: Job): string {
  const rows = job.views.map((v) => [
    v.featureView,
    stateName(v.state),
    iso(v.startTime) ?? '',
    iso(v.endTime) ?? '',
    String(v.rowsRead),
    String(v.rowsWritten),
    v.error,
  ]);
  return `Job ${job.id}${shardLabel(job)}: ${stateName(job.state)}\n${formatTable(['VIEW', 'STATE', 'FROM', 'TO', 'READ', 'WRITTEN', 'ERROR'], rows)}`;
}

/** ` (shard 1/4 of run r-17)` for a shard of a sharded run; empty otherwise. */
const shardLabel = (job: Job): string => (job.shardCount > 1 ? ` (shard ${job.shardIndex}/${job.shardCount} of run ${job.runId})` : '');

/**
 * `[#########-----------]  45%  2/5 views  1,234,567 rows written  12s`: the job's
 * status line. Drawn by the CLI's one progress renderer: in place on a terminal;
 * on a pipe (a pipeline's log) a line when a view finishes and at most every 10 s otherwise.
 */
class JobProgress {
  private readonly progress: Progress;
  private readonly began = performance.now();
  private lastDone = -1;

  constructor(io: Io, enabled: boolean) {
    this.progress = new Progress(io, enabled, { pipeEveryMs: 10_000 });
  }

  started(job: Job): void {
    this.progress.note(
      `job ${job.id}${shardLabel(job)} started (${job.views.length} view${job.views.length === 1 ? '' : 's'}: ${job.views.map((v) => v.featureView).join(', ')})`,
    );
  }

  update(job: Job): void {
    const total = job.views.reduce((n, v) => n + Math.max(1, v.shardCount), 0);
    const finished = (v: materializationV1.ViewProgress) => v.state === S.SUCCEEDED || v.state === S.FAILED || v.state === S.CANCELLED;
    const done = job.views.reduce((n, v) => n + (finished(v) ? Math.max(1, v.shardCount) : v.shardsCompleted), 0);
    const viewsDone = job.views.filter(finished).length;
    const rows = job.views.reduce((n, v) => n + Number(v.rowsWritten), 0);
    const fraction = total === 0 ? 1 : done / total;
    const width = 24;
    const filled = Math.round(fraction * width);
    const seconds = ((performance.now() - this.began) / 1000).toFixed(0);
    const line =
      `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%  ` +
      `${viewsDone}/${job.views.length} views  ${rows.toLocaleString('en-US')} rows written  ${seconds}s`;
    this.progress.status(line, viewsDone !== this.lastDone);
    this.lastDone = viewsDone;
  }

  finished(job: Job | undefined): void {
    this.progress.end();
    if (job) this.progress.note(`job ${job.id} ${stateName(job.state)}`);
  }
}
