// PostgreSQL: sources are tables or queries; the join runs as window functions
// over pruned ranges; results stream through a server-side cursor.
import pg from 'pg';
import type { PoolClient, PoolConfig, QueryConfig } from 'pg';
import { abortReason, whenAborted } from './cancel';
import { typesV1 } from '@larder/proto';
import { elementType, isList } from './cells';
import { isoMicros, parseTimestampText } from './micro-date';
import type { EngineColumnType } from './cells';
import { DestinationExistsError, EmptyEntitySetError, EngineError, MissingColumnError, UnsupportedRequestError } from './errors';
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
import { computeStatisticsWith } from './statistics';
import type { StatisticsDialect, StatisticsRequest } from './statistics';
import type { tfmdV0 } from '@larder/proto';
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

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const tableName = (name: string): string => name.split('.').map(quote).join('.');

export const postgresDialect: Dialect = {
  name: 'postgres',
  timestampType: 'timestamptz',
  quote,
  minus: (ts, interval) => `(${ts} - ${interval})`,
  // timestamp and timestamptz compare correctly as is: sessions run in UTC.
  timestamp: (column) => column,
  shardHash: (keys) => `(hashtextextended(concat_ws(chr(31), ${keys.map((k) => `${k}::text`).join(', ')}), 0) & 9223372036854775807)`,
};

/** PostgreSQL has no approximate quantile: percentile_cont is exact (it sorts each column). */
export const postgresStatisticsDialect: StatisticsDialect = {
  ...postgresDialect,
  quantiles: (value, grid) =>
    `percentile_cont(ARRAY[${Array.from({ length: grid + 1 }, (_, k) => `${k}::float8 / ${grid}`).join(', ')}]) WITHIN GROUP (ORDER BY ${value})`,
  isNan: (value) => `(${value} = 'NaN'::float8)`,
  toDouble: (value) => `CAST(${value} AS double precision)`,
  epochSeconds: (value) => `CAST(extract(epoch FROM ${value}) AS double precision)`,
  byteLength: (value) => `octet_length(${value})`,
  listLength: (value) => `cardinality(${value})`,
};

class PgParams implements Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  timestamp(value: Date): string {
    return `${this.add(isoMicros(value))}::timestamptz`;
  }
  millis(ms: number): string {
    return `(${this.add(ms)}::bigint * interval '1 millisecond')`;
  }
  int(value: number): string {
    return `${this.add(value)}::bigint`;
  }
}

const SCALAR: Partial<Record<typesV1.ValueType, string>> = {
  [ValueType.BYTES]: 'bytea',
  [ValueType.STRING]: 'text',
  [ValueType.INT32]: 'integer',
  [ValueType.INT64]: 'bigint',
  [ValueType.DOUBLE]: 'double precision',
  [ValueType.FLOAT]: 'real',
  [ValueType.BOOL]: 'boolean',
  [ValueType.UNIX_TIMESTAMP]: 'timestamptz',
};

/** The PostgreSQL column type Larder uses for a ValueType. */
export function postgresType(type: typesV1.ValueType): string {
  const scalar = SCALAR[elementType(type)];
  if (!scalar) throw new Error(`no PostgreSQL type for value type ${type}`);
  return isList(type) ? `${scalar}[]` : scalar;
}

// Type OIDs from pg_type: scalar and array forms.
const OIDS: Record<number, [string, EngineColumnType]> = {
  16: ['bool', { family: 'bool', list: false }],
  17: ['bytea', { family: 'bytes', list: false }],
  20: ['int8', { family: 'int', list: false }],
  21: ['int2', { family: 'int', list: false }],
  23: ['int4', { family: 'int', list: false }],
  25: ['text', { family: 'string', list: false }],
  1043: ['varchar', { family: 'string', list: false }],
  700: ['float4', { family: 'float', list: false }],
  701: ['float8', { family: 'float', list: false }],
  1700: ['numeric', { family: 'float', list: false }],
  1082: ['date', { family: 'timestamp', list: false }],
  1114: ['timestamp', { family: 'timestamp', list: false }],
  1184: ['timestamptz', { family: 'timestamp', list: false }],
  1000: ['bool[]', { family: 'bool', list: true }],
  1001: ['bytea[]', { family: 'bytes', list: true }],
  1005: ['int2[]', { family: 'int', list: true }],
  1007: ['int4[]', { family: 'int', list: true }],
  1016: ['int8[]', { family: 'int', list: true }],
  1009: ['text[]', { family: 'string', list: true }],
  1015: ['varchar[]', { family: 'string', list: true }],
  1021: ['float4[]', { family: 'float', list: true }],
  1022: ['float8[]', { family: 'float', list: true }],
  1115: ['timestamp[]', { family: 'timestamp', list: true }],
  1185: ['timestamptz[]', { family: 'timestamp', list: true }],
};

/** Timestamps without a zone are UTC here, whatever the Node process's zone. */
const types = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    // pg's own parsers stop at the millisecond; ours keep the microseconds (MicroDate).
    if (oid === 1114) return (value: string) => parseTimestampText(value) ?? new Date(`${value.replace(' ', 'T')}Z`);
    if (oid === 1184) {
      const fallback = pg.types.getTypeParser(oid, 'text');
      return (value: string) => parseTimestampText(value) ?? fallback(value);
    }
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/**
 * pg sends bigint and Uint8Array awkwardly: strings and Buffers travel safely. A Date
 * goes as UTC text: pg's own conversion writes the process's local time with its
 * offset, which a `timestamp` (no zone) column keeps as wall-clock time, dropping the offset.
 */
function toParam(cell: Cell): unknown {
  if (typeof cell === 'bigint') return cell.toString();
  if (cell instanceof Date) return isoMicros(cell);
  if (cell instanceof Uint8Array) return Buffer.from(cell);
  if (Array.isArray(cell)) return cell.map((c: Cell) => toParam(c));
  return cell;
}

export type PostgresOfflineStoreOptions = PoolConfig;

/**
 * A registered query that tries to write (SQLSTATE 25006: it runs in a read-only
 * transaction) is refused, not an engine failure: the source's definition is at fault.
 */
function postgresError(error: unknown): unknown {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === '25006' && typeof message === 'string') {
    return new EngineError('denied', 'a registered source query', `${message.split('\n')[0]} (source queries run read-only)`, { cause: error });
  }
  return error;
}

/**
 * The extended protocol: one statement per call, so text embedded in it (a registered
 * source's query) cannot end it and start another, as it could over the simple protocol.
 */
function extended<T extends QueryConfig>(config: T): T {
  return { ...config, queryMode: 'extended' } as T;
}

export class PostgresOfflineStore implements OfflineStore {
  readonly engine = 'postgres' as const;
  private readonly pool: pg.Pool;
  private tempCounter = 0;

  constructor(options: PostgresOfflineStoreOptions) {
    this.pool = new pg.Pool({ ...options, types, options: `${options.options ?? ''} -c TimeZone=UTC`.trim() });
    // A server that goes away makes pg emit 'error' on idle and checked-out clients;
    // without listeners that kills the process. The query in progress fails on its
    // own and the pool drops the broken client, so these are safe to ignore.
    this.pool.on('error', () => {});
    this.pool.on('connect', (client) => client.on('error', () => {}));
  }

  private relation(location: SourceLocation, what: string): string {
    switch (location.kind) {
      case 'table':
        return tableName(location.table);
      case 'query':
        return subquery(location.query, what);
      case 'file':
        throw new UnsupportedRequestError(`${what} is a file (${location.path}); PostgreSQL reads tables and queries`);
    }
  }

  private async describe(client: PoolClient, relation: string): Promise<DescribedColumn[]> {
    const result = await client.query(extended({ text: `SELECT * FROM ${relation} AS ${quote('__d')} LIMIT 0`, rowMode: 'array' }));
    return result.fields.map((f) => {
      const known = OIDS[f.dataTypeID];
      return { name: f.name, engineType: known?.[0] ?? `oid ${f.dataTypeID}`, type: known?.[1] };
    });
  }

  private async loadEntities(client: PoolClient, entities: EntityInput): Promise<{ table: string; label: string; timestampColumn: string }> {
    const table = quote(`__larder_entities_${++this.tempCounter}`);
    if (entities.kind === 'source') {
      const relation = this.relation(entities.location, 'the entity source');
      const timestampColumn = entities.timestampColumn ?? 'event_timestamp';
      const label = `entity source ${entities.location.kind === 'table' ? entities.location.table : 'query'}`;
      const described = await this.describe(client, relation);
      entityColumnsFrom(described, timestampColumn, label);
      const s = quote('__s');
      // A table has no order: rows are numbered by the caller's order column, else as read
      // (which keeps a query's ORDER BY in practice, but nothing promises it).
      const order =
        entities.orderColumn === undefined ? '' : `ORDER BY ${s}.${quote(orderedEntityColumn(described, entities.orderColumn, label))} ASC NULLS LAST`;
      await client.query(
        extended({
          text:
            `CREATE TEMP TABLE ${table} AS SELECT (row_number() OVER (${order})) - 1 AS ${quote(ROW)}, ${s}.*, ` +
            `${s}.${quote(timestampColumn)}::timestamptz AS ${quote(TS)} FROM ${relation} AS ${s}`,
        }),
      );
      return { table, label, timestampColumn };
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
    const ddl = columns.map((c) => `${quote(c.name)} ${c.name === entities.timestampColumn ? 'timestamptz' : postgresType(c.type)}`);
    await client.query(`CREATE TEMP TABLE ${table} (${quote(ROW)} bigint, ${ddl.join(', ')}, ${quote(TS)} timestamptz)`);
    const names = [quote(ROW), ...columns.map((c) => quote(c.name)), quote(TS)].join(', ');
    // One INSERT per group of rows (within PostgreSQL's 65,535 parameters), whatever the client's batch size.
    const perInsert = Math.max(1, Math.floor(30_000 / (columns.length + 2)));
    const tsAt = columns.findIndex((c) => c.name === entities.timestampColumn);
    let row = 0;
    for await (const group of entityRowGroups(entities, perInsert)) {
      const values: unknown[] = [];
      const tuples: string[] = [];
      for (let r = 0; r < group.rows; r++) {
        const first = values.length;
        values.push(row++, ...group.columns.map((col) => toParam(col[r]!)), toParam(group.columns[tsAt]![r]!));
        tuples.push(`(${Array.from({ length: columns.length + 2 }, (_, i) => `$${first + i + 1}`).join(', ')})`);
      }
      await client.query(`INSERT INTO ${table} (${names}) VALUES ${tuples.join(', ')}`, values);
    }
    return { table, label: 'the entity rows', timestampColumn: entities.timestampColumn };
  }

  private async plan(client: PoolClient, request: HistoricalRequest, rowIndex?: string) {
    const entity = await this.loadEntities(client, request.entities);
    const stats = (await client.query(`SELECT count(*)::int AS n, min(${quote(TS)}) AS lo, max(${quote(TS)}) AS hi FROM ${entity.table}`)).rows[0] as {
      n: number;
      lo: Date;
      hi: Date;
    };
    if (stats.n === 0) throw new EmptyEntitySetError(entity.label);
    const described = (await this.describe(client, entity.table)).filter((c) => c.name !== TS && c.name !== ROW);
    const entityPlan = entityColumnsFrom(described, entity.timestampColumn, entity.label);
    if (request.entities.kind === 'rows') {
      const declared = new Map(request.entities.columns.map((c) => [c.name, c.type]));
      for (const column of entityPlan.columns) if (column.role !== 'timestamp') column.type = declared.get(column.name) ?? column.type;
    }
    // The entity rows are staged (temp tables commit with the session); what reads the
    // sources runs in a read-only transaction, so a registered query cannot write.
    await client.query('BEGIN READ ONLY');
    const relations: string[] = [];
    const sources = [];
    for (const view of request.views) {
      const relation = this.relation(view.source.location, `source '${view.source.name}'`);
      relations.push(relation);
      sources.push(checkSource(view.source, describedMap(await this.describe(client, relation)), view.joinKeys, view.features, () => true));
    }
    const { plans, features } = planViews(request.views, entityPlan, sources);
    if (rowIndex !== undefined) rowIndexColumnOf(rowIndex, [...entityPlan.columns, ...features]);
    const p = new PgParams();
    const sql = windowJoinSql(postgresDialect, p, {
      entityTable: entity.table,
      entityColumns: entityPlan.columns,
      relations,
      plans,
      minTs: stats.lo,
      maxTs: stats.hi,
      ...(rowIndex !== undefined && { rowIndex }),
    });
    const schema: ResultSchema = { columns: [...entityPlan.columns, ...features], timestampColumn: entity.timestampColumn };
    return { sql, params: p.values, schema, rowCount: stats.n };
  }

  /** Rows of a query through a cursor, as column-major batches. The client must be in a transaction. */
  private async *cursor(client: PoolClient, sql: string, params: unknown[], batchRows: number): AsyncGenerator<unknown[][]> {
    const name = quote(`__larder_cursor_${++this.tempCounter}`);
    await client.query(extended({ text: `DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`, values: params }));
    for (;;) {
      const result = await client.query({ text: `FETCH ${batchRows} FROM ${name}`, rowMode: 'array' });
      if (result.rows.length === 0) break;
      const rows = result.rows as unknown[][];
      yield result.fields.map((_, c) => rows.map((row) => row[c]));
      if (result.rows.length < batchRows) break;
    }
    await client.query(`CLOSE ${name}`);
  }

  /**
   * Cancels the statement a client runs when the signal aborts: the backend keeps working
   * after a client stops listening, so the cancel goes over another connection.
   */
  private cancelOnAbort(client: PoolClient, signal: AbortSignal | undefined): () => void {
    const pid = (client as unknown as { processID?: number }).processID;
    return whenAborted(signal, () => {
      if (pid !== undefined) this.pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
    });
  }

  /** TFDV-compatible statistics, as SQL aggregates in PostgreSQL (one read-only transaction). */
  async computeStatistics(request: StatisticsRequest): Promise<tfmdV0.DatasetFeatureStatisticsList> {
    const client = await this.pool.connect();
    const unhook = this.cancelOnAbort(client, request.signal);
    try {
      await client.query('BEGIN READ ONLY');
      const statistics = await computeStatisticsWith(
        {
          dialect: postgresStatisticsDialect,
          params: () => new PgParams(),
          relation: async (location, label) => this.relation(location, label),
          describe: (relation) => this.describe(client, relation),
          query: async (sql, p) => (await client.query(extended({ text: sql, values: p.values }))).rows as Record<string, unknown>[],
          plainTimestamp: () => true,
        },
        request,
      );
      await client.query('COMMIT');
      return statistics;
    } catch (error) {
      throw abortReason(request.signal, postgresError(error));
    } finally {
      unhook();
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  async getHistoricalFeatures(request: HistoricalRequest): Promise<HistoricalResult> {
    const client = await this.pool.connect();
    const unhook = this.cancelOnAbort(client, request.signal);
    let released = false;
    const close = async (): Promise<void> => {
      if (released) return;
      released = true;
      unhook();
      // Rolling back drops the temp tables' rows and the cursor; the tables go with the session's DISCARD.
      await client.query('ROLLBACK').catch(() => undefined);
      await client.query('DISCARD TEMP').catch(() => undefined);
      client.release();
    };
    try {
      const { sql, params, schema, rowCount } = await this.plan(client, request);
      const chunkRows = request.chunkRows ?? DEFAULT_CHUNK_ROWS;
      const signal = request.signal;
      const cursor = this.cursor(client, sql, params, chunkRows);
      async function* rows(): AsyncGenerator<unknown[][]> {
        try {
          yield* cursor;
        } catch (error) {
          throw abortReason(signal, postgresError(error));
        }
      }
      return resultChunks(schema, rowCount, rows(), chunkRows, close);
    } catch (error) {
      await close();
      throw abortReason(request.signal, postgresError(error));
    }
  }

  async exportHistoricalFeatures(request: HistoricalRequest, destination: Destination): Promise<ExportResult> {
    if (destination.kind !== 'table') throw new UnsupportedRequestError(`PostgreSQL writes results to a table, not a file (${destination.path})`);
    const client = await this.pool.connect();
    const rowIndex = destination.rowIndexColumn ?? DEFAULT_ROW_INDEX_COLUMN;
    const unhook = this.cancelOnAbort(client, request.signal);
    try {
      const { sql, params, schema, rowCount } = await this.plan(client, request, rowIndex);
      await client.query('COMMIT');
      // The join runs read-only into a staging table (inserting into a temp table is allowed
      // there); only copying it to the destination writes.
      const stage = quote(`__larder_result_${++this.tempCounter}`);
      await client.query(extended({ text: `CREATE TEMP TABLE ${stage} AS ${sql} WITH NO DATA`, values: params }));
      await client.query('BEGIN READ ONLY');
      await client.query(extended({ text: `INSERT INTO ${stage} ${sql}`, values: params }));
      await client.query('COMMIT');
      await client.query('BEGIN');
      const exists = (await client.query('SELECT to_regclass($1) IS NOT NULL AS e', [destination.table])).rows[0] as { e: boolean };
      if (exists.e) {
        if (!destination.overwrite) throw new DestinationExistsError(destination.table);
        await client.query(`DROP TABLE ${tableName(destination.table)}`);
      }
      await client.query(`CREATE TABLE ${tableName(destination.table)} AS SELECT * FROM ${stage}`);
      await client.query('COMMIT');
      return { schema, rowCount, rowIndexColumn: rowIndex };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw abortReason(request.signal, postgresError(error));
    } finally {
      unhook();
      await client.query('DISCARD TEMP').catch(() => undefined);
      client.release();
    }
  }

  async *pullLatest(request: PullLatestRequest): AsyncGenerator<PullLatestChunk> {
    checkPullRequest(request);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN READ ONLY');
      const relation = this.relation(request.source.location, `source '${request.source.name}'`);
      const plan = checkSource(request.source, describedMap(await this.describe(client, relation)), request.joinKeys, request.features, () => true);
      const p = new PgParams();
      const sql = pullLatestSql(postgresDialect, p, { relation, plan, start: request.start, end: request.end, shard: request.shard });
      const chunkRows = request.chunkRows ?? DEFAULT_CHUNK_ROWS;
      const builder = pullChunkBuilder(request, chunkRows);
      for await (const batch of this.cursor(client, sql, p.values, chunkRows)) yield* builder.add(batch);
      const last = builder.flush();
      if (last) yield last;
      await client.query('COMMIT');
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  async append(source: BatchSource, rows: AppendRows): Promise<number> {
    const count = checkAppendRows(rows);
    if (count === 0) return 0;
    if (source.location.kind !== 'table') throw new UnsupportedRequestError(`source '${source.name}' is not a table; PostgreSQL appends to tables only`);
    const client = await this.pool.connect();
    try {
      const relation = this.relation(source.location, `source '${source.name}'`);
      const stored = (await this.describe(client, relation)).map((c) => c.name);
      const data = appendColumns(source, stored, rows, count);
      const perInsert = Math.max(1, Math.floor(30_000 / stored.length));
      await client.query('BEGIN');
      for (let start = 0; start < count; start += perInsert) {
        const end = Math.min(count, start + perInsert);
        const values: unknown[] = [];
        const tuples: string[] = [];
        for (let r = start; r < end; r++) {
          const first = values.length;
          values.push(...data.map((column) => toParam(column[r]!)));
          tuples.push(`(${stored.map((_, i) => `$${first + i + 1}`).join(', ')})`);
        }
        await client.query(`INSERT INTO ${relation} (${stored.map(quote).join(', ')}) VALUES ${tuples.join(', ')}`, values);
      }
      await client.query('COMMIT');
      return count;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async verifySource(source: BatchSource, views: readonly SourceUse[]): Promise<SourceCheck> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN READ ONLY');
      return await sourceCheck(
        () => this.describe(client, this.relation(source.location, `source '${source.name}'`)),
        source,
        views,
        () => true,
      );
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
