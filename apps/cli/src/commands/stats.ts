// `larder stats`: TFDV-compatible statistics from the StatisticsService (offline-retrieval).
// The engine computes them; the CLI prints a table (or the record as JSON) and can write
// the DatasetFeatureStatisticsList bytes TFDV loads (tfdv.load_stats_binary).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { toBinary, toJson } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { statisticsV1, tfmdV0 } from '@larder/proto';
import { Code, RpcError, createClient } from '@larder/rpc';
import { UsageError } from '../args';
import type { CommandContext } from '../command-spec';
import { repoConfig } from '../context';
import { clientSecurity } from '../security';
import { formatJson, formatTable } from '../output';
import { parseTime } from './materialize';

const NAME = 'stats';
/** The service's default port (apps/offline-retrieval). */
const DEFAULT_ADDRESS = '127.0.0.1:6571';

type Scope = NonNullable<MessageInitShape<typeof statisticsV1.StatisticsScopeSchema>['kind']>;

function scopeOf(ctx: CommandContext): Scope {
  const flag = (name: string): string | undefined => ctx.flags[name] as string | undefined;
  const given = ['view', 'feature-service', 'saved-dataset'].filter((name) => flag(name) !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of --view NAME, --feature-service NAME, --saved-dataset NAME (or --list, --id)', NAME);
  const window = () => {
    const start = flag('start');
    const end = flag('end');
    if (start === undefined || end === undefined) throw new UsageError('--start and --end are required with --view and --feature-service', NAME);
    const range = { start: parseTime(start, '--start', NAME), end: parseTime(end, '--end', NAME) };
    if (range.end.getTime() <= range.start.getTime()) throw new UsageError(`--end ${end} must be after --start ${start}`, NAME);
    return { start: timestampFromMs(range.start.getTime()), end: timestampFromMs(range.end.getTime()) };
  };
  const saved = flag('saved-dataset');
  if (saved !== undefined) return { case: 'savedDataset', value: { savedDataset: saved } };
  const service = flag('feature-service');
  if (service !== undefined) return { case: 'featureService', value: { featureService: service, eventTime: window() } };
  const view = flag('view')!;
  const features = (flag('features') ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  switch (flag('rows') ?? 'event') {
    case 'event':
      return { case: 'featureView', value: { featureView: view, eventTime: window(), features } };
    case 'ingested':
      return { case: 'ingested', value: { featureView: view, createdTime: window() } };
    case 'materialized':
      return { case: 'materialized', value: { featureView: view, eventTime: window() } };
    default:
      throw new UsageError(`--rows "${flag('rows')}": use event, ingested or materialized`, NAME);
  }
}

function count(n: bigint | number | undefined): string {
  return n === undefined ? '' : String(n);
}

function number(n: number): string {
  return String(Number(n.toPrecision(6)));
}

/** One line per feature: what a person scans for first. */
export function statisticsTable(list: tfmdV0.DatasetFeatureStatisticsList): string {
  const rows: string[][] = [];
  for (const dataset of list.datasets) {
    for (const feature of dataset.features) {
      const name = `${list.datasets.length > 1 ? `${dataset.name}/` : ''}${feature.fieldId.case === 'path' ? feature.fieldId.value.step.join('.') : (feature.fieldId.value ?? '')}`;
      const type = tfmdV0.FeatureNameStatistics_Type[feature.type] ?? String(feature.type);
      const stats = feature.stats;
      if (stats.case === 'numStats') {
        const s = stats.value;
        const c = s.commonStats;
        rows.push([
          name,
          type,
          count(c?.numNonMissing),
          count(c?.numMissing),
          number(s.mean),
          number(s.stdDev),
          number(s.min),
          number(s.median),
          number(s.max),
          count(s.numZeros),
          '',
          '',
        ]);
      } else if (stats.case === 'stringStats') {
        const s = stats.value;
        const c = s.commonStats;
        const top = s.topValues[0];
        rows.push([
          name,
          type,
          count(c?.numNonMissing),
          count(c?.numMissing),
          '',
          '',
          '',
          '',
          '',
          '',
          count(s.unique),
          top ? `${top.value} (${top.frequency})` : '',
        ]);
      } else {
        const c = stats.value?.commonStats;
        rows.push([name, type, count(c?.numNonMissing), count(c?.numMissing), '', '', '', '', '', '', '', '']);
      }
    }
  }
  return formatTable(['feature', 'type', 'count', 'missing', 'mean', 'std', 'min', 'median', 'max', 'zeros', 'unique', 'top value'], rows);
}

export async function stats(ctx: CommandContext): Promise<number> {
  const flag = (name: string): string | undefined => ctx.flags[name] as string | undefined;
  const on = (name: string): boolean => (ctx.flags as Record<string, unknown>)[name] === true;
  const repo = await repoConfig(ctx);
  const address = flag('offline') ?? ctx.io.env['LARDER_OFFLINE_RETRIEVAL'] ?? repo?.services.offline_retrieval ?? DEFAULT_ADDRESS;
  const project = ctx.flags.project ?? repo?.project ?? '';
  const client = createClient(statisticsV1.StatisticsService, address, await clientSecurity(ctx));
  try {
    if (on('list')) {
      const { records } = await client.listStatistics({
        project,
        objectName: flag('view') ?? flag('feature-service') ?? flag('saved-dataset') ?? '',
        pageSize: 1000,
      });
      if (ctx.flags.output === 'json') ctx.io.out(formatJson(records.map((r) => toJson(statisticsV1.StatisticsRecordSchema, r))));
      else
        ctx.io.out(
          formatTable(
            ['id', 'computed', 'scope', 'rows', 'engine'],
            records.map((r) => [
              r.id,
              r.computedAt ? new Date(Number(r.computedAt.seconds) * 1000).toISOString() : '',
              r.scope?.kind.case ?? '',
              String(r.rowCount),
              r.engine,
            ]),
          ),
        );
      return 0;
    }
    const topValues = flag('top-values') ?? '0';
    if (!/^\d{1,9}$/.test(topValues)) throw new UsageError(`--top-values "${topValues}" is not a count`, NAME);
    const id = flag('id');
    const record =
      id !== undefined
        ? (await client.getStatistics({ project, id })).record
        : (
            await client.computeStatistics(
              { scope: { project, kind: scopeOf(ctx) }, dryRun: on('dry-run'), options: { topValues: Number(topValues) } },
              { timeoutMs: 3_600_000 },
            )
          ).record;
    if (record?.statistics === undefined) throw new Error('the service answered without statistics');
    const out = flag('out');
    if (out !== undefined) await writeFile(path.resolve(ctx.io.cwd, out), toBinary(tfmdV0.DatasetFeatureStatisticsListSchema, record.statistics));
    if (ctx.flags.output === 'json') ctx.io.out(formatJson(toJson(statisticsV1.StatisticsRecordSchema, record)));
    else {
      ctx.io.out(
        `${record.id === '' ? 'Not stored (dry run)' : `Statistics ${record.id}`}: ${record.rowCount} rows on ${record.engine}${out !== undefined ? `; written to ${out}` : ''}\n`,
      );
      ctx.io.out(statisticsTable(record.statistics));
    }
    return 0;
  } catch (error) {
    if (error instanceof RpcError && error.code === Code.UNAVAILABLE) {
      throw new Error(
        `the offline-retrieval service at ${address} is unavailable (${error.message}); start it, or point --offline (or larder.yaml services.offline_retrieval) at one`,
      );
    }
    throw error;
  } finally {
    client.close();
  }
}
