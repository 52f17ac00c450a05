// Reading Values by hand, for the decoders of hot messages (streamed training sets,
// online requests). Each returns what protobuf-es's fromBinary would build, or throws
// Unexpected for anything it does not handle so the caller can hand the bytes to it.
import type { RepeatedValue, Value } from '../gen/larder/types/v1/value_pb';
import { Unexpected } from './reader';
import type { Reader } from './reader';

// encode.ts's wire types, as local constants: imported ones are read through the module's
// export getters (the services run under tsx, which compiles to CommonJS), and that
// showed in profiles of these loops.
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

// Plain objects of the shapes fromBinary builds (proto3 messages are plain objects).
const VALUE = 'larder.types.v1.Value';
const LIST_TYPE: Readonly<Record<number, string>> = {
  11: 'larder.types.v1.BytesList',
  12: 'larder.types.v1.StringList',
  13: 'larder.types.v1.Int32List',
  14: 'larder.types.v1.Int64List',
  15: 'larder.types.v1.DoubleList',
  16: 'larder.types.v1.FloatList',
  17: 'larder.types.v1.BoolList',
  18: 'larder.types.v1.Int64List',
};
const LIST_CASE: Readonly<Record<number, string>> = {
  11: 'bytesListVal',
  12: 'stringListVal',
  13: 'int32ListVal',
  14: 'int64ListVal',
  15: 'doubleListVal',
  16: 'floatListVal',
  17: 'boolListVal',
  18: 'unixTimestampListVal',
};

/** One element of a list message's repeated field 1 (wire type already read). */
function readListElement(r: Reader, field: number, wire: number, out: unknown[]): void {
  if (field === 11 || field === 12) {
    if (wire !== WIRE_LENGTH) throw new Unexpected('list element');
    out.push(field === 11 ? r.bytes() : r.string());
    return;
  }
  const one = (): unknown => {
    switch (field) {
      case 13:
        return r.int32();
      case 14:
      case 18:
        return r.int64();
      case 15:
        return r.double();
      case 16:
        return r.float();
      default:
        return r.bool();
    }
  };
  const scalarWire = field === 15 ? WIRE_FIXED64 : field === 16 ? WIRE_FIXED32 : WIRE_VARINT;
  if (wire === WIRE_LENGTH) {
    const end = r.end();
    while (r.pos < end) out.push(one());
    if (r.pos !== end) throw new Unexpected('packed list overran');
  } else if (wire === scalarWire) {
    out.push(one());
  } else {
    throw new Unexpected('list element wire type');
  }
}

export function readValue(r: Reader, end: number): Value {
  let val: Value['val'] = { case: undefined };
  let set = false;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    // A second field in the oneof (a merge) is protobuf-es's to resolve.
    if (set) throw new Unexpected('second Value field');
    set = true;
    if (field >= 11 && field <= 18) {
      if (wire !== WIRE_LENGTH) throw new Unexpected('Value list wire type');
      const listEnd = r.end();
      const items: unknown[] = [];
      while (r.pos < listEnd) {
        const t = r.uint32();
        if (t >>> 3 !== 1) throw new Unexpected('list field');
        readListElement(r, field, t & 7, items);
      }
      if (r.pos !== listEnd) throw new Unexpected('list overran');
      val = { case: LIST_CASE[field], value: { $typeName: LIST_TYPE[field], val: items } } as Value['val'];
      continue;
    }
    switch (tag) {
      case (1 << 3) | 2:
        val = { case: 'bytesVal', value: r.bytes() };
        break;
      case (2 << 3) | 2:
        val = { case: 'stringVal', value: r.string() };
        break;
      case (3 << 3) | 0:
        val = { case: 'int32Val', value: r.int32() };
        break;
      case (4 << 3) | 0:
        val = { case: 'int64Val', value: r.int64() };
        break;
      case (5 << 3) | 1:
        val = { case: 'doubleVal', value: r.double() };
        break;
      case (6 << 3) | 5:
        val = { case: 'floatVal', value: r.float() };
        break;
      case (7 << 3) | 0:
        val = { case: 'boolVal', value: r.bool() };
        break;
      case (8 << 3) | 0:
        val = { case: 'unixTimestampVal', value: r.int64() };
        break;
      case (19 << 3) | 0:
        val = { case: 'nullVal', value: r.int32() };
        break;
      default:
        throw new Unexpected('Value field');
    }
  }
  if (r.pos !== end) throw new Unexpected('Value overran');
  return { $typeName: VALUE, val } as Value;
}

export function readRepeatedValue(r: Reader, end: number): RepeatedValue {
  const val: Value[] = [];
  while (r.pos < end) {
    if (r.uint32() !== ((1 << 3) | WIRE_LENGTH)) throw new Unexpected('RepeatedValue field');
    const valueEnd = r.end();
    val.push(readValue(r, valueEnd));
  }
  if (r.pos !== end) throw new Unexpected('RepeatedValue overran');
  return { $typeName: 'larder.types.v1.RepeatedValue', val } as RepeatedValue;
}
