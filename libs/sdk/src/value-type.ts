import { typesV1 } from '@larder/proto';

const { ValueType } = typesV1;

// Names people write in definitions. The canonical name is the enum's suffix
// in lower case; the aliases follow the numpy/Arrow spellings users bring
// from Feast (`float64`, `float32`).
const VALUE_TYPES = {
  bytes: ValueType.BYTES,
  string: ValueType.STRING,
  int32: ValueType.INT32,
  int64: ValueType.INT64,
  double: ValueType.DOUBLE,
  float64: ValueType.DOUBLE,
  float: ValueType.FLOAT,
  float32: ValueType.FLOAT,
  bool: ValueType.BOOL,
  unix_timestamp: ValueType.UNIX_TIMESTAMP,
  timestamp: ValueType.UNIX_TIMESTAMP,
  bytes_list: ValueType.BYTES_LIST,
  string_list: ValueType.STRING_LIST,
  int32_list: ValueType.INT32_LIST,
  int64_list: ValueType.INT64_LIST,
  double_list: ValueType.DOUBLE_LIST,
  float64_list: ValueType.DOUBLE_LIST,
  float_list: ValueType.FLOAT_LIST,
  float32_list: ValueType.FLOAT_LIST,
  bool_list: ValueType.BOOL_LIST,
  unix_timestamp_list: ValueType.UNIX_TIMESTAMP_LIST,
  timestamp_list: ValueType.UNIX_TIMESTAMP_LIST,
} as const satisfies Record<string, typesV1.ValueType>;

/** A value type as written in a definition: `'int64'`, `'float64'`, `'string_list'`... */
export type ValueTypeName = keyof typeof VALUE_TYPES;

/** A value type by name, or the enum value itself. */
export type ValueTypeInput = ValueTypeName | typesV1.ValueType;

/** Every accepted value-type name, aliases included. */
export const VALUE_TYPE_NAMES: readonly ValueTypeName[] = Object.keys(VALUE_TYPES) as ValueTypeName[];

/** The enum value for a name, or undefined when the name is not a value type. */
export function lookupValueType(name: string): typesV1.ValueType | undefined {
  return Object.hasOwn(VALUE_TYPES, name) ? VALUE_TYPES[name as ValueTypeName] : undefined;
}

/** The canonical name of a value type (`VALUE_TYPE_DOUBLE` -> `double`). */
export function valueTypeName(type: typesV1.ValueType): string {
  const name = typesV1.ValueType[type];
  return name === undefined ? String(type) : name.toLowerCase();
}
