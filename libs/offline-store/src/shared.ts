// Pieces every engine shares: re-chunking driver output into ResultChunks,
// request checks, and laying out rows to append.
import { sourceQueryProblem } from '@larder/core';
import { typesV1 } from '@larder/proto';
import { toCell } from './cells';
import { columnName, InvalidRequestError, MissingColumnError, UnsupportedRequestError } from './errors';
import { epochMillis } from './micro-date';
import type { DescribedColumn } from './plan';
import type {
  AppendRows,
  BatchSource,
  Cell,
  CellColumn,
  HistoricalResult,
  InlineEntities,
  PullLatestChunk,
  PullLatestRequest,
  ResultChunk,
  ResultColumn,
  ResultSchema,
} from './types';

export const DEFAULT_CHUNK_ROWS = 10_000;

/**
 * Wraps engine output (column-major batches of raw driver values, in output
 * order) as a HistoricalResult of chunks of at most chunkRows rows.
 */
export function resultChunks(
  schema: ResultSchema,
  rowCount: number,
  batches: AsyncIterable<unknown[][]>,
  chunkRows: number,
  close: () => Promise<void>,
): HistoricalResult {
  if (!Number.isInteger(chunkRows) || chunkRows <= 0) throw new InvalidRequestError('chunkRows', `must be a positive integer, got ${chunkRows}`);
  const types = schema.columns.map((c) => c.type);
  let closed = false;
  const closeOnce = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await close();
  };
  async function* chunks(): AsyncGenerator<ResultChunk> {
    let firstRow = 0;
    let pending: Cell[][] = types.map(() => []);
    let pendingRows = 0;
    try {
      for await (const batch of batches) {
        const length = batch[0]?.length ?? 0;
        for (let offset = 0; offset < length;) {
          const take = Math.min(length - offset, chunkRows - pendingRows);
          batch.forEach((column, c) => {
            const type = types[c]!;
            const target = pending[c]!;
            for (let r = offset; r < offset + take; r++) target.push(toCell(type, column[r]));
          });
          pendingRows += take;
          offset += take;
          if (pendingRows === chunkRows) {
            yield { firstRow, rowCount: pendingRows, columns: pending };
            firstRow += pendingRows;
            pending = types.map(() => []);
            pendingRows = 0;
          }
        }
      }
      if (pendingRows > 0) yield { firstRow, rowCount: pendingRows, columns: pending };
    } finally {
      await closeOnce();
    }
  }
  return {
    schema,
    rowCount,
    close: closeOnce,
    [Symbol.asyncIterator]: () => chunks(),
  };
}

export function checkPullRequest(request: PullLatestRequest): void {
  if (Number.isNaN(request.start.getTime()) || Number.isNaN(request.end.getTime())) throw new InvalidRequestError('start/end', 'must be valid dates');
  if (request.start.getTime() > request.end.getTime())
    throw new InvalidRequestError('start', `is after end (${request.start.toISOString()} > ${request.end.toISOString()})`);
  const shard = request.shard;
  if (shard && (!Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count)) {
    throw new InvalidRequestError('shard', `index must be in [0, count) and count >= 1, got ${shard.index} of ${shard.count}`);
  }
}

/** The declared type of each pull-latest column, in select order (__k.., __ts, __cr, __f..). */
export function pullColumnTypes(request: PullLatestRequest): typesV1.ValueType[] {
  return [...request.joinKeys.map((k) => k.type), typesV1.ValueType.UNIX_TIMESTAMP, typesV1.ValueType.UNIX_TIMESTAMP, ...request.features.map((f) => f.type)];
}

/**
 * Turns pull-latest result columns (__k.., __ts, __cr, __f..) into PullLatestChunks of
 * chunkRows rows, a column at a time: `add` takes raw driver values, `addColumns` columns
 * already converted, cells of the declared types and the two timestamps as ms (NaN: null).
 */
export function pullChunkBuilder(request: PullLatestRequest, chunkRows: number) {
  const keys = request.joinKeys;
  const features = request.features;
  const types = pullColumnTypes(request);
  const names = [...keys.map((k) => k.name), ...features.map((f) => f.outputName ?? f.name)];
  const width = types.length;
  const tsAt = keys.length;
  // Per column, the pieces of the chunk being built, joined once when it is taken
  // (native slice and concat, instead of a push per cell).
  let pending: CellColumn[][] = types.map(() => []);
  let eventTs = new Float64Array(chunkRows);
  let createdTs = new Float64Array(chunkRows);
  let rows = 0;
  const take = (): PullLatestChunk => {
    const columns: Record<string, CellColumn> = {};
    for (let c = 0; c < keys.length; c++) columns[names[c]!] = joinColumns(pending[c]!);
    for (let f = 0; f < features.length; f++) columns[names[keys.length + f]!] = joinColumns(pending[keys.length + 2 + f]!);
    const chunk: PullLatestChunk = { rowCount: rows, columns, eventTs: eventTs.subarray(0, rows), createdTs: createdTs.subarray(0, rows) };
    pending = types.map(() => []);
    eventTs = new Float64Array(chunkRows);
    createdTs = new Float64Array(chunkRows);
    rows = 0;
    return chunk;
  };
  /** Columns of one result batch: arrays of cells, the two timestamp columns as ms. */
  function* addColumns(batch: readonly (CellColumn | ArrayLike<number>)[]): Generator<PullLatestChunk> {
    const length = batch[0]?.length ?? 0;
    for (let offset = 0; offset < length;) {
      const n = Math.min(length - offset, chunkRows - rows);
      for (let c = 0; c < width; c++) {
        const source = batch[c]!;
        if (c === tsAt || c === tsAt + 1) {
          const target = c === tsAt ? eventTs : createdTs;
          for (let r = 0; r < n; r++) target[rows + r] = source[offset + r] as number;
        } else {
          const cells = source as CellColumn;
          pending[c]!.push(offset === 0 && n === length ? cells : cells.slice(offset, offset + n));
        }
      }
      rows += n;
      offset += n;
      if (rows === chunkRows) yield take();
    }
  }
  return {
    addColumns,
    *add(batch: unknown[][]): Generator<PullLatestChunk> {
      yield* addColumns(
        batch.map((column, c) =>
          c === tsAt || c === tsAt + 1 ? Float64Array.from(column, (raw) => cellEpochMs(toCell(types[c]!, raw))) : column.map((raw) => toCell(types[c]!, raw)),
        ),
      );
    },
    flush(): PullLatestChunk | undefined {
      return rows > 0 ? take() : undefined;
    },
  };
}

/**
 * Pieces of one column joined: one typed array when every piece is one of the same kind,
 * else cells (natively concatenated when every piece is cells already).
 */
function joinColumns(parts: readonly CellColumn[]): CellColumn {
  const first = parts[0];
  if (first === undefined) return [];
  if (parts.length === 1) return first;
  if (Array.isArray(first) && parts.every((part) => Array.isArray(part))) return (first as Cell[]).concat(...(parts.slice(1) as Cell[][]));
  if (!Array.isArray(first) && parts.every((part) => part.constructor === first.constructor)) {
    const typed = first as Float64Array | Float32Array | Int32Array;
    const out = new (typed.constructor as Float64ArrayConstructor)(parts.reduce((n, part) => n + part.length, 0));
    let at = 0;
    for (const part of parts as readonly Float64Array[]) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
  const out: Cell[] = [];
  for (const part of parts) for (let i = 0; i < part.length; i++) out.push(part[i]!);
  return out;
}

/** A timestamp cell as ms since the epoch, microseconds as the fraction (micros / 1000); NaN for null. */
export function cellEpochMs(cell: Cell): number {
  return cell instanceof Date ? epochMillis(cell) : Number.NaN;
}

/** Validates the row counts; returns the number of rows. */
export function checkAppendRows(rows: AppendRows): number {
  const count = rows.eventTimestamps.length;
  for (const [name, values] of Object.entries(rows.columns)) {
    if (values.length !== count) throw new InvalidRequestError(`columns.${name}`, `has ${values.length} values for ${count} event timestamps`);
  }
  if (rows.createdTimestamps && rows.createdTimestamps.length !== count) {
    throw new InvalidRequestError('createdTimestamps', `has ${rows.createdTimestamps.length} values for ${count} event timestamps`);
  }
  return count;
}

/**
 * One array per stored column, in the stored order: timestamps from the rows'
 * timestamps, other columns by their mapped name, null where not given. A
 * source with a created column gets `now` when no created timestamps are given.
 */
export function appendColumns(source: BatchSource, stored: readonly string[], rows: AppendRows, count: number): Cell[][] {
  const mapped = (name: string): string => source.fieldMapping?.[name] ?? name;
  const used = new Set<string>();
  if (!stored.includes(source.timestampField)) throw new MissingColumnError(`source '${source.name}'`, source.timestampField, 'timestamp_field', stored);
  const now = new Date();
  const out = stored.map((column): Cell[] => {
    if (column === source.timestampField) return [...rows.eventTimestamps];
    if (column === source.createdTimestampColumn) return rows.createdTimestamps ? [...rows.createdTimestamps] : new Array<Cell>(count).fill(now);
    const values = rows.columns[mapped(column)];
    if (values) used.add(mapped(column));
    return values ? [...values] : new Array<Cell>(count).fill(null);
  });
  for (const name of Object.keys(rows.columns)) {
    if (!used.has(name)) throw new MissingColumnError(`source '${source.name}'`, name, 'appended column', stored.map(mapped));
  }
  return out;
}

/** Inline entity rows regrouped for staging: columns in InlineEntities.columns order. */
export interface EntityRowGroup {
  rows: number;
  columns: Cell[][];
}

/**
 * The inline entity rows in groups of `groupRows` (the last one shorter), whatever the
 * caller's batch sizes: a client sending rows seven at a time must not cost one engine
 * insert per seven rows. Memory stays bounded by one group plus one batch. Checks that
 * every batch has every column, of one length.
 */
export async function* entityRowGroups(entities: InlineEntities, groupRows: number): AsyncGenerator<EntityRowGroup> {
  const names = entities.columns.map((c) => c.name);
  let columns: Cell[][] = names.map(() => []);
  let rows = 0;
  let batchIndex = 0;
  for await (const batch of entities.batches) {
    const given = names.map((name) => batch[name]);
    const length = given[0]?.length ?? 0;
    given.forEach((column, i) => {
      if (!column || column.length !== length) throw new InvalidRequestError(`entity batch ${batchIndex}.${names[i]!}`, `expected ${length} values`);
    });
    for (let offset = 0; offset < length;) {
      if (rows === 0 && length - offset >= groupRows) {
        // A whole group inside this batch: native slices, no cell-by-cell copy.
        yield { rows: groupRows, columns: given.map((column) => column!.slice(offset, offset + groupRows) as Cell[]) };
        offset += groupRows;
        continue;
      }
      const take = Math.min(length - offset, groupRows - rows);
      given.forEach((column, i) => {
        const target = columns[i]!;
        for (let r = offset; r < offset + take; r++) target.push(column![r]!);
      });
      rows += take;
      offset += take;
      if (rows === groupRows) {
        yield { rows, columns };
        columns = names.map(() => []);
        rows = 0;
      }
    }
    batchIndex++;
  }
  if (rows > 0) yield { rows, columns };
}

/** The entity rows' order column, checked to be one of their columns. */
export function orderedEntityColumn(described: readonly DescribedColumn[], name: string, relation: string): string {
  if (!described.some((c) => c.name === name))
    throw new MissingColumnError(
      relation,
      name,
      'order column',
      described.map((c) => c.name),
    );
  return name;
}

/** The row-index column of a table output, checked against the output's other columns. */
export function rowIndexColumnOf(name: string, columns: readonly ResultColumn[]): string {
  if (name === '') throw new InvalidRequestError('row index column', 'is empty; name it, or leave it unset for row_index');
  if (columns.some((c) => c.name === name))
    throw new InvalidRequestError('row index column', `${columnName(name)} is also an output column; give the row index another name`);
  return name;
}

/**
 * A registered source's query as a subquery, `(<query>)`. Checked at apply; checked again
 * here for sources stored before that check, since a query that closes the parenthesis
 * and adds a statement would run as a script on BigQuery (and DuckDB).
 */
export function subquery(query: string, what: string): string {
  const problem = sourceQueryProblem(query);
  if (problem !== undefined) throw new UnsupportedRequestError(`${what} has a query that ${problem}`);
  return `(${query})`;
}
