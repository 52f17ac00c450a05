import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { servingV1, typesV1 } from '@larder/proto';
import { encodeGetOnlineFeaturesResponse } from './response-encoder';

const S = typesV1.FieldStatus;
type ValueInit = MessageInitShape<typeof typesV1.ValueSchema>;

/** One of every Value case, with edge values: negatives, 64-bit extremes, unicode, empty lists. */
const values: ValueInit[] = [
  {},
  { val: { case: 'bytesVal', value: new Uint8Array([0, 255, 7]) } },
  { val: { case: 'bytesVal', value: new Uint8Array() } },
  { val: { case: 'stringVal', value: 'Zürich → 東京 🚕' } },
  { val: { case: 'stringVal', value: 'x'.repeat(300) } },
  { val: { case: 'int32Val', value: -1 } },
  { val: { case: 'int32Val', value: 2147483647 } },
  { val: { case: 'int32Val', value: 0 } },
  { val: { case: 'int64Val', value: -9223372036854775808n } },
  { val: { case: 'int64Val', value: 9223372036854775807n } },
  { val: { case: 'int64Val', value: 1001n } },
  { val: { case: 'doubleVal', value: -0.125 } },
  { val: { case: 'doubleVal', value: Number.NaN } },
  { val: { case: 'floatVal', value: 3.5 } },
  { val: { case: 'boolVal', value: true } },
  { val: { case: 'boolVal', value: false } },
  { val: { case: 'unixTimestampVal', value: 1_700_000_000n } },
  { val: { case: 'bytesListVal', value: { val: [new Uint8Array([1]), new Uint8Array()] } } },
  { val: { case: 'stringListVal', value: { val: ['a', '', 'ß'] } } },
  { val: { case: 'int32ListVal', value: { val: [1, -2, 300000] } } },
  { val: { case: 'int32ListVal', value: { val: [] } } },
  { val: { case: 'int64ListVal', value: { val: [-1n, 0n, 2n ** 62n] } } },
  { val: { case: 'doubleListVal', value: { val: [0.1, -2.5] } } },
  { val: { case: 'floatListVal', value: { val: [1.5, -0.25] } } },
  { val: { case: 'boolListVal', value: { val: [true, false, true] } } },
  { val: { case: 'unixTimestampListVal', value: { val: [1n, 1_700_000_000n] } } },
  { val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } },
];

function response(init: MessageInitShape<typeof servingV1.GetOnlineFeaturesResponseSchema>) {
  return create(servingV1.GetOnlineFeaturesResponseSchema, init);
}

function expectSameBytes(message: servingV1.GetOnlineFeaturesResponse): void {
  const ours = encodeGetOnlineFeaturesResponse(message);
  expect(Buffer.from(ours).equals(Buffer.from(toBinary(servingV1.GetOnlineFeaturesResponseSchema, message)))).toBe(true);
  expect(fromBinary(servingV1.GetOnlineFeaturesResponseSchema, ours)).toEqual(message);
}

test('every Value case encodes exactly as protobuf-es does', () => {
  expectSameBytes(
    response({
      metadata: { featureNames: { val: values.map((_, i) => `feature_${i}`) } },
      results: values.map((value, i) => ({
        values: [value, value],
        statuses: [S.PRESENT, i % 2 === 0 ? S.NOT_FOUND : S.OUTSIDE_MAX_AGE],
        eventTimestamps: [timestampFromMs(1_700_000_000_123), { seconds: -5n, nanos: 0 }, {}],
      })),
    }),
  );
});

test('empty and partial responses encode exactly as protobuf-es does', () => {
  expectSameBytes(response({}));
  expectSameBytes(response({ metadata: {} }));
  expectSameBytes(response({ metadata: { featureNames: { val: [] } }, results: [{}] }));
  expectSameBytes(response({ results: [{ values: [{}], statuses: [S.NULL_VALUE] }] }));
});

test('a 100 x 50 serving response round-trips', () => {
  const rows = 100;
  const message = response({
    metadata: { featureNames: { val: Array.from({ length: 50 }, (_, i) => `driver_stats_${i % 5}__f${i}`) } },
    results: Array.from({ length: 50 }, (_, f) => ({
      values: Array.from({ length: rows }, (_, r) => ({ val: { case: 'doubleVal' as const, value: r * 0.5 + f } })),
      statuses: Array.from({ length: rows }, (_, r) => (r % 7 === 0 ? S.NOT_FOUND : S.PRESENT)),
      eventTimestamps: Array.from({ length: rows }, (_, r) => timestampFromMs(1_700_000_000_000 + r)),
    })),
  });
  expectSameBytes(message);
});
