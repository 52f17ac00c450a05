// Small builders for tests.
import { create } from '@bufbuild/protobuf';
import { typesV1 } from '@larder/proto';
import type { EntityKeyInput, FeatureSpec, ViewDescriptor } from '../types';

export type Value = typesV1.Value;
export const T = typesV1.ValueType;

type Init = NonNullable<Parameters<typeof create<typeof typesV1.ValueSchema>>[1]>['val'];

export const v = (val: Init): Value => create(typesV1.ValueSchema, { val } as never);
export const str = (value: string): Value => v({ case: 'stringVal', value });
export const i64 = (value: bigint | number): Value => v({ case: 'int64Val', value: BigInt(value) });
export const i32 = (value: number): Value => v({ case: 'int32Val', value });
export const dbl = (value: number): Value => v({ case: 'doubleVal', value });
export const bool = (value: boolean): Value => v({ case: 'boolVal', value });
export const nul = (): Value => v({ case: 'nullVal', value: typesV1.Null.UNSPECIFIED });

/** An entity key from join key -> value pairs, in the order given. */
export function ek(pairs: Record<string, Value | string | bigint | number>): EntityKeyInput {
  const joinKeys = Object.keys(pairs);
  const entityValues = joinKeys.map((k) => {
    const value = pairs[k]!;
    if (typeof value === 'string') return str(value);
    if (typeof value === 'bigint') return i64(value);
    if (typeof value === 'number') return i32(value);
    return value;
  });
  return { joinKeys, entityValues };
}

export function view(
  project: string,
  name: string,
  features: Record<string, typesV1.ValueType>,
  joinKeys = ['driver_id'],
  keyTtlSeconds?: number,
): ViewDescriptor {
  const specs: FeatureSpec[] = Object.entries(features).map(([n, type]) => ({ name: n, type }));
  return keyTtlSeconds === undefined ? { project, name, features: specs, joinKeys } : { project, name, features: specs, joinKeys, keyTtlSeconds };
}

/** One value of every type the stores keep, by feature name, with the feature's type. */
export const EVERY_TYPE: Record<string, [typesV1.ValueType, Value]> = {
  bytes: [T.BYTES, v({ case: 'bytesVal', value: new Uint8Array([0, 255, 1, 128]) })],
  string: [T.STRING, str('héllo ✓ 𝄞')],
  empty_string: [T.STRING, str('')],
  int32: [T.INT32, i32(-2147483648)],
  int64: [T.INT64, i64(-9223372036854775808n)],
  int64_max: [T.INT64, i64(9223372036854775807n)],
  double: [T.DOUBLE, dbl(-1.25e300)],
  float: [T.FLOAT, v({ case: 'floatVal', value: 1.5 })],
  bool_true: [T.BOOL, bool(true)],
  bool_false: [T.BOOL, bool(false)],
  unix_timestamp: [T.UNIX_TIMESTAMP, v({ case: 'unixTimestampVal', value: 1700000000n })],
  bytes_list: [T.BYTES_LIST, v({ case: 'bytesListVal', value: { val: [new Uint8Array([1, 2]), new Uint8Array([])] } })],
  string_list: [T.STRING_LIST, v({ case: 'stringListVal', value: { val: ['a', '', 'ünï'] } })],
  int32_list: [T.INT32_LIST, v({ case: 'int32ListVal', value: { val: [1, -2, 2147483647] } })],
  int64_list: [T.INT64_LIST, v({ case: 'int64ListVal', value: { val: [1n, -2n, 1n << 62n] } })],
  empty_int64_list: [T.INT64_LIST, v({ case: 'int64ListVal', value: { val: [] } })],
  double_list: [T.DOUBLE_LIST, v({ case: 'doubleListVal', value: { val: [0.1, -0, 1e-300] } })],
  float_list: [T.FLOAT_LIST, v({ case: 'floatListVal', value: { val: [0.5, -2.25] } })],
  bool_list: [T.BOOL_LIST, v({ case: 'boolListVal', value: { val: [true, false, true] } })],
  unix_timestamp_list: [T.UNIX_TIMESTAMP_LIST, v({ case: 'unixTimestampListVal', value: { val: [0n, 1700000000n] } })],
  null_string: [T.STRING, nul()],
  null_int64_list: [T.INT64_LIST, nul()],
};
