import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { servingV1, typesV1 } from '@larder/proto';
import { EVERY_VALUE_CASE as values } from '@larder/testing';
import { encodeGetOnlineFeaturesResponse } from './response-encoder';

const S = typesV1.FieldStatus;

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

test('feature names: a frozen names array is encoded once and reused; a different or unfrozen array gets its own bytes', () => {
  const names = Object.freeze(['driver_id', 'view_0__f0', 'view_0__f1']);
  const other = Object.freeze(['driver_id', 'view_1__f0', 'view_1__f1']);
  const results = [{ values: [{ val: { case: 'int64Val' as const, value: 7n } }], statuses: [S.PRESENT], eventTimestamps: [{}] }];
  // The frozen array twice (the second from the cache), then another frozen array, then an unfrozen one changed in place.
  expectSameBytes(response({ metadata: { featureNames: { val: names as string[] } }, results }));
  expectSameBytes(response({ metadata: { featureNames: { val: names as string[] } }, results }));
  expectSameBytes(response({ metadata: { featureNames: { val: other as string[] } }, results }));
  const mutable = ['a', 'b'];
  expectSameBytes(response({ metadata: { featureNames: { val: mutable } }, results }));
  mutable[1] = 'changed';
  expectSameBytes(response({ metadata: { featureNames: { val: mutable } }, results }));
});
