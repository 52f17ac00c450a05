// DuckDB result vectors to cells, a column at a time. Fixed-width columns whose engine
// type matches the declared type are read straight from the vector's typed array (no
// DuckDBValue per cell); everything else goes through the driver's JS converter.
import { DuckDBTimestampTZValue, DuckDBTimestampValue, DuckDBTypeId, JSDuckDBValueConverter, JSToDuckDBValueConverter } from '@duckdb/node-api';
import type { DuckDBDataChunk, DuckDBValueConverter, DuckDBVector, ToDuckDBValueConverter } from '@duckdb/node-api';
import { typesV1 } from '@larder/proto';
import { toCell } from './cells';
import { dateFromMicros, dateFromMillis, epochMicrosBigInt } from './micro-date';
import { cellEpochMs } from './shared';
import type { Cell, CellColumn } from './types';

const T = typesV1.ValueType;

// The driver's own converters stop at the millisecond (a JS Date); ours keep the
// microseconds (MicroDate) both ways, and defer to the driver for everything else.
const MAX_DATE_MICROS = 8_640_000_000_000_000_000n;

/** DuckDB values to JS, TIMESTAMP and TIMESTAMPTZ to the microsecond. */
export const fromDuckDB: DuckDBValueConverter<unknown> = (value, type, converter) => {
  if (
    (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) &&
    value.micros >= -MAX_DATE_MICROS &&
    value.micros <= MAX_DATE_MICROS
  ) {
    return dateFromMicros(value.micros);
  }
  return JSDuckDBValueConverter(value, type, converter as never);
};

/** JS values to DuckDB, Dates into TIMESTAMP and TIMESTAMPTZ to the microsecond. */
export const toDuckDB: ToDuckDBValueConverter<unknown> = (value, type, converter) => {
  if (value instanceof Date && !Number.isNaN(value.getTime())) {
    if (type.typeId === DuckDBTypeId.TIMESTAMP) return new DuckDBTimestampValue(epochMicrosBigInt(value));
    if (type.typeId === DuckDBTypeId.TIMESTAMP_TZ) return new DuckDBTimestampTZValue(epochMicrosBigInt(value));
  }
  return JSToDuckDBValueConverter(value as never, type, converter as never);
};

/** Which rows are null: undefined when none is (DuckDB leaves the mask out then). */
function nullRows(vector: DuckDBVector, count: number): ((row: number) => boolean) | undefined {
  // The mask's words are not public API; read them when they look as expected, else ask per row.
  const validity = (vector as unknown as { validity?: { data?: unknown; itemValid(i: number): boolean } }).validity;
  if (validity === undefined) return (row) => vector.getItem(row) === null;
  const data = validity.data;
  if (data === null) return undefined;
  if (data instanceof BigUint64Array && (validity as unknown as { offset?: number }).offset === 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset, data.length * 2);
    let all = true;
    for (let w = 0; w < Math.ceil(count / 32); w++) {
      const bits = Math.min(32, count - 32 * w);
      const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
      if ((words[w]! & mask) >>> 0 !== mask >>> 0) {
        all = false;
        break;
      }
    }
    if (all) return undefined;
    return (row) => (words[row >>> 5]! & (1 << (row & 31))) === 0;
  }
  return (row) => !validity.itemValid(row);
}

function typedItems(vector: DuckDBVector): ArrayLike<unknown> | undefined {
  const items = (vector as unknown as { items?: unknown }).items;
  return ArrayBuffer.isView(items) ? (items as unknown as ArrayLike<unknown>) : undefined;
}

/**
 * Milliseconds of TIMESTAMP micros in a BigInt64Array, microseconds kept as the fraction
 * (micros / 1000: the online store's event-time rule), without BigInts; NaN for null.
 */
function timestampMillis(items: BigInt64Array, count: number, isNull: ((row: number) => boolean) | undefined): Float64Array {
  const halves = new Int32Array(items.buffer, items.byteOffset, count * 2);
  const out = new Float64Array(count);
  for (let r = 0; r < count; r++) {
    if (isNull?.(r)) {
      out[r] = Number.NaN;
      continue;
    }
    const micros = halves[2 * r + 1]! * 4294967296 + (halves[2 * r]! >>> 0);
    // Beyond 2^53 micros (year 2255, DuckDB's infinity) a Date cannot hold it anyway; same error as the driver's.
    if (Math.abs(micros) >= Number.MAX_SAFE_INTEGER) throw new Error(`TIMESTAMP value out of range for JS Date: ${items[r]} micros`);
    out[r] = micros / 1000;
  }
  return out;
}

/**
 * A timestamp result column as ms since the epoch (NaN: null), without a Date per row when
 * the engine type allows; microseconds are kept in the fraction on that path (TIMESTAMP).
 */
export function columnMillis(chunk: DuckDBDataChunk, column: number): Float64Array {
  const vector = chunk.getColumnVector(column);
  const items = typedItems(vector);
  const typeId = vector.type.typeId;
  if (items !== undefined && (typeId === DuckDBTypeId.TIMESTAMP || typeId === DuckDBTypeId.TIMESTAMP_TZ))
    return timestampMillis(items as BigInt64Array, chunk.rowCount, nullRows(vector, chunk.rowCount));
  return Float64Array.from(columnCells(chunk, column, T.UNIX_TIMESTAMP), cellEpochMs);
}

/** Whether a vector of engine type `typeId` holds the declared type's cells as plain JS numbers. */
function holdsNumbers(type: typesV1.ValueType, typeId: DuckDBTypeId): boolean {
  return (
    ((type === T.DOUBLE || type === T.FLOAT) && (typeId === DuckDBTypeId.DOUBLE || typeId === DuckDBTypeId.FLOAT)) ||
    (type === T.INT32 && typeId === DuckDBTypeId.INTEGER)
  );
}

/** One result column as cells of the declared type. */
export function columnCells(chunk: DuckDBDataChunk, column: number, type: typesV1.ValueType): Cell[] {
  const vector = chunk.getColumnVector(column);
  const count = chunk.rowCount;
  const typeId = vector.type.typeId;
  const items = typedItems(vector);
  const fast =
    items !== undefined &&
    (holdsNumbers(type, typeId) || (type === T.INT64 && typeId === DuckDBTypeId.BIGINT) || (type === T.UNIX_TIMESTAMP && typeId === DuckDBTypeId.TIMESTAMP));
  if (fast) {
    const isNull = nullRows(vector, count);
    if (typeId === DuckDBTypeId.TIMESTAMP)
      return Array.from(timestampMillis(items as BigInt64Array, count, isNull), (ms) => (Number.isNaN(ms) ? null : dateFromMillis(ms)));
    const typed = items as ArrayLike<number | bigint>;
    if (isNull === undefined) return Array.from(typed);
    const out = new Array<Cell>(count);
    for (let r = 0; r < count; r++) out[r] = isNull(r) ? null : typed[r]!;
    return out;
  }
  const raw = chunk.convertColumnValues(column, fromDuckDB);
  const out = new Array<Cell>(count);
  for (let r = 0; r < count; r++) out[r] = toCell(type, raw[r]);
  return out;
}

/**
 * One result column for pull-latest: a number column without nulls whose engine type
 * matches the declared one (DOUBLE, FLOAT, INTEGER) comes back as a copy of the vector's
 * typed array; anything else as cells. A materialization of 50 DOUBLE features spent
 * more on the heap number per cell (and collecting them) than on reading Parquet.
 */
export function columnValues(chunk: DuckDBDataChunk, column: number, type: typesV1.ValueType): CellColumn {
  const vector = chunk.getColumnVector(column);
  const typeId = vector.type.typeId;
  const items = typedItems(vector);
  const typed = items !== undefined && holdsNumbers(type, typeId);
  // A copy: the vector's memory belongs to the chunk, which the engine may reuse.
  if (typed && nullRows(vector, chunk.rowCount) === undefined) return (items as Float64Array | Float32Array | Int32Array).slice(0, chunk.rowCount);
  return columnCells(chunk, column, type);
}
