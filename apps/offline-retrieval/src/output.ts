import { create } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { cellConverter, cellToValue, timestampParts } from '@larder/offline-store';
import type { Cell, ParquetColumn, ResultChunk as StoreChunk, ResultSchema as StoreSchema } from '@larder/offline-store';
import { offlineV1, typesV1 } from '@larder/proto';
import type { RetrievalPlan } from './plan';
import { approxValueBytes } from './values';

const ROLE = {
  join_key: offlineV1.ColumnRole.JOIN_KEY,
  passthrough: offlineV1.ColumnRole.PASSTHROUGH,
  feature: offlineV1.ColumnRole.FEATURE,
} as const;

/** How store chunks become response chunks: which store column feeds each output column. */
export interface OutputLayout {
  readonly schema: offlineV1.ResultSchema;
  /** Per output column: the store column index, or -1 for an on-demand feature. */
  readonly sources: readonly number[];
  readonly types: readonly typesV1.ValueType[];
  readonly timestampIndex: number;
  /** Per output column that is on-demand: [onDemand index, output name]. */
  readonly onDemand: readonly ([number, string] | undefined)[];
}

export function outputLayout(plan: RetrievalPlan, store: StoreSchema): OutputLayout {
  const index = new Map(store.columns.map((c, i) => [c.name, i]));
  const columns: offlineV1.ResultColumn[] = [];
  const sources: number[] = [];
  const types: typesV1.ValueType[] = [];
  const onDemand: ([number, string] | undefined)[] = [];
  store.columns.forEach((c, i) => {
    if (c.role === 'timestamp' || c.role === 'feature') return;
    columns.push(create(offlineV1.ResultColumnSchema, { name: c.name, valueType: c.type, role: ROLE[c.role] }));
    sources.push(i);
    types.push(c.type);
    onDemand.push(undefined);
  });
  for (const out of plan.outputs) {
    columns.push(create(offlineV1.ResultColumnSchema, { name: out.name, valueType: out.valueType, role: ROLE.feature }));
    sources.push(out.kind === 'view' ? (index.get(out.storeColumn) as number) : -1);
    types.push(out.valueType);
    onDemand.push(out.kind === 'on-demand' ? [out.onDemand, out.output] : undefined);
  }
  return {
    schema: create(offlineV1.ResultSchemaSchema, { columns, timestampColumn: store.timestampColumn }),
    sources,
    types,
    timestampIndex: store.columns.findIndex((c) => c.role === 'timestamp'),
    onDemand,
  };
}

/**
 * The columns of a Parquet chunk: the schema's entity columns, the entity timestamp,
 * then the features under their output names (the order clients build frames in).
 * Only for plans without on-demand features, which the engine cannot compute.
 */
export function parquetColumns(plan: RetrievalPlan, store: StoreSchema): ParquetColumn[] {
  const entity = store.columns.filter((c) => c.role !== 'feature' && c.role !== 'timestamp');
  const time = store.columns.find((c) => c.role === 'timestamp');
  const columns: ParquetColumn[] = entity.map((c) => ({ column: c.name, as: c.name, type: c.type }));
  if (time !== undefined) columns.push({ column: time.name, as: store.timestampColumn, type: typesV1.ValueType.UNIX_TIMESTAMP });
  for (const out of plan.outputs) {
    if (out.kind !== 'view') throw new Error(`on-demand output '${out.name}' cannot be written as Parquet`);
    columns.push({ column: out.storeColumn, as: out.name, type: out.valueType });
  }
  return columns;
}

/**
 * Turns one store chunk into response chunks of at most maxRows rows and about
 * maxBytes each (the row size is estimated from a sample of the chunk).
 */
export function* encodeChunk(
  plan: RetrievalPlan,
  layout: OutputLayout,
  store: StoreSchema,
  chunk: StoreChunk,
  maxRows: number,
  maxBytes: number,
  /** The chunk's on-demand values (see computeOnDemand), one array per on-demand view. */
  computed: readonly Record<string, typesV1.Value>[][] = [],
): Generator<offlineV1.ResultChunk> {
  const columns: typesV1.Value[][] = layout.sources.map((source, c) => {
    const type = layout.types[c] as typesV1.ValueType;
    const od = layout.onDemand[c];
    if (od !== undefined) {
      const [i, name] = od;
      const rows = computed[i] as Record<string, typesV1.Value>[];
      return rows.map((r) => r[name] ?? cellToValue(type, null));
    }
    const cells = chunk.columns[source] as Cell[];
    const convert = cellConverter(type);
    const values: typesV1.Value[] = new Array(chunk.rowCount);
    for (let r = 0; r < chunk.rowCount; r++) values[r] = convert(cells[r] ?? null);
    return values;
  });
  const times = chunk.columns[layout.timestampIndex] as Cell[];
  const rowBytes = sampleRowBytes(columns, chunk.rowCount);
  const step = Math.max(1, Math.min(maxRows, Math.floor(maxBytes / rowBytes)));
  for (let start = 0; start < chunk.rowCount; start += step) {
    const end = Math.min(chunk.rowCount, start + step);
    // Plain objects of the messages' shapes: create() would walk every Value again.
    const eventTimestamps: Timestamp[] = new Array(end - start);
    for (let r = start; r < end; r++) eventTimestamps[r - start] = timestampOf(times[r] as Date);
    yield {
      $typeName: RESULT_CHUNK,
      firstRow: BigInt(chunk.firstRow + start),
      columns: columns.map((values) => ({ $typeName: REPEATED_VALUE, val: values.slice(start, end) }) as typesV1.RepeatedValue),
      eventTimestamps,
    } as offlineV1.ResultChunk;
  }
}

const RESULT_CHUNK = offlineV1.ResultChunkSchema.typeName;
const REPEATED_VALUE = typesV1.RepeatedValueSchema.typeName;

function timestampOf(date: Date): Timestamp {
  return { $typeName: 'google.protobuf.Timestamp', ...timestampParts(date) } as Timestamp;
}

function sampleRowBytes(columns: readonly typesV1.Value[][], rows: number): number {
  const sample = Math.min(rows, 64);
  if (sample === 0) return 1;
  let bytes = 0;
  for (const values of columns) for (let r = 0; r < sample; r++) bytes += approxValueBytes(values[Math.floor((r * rows) / sample)] as typesV1.Value);
  // Timestamps, and headroom for rows longer than the sampled ones.
  return Math.ceil((bytes / sample + 14) * 1.5);
}
