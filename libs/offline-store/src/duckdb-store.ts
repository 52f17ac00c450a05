// The embedded engine: DuckDB over Parquet and CSV files (and its own tables).
import { randomUUID } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { DuckDBDataChunk, DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { duckdbColumnType, duckdbPlainTimestamp, duckdbType } from './duckdb-types';
import {
  DestinationExistsError,
  DestinationNotReplaceableError,
  EmptyEntitySetError,
  MissingColumnError,
  NoSourceFilesError,
  InvalidRequestError,
  UnsupportedRequestError,
} from './errors';
import { checkMatches, confinePath, markOutput, outputMarker, resolveRoots } from './paths';
import type { FileRoots } from './paths';
import { abortReason, whenAborted } from './cancel';
import { checkSource, describedMap, entityColumnsFrom, planViews, ROW, TS, sourceCheck } from './plan';
import type { DescribedColumn } from './plan';
import { asofJoinSql, pullLatestSql } from './sql';
import type { Dialect, Params } from './sql';
import { computeStatisticsWith } from './statistics';
import type { StatisticsDialect, StatisticsRequest } from './statistics';
import type { tfmdV0, typesV1 } from '@larder/proto';
import { columnCells, columnMillis, columnValues, fromDuckDB, toDuckDB } from './duckdb-columns';
import { epochMicrosBigInt } from './micro-date';
import {
  appendColumns,
  checkAppendRows,
  checkPullRequest,
  DEFAULT_CHUNK_ROWS,
  entityRowGroups,
  orderedEntityColumn,
  pullChunkBuilder,
  pullColumnTypes,
  resultChunks,
  rowIndexColumnOf,
  subquery,
} from './shared';
import type {
  AppendRows,
  BatchSource,
  Destination,
  EntityInput,
  ExportResult,
  HistoricalRequest,
  HistoricalParquet,
  HistoricalResult,
  OfflineStore,
  ParquetOutput,
  ParquetPart,
  PullLatestChunk,
  PullLatestRequest,
  ResultSchema,
  SourceLocation,
  SourceCheck,
  SourceUse,
} from './types';
import { DEFAULT_ROW_INDEX_COLUMN } from './types';

export interface DuckDBOfflineStoreOptions {
  /** Database file; default in memory (sources are files, so nothing needs to persist). */
  database?: string;
  /** DuckDB settings, e.g. `{ threads: '4', memory_limit: '2GB' }`. */
  config?: Record<string, string>;
  /**
   * Confines every file path (sources, entity files, destinations, appends) to these
   * roots and locks the engine down: no extension auto-install or auto-load, file access
   * limited to the roots (`enable_external_access` off), configuration locked. Services
   * always set it; without it (tools, tests) paths are used as given.
   */
  roots?: FileRoots;
  /**
   * Folder under which getHistoricalParquet writes its files, in a private folder per
   * call. Default: a new folder in the system temporary directory, removed at close.
   */
  chunkDirectory?: string;
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * Any DuckDB timestamp-like column (TIMESTAMPTZ, TIMESTAMP_NS/MS/S, DATE) as a plain
 * TIMESTAMP holding UTC wall-clock time. CAST(TIMESTAMPTZ AS TIMESTAMP) goes through ICU's
 * calendar per value even in a UTC session: on the files pandas (and Feast) write, whose
 * times are all TIMESTAMPTZ, that cast was over two thirds of a point-in-time join's CPU
 * (3.0 CPU s against 0.9 without it, 100k entity rows x 3 views of 1M rows; 0.25 CPU s per
 * 1M values against 0.03). The epoch microseconds of a finite value are the same instant,
 * with no zone involved; +-infinity, which make_timestamp cannot hold, keep the cast.
 */
function plainTimestampSql(column: string): string {
  return `CASE WHEN isfinite(${column}) THEN make_timestamp(epoch_us(${column})) ELSE CAST(${column} AS TIMESTAMP) END`;
}

export const duckdbDialect: Dialect = {
  name: 'duckdb',
  timestampType: 'TIMESTAMP',
  quote,
  minus: (ts, interval) => `(${ts} - ${interval})`,
  timestamp: (column, plain) => (plain ? column : plainTimestampSql(column)),
  shardHash: (keys) => `hash(${keys.join(', ')})`,
};

/**
 * DuckDB's quantiles come from a uniform reservoir sample of 40,000 values per column
 * (reservoir_quantile): exact up to that many values, and beyond it each quantile's rank
 * has a standard error of at most 0.5 / sqrt(40,000) = 0.25%, so three standard errors
 * stay inside the 1% rank error (epsilon 0.01) of TFDV's own quantiles sketch.
 * approx_quantile (a t-digest) gives no stated bound and cost 4.6x as much on 10M rows x
 * 5 columns here. With 100,000 values (0.16%) the quantiles cost 3.8x the Parquet scan of
 * the values at 1M rows, with 40,000 2.2x: the reservoir's replacements and the
 * 101-point selection at the end.
 */
export const DUCKDB_QUANTILE_SAMPLE = 40_000;

/** DuckDB's statistics dialect. */
export const duckdbStatisticsDialect: StatisticsDialect = {
  ...duckdbDialect,
  quantiles: (value, grid) =>
    `reservoir_quantile(${value}, CAST([${Array.from({ length: grid + 1 }, (_, k) => String(k / grid)).join(', ')}] AS DOUBLE[]), ${DUCKDB_QUANTILE_SAMPLE})`,
  isNan: (value) => `isnan(${value})`,
  toDouble: (value) => `CAST(${value} AS DOUBLE)`,
  epochSeconds: (value) => `(CAST(epoch_us(CAST(${value} AS TIMESTAMP)) AS DOUBLE) / 1e6)`,
  byteLength: (value, family) => (family === 'string' ? `strlen(${value})` : `octet_length(${value})`),
  listLength: (value) => `len(${value})`,
};

class DuckDBParams implements Params {
  readonly values: DuckDBValue[] = [];
  private add(value: DuckDBValue): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  timestamp(value: Date): string {
    return `make_timestamp(${this.add(epochMicrosBigInt(value))}::BIGINT)`;
  }
  millis(ms: number): string {
    return `to_microseconds(${this.add(BigInt(ms) * 1000n)}::BIGINT)`;
  }
  int(value: number): string {
    return `${this.add(BigInt(value))}::BIGINT`;
  }
  text(value: string): string {
    return `${this.add(value)}::VARCHAR`;
  }
}

/**
 * Appended rows of a file source live in a sibling folder of Parquet files:
 * `data/stats.parquet` -> `data/stats.parquet.appended/`, `data/stats/*.parquet`
 * or `data/stats/` -> `data/stats.appended/`. Reads of the source include it.
 */
export function appendFolder(path: string): string {
  const glob = path.search(/[*?[{]/);
  const base = glob >= 0 ? dirname(path.slice(0, glob) + 'x') : path;
  return `${base.replace(/\/+$/, '')}.appended`;
}

function fileFormat(location: { path: string; format?: 'parquet' | 'csv' }): 'parquet' | 'csv' {
  return location.format ?? (/\.csv(\.gz)?$/i.test(location.path) ? 'csv' : 'parquet');
}

/** Whose path a relation reads, for errors: the label names it, `entities` marks the caller's own entity file. */
interface PathOwner {
  label: string;
  entities: boolean;
}

export class DuckDBOfflineStore implements OfflineStore {
  readonly engine = 'duckdb' as const;
  private tempCounter = 0;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly roots: FileRoots | undefined,
    private readonly chunks: { readonly folder: string; readonly owned: boolean },
  ) {}

  static async create(options: DuckDBOfflineStoreOptions = {}): Promise<DuckDBOfflineStore> {
    const roots = options.roots && resolveRoots(options.roots);
    const config = { ...options.config, ...(roots && { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' }) };
    const chunks =
      options.chunkDirectory !== undefined
        ? { folder: resolve(options.chunkDirectory), owned: false }
        : { folder: mkdtempSync(join(tmpdir(), 'larder-duckdb-chunks-')), owned: true };
    mkdirSync(chunks.folder, { recursive: true });
    const instance = await DuckDBInstance.create(options.database ?? ':memory:', config);
    // DuckDB 1.5's top-N window rewrite fails with an internal error on
    // ROW_NUMBER() = 1 over a CSV scan with a pushed-down timestamp filter.
    const connection = await instance.connect();
    try {
      await connection.run(`SET disabled_optimizers = 'top_n_window_elimination'`);
      await connection.run(`SET GLOBAL TimeZone = 'UTC'`);
      if (roots) {
        // The engine's own fence behind the path checks: files outside the roots (and
        // every URL) are refused even if a path slipped through, and no SQL can undo it.
        const allowed = [...roots.read, roots.write, chunks.folder, ...(options.config?.['temp_directory'] ? [options.config['temp_directory']] : [])];
        const list = allowed.map((dir) => `'${(dir.endsWith('/') ? dir : `${dir}/`).replace(/'/g, "''")}'`).join(', ');
        await connection.run(`SET allowed_directories = [${list}]`);
        await connection.run(`SET enable_external_access = false`);
        await connection.run(`SET lock_configuration = true`);
      }
    } finally {
      connection.closeSync();
    }
    return new DuckDBOfflineStore(instance, roots, chunks);
  }

  /**
   * A connection whose session runs in UTC. DuckDB's default zone is the process's: a
   * TIMESTAMPTZ source column cast to TIMESTAMP (the type joins and windows compare on,
   * and which holds UTC wall-clock time everywhere else here) would shift by the
   * machine's offset and pick rows from the future. The global default is set at
   * create; each session is pinned too, so nothing that ran on the instance can undo it.
   */
  private async connect(): Promise<DuckDBConnection> {
    const connection = await this.instance.connect();
    // A locked configuration keeps the global UTC, and refuses any SET.
    if (this.roots) return connection;
    try {
      await connection.run(`SET TimeZone = 'UTC'`);
    } catch (error) {
      connection.closeSync();
      throw error;
    }
    return connection;
  }

  /**
   * FROM-able SQL for a location; parameters go into p. `field` names the path in
   * errors (the request field or the registry source). With roots, the path must lie
   * under the read roots, and so must every file a folder or glob matches.
   */
  private async relation(connection: DuckDBConnection, location: SourceLocation, p: DuckDBParams, owner: PathOwner): Promise<string> {
    switch (location.kind) {
      case 'table':
        return location.table.split('.').map(quote).join('.');
      case 'query':
        return subquery(location.query, owner.label);
      case 'file': {
        const roots = this.roots;
        const field = owner.entities ? 'entity_source.file.path' : `${owner.label} path`;
        const given = roots ? confinePath(field, location.path, roots, 'read') : location.path;
        // Checked only once the path is known to be inside the roots: outside, existence is nobody's business.
        if (roots && !/[*?[{]/.test(given) && !existsSync(given)) throw new NoSourceFilesError(owner.label, location.path, owner.entities);
        const path = given.endsWith('/') || isDirectory(given) ? join(given, '**', `*.${fileFormat(location)}`) : given;
        // A folder or glob can match a symlink inside the root that points out: check each file.
        if (roots && (path !== given || /[*?[{]/.test(path))) checkMatches(field, location.path, await this.glob(connection, path), roots, 'read');
        const read = (file: string, format: 'parquet' | 'csv'): string =>
          format === 'csv' ? `read_csv(${p.text(file)}, header = true)` : `read_parquet(${p.text(file)}, union_by_name = true)`;
        const main = read(path, fileFormat(location));
        const appended = appendFolder(given);
        if (!hasFiles(appended)) return main;
        // Appended rows beside a source at a root's top would lie outside it: left unread.
        if (roots && !roots.read.some((root) => appended.startsWith(`${root}/`))) return main;
        return `(SELECT * FROM ${main} UNION ALL BY NAME SELECT * FROM ${read(join(appended, '*.parquet'), 'parquet')})`;
      }
    }
  }

  /** The files a pattern matches, as the engine expands it. */
  private async glob(connection: DuckDBConnection, pattern: string): Promise<string[]> {
    return (await connection.runAndReadAll('SELECT file FROM glob($1::VARCHAR)', [pattern])).getRowObjectsJS().map((row) => String(row['file']));
  }

  /**
   * The relation's columns. `owner` names it for the error when a file source matches
   * no file: DuckDB reports that as an IO error, which would otherwise surface as an
   * engine failure rather than the caller's or the deployment's mistake.
   */
  private async describe(
    connection: DuckDBConnection,
    relation: string,
    p: DuckDBParams,
    owner?: { label: string; entities: boolean },
  ): Promise<DescribedColumn[]> {
    let reader;
    try {
      reader = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`, p.values);
    } catch (error) {
      // Not `instanceof Error`: the native addon's errors may come from another realm (jest's vm contexts).
      const message = (error as { message?: unknown } | null)?.message;
      const missing = owner && typeof message === 'string' ? /No files found that match the pattern "([^"]*)"/.exec(message) : null;
      if (owner && missing) throw new NoSourceFilesError(owner.label, missing[1]!, owner.entities);
      throw error;
    }
    return reader.getRowObjectsJS().map((row) => {
      const engineType = String(row['column_type']);
      return { name: String(row['column_name']), engineType, type: duckdbColumnType(engineType) };
    });
  }

  /** Loads or copies the entity rows into a temp table with ROW (via rowid) and TS. */
  private async loadEntities(connection: DuckDBConnection, entities: EntityInput): Promise<{ table: string; label: string; timestampColumn: string }> {
    const table = quote(`__larder_entities_${++this.tempCounter}`);
    if (entities.kind === 'source') {
      const p = new DuckDBParams();
      const label = `entity source ${describeLocation(entities.location)}`;
      const relation = await this.relation(connection, entities.location, p, { label, entities: true });
      const timestampColumn = entities.timestampColumn ?? 'event_timestamp';
      // Check the timestamp column before casting it, for a clear error.
      const described = await this.describe(connection, relation, p, { label, entities: true });
      entityColumnsFrom(described, timestampColumn, label);
      // rowid numbers the rows in insertion order, which DuckDB keeps (preserve_insertion_order):
      // file order, or the caller's order column.
      const order = entities.orderColumn === undefined ? '' : ` ORDER BY ${quote(orderedEntityColumn(described, entities.orderColumn, label))} ASC NULLS LAST`;
      await connection.run(
        `CREATE TEMP TABLE ${table} AS SELECT *, ${plainTimestampSql(quote(timestampColumn))} AS ${quote(TS)} FROM ${relation}${order}`,
        p.values,
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
    const ddl = columns.map((c) => `${quote(c.name)} ${c.name === entities.timestampColumn ? 'TIMESTAMP' : duckdbType(c.type)}`);
    await connection.run(`CREATE TEMP TABLE ${table} (${ddl.join(', ')}, ${quote(TS)} TIMESTAMP)`);
    const appender = await connection.createAppender(table.slice(1, -1));
    const types = columns.map((_, i) => appender.columnType(i));
    types.push(appender.columnType(columns.length));
    const tsAt = columns.findIndex((c) => c.name === entities.timestampColumn);
    // Full DuckDB vectors (2,048 rows), whatever the client's batch size.
    for await (const group of entityRowGroups(entities, 2048)) {
      const chunk = DuckDBDataChunk.create(types, group.rows);
      chunk.setColumnsConverted([...group.columns, group.columns[tsAt]!], toDuckDB);
      appender.appendDataChunk(chunk);
    }
    appender.closeSync();
    return { table, label: 'the entity rows', timestampColumn: entities.timestampColumn };
  }

  private async plan(connection: DuckDBConnection, request: HistoricalRequest, rowIndex?: string) {
    const entity = await this.loadEntities(connection, request.entities);
    const stats = (
      await connection.runAndReadAll(`SELECT count(*) AS n, min(${quote(TS)}) AS lo, max(${quote(TS)}) AS hi FROM ${entity.table}`)
    ).getRowObjectsJS()[0]!;
    if (stats['n'] === 0n) throw new EmptyEntitySetError(entity.label);
    const described = (await this.describe(connection, entity.table, new DuckDBParams())).filter((c) => c.name !== TS);
    const entityPlan = entityColumnsFrom(described, entity.timestampColumn, entity.label);
    if (request.entities.kind === 'rows') {
      const declared = new Map(request.entities.columns.map((c) => [c.name, c.type]));
      for (const column of entityPlan.columns) {
        if (column.role !== 'timestamp') column.type = declared.get(column.name) ?? column.type;
      }
    }
    const p = new DuckDBParams();
    const relations: string[] = [];
    const sources = [];
    for (const view of request.views) {
      const field = { label: `source '${view.source.name}'`, entities: false };
      const relation = await this.relation(connection, view.source.location, p, field);
      relations.push(relation);
      const sourceParams = new DuckDBParams();
      const described = describedMap(
        await this.describe(connection, await this.relation(connection, view.source.location, sourceParams, field), sourceParams, {
          label: `source '${view.source.name}'`,
          entities: false,
        }),
      );
      sources.push(checkSource(view.source, described, view.joinKeys, view.features, duckdbPlainTimestamp));
    }
    const { plans, features } = planViews(request.views, entityPlan, sources);
    if (rowIndex !== undefined) rowIndexColumnOf(rowIndex, [...entityPlan.columns, ...features]);
    const sql = asofJoinSql(duckdbDialect, p, {
      entityTable: `(SELECT rowid AS ${quote(ROW)}, * FROM ${entity.table})`,
      entityColumns: entityPlan.columns,
      relations,
      plans,
      minTs: stats['lo'] as Date,
      maxTs: stats['hi'] as Date,
      ...(rowIndex !== undefined && { rowIndex }),
    });
    const schema: ResultSchema = { columns: [...entityPlan.columns, ...features], timestampColumn: entity.timestampColumn };
    return { sql, params: p.values, schema, rowCount: Number(stats['n']), table: entity.table };
  }

  async getHistoricalFeatures(request: HistoricalRequest): Promise<HistoricalResult> {
    const connection = await this.connect();
    // The join runs in DuckDB's threads; interrupting the connection is what stops them.
    const unhook = whenAborted(request.signal, () => connection.interrupt());
    const close = async (): Promise<void> => {
      unhook();
      connection.closeSync();
    };
    try {
      const { sql, params, schema, rowCount } = await this.plan(connection, request);
      const result = await connection.stream(sql, params);
      const chunkRows = request.chunkRows ?? DEFAULT_CHUNK_ROWS;
      const signal = request.signal;
      async function* rows(): AsyncGenerator<unknown[][]> {
        for (;;) {
          let chunk;
          try {
            chunk = await result.fetchChunk();
          } catch (error) {
            throw abortReason(signal, error);
          }
          if (!chunk || chunk.rowCount === 0) return;
          yield chunk.convertColumns(fromDuckDB);
        }
      }
      return resultChunks(schema, rowCount, rows(), chunkRows, close);
    } catch (error) {
      await close();
      throw abortReason(request.signal, error);
    }
  }

  /**
   * The join kept in a temporary table, then one COPY per row range into a folder only
   * this call knows (named by the server, never by a request), each file read back and
   * deleted as it is handed on. File sizes steer the next range's row count, and a file
   * over maxBytes is written again with fewer rows.
   */
  async getHistoricalParquet(request: HistoricalRequest, output: ParquetOutput): Promise<HistoricalParquet> {
    if (!Number.isInteger(output.maxRows) || output.maxRows <= 0) throw new InvalidRequestError('maxRows', `must be a positive integer, got ${output.maxRows}`);
    if (!Number.isInteger(output.maxBytes) || output.maxBytes <= 0)
      throw new InvalidRequestError('maxBytes', `must be a positive integer, got ${output.maxBytes}`);
    const connection = await this.connect();
    const unhook = whenAborted(request.signal, () => connection.interrupt());
    const folder = mkdtempSync(join(this.chunks.folder, 'call-'));
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      unhook();
      connection.closeSync();
      rmSync(folder, { recursive: true, force: true });
    };
    try {
      const { sql, params, schema, rowCount } = await this.plan(connection, request, PARQUET_ROW);
      const columns = output.columns(schema);
      const table = quote(`__larder_parquet_${randomUUID().replace(/-/g, '')}`);
      const select = columns.map((c) => `${parquetCast(quote(c.column), c.type)} AS ${quote(c.as)}`).join(', ');
      await connection.run(`CREATE TEMP TABLE ${table} AS SELECT ${quote(PARQUET_ROW)}, ${select} FROM (${sql}) AS __joined`, params);
      const names = columns.map((c) => quote(c.as)).join(', ');
      const signal = request.signal;
      async function* files(): AsyncGenerator<ParquetPart> {
        try {
          let first = 0;
          let step = Math.min(output.maxRows, PARQUET_FIRST_ROWS);
          for (let n = 0; first < rowCount; n++) {
            const rows = Math.min(step, rowCount - first);
            const path = join(folder, `${n}.parquet`);
            const range = `${quote(PARQUET_ROW)} >= ${first} AND ${quote(PARQUET_ROW)} < ${first + rows}`;
            // COPY takes no parameter for its target: the path is ours (mkdtemp), quoted as a literal.
            await connection.run(
              `COPY (SELECT ${names} FROM ${table} WHERE ${range} ORDER BY ${quote(PARQUET_ROW)}) TO '${path.replace(/'/g, "''")}' (FORMAT parquet)`,
            );
            const bytes = readFileSync(path);
            rmSync(path, { force: true });
            // Aim at 80% of the limit, growing at most 4x a step (rows can widen along the table).
            const fit = Math.floor((rows * output.maxBytes * 0.8) / Math.max(1, bytes.length));
            if (bytes.length > output.maxBytes && rows > 1) {
              step = Math.max(1, Math.min(fit, rows - 1));
              continue;
            }
            yield { firstRow: first, rowCount: rows, bytes };
            first += rows;
            step = Math.max(1, Math.min(output.maxRows, fit, rows * 4));
          }
        } catch (error) {
          throw abortReason(signal, error);
        } finally {
          await close();
        }
      }
      const iterator = files();
      return { schema, rowCount, close, [Symbol.asyncIterator]: () => iterator };
    } catch (error) {
      await close();
      throw abortReason(request.signal, error);
    }
  }

  async exportHistoricalFeatures(request: HistoricalRequest, destination: Destination): Promise<ExportResult> {
    const connection = await this.connect();
    const unhook = whenAborted(request.signal, () => connection.interrupt());
    try {
      // A table has no order of its own, so it gets the row index; a file keeps the rows in order.
      const rowIndex = destination.kind === 'table' ? (destination.rowIndexColumn ?? DEFAULT_ROW_INDEX_COLUMN) : undefined;
      const { sql, params, schema, rowCount } = await this.plan(connection, request, rowIndex);
      if (destination.kind === 'table') {
        const table = destination.table.split('.').map(quote).join('.');
        await connection.run(`CREATE ${destination.overwrite ? 'OR REPLACE ' : ''}TABLE ${table} AS ${sql}`, params);
        return { schema, rowCount, rowIndexColumn: rowIndex! };
      } else {
        const target = this.roots ? confinePath('query.destination.storage.file.path', destination.path, this.roots, 'write') : destination.path;
        this.checkReplaceable(destination.path, target, destination.overwrite === true);
        mkdirSync(dirname(target), { recursive: true });
        const format = fileFormat(destination) === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT parquet';
        // Written beside the target and renamed over it: a failed join leaves the old result whole.
        const temp = join(dirname(target), `.${basename(target)}.${randomUUID()}.tmp`);
        try {
          // COPY takes no parameter for its target; the path was checked above, quoted as a literal.
          await connection.run(`COPY (${sql}) TO '${temp.replace(/'/g, "''")}' (${format})`, params);
          renameSync(temp, target);
        } finally {
          rmSync(temp, { force: true });
        }
        if (this.roots) markOutput(target);
      }
      return { schema, rowCount };
    } catch (error) {
      throw abortReason(request.signal, error);
    } finally {
      unhook();
      connection.closeSync();
    }
  }

  /**
   * Overwrite replaces one file, never a folder; with roots, only a file Larder wrote
   * (it carries the marker), so a client cannot clobber data it did not create.
   */
  private checkReplaceable(given: string, target: string, overwrite: boolean): void {
    let stat;
    try {
      stat = lstatSync(target);
    } catch {
      return;
    }
    if (!overwrite) throw new DestinationExistsError(given);
    if (stat.isDirectory())
      throw new DestinationNotReplaceableError(given, 'is a folder; overwrite replaces a result file, never a folder: choose a file path');
    if (this.roots && !existsSync(outputMarker(target))) {
      throw new DestinationNotReplaceableError(
        given,
        'was not written by Larder (it has no marker); overwrite replaces only results Larder wrote: choose another path or remove it',
      );
    }
  }

  async *pullLatest(request: PullLatestRequest): AsyncGenerator<PullLatestChunk> {
    checkPullRequest(request);
    const connection = await this.connect();
    try {
      const p = new DuckDBParams();
      const field = { label: `source '${request.source.name}'`, entities: false };
      const relation = await this.relation(connection, request.source.location, p, field);
      const describeParams = new DuckDBParams();
      const described = describedMap(
        await this.describe(connection, await this.relation(connection, request.source.location, describeParams, field), describeParams, {
          label: `source '${request.source.name}'`,
          entities: false,
        }),
      );
      const plan = checkSource(request.source, described, request.joinKeys, request.features, duckdbPlainTimestamp);
      // In key order, so a job can merge several views' streams by entity as they come.
      const sql = pullLatestSql(duckdbDialect, p, { relation, plan, start: request.start, end: request.end, shard: request.shard, orderByKeys: true });
      const result = await connection.stream(sql, p.values);
      const builder = pullChunkBuilder(request, request.chunkRows ?? DEFAULT_CHUNK_ROWS);
      const types = pullColumnTypes(request);
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const tsAt = request.joinKeys.length;
        const columns = types.map((type, c) =>
          c === tsAt || c === tsAt + 1 ? columnMillis(chunk, c) : c < tsAt ? columnCells(chunk, c, type) : columnValues(chunk, c, type),
        );
        for (const out of builder.addColumns(columns)) yield out;
      }
      const last = builder.flush();
      if (last) yield last;
    } finally {
      connection.closeSync();
    }
  }

  async append(source: BatchSource, rows: AppendRows): Promise<number> {
    const count = checkAppendRows(rows);
    if (count === 0) return 0;
    if (source.location.kind === 'query')
      throw new UnsupportedRequestError(`source '${source.name}' is a query; rows can be appended to a file or table source only`);
    const connection = await this.connect();
    try {
      const p = new DuckDBParams();
      const relation = await this.relation(connection, source.location, p, { label: `source '${source.name}'`, entities: false });
      const described = await this.describe(connection, relation, p, { label: `source '${source.name}'`, entities: false });
      const stage = quote(`__larder_append_${++this.tempCounter}`);
      await connection.run(`CREATE TEMP TABLE ${stage} AS SELECT * FROM ${relation} LIMIT 0`, p.values);
      const data = appendColumns(
        source,
        described.map((c) => c.name),
        rows,
        count,
      );
      const appender = await connection.createAppender(stage.slice(1, -1));
      const types = described.map((_, i) => appender.columnType(i));
      for (let start = 0; start < count; start += 2048) {
        const end = Math.min(count, start + 2048);
        const chunk = DuckDBDataChunk.create(types, end - start);
        chunk.setColumnsConverted(
          data.map((column) => column.slice(start, end)),
          toDuckDB,
        );
        appender.appendDataChunk(chunk);
      }
      appender.closeSync();
      if (source.location.kind === 'table') {
        await connection.run(`INSERT INTO ${relation} SELECT * FROM ${stage}`);
      } else {
        const folder = this.roots
          ? confinePath(
              `source '${source.name}' path`,
              appendFolder(confinePath(`source '${source.name}' path`, source.location.path, this.roots, 'read')),
              this.roots,
              'append',
            )
          : appendFolder(source.location.path);
        mkdirSync(folder, { recursive: true });
        const file = join(folder, `part-${Date.now()}-${randomUUID()}.parquet`);
        await connection.run(`COPY ${stage} TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`);
      }
      await connection.run(`DROP TABLE ${stage}`);
      return count;
    } finally {
      connection.closeSync();
    }
  }

  async verifySource(source: BatchSource, views: readonly SourceUse[]): Promise<SourceCheck> {
    const connection = await this.connect();
    try {
      const p = new DuckDBParams();
      const relation = await this.relation(connection, source.location, p, { label: `source '${source.name}'`, entities: false });
      return await sourceCheck(
        () => this.describe(connection, relation, p, { label: `source '${source.name}'`, entities: false }),
        source,
        views,
        duckdbPlainTimestamp,
      );
    } finally {
      connection.closeSync();
    }
  }

  /** TFDV-compatible statistics of a source's rows (or a location's), as SQL aggregates in DuckDB. */
  async computeStatistics(request: StatisticsRequest): Promise<tfmdV0.DatasetFeatureStatisticsList> {
    const connection = await this.connect();
    const unhook = whenAborted(request.signal, () => connection.interrupt());
    try {
      return await computeStatisticsWith(
        {
          dialect: duckdbStatisticsDialect,
          params: () => new DuckDBParams(),
          relation: (location, label, p) => this.relation(connection, location, p, { label, entities: false }),
          describe: (relation, p, label) => this.describe(connection, relation, p, { label, entities: false }),
          query: async (sql, p) => (await connection.runAndReadAll(sql, p.values)).getRowObjectsJS(),
          plainTimestamp: duckdbPlainTimestamp,
        },
        request,
      );
    } catch (error) {
      throw abortReason(request.signal, error);
    } finally {
      unhook();
      connection.closeSync();
    }
  }

  /** Runs SQL in the engine (tests, benchmarks, tooling). */
  async run(sql: string, values: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
    const connection = await this.connect();
    try {
      return (await connection.runAndReadAll(sql, values)).getRowObjectsJS();
    } finally {
      connection.closeSync();
    }
  }

  async close(): Promise<void> {
    this.instance.closeSync();
    if (this.chunks.owned) rmSync(this.chunks.folder, { recursive: true, force: true });
  }
}

/** The row index the Parquet path ranges on (never a column of the files). */
const PARQUET_ROW = '__larder_parquet_row';
/** Rows of the first file, before its size tells the next ones'. */
const PARQUET_FIRST_ROWS = 16_384;

/**
 * A column as the Parquet file types it: its value type's DuckDB type, timestamps as
 * TIMESTAMPTZ (instants, UTC; the session zone is UTC, so the plain UTC wall-clock
 * values here convert unchanged).
 */
function parquetCast(column: string, type: typesV1.ValueType): string {
  const duck = duckdbType(type).replace(/^TIMESTAMP/, 'TIMESTAMPTZ');
  return `CAST(${column} AS ${duck})`;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function hasFiles(folder: string): boolean {
  try {
    return readdirSync(folder).some((name) => name.endsWith('.parquet'));
  } catch {
    return false;
  }
}

export function describeLocation(location: SourceLocation): string {
  return location.kind === 'file' ? location.path : location.kind === 'table' ? location.table : 'query';
}
