import { typesV1 } from '@larder/proto';

const { ValueType } = typesV1;

const NAMES: ReadonlyArray<readonly [typesV1.ValueType, string]> = [
  [ValueType.BYTES, 'bytes'],
  [ValueType.STRING, 'string'],
  [ValueType.INT32, 'int32'],
  [ValueType.INT64, 'int64'],
  [ValueType.DOUBLE, 'double'],
  [ValueType.FLOAT, 'float'],
  [ValueType.BOOL, 'bool'],
  [ValueType.UNIX_TIMESTAMP, 'unix_timestamp'],
  [ValueType.BYTES_LIST, 'bytes_list'],
  [ValueType.STRING_LIST, 'string_list'],
  [ValueType.INT32_LIST, 'int32_list'],
  [ValueType.INT64_LIST, 'int64_list'],
  [ValueType.DOUBLE_LIST, 'double_list'],
  [ValueType.FLOAT_LIST, 'float_list'],
  [ValueType.BOOL_LIST, 'bool_list'],
  [ValueType.UNIX_TIMESTAMP_LIST, 'unix_timestamp_list'],
  [ValueType.NULL, 'null'],
];

/** `ValueType.INT64` -> `int64`; UNSPECIFIED -> `unspecified`. */
export function valueTypeName(type: typesV1.ValueType): string {
  return NAMES.find(([t]) => t === type)?.[1] ?? 'unspecified';
}

const ALIASES: ReadonlyMap<string, typesV1.ValueType> = new Map([
  ...NAMES.map(([t, n]): [string, typesV1.ValueType] => [n, t]),
  ['float64', ValueType.DOUBLE],
  ['float32', ValueType.FLOAT],
  ['boolean', ValueType.BOOL],
  ['timestamp', ValueType.UNIX_TIMESTAMP],
  ['unixtimestamp', ValueType.UNIX_TIMESTAMP],
]);

/**
 * Reads a type as people write it (`int64`, `INT64`, `VALUE_TYPE_INT64`,
 * `float64`, `Float32`...). Returns undefined for anything else, including
 * `unspecified`.
 */
export function parseValueTypeName(text: string): typesV1.ValueType | undefined {
  const key = text.toLowerCase().replace(/^value_type_/, '');
  return ALIASES.get(key) ?? ALIASES.get(key.replace(/_/g, ''));
}

/** The usable type names, for error messages and help text. */
export const VALUE_TYPE_NAMES: readonly string[] = NAMES.filter(([t]) => t !== ValueType.NULL).map(([, n]) => n);

/** Whether a value of this type is a list. */
export function isListValueType(type: typesV1.ValueType): boolean {
  return type >= ValueType.BYTES_LIST && type <= ValueType.UNIX_TIMESTAMP_LIST;
}

/** Whether a feature or field may be declared with this type (not UNSPECIFIED, NULL or an unknown number). */
export function isUsableValueType(type: typesV1.ValueType): boolean {
  return type !== ValueType.NULL && NAMES.some(([t]) => t === type);
}
