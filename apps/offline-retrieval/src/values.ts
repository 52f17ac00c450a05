import { typesV1 } from '@larder/proto';

/** The ValueType a Value carries; undefined for no value or an explicit null. */
export function typeOfValue(value: typesV1.Value): typesV1.ValueType | undefined {
  const c = value.val.case;
  return c === undefined || c === 'nullVal' ? undefined : typesV1.VALUE_TYPE_OF_CASE[c];
}

/** Rough encoded size of a Value in bytes, for keeping result messages under a limit. */
export function approxValueBytes(value: typesV1.Value): number {
  const v = value.val;
  switch (v.case) {
    case undefined:
      return 2;
    case 'stringVal':
      return 4 + v.value.length * 3;
    case 'bytesVal':
      return 4 + v.value.length;
    case 'stringListVal':
      return 4 + v.value.val.reduce((n, s) => n + 3 + s.length * 3, 0);
    case 'bytesListVal':
      return 4 + v.value.val.reduce((n, b) => n + 3 + b.length, 0);
    case 'int32ListVal':
    case 'int64ListVal':
    case 'doubleListVal':
    case 'floatListVal':
    case 'boolListVal':
    case 'unixTimestampListVal':
      return 4 + v.value.val.length * 10;
    default:
      return 12;
  }
}
