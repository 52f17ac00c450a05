// The engine-independent path of a statistics request: which rows (the base
// relation), which columns, the two statements, and the result.
import { checkSource, describedMap } from '../plan';
import type { DescribedColumn } from '../plan';
import { InvalidRequestError, MissingColumnError, ColumnTypeError } from '../errors';
import { describeType, fits, valueTypeOf } from '../cells';
import { pullLatestSql } from '../sql';
import type { Params } from '../sql';
import type { FeatureSpec, SourceLocation } from '../types';
import { assembleStatistics, valueRows } from './assemble';
import { quantileGrid, resolveStatisticsOptions } from './options';
import { aggregateSql, columnAlias, statisticsColumn, valuesSql } from './sql';
import type { StatisticsColumn, StatisticsDialect } from './sql';
import type { DatasetFeatureStatisticsList, StatisticsRequest } from './types';

/** What an engine lends the statistics: its relations, descriptions and queries. */
export interface StatisticsEngine<P extends Params> {
  dialect: StatisticsDialect;
  params(): P;
  /** FROM-able SQL for a location; its parameters go into p. */
  relation(location: SourceLocation, label: string, p: P): Promise<string>;
  describe(relation: string, p: P, label: string): Promise<readonly DescribedColumn[]>;
  /** Runs a statement, rows as objects of driver values. */
  query(sql: string, p: P): Promise<Record<string, unknown>[]>;
  /** Whether a described timestamp column needs no cast (the engine's plain timestamp). */
  plainTimestamp(engineType: string): boolean;
}

/** Computes statistics in the engine: two statements, no rows pulled. */
export async function computeStatisticsWith<P extends Params>(engine: StatisticsEngine<P>, request: StatisticsRequest): Promise<DatasetFeatureStatisticsList> {
  const options = resolveStatisticsOptions(request.options);
  const d = engine.dialect;
  const q = d.quote;
  const input = request.input;
  const p = engine.params();
  let base: string;
  let columns: StatisticsColumn[];
  if (input.kind === 'source') {
    const label = `source '${input.source.name}'`;
    const describeParams = engine.params();
    const described = describedMap(await engine.describe(await engine.relation(input.source.location, label, describeParams), describeParams, label));
    const relation = await engine.relation(input.source.location, label, p);
    const plan = checkSource(input.source, described, input.latestPerKey ?? [], input.features, engine.plainTimestamp);
    columns = plan.features.map((f) => statisticsColumn(f.output, f.spec.type));
    const window = input.window;
    if (window !== undefined) checkWindow(window.start, window.end);
    if (input.latestPerKey !== undefined) {
      if (window === undefined || window.column !== 'event') throw new InvalidRequestError('window', 'latest-per-key statistics need an event-time window');
      base = pullLatestSql(d, p, { relation, plan, start: window.start, end: window.end, shard: undefined });
    } else {
      const where: string[] = [];
      if (window !== undefined) {
        let ts: string;
        if (window.column === 'created') {
          if (plan.created === undefined)
            throw new InvalidRequestError('window', `${label} has no created_timestamp_column, so rows cannot be selected by when they arrived`);
          ts = d.timestamp(q(plan.created), plan.createdIsPlain);
        } else {
          ts = d.timestamp(q(plan.ts), plan.tsIsPlain);
        }
        where.push(`${ts} >= ${p.timestamp(window.start)}`, `${ts} < ${p.timestamp(window.end)}`);
      }
      const select = plan.features.map((f, i) => `${q(f.stored)} AS ${q(columnAlias(i))}`);
      base = `SELECT ${select.join(', ')} FROM ${relation} AS ${q('__src')}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}`;
    }
  } else {
    const describeParams = engine.params();
    const described = await engine.describe(await engine.relation(input.location, input.label, describeParams), describeParams, input.label);
    const relation = await engine.relation(input.location, input.label, p);
    const picked = pickColumns(described, input.features ?? [], input.label);
    columns = picked.map((c) => statisticsColumn(c.output, c.type));
    base = `SELECT ${picked.map((c, i) => `${q(c.stored)} AS ${q(columnAlias(i))}`).join(', ')} FROM ${relation} AS ${q('__src')}`;
  }
  if (columns.length === 0) throw new InvalidRequestError('features', 'no feature to describe');
  const grid = quantileGrid(options.quantileBuckets);
  const aggregates = (await engine.query(aggregateSql(d, base, columns, grid), p))[0] ?? {};
  const valuesStatement = valuesSql(d, base, columns, Math.max(options.topValues, options.rankHistogramBuckets));
  const values = valuesStatement === undefined ? [] : valueRows(await engine.query(valuesStatement, p));
  return assembleStatistics(request.datasetName, columns, aggregates, values, options);
}

function checkWindow(start: Date, end: Date): void {
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) throw new InvalidRequestError('window', 'start and end must be valid times');
  if (start.getTime() > end.getTime()) throw new InvalidRequestError('window', `start ${start.toISOString()} is after end ${end.toISOString()}`);
}

/** The columns of a location to describe: those named (checked), or every one of a known type. */
function pickColumns(described: readonly DescribedColumn[], features: readonly FeatureSpec[], label: string) {
  if (features.length === 0) {
    return described.filter((c) => c.type !== undefined).map((c) => ({ stored: c.name, output: c.name, type: valueTypeOf(c.type!) }));
  }
  const byName = describedMap(described);
  return features.map((f) => {
    const stored = f.name;
    const column = byName.get(stored);
    if (!column)
      throw new MissingColumnError(
        label,
        stored,
        `feature '${f.name}'`,
        described.map((c) => c.name),
      );
    if (!column.type || !fits(f.type, column.type)) throw new ColumnTypeError(label, stored, `feature '${f.name}'`, column.engineType, describeType(f.type));
    return { stored, output: f.outputName ?? f.name, type: f.type };
  });
}
