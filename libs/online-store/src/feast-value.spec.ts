import { toBinary } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { typesV1 } from '@larder/proto';
import { decodeValue, encodeTimestampMs, encodeValue } from './feast-value';
import { EVERY_TYPE, i32, i64, str, v } from './testing/values';

const cases: [string, typesV1.Value][] = [
  ...Object.entries(EVERY_TYPE).map(([name, [, value]]): [string, typesV1.Value] => [name, value]),
  ['zero int64', i64(0)],
  ['-1 int32', i32(-1)],
  ['2^35 int64', i64(2n ** 35n)],
  ['-2^40 int64', i64(-(2n ** 40n))],
  ['long string', str('x'.repeat(300))],
  ['false', v({ case: 'boolVal', value: false })],
  ['unset', v({ case: undefined })],
  ['2^53-1 int64', i64(2n ** 53n - 1n)],
  ['2^53 int64', i64(2n ** 53n)],
  ['int32 max', i32(2147483647)],
  ['zero int32', i32(0)],
  ['zero double', v({ case: 'doubleVal', value: 0 })],
  ['NaN double', v({ case: 'doubleVal', value: Number.NaN })],
  ['negative zero float', v({ case: 'floatVal', value: -0 })],
  ['128-byte bytes', v({ case: 'bytesVal', value: new Uint8Array(128).fill(7) })],
  ['zero unix_timestamp', v({ case: 'unixTimestampVal', value: 0n })],
  ['negative unix_timestamp', v({ case: 'unixTimestampVal', value: -5n })],
];

describe('decodeValue', () => {
  it.each(cases)('decodes %s like protobuf-es', (_, value) => {
    expect(decodeValue(Buffer.from(toBinary(typesV1.ValueSchema, value)))).toEqual(value);
  });
});

describe('encodeValue', () => {
  it.each(cases)('writes %s byte for byte as protobuf-es', (_, value) => {
    expect(encodeValue(value)).toEqual(Buffer.from(toBinary(typesV1.ValueSchema, value)));
  });
});

describe('encodeTimestampMs', () => {
  it.each([0, 1, 999, 1000, 1_700_000_000_000, 1_700_000_000_123, Number.MAX_SAFE_INTEGER])('writes %d ms as protobuf-es writes the Timestamp', (ms) => {
    const stamp = { $typeName: 'google.protobuf.Timestamp' as const, seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
    expect(encodeTimestampMs(ms)).toEqual(Buffer.from(toBinary(TimestampSchema, stamp)));
  });
});
