// BigQuery: sources are tables or GoogleSQL queries; the join runs as window
// functions over pruned ranges; inline entity rows go to a scratch table first.
import { randomUUID } from 'node:crypto';
import { BigQueryTimestamp } from '@google-cloud/bigquery';
import type { BigQuery, Job, Query, TableField } from '@google-cloud/bigquery';
import { typesV1 } from '@larder/proto';
import { abortReason, whenAborted } from './cancel';
import { computeStatisticsWith } from './statistics';
import type { StatisticsDialect, StatisticsRequest } from './statistics';
import type { tfmdV0 } from '@larder/proto';
import { elementType, isList } from './cells';
import { isoMicros } from './micro-date';
import type { EngineColumnType } from './cells';
import { DestinationExistsError, EmptyEntitySetError, EngineError, MissingColumnError, UnsupportedRequestError } from './errors';
import type { EngineFailure } from './errors';
import { checkSource, describedMap, entityColumnsFrom, planViews, ROW, TS, sourceCheck } from './plan';
import type { DescribedColumn } from './plan';
import {
  appendColumns,
  checkAppendRows,
  checkPullRequest,
  DEFAULT_CHUNK_ROWS,
  entityRowGroups,
  orderedEntityColumn,
  pullChunkBuilder,
  resultChunks,
  rowIndexColumnOf,
  subquery,
} from './shared';
import { pullLatestSql, windowJoinSql } from './sql';
import type { Dialect, Params } from './sql';
import type {
  AppendRows,
  BatchSource,
  Cell,
  Destination,
  EntityInput,
  ExportResult,
  HistoricalRequest,
  HistoricalResult,
  OfflineStore,
  PullLatestChunk,
  PullLatestRequest,
  ResultSchema,
  SourceLocation,
  SourceCheck,
  SourceUse,
} from './types';
import { DEFAULT_ROW_INDEX_COLUMN } from './types';

const { ValueType } = typesV1;

const quote = (name: string): string => `\`${name.replace(/[`\\]/g, (c) => `\\${c}`)}\``;

export const bigqueryDialect: Dialect = {
  name: 'bigquery',
  timestampType: 'TIMESTAMP',
  quote,
  minus: (ts, interval) => `TIMESTAMP_SUB(${ts}, ${interval})`,
  timestamp: (column, plain) => (plain ? column : `CAST(${column} AS TIMESTAMP)`),
  shardHash: (keys) => `ABS(MOD(FARM_FINGERPRINT(CONCAT(${keys.map((k) => `IFNULL(CAST(${k} AS STRING), '')`).join(", '|', ")})), 2305843009213693951))`,
};

/** BigQuery's APPROX_QUANTILES returns grid + 1 evenly spaced quantiles in one pass. */
export const bigqueryStatisticsDialect: StatisticsDialect = {
  ...bigqueryDialect,
  quantiles: (value, grid) => `APPROX_QUANTILES(${value}, ${grid})`,
  isNan: (value) => `IS_NAN(${value})`,
  toDouble: (value) => `CAST(${value} AS FLOAT64)`,
  epochSeconds: (value) => `(UNIX_MICROS(${value}) / 1e6)`,
  byteLength: (value) => `BYTE_LENGTH(${value})`,
  listLength: (value) => `ARRAY_LENGTH(${value})`,
};

class BqParams implements Params {
  readonly values: Record<string, unknown> = {};
  readonly types: Record<string, string> = {};
  private n = 0;
  private add(value: unknown, type: string): string {
    const name = `p${++this.n}`;
    this.values[name] = value;
    this.types[name] = type;
    return `@${name}`;
  }
  timestamp(value: Date): string {
    // The client would turn a Date into milliseconds; text keeps the microseconds.
    return this.add(new BigQueryTimestamp(isoMicros(value)), 'TIMESTAMP');
  }
  millis(ms: number): string {
    return `INTERVAL ${this.add(ms, 'INT64')} MILLISECOND`;
  }
  int(value: number): string {
    return this.add(value, 'INT64');
  }
}

const SCALAR: Partial<Record<typesV1.ValueType, string>> = {
  [ValueType.BYTES]: 'BYTES',
  [ValueType.STRING]: 'STRING',
  [ValueType.INT32]: 'INT64',
  [ValueType.INT64]: 'INT64',
  [ValueType.DOUBLE]: 'FLOAT64',
  [ValueType.FLOAT]: 'FLOAT64',
  [ValueType.BOOL]: 'BOOL',
  [ValueType.UNIX_TIMESTAMP]: 'TIMESTAMP',
};

/** The BigQuery schema field for a ValueType (lists are REPEATED). */
export function bigqueryField(name: string, type: typesV1.ValueType): TableField {
  const scalar = SCALAR[elementType(type)];
  if (!scalar) throw new Error(`no BigQuery type for value type ${type}`);
  return { name, type: scalar, mode: isList(type) ? 'REPEATED' : 'NULLABLE' };
}

function columnType(field: TableField): EngineColumnType | undefined {
  const list = field.mode === 'REPEATED';
  switch ((field.type ?? '').toUpperCase()) {
    case 'INT64':
    case 'INTEGER':
      return { family: 'int', list };
    case 'FLOAT64':
    case 'FLOAT':
    case 'NUMERIC':
    case 'BIGNUMERIC':
      return { family: 'float', list };
    case 'STRING':
      return { family: 'string', list };
    case 'BYTES':
      return { family: 'bytes', list };
    case 'BOOL':
    case 'BOOLEAN':
      return { family: 'bool', list };
    case 'TIMESTAMP':
    case 'DATETIME':
    case 'DATE':
      return { family: 'timestamp', list };
    default:
      return undefined;
  }
}

/** BigQuery's error reasons (https://cloud.google.com/bigquery/docs/error-messages) by what a caller can do about them. */
const FAILURES: Readonly<Record<string, EngineFailure>> = {
  notFound: 'not_found',
  invalidQuery: 'invalid',
  invalid: 'invalid',
  accessDenied: 'denied',
  quotaExceeded: 'exhausted',
  rateLimitExceeded: 'exhausted',
  resourcesExceeded: 'exhausted',
  backendError: 'unavailable',
  internalError: 'unavailable',
};

/**
 * A BigQuery API error about `relation` as an EngineError: its reason decides the
 * failure, its message's first line (the query text stays out) the detail. Anything
 * else (a bug of ours, a network error) is returned as it was.
 */
export function bigqueryError(error: unknown, relation: string): unknown {
  const api = error as { errors?: { reason?: string; message?: string }[]; code?: number; message?: unknown } | null;
  const first = api?.errors?.[0];
  const failure =
    (first?.reason !== undefined ? FAILURES[first.reason] : undefined) ??
    (api?.code === 404 ? 'not_found' : api?.code === 403 ? 'denied' : api?.code === 429 ? 'exhausted' : api?.code === 503 ? 'unavailable' : undefined);
  if (failure === undefined) return error;
  const detail = String(first?.message ?? api?.message ?? '')
    .split('\n')[0]!
    .replace(/^Query execution failed: /, '');
  return new EngineError(failure, relation, detail, { cause: error });
}

/** A cell as the streaming-insert API takes it. */
function toJson(cell: Cell): unknown {
  if (cell === null) return null;
  if (typeof cell === 'bigint') return cell.toString();
  if (cell instanceof Date) return isoMicros(cell);
  if (cell instanceof Uint8Array) return Buffer.from(cell).toString('base64');
  if (Array.isArray(cell)) return cell.map((c: Cell) => toJson(c));
  return cell;
}

const JOIN = 'the point-in-time join';

/** A source as errors name it: its name and its table (or that it is a query). */
function sourceLabel(source: BatchSource): string {
  const where = source.location.kind === 'table' ? `table ${source.location.table}` : source.location.kind;
  return `source '${source.name}' (${where})`;
}

export interface BigQueryOfflineStoreOptions {
  bigquery: BigQuery;
  /** Dataset (in the client's project) for temporary entity tables; they are deleted after each query. */
  scratchDataset: string;
  /** Job location, when not the default. */
  location?: string;
  /** Inline entity rows per streaming insert, whatever the caller's batch size (default 5,000). */
  stageRows?: number;
}

export class BigQueryOfflineStore implements OfflineStore {
  readonly engine = 'bigquery' as const;
  private readonly bigquery: BigQuery;

  constructor(private readonly options: BigQueryOfflineStoreOptions) {
    this.bigquery = options.bigquery;
  }

  /** `relation` turned into an EngineError naming `label` when BigQuery refuses it. */
  private async guard<T>(label: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw bigqueryError(error, label);
    }
  }

  private relation(location: SourceLocation, what: string): string {
    switch (location.kind) {
      case 'table':
        return quote(location.table);
      case 'query':
        return subquery(location.query, what);
      case 'file':
        throw new UnsupportedRequestError(`${what} is a file (${location.path}); BigQuery reads tables and queries`);
    }
  }

  /** TFDV-compatible statistics, as SQL aggregates in BigQuery (two query jobs). */
  async computeStatistics(request: StatisticsRequest): Promise<tfmdV0.DatasetFeatureStatisticsList> {
    const jobs = new Set<Job>();
    // A job runs on in BigQuery (and is billed) after the caller leaves unless cancelled.
    const unhook = whenAborted(request.signal, () => jobs.forEach((job) => void job.cancel().catch(() => undefined)));
    try {
      return await computeStatisticsWith(
        {
          dialect: bigqueryStatisticsDialect,
          params: () => new BqParams(),
          relation: async (location, label) => this.relation(location, label),
          describe: (relation, _p, label) => this.describe(relation, label),
          query: (sql, p) =>
            this.guard('statistics', async () => {
              const job = await this.job(sql, p);
              jobs.add(job);
              const [rows] = await job.getQueryResults({ wrapIntegers: true });
              return rows as Record<string, unknown>[];
            }),
          plainTimestamp: (t) => t === 'TIMESTAMP',
        },
        request,
      );
    } catch (error) {
      throw abortReason(request.signal, error);
    } finally {
      unhook();
    }
  }

  private async job(query: string, params?: BqParams): Promise<Job> {
    const options: Query = { query, useLegacySql: false, ...(this.options.location ? { location: this.options.location } : {}) };
    if (params && Object.keys(params.values).length > 0) {
      options.params = params.values;
      options.types = params.types;
    }
    const [job] = await this.bigquery.createQueryJob(options);
    return job;
  }

  /** Rows of a finished job, page by page, column-major in schema order. */
  private async *pages(job: Job, pageRows: number, label: string): AsyncGenerator<unknown[][]> {
    let pageToken: string | undefined;
    for (;;) {
      const [rows, next, response] = await this.guard(label, () =>
        job.getQueryResults({ autoPaginate: false, maxResults: pageRows, wrapIntegers: true, ...(pageToken ? { pageToken } : {}) }),
      );
      const fields = ((response as { schema?: { fields?: TableField[] } } | undefined)?.schema?.fields ?? []).map((f) => f.name ?? '');
      const list = rows as Record<string, unknown>[];
      if (list.length > 0) yield fields.map((name) => list.map((row) => row[name]));
      pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
      if (!pageToken) return;
    }
  }

  private async run(label: string, query: string, params?: BqParams): Promise<Record<string, unknown>[]> {
    return this.guard(label, async () => {
      const job = await this.job(query, params);
      const [rows] = await job.getQueryResults({ wrapIntegers: true });
      return rows as Record<string, unknown>[];
    });
  }

  /** The relation's columns; `label` names it when BigQuery refuses (a table that does not exist, say). */
  private async describe(relation: string, label: string): Promise<DescribedColumn[]> {
    const [, , response] = await this.guard(label, async () =>
      (await this.job(`SELECT * FROM ${relation} AS ${quote('__d')} LIMIT 0`)).getQueryResults({ autoPaginate: false, maxResults: 1 }),
    );
    const fields = (response as { schema?: { fields?: TableField[] } } | undefined)?.schema?.fields ?? [];
    // The API reports INT64 as INTEGER and FLOAT64 as FLOAT; name them as GoogleSQL does.
    const sqlName = (type: string): string => ({ INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL' })[type] ?? type;
    return fields.map((f) => {
      const type = sqlName((f.type ?? '?').toUpperCase());
      return { name: f.name ?? '', engineType: f.mode === 'REPEATED' ? `ARRAY<${type}>` : type, type: columnType(f) };
    });
  }

  private scratchTable(): { id: string; sql: string } {
    const id = `larder_tmp_${randomUUID().replace(/-/g, '')}`;
    return { id, sql: quote(`${this.bigquery.projectId}.${this.options.scratchDataset}.${id}`) };
  }

  private async dropScratch(id: string): Promise<void> {
    await this.bigquery
      .dataset(this.options.scratchDataset)
      .table(id)
      .delete()
      .catch(() => undefined);
  }

  private async loadEntities(entities: EntityInput, table: { id: string; sql: string }): Promise<{ label: string; timestampColumn: string }> {
    if (entities.kind === 'source') {
      const relation = this.relation(entities.location, 'the entity source');
      const timestampColumn = entities.timestampColumn ?? 'event_timestamp';
      const label = `entity source ${entities.location.kind === 'table' ? `table ${entities.location.table}` : 'query'}`;
      const described = await this.describe(relation, label);
      entityColumnsFrom(described, timestampColumn, label);
      const s = quote('__s');
      // A table has no order: rows are numbered by the caller's order column, else as BigQuery reads them.
      const order =
        entities.orderColumn === undefined ? '' : `ORDER BY ${s}.${quote(orderedEntityColumn(described, entities.orderColumn, label))} ASC NULLS LAST`;
      await this.run(
        label,
        `CREATE TABLE ${table.sql} AS SELECT ROW_NUMBER() OVER (${order}) - 1 AS ${quote(ROW)}, ${s}.*, CAST(${s}.${quote(timestampColumn)} AS TIMESTAMP) AS ${quote(TS)} FROM ${relation} AS ${s}`,
      );
      return { label, timestampColumn };
    }
    const columns = entities.columns;
    if (!columns.some((c) => c.name === entities.timestampColumn)) {
      throw new MissingColumnError(
        'the entity rows',
        entities.timestampColumn,
        'entity timestamp column',
        columns.map((c) => c.name),
      );
    }
    const schema = [
      { name: ROW, type: 'INT64', mode: 'REQUIRED' },
      ...columns.map((c) => bigqueryField(c.name, c.name === entities.timestampColumn ? ValueType.UNIX_TIMESTAMP : c.type)),
      { name: TS, type: 'TIMESTAMP', mode: 'NULLABLE' },
    ];
    const scratch = `scratch dataset '${this.options.scratchDataset}'`;
    const [created] = await this.guard(scratch, () =>
      this.bigquery.dataset(this.options.scratchDataset).createTable(table.id, {
        schema: { fields: schema },
        expirationTime: String(Date.now() + 24 * 3600_000),
      }),
    );
    const tsAt = columns.findIndex((c) => c.name === entities.timestampColumn);
    let row = 0;
    // One streaming insert per group, not per client batch: a client sending rows a few at a
    // time would otherwise pay a round trip (and a request to BigQuery) per handful of rows.
    for await (const group of entityRowGroups(entities, this.options.stageRows ?? 5000)) {
      const rows: Record<string, unknown>[] = new Array(group.rows);
      for (let r = 0; r < group.rows; r++) {
        const out: Record<string, unknown> = { [ROW]: row++, [TS]: toJson(group.columns[tsAt]![r]!) };
        columns.forEach((c, i) => (out[c.name] = toJson(group.columns[i]![r]!)));
        rows[r] = out;
      }
      await this.guard(scratch, () => created.insert(rows));
    }
    return { label: 'the entity rows', timestampColumn: entities.timestampColumn };
  }

  private async plan(request: HistoricalRequest, table: { id: string; sql: string }, rowIndex?: string) {
    const entity = await this.loadEntities(request.entities, table);
    const stats = (await this.run(entity.label, `SELECT COUNT(*) AS n, MIN(${quote(TS)}) AS lo, MAX(${quote(TS)}) AS hi FROM ${table.sql}`))[0]!;
    const n = Number((stats['n'] as { value?: string })?.value ?? stats['n']);
    if (n === 0) throw new EmptyEntitySetError(entity.label);
    const described = (await this.describe(table.sql, entity.label)).filter((c) => c.name !== TS && c.name !== ROW);
    const entityPlan = entityColumnsFrom(described, entity.timestampColumn, entity.label);
    if (request.entities.kind === 'rows') {
      const declared = new Map(request.entities.columns.map((c) => [c.name, c.type]));
      for (const column of entityPlan.columns) if (column.role !== 'timestamp') column.type = declared.get(column.name) ?? column.type;
    }
    const relations: string[] = [];
    const sources = [];
    for (const view of request.views) {
      const relation = this.relation(view.source.location, `source '${view.source.name}'`);
      relations.push(relation);
      sources.push(
        checkSource(view.source, describedMap(await this.describe(relation, sourceLabel(view.source))), view.joinKeys, view.features, (t) => t === 'TIMESTAMP'),
      );
    }
    const { plans, features } = planViews(request.views, entityPlan, sources);
    if (rowIndex !== undefined) rowIndexColumnOf(rowIndex, [...entityPlan.columns, ...features]);
    const p = new BqParams();
    const toDate = (v: unknown): Date => new Date((v as { value: string }).value);
    const sql = windowJoinSql(bigqueryDialect, p, {
      entityTable: table.sql,
      entityColumns: entityPlan.columns,
      relations,
      plans,
      minTs: toDate(stats['lo']),
      maxTs: toDate(stats['hi']),
      ...(rowIndex !== undefined && { rowIndex }),
    });
    const schema: ResultSchema = { columns: [...entityPlan.columns, ...features], timestampColumn: entity.timestampColumn };
    return { sql, params: p, schema, rowCount: n };
  }

  async getHistoricalFeatures(request: HistoricalRequest): Promise<HistoricalResult> {
    const table = this.scratchTable();
    let unhook = (): void => undefined;
    const close = (): Promise<void> => {
      unhook();
      return this.dropScratch(table.id);
    };
    try {
      const { sql, params, schema, rowCount } = await this.plan(request, table);
      const job = await this.guard(JOIN, () => this.job(sql, params));
      // A job runs on in BigQuery (and is billed) after the caller leaves unless cancelled.
      unhook = whenAborted(request.signal, () => void job.cancel().catch(() => undefined));
      const chunkRows = request.chunkRows ?? DEFAULT_CHUNK_ROWS;
      const signal = request.signal;
      const pages = this.pages(job, chunkRows, JOIN);
      async function* rows(): AsyncGenerator<unknown[][]> {
        try {
          yield* pages;
        } catch (error) {
          throw abortReason(signal, error);
        }
      }
      return resultChunks(schema, rowCount, rows(), chunkRows, close);
    } catch (error) {
      await close();
      throw abortReason(request.signal, error);
    }
  }

  async exportHistoricalFeatures(request: HistoricalRequest, destination: Destination): Promise<ExportResult> {
    if (destination.kind !== 'table') throw new UnsupportedRequestError(`BigQuery writes results to a table, not a file (${destination.path})`);
    const table = this.scratchTable();
    const rowIndex = destination.rowIndexColumn ?? DEFAULT_ROW_INDEX_COLUMN;
    try {
      const { sql, params, schema, rowCount } = await this.plan(request, table, rowIndex);
      const parts = destination.table.split('.');
      const [datasetId, tableId] = parts.length === 3 ? [parts[1]!, parts[2]!] : [parts[0]!, parts[1]!];
      const label = `destination table ${destination.table}`;
      const [exists] = await this.guard(label, () => this.bigquery.dataset(datasetId).table(tableId).exists());
      if (exists && !destination.overwrite) throw new DestinationExistsError(destination.table);
      await this.run(label, `CREATE ${exists ? 'OR REPLACE ' : ''}TABLE ${quote(destination.table)} AS ${sql}`, params);
      return { schema, rowCount, rowIndexColumn: rowIndex };
    } finally {
      await this.dropScratch(table.id);
    }
  }

  async *pullLatest(request: PullLatestRequest): AsyncGenerator<PullLatestChunk> {
    checkPullRequest(request);
    const relation = this.relation(request.source.location, `source '${request.source.name}'`);
    const label = sourceLabel(request.source);
    const plan = checkSource(request.source, describedMap(await this.describe(relation, label)), request.joinKeys, request.features, (t) => t === 'TIMESTAMP');
    const p = new BqParams();
    const sql = pullLatestSql(bigqueryDialect, p, { relation, plan, start: request.start, end: request.end, shard: request.shard });
    const chunkRows = request.chunkRows ?? DEFAULT_CHUNK_ROWS;
    const builder = pullChunkBuilder(request, chunkRows);
    for await (const batch of this.pages(await this.guard(label, () => this.job(sql, p)), chunkRows, label)) yield* builder.add(batch);
    const last = builder.flush();
    if (last) yield last;
  }

  async append(source: BatchSource, rows: AppendRows): Promise<number> {
    const count = checkAppendRows(rows);
    if (count === 0) return 0;
    if (source.location.kind !== 'table') throw new UnsupportedRequestError(`source '${source.name}' is not a table; BigQuery appends to tables only`);
    const parts = source.location.table.split('.');
    const [datasetId, tableId] = parts.length === 3 ? [parts[1]!, parts[2]!] : [parts[0]!, parts[1]!];
    const table = this.bigquery.dataset(datasetId).table(tableId);
    const label = sourceLabel(source);
    const stored = (await this.describe(this.relation(source.location, `source '${source.name}'`), label)).map((c) => c.name);
    const data = appendColumns(source, stored, rows, count);
    for (let start = 0; start < count; start += 5000) {
      const batch: Record<string, unknown>[] = [];
      for (let r = start; r < Math.min(count, start + 5000); r++) {
        const row: Record<string, unknown> = {};
        stored.forEach((name, c) => (row[name] = toJson(data[c]![r]!)));
        batch.push(row);
      }
      await this.guard(label, () => table.insert(batch));
    }
    return count;
  }

  async verifySource(source: BatchSource, views: readonly SourceUse[]): Promise<SourceCheck> {
    return sourceCheck(
      () => this.describe(this.relation(source.location, `source '${source.name}'`), sourceLabel(source)),
      source,
      views,
      (t) => t === 'TIMESTAMP',
    );
  }

  async close(): Promise<void> {}
}
