// BigQuery: sources are tables or GoogleSQL queries; the join runs as window
// functions over pruned ranges; inline entity rows go to a scratch table first.
import { randomUUID } from 'node:crypto';
import type { BigQuery, Job, Query, TableField } from '@google-cloud/bigquery';
import { typesV1 } from '@larder/proto';
import { elementType, isList } from './cells';
import type { EngineColumnType } from './cells';
import { DestinationExistsError, EmptyEntitySetError, InvalidRequestError, MissingColumnError, UnsupportedRequestError } from './errors';
import { checkSource, describedMap, entityColumnsFrom, planViews, ROW, TS } from './plan';
import type { DescribedColumn } from './plan';
import { appendColumns, checkAppendRows, checkPullRequest, DEFAULT_CHUNK_ROWS, pullChunkBuilder, resultChunks } from './shared';
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
} from './types';

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
    return this.add(value, 'TIMESTAMP');
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

/** A cell as the streaming-insert API takes it. */
function toJson(cell: Cell): unknown {
  if (cell === null) return null;
  if (typeof cell === 'bigint') return cell.toString();
  if (cell instanceof Date) return cell.toISOString();
  if (cell instanceof Uint8Array) return Buffer.from(cell).toString('base64');
  if (Array.isArray(cell)) return cell.map((c: Cell) => toJson(c));
  return cell;
}

export interface BigQueryOfflineStoreOptions {
  bigquery: BigQuery;
  /** Dataset (in the client's project) for temporary entity tables; they are deleted after each query. */
  scratchDataset: string;
  /** Job location, when not the default. */
  location?: string;
}

export class BigQueryOfflineStore implements OfflineStore {
  readonly engine = 'bigquery' as const;
  private readonly bigquery: BigQuery;

  constructor(private readonly options: BigQueryOfflineStoreOptions) {
    this.bigquery = options.bigquery;
  }

  private relation(location: SourceLocation, what: string): string {
    switch (location.kind) {
      case 'table':
        return quote(location.table);
      case 'query':
        return `(${location.query})`;
      case 'file':
        throw new UnsupportedRequestError(`${what} is a file (${location.path}); BigQuery reads tables and queries`);
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
  private async *pages(job: Job, pageRows: number): AsyncGenerator<unknown[][]> {
    let pageToken: string | undefined;
    for (;;) {
      const [rows, next, response] = await job.getQueryResults({ autoPaginate: false, maxResults: pageRows, wrapIntegers: true, ...(pageToken ? { pageToken } : {}) });
      const fields = ((response as { schema?: { fields?: TableField[] } } | undefined)?.schema?.fields ?? []).map((f) => f.name ?? '');
      const list = rows as Record<string, unknown>[];
      if (list.length > 0) yield fields.map((name) => list.map((row) => row[name]));
      pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
      if (!pageToken) return;
    }
  }

  private async run(query: string, params?: BqParams): Promise<Record<string, unknown>[]> {
    const job = await this.job(query, params);
    const [rows] = await job.getQueryResults({ wrapIntegers: true });
    return rows as Record<string, unknown>[];
  }

  private async describe(relation: string): Promise<DescribedColumn[]> {
    const job = await this.job(`SELECT * FROM ${relation} AS ${quote('__d')} LIMIT 0`);
    const [, , response] = await job.getQueryResults({ autoPaginate: false, maxResults: 1 });
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
    await this.bigquery.dataset(this.options.scratchDataset).table(id).delete().catch(() => undefined);
  }

  private async loadEntities(entities: EntityInput, table: { id: string; sql: string }): Promise<{ label: string; timestampColumn: string }> {
    if (entities.kind === 'source') {
      const relation = this.relation(entities.location, 'the entity source');
      const timestampColumn = entities.timestampColumn ?? 'event_timestamp';
      const label = `entity source ${entities.location.kind === 'table' ? entities.location.table : 'query'}`;
      entityColumnsFrom(await this.describe(relation), timestampColumn, label);
      const s = quote('__s');
      await this.run(
        `CREATE TABLE ${table.sql} AS SELECT ROW_NUMBER() OVER () - 1 AS ${quote(ROW)}, ${s}.*, CAST(${s}.${quote(timestampColumn)} AS TIMESTAMP) AS ${quote(TS)} FROM ${relation} AS ${s}`,
      );
      return { label, timestampColumn };
    }
    const columns = entities.columns;
    if (!columns.some((c) => c.name === entities.timestampColumn)) {
      throw new MissingColumnError('the entity rows', entities.timestampColumn, 'entity timestamp column', columns.map((c) => c.name));
    }
    const schema = [
      { name: ROW, type: 'INT64', mode: 'REQUIRED' },
      ...columns.map((c) => bigqueryField(c.name, c.name === entities.timestampColumn ? ValueType.UNIX_TIMESTAMP : c.type)),
      { name: TS, type: 'TIMESTAMP', mode: 'NULLABLE' },
    ];
    const [created] = await this.bigquery.dataset(this.options.scratchDataset).createTable(table.id, {
      schema: { fields: schema },
      expirationTime: String(Date.now() + 24 * 3600_000),
    });
    let row = 0;
    let batchIndex = 0;
    for await (const batch of entities.batches) {
      const cols = columns.map((c) => batch[c.name]);
      const length = cols[0]?.length ?? 0;
      cols.forEach((col, i) => {
        if (!col || col.length !== length) throw new InvalidRequestError(`entity batch ${batchIndex}.${columns[i]!.name}`, `expected ${length} values`);
      });
      const ts = batch[entities.timestampColumn]!;
      for (let start = 0; start < length; start += 5000) {
        const rows: Record<string, unknown>[] = [];
        for (let r = start; r < Math.min(length, start + 5000); r++) {
          const out: Record<string, unknown> = { [ROW]: row++, [TS]: toJson(ts[r]!) };
          columns.forEach((c, i) => (out[c.name] = toJson(cols[i]![r]!)));
          rows.push(out);
        }
        await created.insert(rows);
      }
      batchIndex++;
    }
    return { label: 'the entity rows', timestampColumn: entities.timestampColumn };
  }

  private async plan(request: HistoricalRequest, table: { id: string; sql: string }) {
    const entity = await this.loadEntities(request.entities, table);
    const stats = (await this.run(`SELECT COUNT(*) AS n, MIN(${quote(TS)}) AS lo, MAX(${quote(TS)}) AS hi FROM ${table.sql}`))[0]!;
    const n = Number((stats['n'] as { value?: string })?.value ?? stats['n']);
    if (n === 0) throw new EmptyEntitySetError(entity.label);
    const described = (await this.describe(table.sql)).filter((c) => c.name !== TS && c.name !== ROW);
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
      sources.push(checkSource(view.source, describedMap(await this.describe(relation)), view.joinKeys, view.features, (t) => t === 'TIMESTAMP'));
    }
    const { plans, features } = planViews(request.views, entityPlan, sources);
    const p = new BqParams();
    const toDate = (v: unknown): Date => new Date((v as { value: string }).value);
    const sql = windowJoinSql(bigqueryDialect, p, { entityTable: table.sql, entityColumns: entityPlan.columns, relations, plans, minTs: toDate(stats['lo']), maxTs: toDate(stats['hi']) });
    const schema: ResultSchema = { columns: [...entityPlan.columns, ...features], timestampColumn: entity.timestampColumn };
    return { sql, params: p, schema, rowCount: n };
  }

  async getHistoricalFeatures(request: HistoricalRequest): Promise<HistoricalResult> {
    const table = this.scratchTable();
    const close = (): Promise<void> => this.dropScratch(table.id);
    try {
      const { sql, params, schema, rowCount } = await this.plan(request, table);
      const job = await this.job(sql, params);
      const chunkRows = request.chunkRows ?? DEFAULT_CHUNK_ROWS;
      return resultChunks(schema, rowCount, this.pages(job, chunkRows), chunkRows, close);
    } catch (error) {
      await close();
      throw error;
    }
  }

  async exportHistoricalFeatures(request: HistoricalRequest, destination: Destination): Promise<ExportResult> {
    if (destination.kind !== 'table') throw new UnsupportedRequestError(`BigQuery writes results to a table, not a file (${destination.path})`);
    const table = this.scratchTable();
    try {
      const { sql, params, schema, rowCount } = await this.plan(request, table);
      const parts = destination.table.split('.');
      const [datasetId, tableId] = parts.length === 3 ? [parts[1]!, parts[2]!] : [parts[0]!, parts[1]!];
      const [exists] = await this.bigquery.dataset(datasetId).table(tableId).exists();
      if (exists && !destination.overwrite) throw new DestinationExistsError(destination.table);
      await this.run(`CREATE ${exists ? 'OR REPLACE ' : ''}TABLE ${quote(destination.table)} AS ${sql}`, params);
      return { schema, rowCount };
    } finally {
      await this.dropScratch(table.id);
    }
  }

  async *pullLatest(request: PullLatestRequest): AsyncGenerator<PullLatestChunk> {
    checkPullRequest(request);
    const relation = this.relation(request.source.location, `source '${request.source.name}'`);
    const plan = checkSource(request.source, describedMap(await this.describe(relation)), request.joinKeys, request.features, (t) => t === 'TIMESTAMP');
    const p = new BqParams();
    const sql = pullLatestSql(bigqueryDialect, p, { relation, plan, start: request.start, end: request.end, shard: request.shard });
    const chunkRows = request.chunkRows ?? DEFAULT_CHUNK_ROWS;
    const builder = pullChunkBuilder(request, chunkRows);
    for await (const batch of this.pages(await this.job(sql, p), chunkRows)) yield* builder.add(batch);
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
    const stored = (await this.describe(this.relation(source.location, `source '${source.name}'`))).map((c) => c.name);
    const data = appendColumns(source, stored, rows, count);
    for (let start = 0; start < count; start += 5000) {
      const batch: Record<string, unknown>[] = [];
      for (let r = start; r < Math.min(count, start + 5000); r++) {
        const row: Record<string, unknown> = {};
        stored.forEach((name, c) => (row[name] = toJson(data[c]![r]!)));
        batch.push(row);
      }
      await table.insert(batch);
    }
    return count;
  }

  async close(): Promise<void> {}
}
