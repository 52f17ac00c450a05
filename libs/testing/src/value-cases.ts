import type { MessageInitShape } from '@bufbuild/protobuf';
import { typesV1 } from '@larder/proto';

export type ValueInit = MessageInitShape<typeof typesV1.ValueSchema>;

/**
 * One of every Value case, with the edge values encoders get wrong: unset, negatives,
 * 32- and 64-bit extremes, past 2^53, NaN, unicode, empty bytes, strings and lists, nulls.
 */
export const EVERY_VALUE_CASE: readonly ValueInit[] = [
  {},
  { val: { case: 'bytesVal', value: new Uint8Array([0, 255, 7]) } },
  { val: { case: 'bytesVal', value: new Uint8Array() } },
  { val: { case: 'stringVal', value: 'Zürich → 東京 🚕' } },
  { val: { case: 'stringVal', value: '' } },
  { val: { case: 'stringVal', value: 'x'.repeat(300) } },
  { val: { case: 'int32Val', value: -1 } },
  { val: { case: 'int32Val', value: -2147483648 } },
  { val: { case: 'int32Val', value: 2147483647 } },
  { val: { case: 'int32Val', value: 0 } },
  { val: { case: 'int64Val', value: -9223372036854775808n } },
  { val: { case: 'int64Val', value: 9223372036854775807n } },
  { val: { case: 'int64Val', value: -1n } },
  { val: { case: 'int64Val', value: 0n } },
  { val: { case: 'int64Val', value: 2n ** 53n + 1n } },
  { val: { case: 'int64Val', value: 1001n } },
  { val: { case: 'doubleVal', value: -0.125 } },
  { val: { case: 'doubleVal', value: Number.NaN } },
  { val: { case: 'doubleVal', value: 0 } },
  { val: { case: 'floatVal', value: 3.5 } },
  { val: { case: 'boolVal', value: true } },
  { val: { case: 'boolVal', value: false } },
  { val: { case: 'unixTimestampVal', value: 1_700_000_000n } },
  { val: { case: 'unixTimestampVal', value: -86_400n } },
  { val: { case: 'bytesListVal', value: { val: [new Uint8Array([1]), new Uint8Array()] } } },
  { val: { case: 'stringListVal', value: { val: ['a', '', 'ß'] } } },
  { val: { case: 'stringListVal', value: { val: [] } } },
  { val: { case: 'int32ListVal', value: { val: [1, -2, 300000] } } },
  { val: { case: 'int32ListVal', value: { val: [] } } },
  { val: { case: 'int64ListVal', value: { val: [-1n, 0n, 2n ** 62n] } } },
  { val: { case: 'doubleListVal', value: { val: [0.1, -2.5] } } },
  { val: { case: 'floatListVal', value: { val: [1.5, -0.25] } } },
  { val: { case: 'boolListVal', value: { val: [true, false, true] } } },
  { val: { case: 'unixTimestampListVal', value: { val: [1n, 1_700_000_000n, -5n] } } },
  { val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } },
];
