// larder.types.v1, which spans several proto files.
import { ValueType } from './gen/larder/types/v1/value_pb';
import type { Value } from './gen/larder/types/v1/value_pb';
export * from './gen/larder/types/v1/value_pb';
export * from './gen/larder/types/v1/entity_key_pb';
export * from './gen/larder/types/v1/feature_pb';
export * from './gen/larder/types/v1/row_batch_pb';

/** A Value oneof case (`int64Val`, `doubleListVal`, …, `nullVal`). */
export type ValueCase = NonNullable<Value['val']['case']>;

/**
 * The ValueType each Value case carries. The contract numbers them alike (each oneof
 * field number equals its ValueType), as Feast's does; the table spells it out once.
 */
export const VALUE_TYPE_OF_CASE: Readonly<Record<ValueCase, ValueType>> = {
  bytesVal: ValueType.BYTES,
  stringVal: ValueType.STRING,
  int32Val: ValueType.INT32,
  int64Val: ValueType.INT64,
  doubleVal: ValueType.DOUBLE,
  floatVal: ValueType.FLOAT,
  boolVal: ValueType.BOOL,
  unixTimestampVal: ValueType.UNIX_TIMESTAMP,
  bytesListVal: ValueType.BYTES_LIST,
  stringListVal: ValueType.STRING_LIST,
  int32ListVal: ValueType.INT32_LIST,
  int64ListVal: ValueType.INT64_LIST,
  doubleListVal: ValueType.DOUBLE_LIST,
  floatListVal: ValueType.FLOAT_LIST,
  boolListVal: ValueType.BOOL_LIST,
  unixTimestampListVal: ValueType.UNIX_TIMESTAMP_LIST,
  nullVal: ValueType.NULL,
};

/** The Value case that carries each ValueType (UNSPECIFIED has none). */
export const VALUE_CASE_OF_TYPE: ReadonlyMap<ValueType, ValueCase> = new Map(Object.entries(VALUE_TYPE_OF_CASE).map(([c, type]) => [type, c as ValueCase]));
