// Encodes and decodes a serialized Value (Feast's or ours, same wire format). Scalars, by
// far the most common case, are written and read directly as bytes; lists and anything
// unusual go through protobuf-es, which is exact but several times slower.
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { typesV1, wire } from '@larder/proto';
import { eventMicros } from './event-time';

// Bound once: reading a namespace member on every call goes through an export getter.
const { varintSize, writeVarint } = wire;

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

/** A non-negative integer field (wire type 0): key byte, varint. */
function varintField(key: number, n: number): Buffer {
  const buf = Buffer.allocUnsafe(1 + varintSize(n));
  buf[0] = key;
  writeVarint(buf, 1, n);
  return buf;
}

const NULL_VALUE = Buffer.from([0x98, 0x01, 0x00]); // field 19, varint 0

/**
 * The bytes protobuf-es writes for a Value (toBinary), produced directly for scalars.
 * Negative integers (ten-byte varints), 64-bit integers beyond 2^53 and lists take the
 * protobuf-es path.
 */
export function encodeValue(value: Value): Buffer {
  const val = value.val;
  switch (val.case) {
    case 'doubleVal': {
      const buf = Buffer.allocUnsafe(9);
      buf[0] = 0x29;
      buf.writeDoubleLE(val.value, 1);
      return buf;
    }
    case 'floatVal': {
      const buf = Buffer.allocUnsafe(5);
      buf[0] = 0x35;
      buf.writeFloatLE(val.value, 1);
      return buf;
    }
    case 'stringVal': {
      const length = Buffer.byteLength(val.value, 'utf8');
      const buf = Buffer.allocUnsafe(1 + varintSize(length) + length);
      buf[0] = 0x12;
      buf.write(val.value, writeVarint(buf, 1, length), 'utf8');
      return buf;
    }
    case 'bytesVal': {
      const length = val.value.length;
      const buf = Buffer.allocUnsafe(1 + varintSize(length) + length);
      buf[0] = 0x0a;
      buf.set(val.value, writeVarint(buf, 1, length));
      return buf;
    }
    case 'int32Val':
      if (val.value >= 0) return varintField(0x18, val.value);
      break;
    case 'int64Val':
    case 'unixTimestampVal':
      if (val.value >= 0n && val.value <= BigInt(Number.MAX_SAFE_INTEGER)) return varintField(val.case === 'int64Val' ? 0x20 : 0x40, Number(val.value));
      break;
    case 'boolVal':
      return Buffer.from([0x38, val.value ? 1 : 0]);
    case 'nullVal':
      if (val.value === 0) return NULL_VALUE;
      break;
    default:
      break;
  }
  return Buffer.from(toBinary(typesV1.ValueSchema, value));
}

/**
 * The bytes of a google.protobuf.Timestamp for an event time (ms >= 0, microseconds in
 * its fraction: see event-time.ts), as protobuf-es writes them.
 */
export function encodeTimestampMs(ms: number): Buffer {
  const buf = Buffer.allocUnsafe(timestampMsSize(ms));
  writeTimestampMs(buf, 0, ms);
  return buf;
}

/** Size of encodeTimestampMs(ms). */
export function timestampMsSize(ms: number): number {
  const micros = eventMicros(ms);
  const seconds = Math.floor(micros / 1_000_000);
  const nanos = (micros - seconds * 1_000_000) * 1000;
  return (seconds === 0 ? 0 : 1 + varintSize(seconds)) + (nanos === 0 ? 0 : 1 + varintSize(nanos));
}

/** encodeTimestampMs(ms) written at `at` of buf; returns the end. */
export function writeTimestampMs(buf: Buffer, at: number, ms: number): number {
  const micros = eventMicros(ms);
  const seconds = Math.floor(micros / 1_000_000);
  const nanos = (micros - seconds * 1_000_000) * 1000;
  if (seconds !== 0) {
    buf[at++] = 0x08;
    at = writeVarint(buf, at, seconds);
  }
  if (nanos !== 0) {
    buf[at++] = 0x10;
    at = writeVarint(buf, at, nanos);
  }
  return at;
}
