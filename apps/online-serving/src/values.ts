import { typesV1 } from '@larder/proto';

const T = typesV1.ValueType;

/** The Value oneof case that carries each value type. */
export const CASE_OF_TYPE: ReadonlyMap<typesV1.ValueType, NonNullable<typesV1.Value['val']['case']>> = new Map([
  [T.BYTES, 'bytesVal'],
  [T.STRING, 'stringVal'],
  [T.INT32, 'int32Val'],
  [T.INT64, 'int64Val'],
  [T.DOUBLE, 'doubleVal'],
  [T.FLOAT, 'floatVal'],
  [T.BOOL, 'boolVal'],
  [T.UNIX_TIMESTAMP, 'unixTimestampVal'],
  [T.BYTES_LIST, 'bytesListVal'],
  [T.STRING_LIST, 'stringListVal'],
  [T.INT32_LIST, 'int32ListVal'],
  [T.INT64_LIST, 'int64ListVal'],
  [T.DOUBLE_LIST, 'doubleListVal'],
  [T.FLOAT_LIST, 'floatListVal'],
  [T.BOOL_LIST, 'boolListVal'],
  [T.UNIX_TIMESTAMP_LIST, 'unixTimestampListVal'],
  [T.NULL, 'nullVal'],
]);

/** `int64Val` -> `int64_val`, for messages in the proto's own words. */
export function caseLabel(c: string | undefined): string {
  return c === undefined ? 'no value' : c.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
}
