import { toBinary } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { typesV1 } from '@larder/proto';
import { decodeValue, encodeTimestampMs, encodeValue } from './feast-value';
import { eventMicros, eventMsFromMicros, eventMsFromParts, isEventMs } from './event-time';
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
  it.each([0, 1, 999, 1000, 1_000_000, 1_700_000_000_000_000, 1_700_000_000_123_000, 1_700_000_000_123_456, 1_700_000_000_000_001, 4_398_046_511_103_999])(
    'writes %d us as protobuf-es writes the Timestamp, and reads it back',
    (micros) => {
      const stamp = { $typeName: 'google.protobuf.Timestamp' as const, seconds: BigInt(Math.floor(micros / 1e6)), nanos: (micros % 1e6) * 1000 };
      const ms = eventMsFromMicros(micros);
      expect(encodeTimestampMs(ms)).toEqual(Buffer.from(toBinary(TimestampSchema, stamp)));
      expect(eventMsFromParts(Number(stamp.seconds), stamp.nanos)).toBe(ms);
      expect(eventMicros(ms)).toBe(micros);
    },
  );

  it('keeps 1 us steps apart and in order, and drops nanoseconds below a microsecond', () => {
    const base = 1_767_225_600_123_456;
    for (let i = 0; i < 2000; i++) {
      const a = eventMsFromMicros(base + i);
      const b = eventMsFromMicros(base + i + 1);
      expect(a < b && isEventMs(a) && isEventMs(b)).toBe(true);
    }
    expect(eventMsFromParts(1_767_225_600, 123_456_999)).toBe(eventMsFromMicros(1_767_225_600_123_456));
    expect(isEventMs(1_767_225_600_123 + 0.0005)).toBe(false);
    expect(isEventMs(-1)).toBe(false);
    expect(isEventMs(Number.NaN)).toBe(false);
  });
});
