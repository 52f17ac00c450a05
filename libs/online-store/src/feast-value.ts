// Decodes a serialized Value (Feast's or ours, same wire format). Scalars, by far the most
// common case, are read directly from the bytes; lists and anything unusual go through
// protobuf-es, which is exact but several times slower.
import { fromBinary } from '@bufbuild/protobuf';
import { typesV1 } from '@larder/proto';

type Value = typesV1.Value;
const VALUE = 'larder.types.v1.Value';

let cursor = 0;

/** Unsigned varint of up to 64 bits as [low 32, high 32] via cursor; returns the low half, high in `high`. */
let high = 0;
function varint64(buf: Buffer, at: number): number {
  let low = 0;
  high = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[at++];
    if (byte === undefined) return -1;
    if (shift < 28) low |= (byte & 0x7f) << shift;
    else if (shift === 28) {
      low |= (byte & 0x0f) << 28;
      high |= (byte & 0x7f) >>> 4;
    } else high |= (byte & 0x7f) << (shift - 32);
    shift += 7;
    if (byte < 0x80) break;
    if (shift >= 70) return -1;
  }
  cursor = at;
  return low >>> 0;
}

export function decodeValue(buf: Buffer): Value {
  if (buf.length === 0) return { $typeName: VALUE, val: { case: undefined } } as Value;
  const key = buf[0]!;
  const field = key >>> 3;
  const wire = key & 7;
  let at = 1;
  let value: unknown;
  let valueCase: string;
  if (key >= 0x80) return fromBinary(typesV1.ValueSchema, buf);
  switch (field) {
    case 1:
    case 2: {
      if (wire !== 2) return fromBinary(typesV1.ValueSchema, buf);
      const length = varint64(buf, at);
      if (length < 0 || high !== 0) return fromBinary(typesV1.ValueSchema, buf);
      at = cursor;
      value = field === 2 ? buf.toString('utf8', at, at + length) : new Uint8Array(buf.subarray(at, at + length));
      valueCase = field === 2 ? 'stringVal' : 'bytesVal';
      at += length;
      break;
    }
    case 3:
    case 4:
    case 7:
    case 8:
    case 19: {
      if (wire !== 0) return fromBinary(typesV1.ValueSchema, buf);
      const low = varint64(buf, at);
      if (low < 0) return fromBinary(typesV1.ValueSchema, buf);
      at = cursor;
      if (field === 3) [value, valueCase] = [low | 0, 'int32Val'];
      else if (field === 7) [value, valueCase] = [low !== 0 || high !== 0, 'boolVal'];
      else if (field === 19) [value, valueCase] = [low, 'nullVal'];
      else [value, valueCase] = [BigInt.asIntN(64, (BigInt(high >>> 0) << 32n) | BigInt(low)), field === 4 ? 'int64Val' : 'unixTimestampVal'];
      break;
    }
    case 5:
      if (wire !== 1 || buf.length < 9) return fromBinary(typesV1.ValueSchema, buf);
      [value, valueCase, at] = [buf.readDoubleLE(1), 'doubleVal', 9];
      break;
    case 6:
      if (wire !== 5 || buf.length < 5) return fromBinary(typesV1.ValueSchema, buf);
      [value, valueCase, at] = [buf.readFloatLE(1), 'floatVal', 5];
      break;
    default:
      return fromBinary(typesV1.ValueSchema, buf);
  }
  // Anything after the one field (unknown fields, a repeated oneof): let protobuf-es decide.
  if (at !== buf.length) return fromBinary(typesV1.ValueSchema, buf);
  return { $typeName: VALUE, val: { case: valueCase, value } } as Value;
}
