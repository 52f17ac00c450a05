import { typesV1 } from '@larder/proto';

const { ValueType } = typesV1;

/**
 * The static types our checker tracks. `input` is an on-demand view's source:
 * a record with known, typed fields (at runtime a map from field name to value,
 * without the fields whose value is null).
 */
export type CelT =
  | { k: 'int' | 'uint' | 'double' | 'string' | 'bool' | 'bytes' | 'null' | 'dyn' }
  | { k: 'list'; elem: CelT }
  | { k: 'map'; key: CelT; value: CelT }
  | { k: 'input'; name: string; fields: ReadonlyMap<string, CelT> | undefined };

export const INT: CelT = { k: 'int' };
export const UINT: CelT = { k: 'uint' };
export const DOUBLE: CelT = { k: 'double' };
export const STRING: CelT = { k: 'string' };
export const BOOL: CelT = { k: 'bool' };
export const BYTES: CelT = { k: 'bytes' };
export const NULL: CelT = { k: 'null' };
export const DYN: CelT = { k: 'dyn' };
export const list = (elem: CelT): CelT => ({ k: 'list', elem });

export function typeName(t: CelT): string {
  switch (t.k) {
    case 'list':
      return `list(${typeName(t.elem)})`;
    case 'map':
      return `map(${typeName(t.key)}, ${typeName(t.value)})`;
    case 'input':
      return `source '${t.name}'`;
    default:
      return t.k;
  }
}

/**
 * How a feature type looks in CEL. int32, int64 and unix_timestamp (seconds
 * since the epoch) are `int`; float and double are `double`.
 */
export function celTypeOf(type: typesV1.ValueType): CelT {
  switch (type) {
    case ValueType.BYTES:
      return BYTES;
    case ValueType.STRING:
      return STRING;
    case ValueType.INT32:
    case ValueType.INT64:
    case ValueType.UNIX_TIMESTAMP:
      return INT;
    case ValueType.DOUBLE:
    case ValueType.FLOAT:
      return DOUBLE;
    case ValueType.BOOL:
      return BOOL;
    case ValueType.BYTES_LIST:
      return list(BYTES);
    case ValueType.STRING_LIST:
      return list(STRING);
    case ValueType.INT32_LIST:
    case ValueType.INT64_LIST:
    case ValueType.UNIX_TIMESTAMP_LIST:
      return list(INT);
    case ValueType.DOUBLE_LIST:
    case ValueType.FLOAT_LIST:
      return list(DOUBLE);
    case ValueType.BOOL_LIST:
      return list(BOOL);
    default:
      return DYN;
  }
}

export const isDyn = (t: CelT): boolean => t.k === 'dyn';
export const isNumeric = (t: CelT): boolean => t.k === 'int' || t.k === 'uint' || t.k === 'double';

/** Exact structural equality, treating dyn as equal to anything. */
export function sameType(a: CelT, b: CelT): boolean {
  if (a.k === 'dyn' || b.k === 'dyn') return true;
  if (a.k === 'list' && b.k === 'list') return sameType(a.elem, b.elem);
  if (a.k === 'map' && b.k === 'map') return sameType(a.key, b.key) && sameType(a.value, b.value);
  if (a.k === 'input' && b.k === 'input') return a.name === b.name;
  return a.k === b.k;
}

/**
 * The type of a value that is either an `a` or a `b` (both branches of a
 * ternary, the elements of a list literal), or undefined when they cannot
 * mix. null joins with anything; dyn absorbs.
 */
export function join(a: CelT, b: CelT): CelT | undefined {
  if (a.k === 'null') return b;
  if (b.k === 'null') return a;
  if (a.k === 'dyn' || b.k === 'dyn') return DYN;
  if (a.k === 'list' && b.k === 'list') {
    if (a.elem.k === 'dyn') return b;
    if (b.elem.k === 'dyn') return a;
    const elem = join(a.elem, b.elem);
    return elem === undefined ? undefined : list(elem);
  }
  if (a.k === 'map' && b.k === 'map') {
    const key = join(a.key, b.key);
    const value = join(a.value, b.value);
    return key === undefined || value === undefined ? undefined : { k: 'map', key, value };
  }
  return sameType(a, b) ? a : undefined;
}

/**
 * Whether an expression of type `t` can produce an output of `target`: the
 * same kind, or an int widened to a double. dyn and null are checked when
 * evaluated instead.
 */
export function assignable(t: CelT, target: CelT): boolean {
  if (t.k === 'dyn' || t.k === 'null' || target.k === 'dyn') return true;
  if (target.k === 'double' && (t.k === 'int' || t.k === 'uint')) return true;
  if (target.k === 'int' && t.k === 'uint') return true;
  if (target.k === 'list' && t.k === 'list') return assignable(t.elem, target.elem);
  return sameType(t, target);
}
