// Statistics as SQL aggregates, per dialect: one scan for counts, moments, extremes,
// zeros, lengths and quantiles of the numeric, bytes and list features; one grouped scan
// for the scalar strings (value frequencies, and their counts and lengths read off the
// groups), so that on a columnar source each column is read once. Column names are ours
// (__f0, __f1, ...); the only numbers in the text are bounded options we computed,
// never client text.
import type { typesV1 } from '@larder/proto';
import { elementType, familyOf, isList } from '../cells';
import type { Dialect } from '../sql';

/** Per-dialect pieces the statistics need beyond the join's Dialect. */
export interface StatisticsDialect extends Dialect {
  /** An array of the quantiles of `value` at 0, 1/grid, ..., 1 (nulls ignored). */
  quantiles(value: string, grid: number): string;
  isNan(value: string): string;
  toDouble(value: string): string;
  /** Seconds since the epoch of a timestamp, as a double. */
  epochSeconds(value: string): string;
  byteLength(value: string, family: 'string' | 'bytes'): string;
  listLength(value: string): string;
}

export type StatisticsKind = 'numeric' | 'string' | 'bytes';

/** A column of the base relation (named __f<index>) and what it holds. */
export interface StatisticsColumn {
  /** The feature name in the result. */
  name: string;
  type: typesV1.ValueType;
  kind: StatisticsKind;
  list: boolean;
  /** Float values can be NaN (counted apart, left out of moments and quantiles). */
  float: boolean;
  /** Ints, bools and timestamps are TFDV INT; floats FLOAT. */
  integral: boolean;
}

export function statisticsColumn(name: string, type: typesV1.ValueType): StatisticsColumn {
  const family = familyOf(type);
  const kind: StatisticsKind = family === 'string' ? 'string' : family === 'bytes' ? 'bytes' : 'numeric';
  return {
    name,
    type: elementType(type),
    kind,
    list: isList(type),
    float: family === 'float',
    integral: family === 'int' || family === 'bool' || family === 'timestamp',
  };
}

export const columnAlias = (i: number): string => `__f${i}`;
const stat = (i: number, name: string): string => `s${i}_${name}`;

/** The value of a scalar numeric column as a double (bools 0/1, timestamps in seconds). */
function numericValue(d: StatisticsDialect, column: StatisticsColumn, ref: string): string {
  const family = familyOf(column.type);
  if (family === 'bool') return `CASE WHEN ${ref} THEN 1.0 WHEN NOT ${ref} THEN 0.0 END`;
  if (family === 'timestamp') return d.epochSeconds(ref);
  return d.toDouble(ref);
}

const countIf = (condition: string): string => `COALESCE(SUM(CASE WHEN ${condition} THEN 1 ELSE 0 END), 0)`;

/** Scalar string columns are described by valuesSql alone (their groups give counts and lengths). */
export const describedByValues = (column: StatisticsColumn): boolean => column.kind === 'string' && !column.list;

/**
 * One SELECT over the base relation: a row of aggregates, named s<i>_<stat>, and __n,
 * for every column but the scalar strings (see describedByValues).
 * Each value is prepared once per row in an inner projection (as a double, NaN as null,
 * lengths), so the aggregates read plain columns instead of repeating the expressions.
 */
export function aggregateSql(d: StatisticsDialect, base: string, columns: readonly StatisticsColumn[], grid: number): string {
  const q = d.quote;
  const prepared: string[] = [];
  const select = [`COUNT(*) AS ${q('__n')}`];
  columns.forEach((column, i) => {
    if (describedByValues(column)) return;
    const ref = q(columnAlias(i));
    const v = q(`__v${i}`);
    const c = q(`__c${i}`);
    const l = q(`__l${i}`);
    select.push(`COUNT(${column.kind === 'numeric' && !column.list ? v : ref}) AS ${q(stat(i, 'present'))}`);
    if (column.list) {
      prepared.push(`${ref}`, `${d.listLength(ref)} AS ${l}`);
      select.push(
        `MIN(${l}) AS ${q(stat(i, 'minvals'))}`,
        `MAX(${l}) AS ${q(stat(i, 'maxvals'))}`,
        `SUM(${l}) AS ${q(stat(i, 'totvals'))}`,
        `${d.quantiles(d.toDouble(l), grid)} AS ${q(stat(i, 'valsq'))}`,
      );
      return;
    }
    if (column.kind === 'bytes') {
      prepared.push(`${ref}`, `${d.byteLength(ref, column.kind)} AS ${l}`);
      select.push(`AVG(${d.toDouble(l)}) AS ${q(stat(i, 'avglen'))}`, `MIN(${l}) AS ${q(stat(i, 'minlen'))}`, `MAX(${l}) AS ${q(stat(i, 'maxlen'))}`);
      return;
    }
    const value = numericValue(d, column, ref);
    // A NaN is present but has no place in moments or quantiles: nan = present - valid.
    prepared.push(`${value} AS ${v}`, `${column.float ? `CASE WHEN ${d.isNan(value)} THEN NULL ELSE ${value} END` : value} AS ${c}`);
    select.push(
      `COUNT(${c}) AS ${q(stat(i, 'valid'))}`,
      `AVG(${c}) AS ${q(stat(i, 'mean'))}`,
      `STDDEV_POP(${c}) AS ${q(stat(i, 'std'))}`,
      `MIN(${c}) AS ${q(stat(i, 'min'))}`,
      `MAX(${c}) AS ${q(stat(i, 'max'))}`,
      `${countIf(`${c} = 0`)} AS ${q(stat(i, 'zeros'))}`,
      `${d.quantiles(c, grid)} AS ${q(stat(i, 'q'))}`,
    );
  });
  const inner = `SELECT ${prepared.length > 0 ? prepared.join(', ') : '1 AS __one'} FROM (${base}) AS ${q('__b')}`;
  return `SELECT ${select.join(', ')} FROM (${inner}) AS ${q('__p')}`;
}

/**
 * The `keep` most frequent values of every scalar string column (ties by value), with each
 * column's number of distinct values, of present values and their total length in bytes:
 * rows (__c column index, __v value, __n count, __u distinct values, __p present, __t
 * total length). One GROUPING SETS scan for all string columns.
 */
export function valuesSql(d: StatisticsDialect, base: string, columns: readonly StatisticsColumn[], keep: number): string | undefined {
  const q = d.quote;
  const strings = columns.map((column, i) => ({ column, i })).filter(({ column }) => column.kind === 'string' && !column.list);
  if (strings.length === 0) return undefined;
  const refs = strings.map(({ i }) => q(columnAlias(i)));
  const index = `CASE ${strings.map(({ i }, j) => `WHEN GROUPING(${refs[j]}) = 0 THEN ${i}`).join(' ')} END`;
  const value = `CASE ${strings.map((_, j) => `WHEN GROUPING(${refs[j]}) = 0 THEN ${refs[j]}`).join(' ')} END`;
  const grouped = `SELECT ${index} AS ${q('__c')}, ${value} AS ${q('__v')}, COUNT(*) AS ${q('__n')} FROM (${base}) AS ${q('__b')} GROUP BY GROUPING SETS (${refs.map((r) => `(${r})`).join(', ')})`;
  const ranked =
    `SELECT ${q('__c')}, ${q('__v')}, ${q('__n')}, ` +
    `ROW_NUMBER() OVER (PARTITION BY ${q('__c')} ORDER BY ${q('__n')} DESC, ${q('__v')}) AS ${q('__r')}, ` +
    `COUNT(*) OVER (PARTITION BY ${q('__c')}) AS ${q('__u')}, ` +
    `SUM(${q('__n')}) OVER (PARTITION BY ${q('__c')}) AS ${q('__p')}, ` +
    `SUM(${q('__n')} * ${d.byteLength(q('__v'), 'string')}) OVER (PARTITION BY ${q('__c')}) AS ${q('__t')} ` +
    `FROM (${grouped}) AS ${q('__g')} WHERE ${q('__v')} IS NOT NULL`;
  return `SELECT ${q('__c')}, ${q('__v')}, ${q('__n')}, ${q('__u')}, ${q('__p')}, ${q('__t')} FROM (${ranked}) AS ${q('__k')} WHERE ${q('__r')} <= ${keep} ORDER BY ${q('__c')}, ${q('__r')}`;
}
