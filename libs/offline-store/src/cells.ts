import { typesV1 } from '@larder/proto';
import { parseTimestampText } from './micro-date';
import type { Cell } from './types';

const { ValueType } = typesV1;

/** The type families the engines can tell apart; INT32/INT64 and FLOAT/DOUBLE share one. */
export type Family = 'bytes' | 'string' | 'int' | 'float' | 'bool' | 'timestamp';

export interface EngineColumnType {
  family: Family;
  list: boolean;
}

export function elementType(type: typesV1.ValueType): typesV1.ValueType {
  return type >= ValueType.BYTES_LIST && type <= ValueType.UNIX_TIMESTAMP_LIST ? ((type - 10) as typesV1.ValueType) : type;
}

export function isList(type: typesV1.ValueType): boolean {
  return type >= ValueType.BYTES_LIST && type <= ValueType.UNIX_TIMESTAMP_LIST;
}

export function familyOf(type: typesV1.ValueType): Family {
  switch (elementType(type)) {
    case ValueType.BYTES:
      return 'bytes';
    case ValueType.STRING:
      return 'string';
    case ValueType.INT32:
    case ValueType.INT64:
      return 'int';
    case ValueType.DOUBLE:
    case ValueType.FLOAT:
      return 'float';
    case ValueType.BOOL:
      return 'bool';
    case ValueType.UNIX_TIMESTAMP:
      return 'timestamp';
    default:
      throw new Error(`value type ${type} has no column type`);
  }
}

/** The ValueType an engine column of this family reads back as. */
export function valueTypeOf(column: EngineColumnType, wide = true): typesV1.ValueType {
  const scalar = {
    bytes: ValueType.BYTES,
    string: ValueType.STRING,
    int: wide ? ValueType.INT64 : ValueType.INT32,
    float: ValueType.DOUBLE,
    bool: ValueType.BOOL,
    timestamp: ValueType.UNIX_TIMESTAMP,
  }[column.family];
  return column.list ? ((scalar + 10) as typesV1.ValueType) : scalar;
}

/** Whether a stored column can hold values declared with this type. */
export function fits(type: typesV1.ValueType, column: EngineColumnType): boolean {
  return familyOf(type) === column.family && isList(type) === column.list;
}

export function describeType(type: typesV1.ValueType): string {
  return (ValueType[type] ?? String(type)).toLowerCase();
}

/**
 * Brings whatever a driver returned (pg's strings for int8, BigQuery's wrapper
 * objects, DuckDB's bigints) to the Cell of the declared type.
 */
export function toCell(type: typesV1.ValueType, raw: unknown): Cell {
  if (raw === null || raw === undefined) return null;
  if (isList(type)) {
    if (!Array.isArray(raw)) throw new Error(`expected a list, got ${typeof raw}`);
    const element = elementType(type);
    return raw.map((item: unknown) => toCell(element, item));
  }
  switch (type) {
    case ValueType.BYTES:
      if (raw instanceof Uint8Array) return raw;
      if (typeof raw === 'string') return new Uint8Array(Buffer.from(raw, 'base64'));
      break;
    case ValueType.STRING:
      return typeof raw === 'string' ? raw : String(unwrap(raw));
    case ValueType.INT32:
    case ValueType.DOUBLE:
    case ValueType.FLOAT:
      return Number(unwrap(raw));
    case ValueType.INT64:
      return BigInt(unwrap(raw) as string | number | bigint);
    case ValueType.BOOL:
      return typeof raw === 'boolean' ? raw : raw === 'true' || raw === 1;
    case ValueType.UNIX_TIMESTAMP:
      return toDate(raw);
    default:
      break;
  }
  throw new Error(`cannot read ${typeof raw} as ${describeType(type)}`);
}

/** BigQuery's client wraps INT64, NUMERIC and timestamps in objects with a `value`. */
function unwrap(raw: unknown): unknown {
  if (typeof raw === 'object' && raw !== null && 'value' in raw) return (raw as { value: unknown }).value;
  return raw;
}

export function toDate(raw: unknown): Date {
  if (raw instanceof Date) return raw;
  const inner = unwrap(raw);
  if (inner instanceof Date) return inner;
  if (typeof inner === 'string') {
    // BigQuery and PostgreSQL render timestamps as text with microseconds; text without a zone is UTC here.
    const date = parseTimestampText(inner) ?? new Date(inner);
    if (!Number.isNaN(date.getTime())) return date;
  }
  if (typeof inner === 'number') return new Date(inner);
  throw new Error(`cannot read ${String(inner)} as a timestamp`);
}

export type CellConverter = (cell: Cell) => typesV1.Value;

// Plain objects of the Value message's shape: protobuf-es's create() copies
// field by field, which at 50 features x 1M rows (materialization) or a
// streamed training set is most of the CPU.
type Val = typesV1.Value['val'];
const make = (val: Val): typesV1.Value => ({ $typeName: 'larder.types.v1.Value', val }) as typesV1.Value;
// `never` so it fits whichever list message the case wants.
const list = (typeName: string, val: unknown): never => ({ $typeName: typeName, val }) as never;
const seconds = (c: Cell): bigint => BigInt(Math.floor((c as Date).getTime() / 1000));

/**
 * A converter from cells of one declared type to wire Values. A null cell
 * becomes a Value with no case set, or with `nulls: 'explicit'` an explicit
 * null (what the online store keeps, so serving can answer NULL_VALUE).
 */
export function cellConverter(type: typesV1.ValueType, options: { nulls?: 'unset' | 'explicit' } = {}): CellConverter {
  const ifNull = options.nulls === 'explicit' ? make({ case: 'nullVal', value: typesV1.Null.UNSPECIFIED }) : undefined;
  const of =
    (convert: (cell: Cell) => typesV1.Value): CellConverter =>
    (cell) =>
      cell !== null ? convert(cell) : (ifNull ?? make({ case: undefined }));
  switch (type) {
    case ValueType.BYTES:
      return of((c) => make({ case: 'bytesVal', value: c as Uint8Array }));
    case ValueType.STRING:
      return of((c) => make({ case: 'stringVal', value: c as string }));
    case ValueType.INT32:
      return of((c) => make({ case: 'int32Val', value: c as number }));
    case ValueType.INT64:
      return of((c) => make({ case: 'int64Val', value: c as bigint }));
    case ValueType.DOUBLE:
      return of((c) => make({ case: 'doubleVal', value: c as number }));
    case ValueType.FLOAT:
      return of((c) => make({ case: 'floatVal', value: c as number }));
    case ValueType.BOOL:
      return of((c) => make({ case: 'boolVal', value: c as boolean }));
    case ValueType.UNIX_TIMESTAMP:
      return of((c) => make({ case: 'unixTimestampVal', value: seconds(c) }));
    case ValueType.BYTES_LIST:
      return of((c) => make({ case: 'bytesListVal', value: list('larder.types.v1.BytesList', c) }));
    case ValueType.STRING_LIST:
      return of((c) => make({ case: 'stringListVal', value: list('larder.types.v1.StringList', c) }));
    case ValueType.INT32_LIST:
      return of((c) => make({ case: 'int32ListVal', value: list('larder.types.v1.Int32List', c) }));
    case ValueType.INT64_LIST:
      return of((c) => make({ case: 'int64ListVal', value: list('larder.types.v1.Int64List', c) }));
    case ValueType.DOUBLE_LIST:
      return of((c) => make({ case: 'doubleListVal', value: list('larder.types.v1.DoubleList', c) }));
    case ValueType.FLOAT_LIST:
      return of((c) => make({ case: 'floatListVal', value: list('larder.types.v1.FloatList', c) }));
    case ValueType.BOOL_LIST:
      return of((c) => make({ case: 'boolListVal', value: list('larder.types.v1.BoolList', c) }));
    case ValueType.UNIX_TIMESTAMP_LIST:
      return of((c) => make({ case: 'unixTimestampListVal', value: list('larder.types.v1.Int64List', (c as Cell[]).map(seconds)) }));
    default:
      throw new Error(`no Value case for ${describeType(type)}`);
  }
}

/** Cell -> typesV1.Value, for callers that speak the wire types; null -> a Value with no case set. */
export function cellToValue(type: typesV1.ValueType, cell: Cell): typesV1.Value {
  return cellConverter(type)(cell);
}

const fromSeconds = (s: bigint): Date => new Date(Number(s) * 1000);

/** A wire Value as a Cell, the inverse of cellToValue (null for no value or an explicit null). */
export function valueToCell(value: typesV1.Value): Cell {
  const v = value.val;
  switch (v.case) {
    case undefined:
    case 'nullVal':
      return null;
    case 'unixTimestampVal':
      return fromSeconds(v.value);
    case 'unixTimestampListVal':
      return v.value.val.map(fromSeconds);
    case 'bytesListVal':
    case 'stringListVal':
    case 'int32ListVal':
    case 'int64ListVal':
    case 'doubleListVal':
    case 'floatListVal':
    case 'boolListVal':
      return [...v.value.val];
    default:
      return v.value;
  }
}
