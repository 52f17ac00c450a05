import { dateFromMicros, epochMicros, valueToCell } from '@larder/offline-store';
import type { Cell, EntityBatch, EntityColumn, InlineEntities, SourceEntities } from '@larder/offline-store';
import type { OfflineStore } from '@larder/offline-store';
import { valueCaseLabel, valueTypeName } from '@larder/core';
import type { TypedName } from '@larder/core';
import { typesV1 } from '@larder/proto';
import type { offlineV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import { checkTableName, locationFor } from './sources';
import { checkFileFormat, checkTimestamp } from './request-checks';
import { typeOfValue } from './values';

/** The inline entity rows' timestamps (RowBatch.event_timestamps) become this column. */
export const INLINE_TIMESTAMP_COLUMN = 'event_timestamp';

const invalid = (message: string): RpcError => new RpcError(Code.INVALID_ARGUMENT, message);

/** What was seen of the entity rows while they streamed through. */
export interface EntityStats {
  rows: number;
  minTs: Date | undefined;
  maxTs: Date | undefined;
}

/** Code point order (UTF-8 bytes compare the same way), as the contract states it for any language. */
function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The inline rows' column order: HistoricalQuery.entity_columns when given (it must name
 * exactly the first batch's columns), else by name. Never the map's order, which a
 * client's protobuf library need not keep.
 */
function columnOrder(first: typesV1.RowBatch, order: readonly string[]): string[] {
  const given = Object.keys(first.columns);
  if (order.length === 0) return given.sort(byCodePoint);
  const seen = new Set<string>();
  order.forEach((name, i) => {
    if (name === INLINE_TIMESTAMP_COLUMN)
      throw invalid(
        `query.entity_columns[${i}]: ${JSON.stringify(name)} is the entity timestamp (entity_rows.event_timestamps), not a column; list the RowBatch columns only`,
      );
    if (seen.has(name)) throw invalid(`query.entity_columns[${i}]: ${JSON.stringify(name)} is listed twice`);
    if (first.columns[name] === undefined)
      throw invalid(
        `query.entity_columns[${i}]: ${JSON.stringify(name)} is not a column of the first entity batch (its columns: ${given.map((c) => JSON.stringify(c)).join(', ') || '(none)'})`,
      );
    seen.add(name);
  });
  const missing = given.filter((name) => !seen.has(name));
  if (missing.length > 0)
    throw invalid(
      `query.entity_columns: lists ${order.length} of the entity batch's ${given.length} columns; add ${missing.map((c) => JSON.stringify(c)).join(', ')} (or leave it empty for name order)`,
    );
  return [...order];
}

/**
 * Column types of the inline rows: declared ones (join keys, request fields) where the
 * registry knows them, otherwise from the first batch's first non-null value.
 */
function columnTypes(first: typesV1.RowBatch, order: readonly string[], declared: ReadonlyMap<string, typesV1.ValueType>): EntityColumn[] {
  return columnOrder(first, order).map((name) => {
    const column = first.columns[name] as typesV1.RepeatedValue;
    if (name === INLINE_TIMESTAMP_COLUMN) {
      throw invalid(`entity_rows.columns['${name}']: the entity timestamps go in entity_rows.event_timestamps, not in a column of that name`);
    }
    const known = declared.get(name);
    if (known !== undefined) return { name, type: known };
    for (const value of column.val) {
      const type = typeOfValue(value);
      if (type !== undefined) return { name, type };
    }
    throw invalid(
      `entity_rows.columns['${name}']: every value in the first batch is null, so its type is unknown; send a non-null value in the first batch or drop the column`,
    );
  });
}

function convertBatch(batch: typesV1.RowBatch, columns: readonly EntityColumn[], index: number, stats: EntityStats): EntityBatch {
  const n = batch.eventTimestamps.length;
  const out: Record<string, Cell[]> = {};
  const given = Object.keys(batch.columns);
  if (given.length !== columns.length || columns.some((c) => batch.columns[c.name] === undefined)) {
    throw invalid(
      `entity_rows[${index}]: columns ${given.join(', ') || '(none)'} differ from the first batch's (${columns.map((c) => c.name).join(', ')}); every batch carries the same columns`,
    );
  }
  for (const column of columns) {
    const values = (batch.columns[column.name] as typesV1.RepeatedValue).val;
    if (values.length !== n) {
      throw invalid(
        `entity_rows[${index}].columns['${column.name}']: ${values.length} values for ${n} event_timestamps; give one timestamp per entity row and one value per row in every column`,
      );
    }
    const cells: Cell[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const value = values[i] as typesV1.Value;
      const type = typeOfValue(value);
      if (type !== undefined && type !== column.type) {
        throw invalid(
          `entity_rows[${index}].columns['${column.name}'][${i}]: expected ${valueTypeName(column.type)} but got ${valueCaseLabel(value.val.case)}`,
        );
      }
      cells[i] = valueToCell(value);
    }
    out[column.name] = cells;
  }
  const times: Date[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const ts = batch.eventTimestamps[i] as { seconds: bigint; nanos: number };
    checkTimestamp(ts, `entity_rows[${index}].event_timestamps[${i}]`);
    // To the microsecond, as the engines store times; nanoseconds below one are dropped.
    const date = dateFromMicros(Number(ts.seconds) * 1_000_000 + Math.floor(ts.nanos / 1000));
    times[i] = date;
    if (stats.minTs === undefined || epochMicros(date) < epochMicros(stats.minTs)) stats.minTs = date;
    if (stats.maxTs === undefined || epochMicros(date) > epochMicros(stats.maxTs)) stats.maxTs = date;
  }
  out[INLINE_TIMESTAMP_COLUMN] = times;
  stats.rows += n;
  return out;
}

/**
 * Entity rows from the client stream, handed to the store batch by batch as they
 * arrive (the store appends each to a temp table in the engine, so Node holds one
 * batch at a time). The first batch is read up front for the column types.
 */
export async function inlineEntities(
  requests: AsyncIterator<offlineV1.GetHistoricalFeaturesRequest>,
  declared: readonly TypedName[],
  stats: EntityStats,
  order: readonly string[] = [],
): Promise<InlineEntities> {
  const first = await nextBatch(requests, 1);
  if (first === undefined) throw invalid('entity_rows: no entity rows; after the query, send at least one RowBatch with join-key columns and event_timestamps');
  const columns = columnTypes(first, order, new Map(declared.map((d) => [d.name, d.valueType])));
  const all: EntityColumn[] = [...columns, { name: INLINE_TIMESTAMP_COLUMN, type: typesV1.ValueType.UNIX_TIMESTAMP }];
  async function* batches(): AsyncGenerator<EntityBatch> {
    yield convertBatch(first as typesV1.RowBatch, columns, 0, stats);
    for (let index = 1; ; index++) {
      const batch = await nextBatch(requests, index + 1);
      if (batch === undefined) return;
      yield convertBatch(batch, columns, index, stats);
    }
  }
  return { kind: 'rows', columns: all, timestampColumn: INLINE_TIMESTAMP_COLUMN, batches: batches() };
}

async function nextBatch(requests: AsyncIterator<offlineV1.GetHistoricalFeaturesRequest>, position: number): Promise<typesV1.RowBatch | undefined> {
  const next = await requests.next();
  if (next.done === true) return undefined;
  const message = next.value.message;
  if (message.case !== 'entityRows') {
    throw invalid(
      `message ${position}: expected entity_rows but got ${message.case === undefined ? 'an empty message' : 'a second query'}; send the query once, first`,
    );
  }
  return message.value;
}

/** Entity rows the engine reads itself (table, query or file). */
export function sourceEntities(engine: OfflineStore['engine'], source: offlineV1.EntitySource | undefined): SourceEntities {
  if (source === undefined) throw invalid('entity_source: required (a file, bigquery or postgres location)');
  if (source.location.case === 'file') checkFileFormat(source.location.value.format, 'entity_source.file.format');
  const kind = source.location;
  if (kind.case === 'postgres' || kind.case === 'bigquery') {
    const where = kind.value.location;
    // A client's SQL would run with the service's database rights (pg_read_file, COPY ... TO PROGRAM);
    // free queries come only from data sources someone registered.
    if (where.case === 'query') {
      throw invalid(
        `entity_source.${kind.case}.query: SQL from a client is not run; name a table in entity_source.${kind.case}.table, send the rows inline (GetHistoricalFeatures), or register the query as a ${kind.case} data source`,
      );
    }
    if (where.case === 'table') checkTableName(`entity_source.${kind.case}.table`, where.value, kind.case);
  }
  return {
    kind: 'source',
    location: locationFor(engine, source.location, 'entity_source'),
    timestampColumn: source.timestampColumn === '' ? INLINE_TIMESTAMP_COLUMN : source.timestampColumn,
    ...(source.orderColumn !== '' && { orderColumn: source.orderColumn }),
  };
}
