// Which Value oneof case and list message go with each ValueType: the packed codec and
// the column encoders both build Values as plain objects from a declared type.
import { typesV1 } from '@larder/proto';

const T = typesV1.ValueType;
export type ValueCase = typesV1.ValueCase;

/** ValueType (the packed tag) of each Value case. */
export const TAG_OF_CASE: Readonly<Record<ValueCase, number>> = typesV1.VALUE_TYPE_OF_CASE;

export const CASE_OF_TAG: Partial<Record<number, ValueCase>> = Object.fromEntries(typesV1.VALUE_CASE_OF_TYPE);

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
