import { create } from '@bufbuild/protobuf';
import type { CelInput, CelValue } from '@bufbuild/cel';
import { isCelList, isCelUint } from '@bufbuild/cel';
import { typesV1 } from '@larder/proto';
import { valueTypeName } from '../value-types';

const { ValueType } = typesV1;
type Val = typesV1.Value['val'];

/** A Value that carries nothing, or an explicit null: both read as absent in CEL. */
export function isNullValue(v: typesV1.Value | undefined): boolean {
  return v === undefined || v.val.case === undefined || v.val.case === 'nullVal';
}

/** A feature value as CEL sees it: int types become int (bigint), float types double. */
export function toCelInput(v: typesV1.Value): CelInput | undefined {
  const val = v.val;
  switch (val.case) {
    case 'int32Val':
      return BigInt(val.value);
    case 'int64Val':
    case 'unixTimestampVal':
      return val.value;
    case 'bytesVal':
    case 'stringVal':
    case 'doubleVal':
    case 'floatVal':
    case 'boolVal':
      return val.value;
    case 'int32ListVal':
      return val.value.val.map((n) => BigInt(n));
    case 'int64ListVal':
    case 'unixTimestampListVal':
    case 'bytesListVal':
    case 'stringListVal':
    case 'doubleListVal':
    case 'floatListVal':
    case 'boolListVal':
      return val.value.val;
    default:
      return undefined;
  }
}

/** Why a computed value does not fit its declared output type. */
export class ConversionError extends Error {
  override readonly name = 'ConversionError';
}

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

function describe(v: CelValue): string {
  if (typeof v === 'bigint') return `int ${v}`;
  if (typeof v === 'number') return `double ${v}`;
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'boolean') return `bool ${v}`;
  if (v instanceof Uint8Array) return 'bytes';
  if (isCelUint(v)) return `uint ${v.value}`;
  if (isCelList(v)) return 'list';
  return 'value';
}

function toInt(v: CelValue, bits: 32 | 64): bigint {
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else if (isCelUint(v)) n = v.value;
  else throw new ConversionError(`expected an int, got ${describe(v)}`);
  if (bits === 32 && (n < INT32_MIN || n > INT32_MAX)) throw new ConversionError(`${n} does not fit in int32`);
  if (bits === 64 && n > 2n ** 63n - 1n) throw new ConversionError(`${n} does not fit in int64`);
  return n;
}

function toDouble(v: CelValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (isCelUint(v)) return Number(v.value);
  throw new ConversionError(`expected a double, got ${describe(v)}`);
}

function toList(v: CelValue): CelValue[] {
  if (Array.isArray(v)) return v as CelValue[];
  if (isCelList(v)) return [...v];
  throw new ConversionError(`expected a list, got ${describe(v)}`);
}

function scalar<T>(v: CelValue, check: (v: CelValue) => v is CelValue & T, what: string): T {
  if (check(v)) return v;
  throw new ConversionError(`expected ${what}, got ${describe(v)}`);
}
const isString = (v: CelValue): v is string => typeof v === 'string';
const isBool = (v: CelValue): v is boolean => typeof v === 'boolean';
const isBytes = (v: CelValue): v is Uint8Array => v instanceof Uint8Array;

function val(v: CelValue, type: typesV1.ValueType): Val {
  switch (type) {
    case ValueType.BYTES:
      return { case: 'bytesVal', value: scalar(v, isBytes, 'bytes') };
    case ValueType.STRING:
      return { case: 'stringVal', value: scalar(v, isString, 'a string') };
    case ValueType.INT32:
      return { case: 'int32Val', value: Number(toInt(v, 32)) };
    case ValueType.INT64:
      return { case: 'int64Val', value: toInt(v, 64) };
    case ValueType.UNIX_TIMESTAMP:
      return { case: 'unixTimestampVal', value: toInt(v, 64) };
    case ValueType.DOUBLE:
      return { case: 'doubleVal', value: toDouble(v) };
    case ValueType.FLOAT:
      return { case: 'floatVal', value: toDouble(v) };
    case ValueType.BOOL:
      return { case: 'boolVal', value: scalar(v, isBool, 'a bool') };
    case ValueType.BYTES_LIST:
      return { case: 'bytesListVal', value: create(typesV1.BytesListSchema, { val: toList(v).map((x) => scalar(x, isBytes, 'bytes')) }) };
    case ValueType.STRING_LIST:
      return { case: 'stringListVal', value: create(typesV1.StringListSchema, { val: toList(v).map((x) => scalar(x, isString, 'a string')) }) };
    case ValueType.INT32_LIST:
      return { case: 'int32ListVal', value: create(typesV1.Int32ListSchema, { val: toList(v).map((x) => Number(toInt(x, 32))) }) };
    case ValueType.INT64_LIST:
      return { case: 'int64ListVal', value: create(typesV1.Int64ListSchema, { val: toList(v).map((x) => toInt(x, 64)) }) };
    case ValueType.UNIX_TIMESTAMP_LIST:
      return { case: 'unixTimestampListVal', value: create(typesV1.Int64ListSchema, { val: toList(v).map((x) => toInt(x, 64)) }) };
    case ValueType.DOUBLE_LIST:
      return { case: 'doubleListVal', value: create(typesV1.DoubleListSchema, { val: toList(v).map(toDouble) }) };
    case ValueType.FLOAT_LIST:
      return { case: 'floatListVal', value: create(typesV1.FloatListSchema, { val: toList(v).map(toDouble) }) };
    case ValueType.BOOL_LIST:
      return { case: 'boolListVal', value: create(typesV1.BoolListSchema, { val: toList(v).map((x) => scalar(x, isBool, 'a bool')) }) };
    default:
      throw new ConversionError(`cannot produce a value of type ${valueTypeName(type)}`);
  }
}

/** The null Value: what a computation over a missing input yields. */
export function nullValue(): typesV1.Value {
  return create(typesV1.ValueSchema, { val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } });
}

/** Converts a CEL result to a Value of the declared type, or throws ConversionError. */
export function fromCel(v: CelValue, type: typesV1.ValueType): typesV1.Value {
  if (v === null) return nullValue();
  return create(typesV1.ValueSchema, { val: val(v, type) });
}
