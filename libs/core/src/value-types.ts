import { typesV1 } from '@larder/proto';

const { ValueType } = typesV1;

// The one table of value-type names. The canonical name of a type is its enum
// suffix in lower case (`unix_timestamp`); the aliases are the numpy/Arrow
// spellings Feast users bring (`float64`, `float32`), `timestamp`, and
// `boolean`. Definitions (YAML and the TypeScript builders) accept exactly
// these spellings; the CLI reads them more loosely (parseValueTypeName).
const SPELLINGS = {
  bytes: ValueType.BYTES,
  string: ValueType.STRING,
  int32: ValueType.INT32,
  int64: ValueType.INT64,
  double: ValueType.DOUBLE,
  float64: ValueType.DOUBLE,
  float: ValueType.FLOAT,
  float32: ValueType.FLOAT,
  bool: ValueType.BOOL,
  boolean: ValueType.BOOL,
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

/** A value type as a definition may spell it: `'int64'`, `'float64'`, `'string_list'`... */
export type ValueTypeName = keyof typeof SPELLINGS;

/** Every spelling a definition may use, canonical names and aliases. */
export const VALUE_TYPE_SPELLINGS: readonly ValueTypeName[] = Object.keys(SPELLINGS) as ValueTypeName[];

/** The canonical name of each type (the first spelling of it in the table). */
const CANONICAL = new Map<typesV1.ValueType, string>([[ValueType.NULL, 'null']]);
for (const name of VALUE_TYPE_SPELLINGS) {
  const type = SPELLINGS[name];
  if (!CANONICAL.has(type)) CANONICAL.set(type, name);
}

/** The usable type names (canonical, no aliases), for error messages and help text. */
export const VALUE_TYPE_NAMES: readonly string[] = [...CANONICAL].filter(([t]) => t !== ValueType.NULL).map(([, n]) => n);

/** `ValueType.INT64` -> `int64`; UNSPECIFIED -> `unspecified`; a number outside the enum stays a number. */
export function valueTypeName(type: typesV1.ValueType): string {
  if (type === ValueType.UNSPECIFIED) return 'unspecified';
  return CANONICAL.get(type) ?? String(type);
}

/** A Value's oneof case in the proto's own words (`int64Val` -> `int64_val`), for error messages; undefined -> `no value`. */
export function valueCaseLabel(c: string | undefined): string {
  return c === undefined ? 'no value' : c.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
}

/** The type a definition's spelling names, exactly as written; undefined for anything else. */
export function lookupValueType(name: string): typesV1.ValueType | undefined {
  return Object.hasOwn(SPELLINGS, name) ? SPELLINGS[name as ValueTypeName] : undefined;
}

// Loose keys: lower case, no underscores, so `INT64`, `Float32`, `unixtimestamp` match too.
const LOOSE = new Map<string, typesV1.ValueType>([
  ...VALUE_TYPE_SPELLINGS.map((name): [string, typesV1.ValueType] => [name.replaceAll('_', ''), SPELLINGS[name]]),
  ['null', ValueType.NULL],
]);

/**
 * Reads a type as people type it on a command line (`int64`, `INT64`,
 * `VALUE_TYPE_INT64`, `float64`, `Float32`, `unixtimestamp`...). Returns
 * undefined for anything else, including `unspecified`.
 */
export function parseValueTypeName(text: string): typesV1.ValueType | undefined {
  return LOOSE.get(
    text
      .toLowerCase()
      .replace(/^value_type_/, '')
      .replaceAll('_', ''),
  );
}

/** Whether a value of this type is a list. */
export function isListValueType(type: typesV1.ValueType): boolean {
  return type >= ValueType.BYTES_LIST && type <= ValueType.UNIX_TIMESTAMP_LIST;
}

/** Whether a feature or field may be declared with this type (not UNSPECIFIED, NULL or an unknown number). */
export function isUsableValueType(type: typesV1.ValueType): boolean {
  return type !== ValueType.NULL && CANONICAL.has(type);
}
