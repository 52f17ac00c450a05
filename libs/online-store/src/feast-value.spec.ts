import { toBinary } from '@bufbuild/protobuf';
import { typesV1 } from '@larder/proto';
import { decodeValue } from './feast-value';
import { EVERY_TYPE, i32, i64, str, v } from './testing/values';

describe('decodeValue', () => {
  const cases: [string, typesV1.Value][] = [
    ...Object.entries(EVERY_TYPE).map(([name, [, value]]): [string, typesV1.Value] => [name, value]),
    ['zero int64', i64(0)],
    ['-1 int32', i32(-1)],
    ['2^35 int64', i64(2n ** 35n)],
    ['-2^40 int64', i64(-(2n ** 40n))],
    ['long string', str('x'.repeat(300))],
    ['false', v({ case: 'boolVal', value: false })],
    ['unset', v({ case: undefined })],
  ];
  it.each(cases)('decodes %s like protobuf-es', (_, value) => {
    expect(decodeValue(Buffer.from(toBinary(typesV1.ValueSchema, value)))).toEqual(value);
  });
});
