import { create } from '@bufbuild/protobuf';
import { typesV1 } from '@larder/proto';
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
    // BigQuery renders timestamps as ISO strings; PostgreSQL text without a zone is UTC here.
    const text = /[zZ]|[+-]\d\d(:?\d\d)?$/.test(inner) ? inner : `${inner.replace(' ', 'T')}Z`;
    const date = new Date(text);
    if (!Number.isNaN(date.getTime())) return date;
  }
  if (typeof inner === 'number') return new Date(inner);
  throw new Error(`cannot read ${String(inner)} as a timestamp`);
}

/** Cell -> typesV1.Value, for callers that speak the wire types; null -> a Value with no case set. */
export function cellToValue(type: typesV1.ValueType, cell: Cell): typesV1.Value {
  if (cell === null) return create(typesV1.ValueSchema);
  const seconds = (c: Cell): bigint => BigInt(Math.floor((c as Date).getTime() / 1000));
  const items = cell as readonly Cell[];
  switch (type) {
    case ValueType.BYTES:
      return create(typesV1.ValueSchema, { val: { case: 'bytesVal', value: cell as Uint8Array } });
    case ValueType.STRING:
      return create(typesV1.ValueSchema, { val: { case: 'stringVal', value: cell as string } });
    case ValueType.INT32:
      return create(typesV1.ValueSchema, { val: { case: 'int32Val', value: cell as number } });
    case ValueType.INT64:
      return create(typesV1.ValueSchema, { val: { case: 'int64Val', value: cell as bigint } });
    case ValueType.DOUBLE:
      return create(typesV1.ValueSchema, { val: { case: 'doubleVal', value: cell as number } });
    case ValueType.FLOAT:
      return create(typesV1.ValueSchema, { val: { case: 'floatVal', value: cell as number } });
    case ValueType.BOOL:
      return create(typesV1.ValueSchema, { val: { case: 'boolVal', value: cell as boolean } });
    case ValueType.UNIX_TIMESTAMP:
      return create(typesV1.ValueSchema, { val: { case: 'unixTimestampVal', value: seconds(cell) } });
    case ValueType.BYTES_LIST:
      return create(typesV1.ValueSchema, { val: { case: 'bytesListVal', value: { val: items as Uint8Array[] } } });
    case ValueType.STRING_LIST:
      return create(typesV1.ValueSchema, { val: { case: 'stringListVal', value: { val: items as string[] } } });
    case ValueType.INT32_LIST:
      return create(typesV1.ValueSchema, { val: { case: 'int32ListVal', value: { val: items as number[] } } });
    case ValueType.INT64_LIST:
      return create(typesV1.ValueSchema, { val: { case: 'int64ListVal', value: { val: items as bigint[] } } });
    case ValueType.DOUBLE_LIST:
      return create(typesV1.ValueSchema, { val: { case: 'doubleListVal', value: { val: items as number[] } } });
    case ValueType.FLOAT_LIST:
      return create(typesV1.ValueSchema, { val: { case: 'floatListVal', value: { val: items as number[] } } });
    case ValueType.BOOL_LIST:
      return create(typesV1.ValueSchema, { val: { case: 'boolListVal', value: { val: items as boolean[] } } });
    case ValueType.UNIX_TIMESTAMP_LIST:
      return create(typesV1.ValueSchema, { val: { case: 'unixTimestampListVal', value: { val: items.map(seconds) } } });
    default:
      throw new Error(`no Value case for ${describeType(type)}`);
  }
}
