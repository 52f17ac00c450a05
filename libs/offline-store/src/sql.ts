// SQL text for the point-in-time join and pull-latest, per dialect. Values
// (time bounds, ttl, shard numbers) always travel as parameters; identifiers
// are quoted by the dialect.
import { ROW, TS } from './plan';
import type { ViewPlan } from './plan';
import type { ResultColumn } from './types';

/** Collects parameters and returns the placeholder text for each. */
export interface Params {
  timestamp(value: Date): string;
  /** An interval of ms milliseconds, as an expression. */
  millis(ms: number): string;
  int(value: number): string;
}

export interface Dialect {
  readonly name: 'duckdb' | 'postgres' | 'bigquery';
  /** The type comparisons run on (DuckDB TIMESTAMP, PostgreSQL timestamptz, BigQuery TIMESTAMP). */
  readonly timestampType: string;
  quote(identifier: string): string;
  /** `ts - interval` in this dialect. */
  minus(ts: string, interval: string): string;
  /** An expression for the stored timestamp column as the engine's comparable timestamp. */
  timestamp(column: string, plain: boolean): string;
  /** A non-negative integer hash of the key expressions, for sharding. */
  shardHash(keys: readonly string[]): string;
}

export interface JoinInput {
  /** SQL for the entity rows, with ROW and TS columns. */
  entityTable: string;
  entityColumns: readonly ResultColumn[];
  /** FROM-able SQL per view (a table name, a subquery in parentheses, a table function). */
  relations: readonly string[];
  plans: readonly ViewPlan[];
  /** Entity time range, for pruning. */
  minTs: Date;
  maxTs: Date;
  /** When set, the first output column: each row's index (ROW), under this name. */
  rowIndex?: string;
}

/** Source rows of one view, pruned to the entity time range and renamed to internal names. */
function prunedSource(d: Dialect, p: Params, input: JoinInput, i: number, extra: string[] = []): string {
  const plan = input.plans[i]!;
  const q = d.quote;
  const ts = d.timestamp(q(plan.ts), plan.tsIsPlain);
  const select = [
    ...plan.keys.map((k, j) => `${q(k.stored)} AS ${q(`__k${j}`)}`),
    `${ts} AS ${q('__ts')}`,
    ...(plan.created ? [`${d.timestamp(q(plan.created), plan.createdIsPlain)} AS ${q('__cr')}`] : []),
    ...plan.features.map((f, j) => `${q(f.stored)} AS ${q(`__f${j}`)}`),
    ...extra,
  ];
  // Rows older than min(t) - ttl or newer than max(t) can never be picked. The
  // upper bound is padded by 1 ms because JS Dates drop microseconds.
  const where = [`${ts} <= ${p.timestamp(new Date(input.maxTs.getTime() + 1))}`];
  if (plan.ttlMs > 0) where.push(`${ts} >= ${p.timestamp(new Date(input.minTs.getTime() - plan.ttlMs - 1))}`);
  return `SELECT ${select.join(', ')} FROM ${input.relations[i]} AS ${q('__src')} WHERE ${where.join(' AND ')}`;
}

function entitySelect(d: Dialect, input: JoinInput, alias: string): string[] {
  const index = input.rowIndex === undefined ? [] : [`${alias}.${d.quote(ROW)} AS ${d.quote(input.rowIndex)}`];
  return [...index, ...input.entityColumns.map((c) => `${alias}.${d.quote(c.name)}`)];
}

/**
 * DuckDB: one ASOF LEFT JOIN per view, chained. ASOF picks the greatest
 * event_ts <= t (with a created column, the greatest (event_ts, created_ts)); the
 * ttl is a post-filter (if the latest row is too old, every older one is too).
 */
export function asofJoinSql(d: Dialect, p: Params, input: JoinInput): string {
  const q = d.quote;
  const ctes = [`${q('__e')} AS (SELECT * FROM ${input.entityTable})`];
  const joins: string[] = [];
  const outputs: string[] = entitySelect(d, input, q('__e'));
  const bounds = new Map<string, string>();
  input.plans.forEach((plan, i) => {
    const v = q(`__v${i}`);
    const source = plan.entityKeys.length > 0 ? keyPrunedSource(d, p, input, i, ctes, bounds) : prunedSource(d, p, input, i);
    // With a created column, ASOF orders rows by (event time, created time) as one struct,
    // a null created time lowest: the greatest (ts, cr) <= (t, +infinity) is the latest
    // row at t with ties broken by the latest created. No pass to deduplicate first.
    const ordered = plan.created
      ? `SELECT *, struct_pack(t := ${q('__ts')}, c := coalesce(${q('__cr')}, '-infinity'::TIMESTAMP)) AS ${q('__ord')} FROM (${source})`
      : source;
    ctes.push(`${v} AS (${ordered})`);
    const on = [
      ...plan.entityKeys.map((column, j) => `${q('__e')}.${q(column)} = ${v}.${q(`__k${j}`)}`),
      plan.created ? `struct_pack(t := ${q('__e')}.${q(TS)}, c := 'infinity'::TIMESTAMP) >= ${v}.${q('__ord')}` : `${q('__e')}.${q(TS)} >= ${v}.${q('__ts')}`,
    ];
    joins.push(`ASOF LEFT JOIN ${v} ON ${on.join(' AND ')}`);
    const fresh = plan.ttlMs > 0 ? `${v}.${q('__ts')} >= ${d.minus(`${q('__e')}.${q(TS)}`, p.millis(plan.ttlMs))}` : undefined;
    plan.features.forEach((f, j) => {
      const value = `${v}.${q(`__f${j}`)}`;
      outputs.push(`${fresh ? `CASE WHEN ${fresh} THEN ${value} END` : value} AS ${q(f.output)}`);
    });
  });
  return `WITH ${ctes.join(',\n')}\nSELECT ${outputs.join(', ')}\nFROM ${q('__e')}\n${joins.join('\n')}\nORDER BY ${q('__e')}.${q(ROW)}`;
}

/**
 * Source rows of view i that some entity row with the same keys could pick: event time
 * within [min t - ttl, max t] of that key's entity rows. Rows of keys nobody asked for
 * go too. The ASOF join sorts every row it is given, so dropping rows with a hash join
 * first is cheaper whenever it removes a fair share (a third at 1M entity rows over
 * 500k keys, nearly all for a small entity set). Each set of entity key columns gets
 * one bounds CTE, shared by the views joined on it.
 */
function keyPrunedSource(d: Dialect, p: Params, input: JoinInput, i: number, ctes: string[], bounds: Map<string, string>): string {
  const q = d.quote;
  const plan = input.plans[i]!;
  const signature = JSON.stringify(plan.entityKeys);
  let b = bounds.get(signature);
  if (b === undefined) {
    b = q(`__b${bounds.size}`);
    bounds.set(signature, b);
    const keys = plan.entityKeys.map((column, j) => `${q(column)} AS ${q(`__bk${j}`)}`);
    ctes.push(`${b} AS (SELECT ${keys.join(', ')}, min(${q(TS)}) AS ${q('__lo')}, max(${q(TS)}) AS ${q('__hi')} FROM ${q('__e')} GROUP BY ALL)`);
  }
  const s = q('__p');
  const on = [
    ...plan.entityKeys.map((_, j) => `${s}.${q(`__k${j}`)} = ${b}.${q(`__bk${j}`)}`),
    `${s}.${q('__ts')} <= ${b}.${q('__hi')}`,
    ...(plan.ttlMs > 0 ? [`${s}.${q('__ts')} >= ${d.minus(`${b}.${q('__lo')}`, p.millis(plan.ttlMs))}`] : []),
  ];
  return `SELECT ${s}.* FROM (${prunedSource(d, p, input, i)}) AS ${s} JOIN ${b} ON ${on.join(' AND ')}`;
}

/**
 * PostgreSQL and BigQuery: per view, join the entity rows to the pruned source
 * rows in [t - ttl, t] with the same keys, rank them per entity row by
 * (event_ts DESC, created_ts DESC) and keep rank 1; then left-join each view's
 * winners back onto the entity rows by row number.
 */
export function windowJoinSql(d: Dialect, p: Params, input: JoinInput): string {
  const q = d.quote;
  const e = q('__e');
  const ctes: string[] = [];
  const joins: string[] = [];
  const outputs: string[] = entitySelect(d, input, e);
  input.plans.forEach((plan, i) => {
    const v = q(`__v${i}`);
    const s = q('__s');
    const on = [
      ...plan.entityKeys.map((column, j) => `${e}.${q(column)} = ${s}.${q(`__k${j}`)}`),
      `${s}.${q('__ts')} <= ${e}.${q(TS)}`,
      ...(plan.ttlMs > 0 ? [`${s}.${q('__ts')} >= ${d.minus(`${e}.${q(TS)}`, p.millis(plan.ttlMs))}`] : []),
    ];
    const order = [`${s}.${q('__ts')} DESC`, ...(plan.created ? [`${s}.${q('__cr')} DESC NULLS LAST`] : [])];
    const features = plan.features.map((_, j) => `${s}.${q(`__f${j}`)}`);
    const ranked =
      `SELECT ${e}.${q(ROW)} AS ${q('__row')}${features.map((f) => `, ${f}`).join('')}, ` +
      `ROW_NUMBER() OVER (PARTITION BY ${e}.${q(ROW)} ORDER BY ${order.join(', ')}) AS ${q('__rn')} ` +
      `FROM ${input.entityTable} AS ${e} JOIN (${prunedSource(d, p, input, i)}) AS ${s} ON ${on.join(' AND ')}`;
    ctes.push(`${v} AS (SELECT * FROM (${ranked}) AS ${q('__ranked')} WHERE ${q('__rn')} = 1)`);
    joins.push(`LEFT JOIN ${v} ON ${v}.${q('__row')} = ${e}.${q(ROW)}`);
    plan.features.forEach((f, j) => outputs.push(`${v}.${q(`__f${j}`)} AS ${q(f.output)}`));
  });
  return `WITH ${ctes.join(',\n')}\nSELECT ${outputs.join(', ')}\nFROM ${input.entityTable} AS ${e}\n${joins.join('\n')}\nORDER BY ${e}.${q(ROW)}`;
}

export interface PullInput {
  relation: string;
  plan: Pick<ViewPlan, 'keys' | 'features' | 'ts' | 'created' | 'tsIsPlain' | 'createdIsPlain'>;
  start: Date;
  end: Date;
  shard: { index: number; count: number } | undefined;
  /** Rows in join key order (the engine's), for merging several views' streams by entity. */
  orderByKeys?: boolean;
}

/**
 * The latest row per entity key with event time in [start, end], ranked in the
 * engine. Selected columns: __k0.., __ts, __cr, __f0...
 */
export function pullLatestSql(d: Dialect, p: Params, input: PullInput): string {
  const q = d.quote;
  const { plan } = input;
  const ts = d.timestamp(q(plan.ts), plan.tsIsPlain);
  const created = plan.created ? d.timestamp(q(plan.created), plan.createdIsPlain) : undefined;
  const keys = plan.keys.map((k) => q(k.stored));
  const where = [`${ts} >= ${p.timestamp(input.start)}`, `${ts} <= ${p.timestamp(input.end)}`, ...keys.map((k) => `${k} IS NOT NULL`)];
  // A view without entities has one key (the empty one), which lives in shard 0.
  if (input.shard) where.push(`MOD(${keys.length > 0 ? d.shardHash(keys) : '0'}, ${p.int(input.shard.count)}) = ${p.int(input.shard.index)}`);
  const order = [`${ts} DESC`, ...(created ? [`${created} DESC NULLS LAST`] : [])];
  const partition = keys.length > 0 ? `PARTITION BY ${keys.join(', ')} ` : '';
  const select = [
    ...plan.keys.map((k, j) => `${q(k.stored)} AS ${q(`__k${j}`)}`),
    `${ts} AS ${q('__ts')}`,
    ...(created ? [`${created} AS ${q('__cr')}`] : []),
    ...plan.features.map((f, j) => `${q(f.stored)} AS ${q(`__f${j}`)}`),
    `ROW_NUMBER() OVER (${partition}ORDER BY ${order.join(', ')}) AS ${q('__rn')}`,
  ];
  const inner = `SELECT ${select.join(', ')} FROM ${input.relation} AS ${q('__src')} WHERE ${where.join(' AND ')}`;
  // The null created column is added outside the ranking: DuckDB 1.5's top-N
  // window rewrite fails on a typed NULL inside it.
  const outer = [
    ...plan.keys.map((_, j) => q(`__k${j}`)),
    q('__ts'),
    created ? q('__cr') : `CAST(NULL AS ${d.timestampType}) AS ${q('__cr')}`,
    ...plan.features.map((_, j) => q(`__f${j}`)),
  ];
  const keyOrder = input.orderByKeys && plan.keys.length > 0 ? ` ORDER BY ${plan.keys.map((_, j) => q(`__k${j}`)).join(', ')}` : '';
  return `SELECT ${outer.join(', ')} FROM (${inner}) AS ${q('__ranked')} WHERE ${q('__rn')} = 1${keyOrder}`;
}
