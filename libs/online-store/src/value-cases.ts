// Which Value oneof case and list message go with each ValueType: the packed codec and
// the column encoders both build Values as plain objects from a declared type.
import { typesV1 } from '@larder/proto';

const T = typesV1.ValueType;
export type ValueCase = NonNullable<typesV1.Value['val']['case']>;

/** ValueType (the packed tag) of each Value case; the numbers equal the oneof field numbers. */
export const TAG_OF_CASE: Record<ValueCase, number> = {
  bytesVal: T.BYTES,
  stringVal: T.STRING,
  int32Val: T.INT32,
  int64Val: T.INT64,
  doubleVal: T.DOUBLE,
  floatVal: T.FLOAT,
  boolVal: T.BOOL,
  unixTimestampVal: T.UNIX_TIMESTAMP,
  bytesListVal: T.BYTES_LIST,
  stringListVal: T.STRING_LIST,
  int32ListVal: T.INT32_LIST,
  int64ListVal: T.INT64_LIST,
  doubleListVal: T.DOUBLE_LIST,
  floatListVal: T.FLOAT_LIST,
  boolListVal: T.BOOL_LIST,
  unixTimestampListVal: T.UNIX_TIMESTAMP_LIST,
  nullVal: T.NULL,
};

export const CASE_OF_TAG: Partial<Record<number, ValueCase>> = Object.fromEntries(Object.entries(TAG_OF_CASE).map(([c, tag]) => [tag, c as ValueCase]));

/** The message type name of each list ValueType's value. */
export const LIST_TYPE_NAME: Partial<Record<number, string>> = {
  [T.BYTES_LIST]: 'larder.types.v1.BytesList',
  [T.STRING_LIST]: 'larder.types.v1.StringList',
  [T.INT32_LIST]: 'larder.types.v1.Int32List',
  [T.INT64_LIST]: 'larder.types.v1.Int64List',
  [T.DOUBLE_LIST]: 'larder.types.v1.DoubleList',
  [T.FLOAT_LIST]: 'larder.types.v1.FloatList',
  [T.BOOL_LIST]: 'larder.types.v1.BoolList',
  [T.UNIX_TIMESTAMP_LIST]: 'larder.types.v1.Int64List',
};
