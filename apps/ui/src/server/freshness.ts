import { timestampDate, timestampMs } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { ingestionV1, materializationV1, registryV1 } from '@larder/proto';
import { RpcError } from '@larder/rpc';
import type { RpcCallOptions } from '@larder/rpc';
import type { AttentionItem, ConsumerSummary, Freshness, JobSummary, UpstreamProblem, ViewFreshness } from '../shared/api';
import type { VisibleSet } from './catalog';
import type { Clients } from './upstreams';

/** Jobs shown: the newest ones. */
const JOBS_SHOWN = 50;
/** Consumer lag (messages not yet durable) that is worth a look on the home page. */
export const LAG_ATTENTION = 10_000n;

const iso = (ts: Timestamp | undefined): string | undefined => (ts === undefined ? undefined : timestampDate(ts).toISOString());
const stateName = (state: materializationV1.JobState): string => materializationV1.JobState[state] ?? 'UNSPECIFIED';

function problem(service: UpstreamProblem['service'], error: unknown): UpstreamProblem {
  return { service, message: error instanceof RpcError ? error.message : 'no answer' };
}

function viewFreshness(project: string, view: registryV1.FeatureView, state: registryV1.MaterializationState | undefined, now: number): ViewFreshness {
  const online = view.online ?? true;
  const ttlSeconds = view.ttl === undefined ? undefined : Number(view.ttl.seconds);
  const watermark = state?.watermark;
  const status = state === undefined ? 'UNSPECIFIED' : (registryV1.MaterializationStatus[state.lastJobStatus] ?? 'UNSPECIFIED');
  // Stale: served online from a batch source alone, and either never materialized or
  // materialized longer ago than its ttl; or its last job failed.
  const batchOnly = online && view.batchSource !== '' && view.streamSource === '';
  const tooOld = watermark === undefined || (ttlSeconds !== undefined && ttlSeconds > 0 && now - timestampMs(watermark) > ttlSeconds * 1000);
  return {
    project,
    name: view.name,
    online,
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    ...(watermark === undefined ? {} : { watermark: iso(watermark)! }),
    lastJobId: state?.lastJobId ?? '',
    lastJobStatus: status,
    lastError: state?.lastError ?? '',
    stale: (batchOnly && tooOld) || status === 'FAILED',
  };
}

function jobSummary(job: materializationV1.Job, now: number): JobSummary {
  const started = job.runTime === undefined ? undefined : timestampMs(job.runTime);
  const ended = job.finishTime === undefined ? now : timestampMs(job.finishTime);
  const rows = job.views.reduce((sum, v) => sum + v.rowsWritten, 0n);
  const summary: JobSummary = {
    id: job.id,
    project: job.project,
    kind: materializationV1.JobKind[job.kind] ?? 'UNSPECIFIED',
    state: stateName(job.state),
    rowsWritten: String(rows),
    error: job.error,
    views: job.views.map((v) => ({
      featureView: v.featureView,
      state: stateName(v.state),
      rowsRead: String(v.rowsRead),
      rowsWritten: String(v.rowsWritten),
      error: v.error,
    })),
  };
  const createTime = iso(job.createTime);
  const runTime = iso(job.runTime);
  const finishTime = iso(job.finishTime);
  if (createTime !== undefined) summary.createTime = createTime;
  if (runTime !== undefined) summary.runTime = runTime;
  if (finishTime !== undefined) summary.finishTime = finishTime;
  if (started !== undefined) summary.durationMs = Math.max(0, ended - started);
  return summary;
}

function consumerSummary(c: ingestionV1.ConsumerStatus): ConsumerSummary {
  return {
    project: c.project,
    dataSource: c.dataSource,
    topic: c.topic,
    consumerGroup: c.consumerGroup,
    state: ingestionV1.ConsumerState[c.state] ?? 'UNSPECIFIED',
    lag: String(c.partitions.reduce((sum, p) => sum + p.lag, 0n)),
    eventsPerSecond: c.eventsPerSecond,
    deadLetters: String(c.deadLetterCount),
    deadLetterTopic: c.deadLetterTopic,
    lastError: c.lastError,
    partitions: c.partitions.map((p) => {
      const last = iso(p.lastEventTime);
      const stalled = iso(p.stalledSince);
      return {
        partition: p.partition,
        lag: String(p.lag),
        eventsPerSecond: p.eventsPerSecond,
        deadLetters: String(p.deadLetterCount),
        ...(last === undefined ? {} : { lastEventTime: last }),
        ...(stalled === undefined ? {} : { stalledSince: stalled }),
      };
    }),
  };
}

/**
 * Watermarks, jobs and consumers, as the services report them now. The registry is
 * required; materialization and ingestion being away only leaves their part out
 * (named in `problems`), so a page still shows what it can.
 */
export async function freshness(
  upstreams: Clients,
  projects: ReadonlyMap<string, Pick<VisibleSet, 'featureViews'>>,
  options: RpcCallOptions,
): Promise<Freshness> {
  const now = Date.now();
  const problems: UpstreamProblem[] = [];
  const views = (
    await Promise.all(
      [...projects].map(async ([project, objects]) => {
        if (objects.featureViews.length === 0) return [];
        const { states } = await upstreams.registry.getMaterializationState({ project }, options);
        const byView = new Map(states.map((s) => [s.featureView, s]));
        return objects.featureViews.map((v) => viewFreshness(project, v, byView.get(v.name), now));
      }),
    )
  ).flat();
  const [jobs, consumers] = await Promise.all([
    upstreams.materialization === undefined
      ? []
      : upstreams.materialization.listJobs({ pageSize: JOBS_SHOWN }, options).then(
          (r) => r.jobs.map((j) => jobSummary(j, now)),
          (error: unknown) => {
            problems.push(problem('materialization', error));
            return [];
          },
        ),
    upstreams.ingestion === undefined
      ? []
      : upstreams.ingestion.getConsumerStatus({}, options).then(
          (r) => r.consumers.map(consumerSummary),
          (error: unknown) => {
            problems.push(problem('ingestion', error));
            return [];
          },
        ),
  ]);
  return { asOf: new Date(now).toISOString(), views, jobs, consumers, problems };
}

/** What the home page lists under "needs attention". */
export function attention(f: Freshness): AttentionItem[] {
  const items: AttentionItem[] = [];
  for (const v of f.views) {
    if (!v.stale) continue;
    const why =
      v.lastJobStatus === 'FAILED'
        ? `last materialization failed: ${v.lastError || 'no reason given'}`
        : v.watermark === undefined
          ? 'never materialized'
          : `materialized up to ${v.watermark}, older than its ttl`;
    items.push({ kind: 'stale-view', project: v.project, object: { kind: 'feature-view', name: v.name }, message: `${v.name}: ${why}` });
  }
  for (const j of f.jobs) {
    if (j.state === 'FAILED')
      items.push({
        kind: 'failed-job',
        project: j.project,
        message: `job ${j.id} failed: ${j.error || j.views.find((v) => v.error !== '')?.error || 'no reason given'}`,
      });
  }
  for (const c of f.consumers) {
    const object = { kind: 'data-source' as const, name: c.dataSource };
    if (c.state === 'FAILED' || c.state === 'PAUSED')
      items.push({
        kind: 'consumer-failed',
        project: c.project,
        object,
        message: `consumer of ${c.topic} is ${c.state.toLowerCase()}${c.lastError ? `: ${c.lastError}` : ''}`,
      });
    else if (BigInt(c.lag) >= LAG_ATTENTION || c.partitions.some((p) => p.stalledSince !== undefined))
      items.push({ kind: 'consumer-lag', project: c.project, object, message: `consumer of ${c.topic} is ${c.lag} messages behind` });
  }
  return items;
}
