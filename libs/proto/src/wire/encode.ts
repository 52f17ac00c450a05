// larder.types.v1.Value, RepeatedValue and google.protobuf.Timestamp on the wire,
// shared by the hand-written encoders of serving and offline retrieval: one pass to
// size every message, one to write into a buffer of exactly that size. Everything
// here writes what protobuf-es writes (the encoders' specs check byte identity).
// Sizing and writing share this one module on purpose: calls across modules go
// through the transpiled export getters, which showed in profiles at tens of
// millions of calls.
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { Value } from '../gen/larder/types/v1/value_pb';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH = 2;
export const WIRE_FIXED32 = 5;

/** Bytes of a varint holding a non-negative number below 2^53. */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 5;
  for (let rest = Math.floor(n / 0x800000000); rest > 0; rest = Math.floor(rest / 0x80)) size++;
  return size;
}

/** Writes a varint of a non-negative number below 2^53 at `at`; returns the position after it. */
export function writeVarint(buf: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[at++] = n;
  return at;
}

/** int32 on the wire: negative values are sign-extended to ten bytes. */
export function int32Size(n: number): number {
  return n < 0 ? 10 : varintSize(n);
}

export function int64Size(n: bigint): number {
  if (n >= 0n && n <= 0x1fffffffffffffn) return varintSize(Number(n));
  let size = 1;
  for (let rest = BigInt.asUintN(64, n) >> 7n; rest > 0n; rest >>= 7n) size++;
  return size;
}

export function tagSize(field: number): number {
  return field < 16 ? 1 : 2;
}

/** A length-delimited field: tag, length, payload. */
export function lengthDelimitedSize(field: number, length: number): number {
  return tagSize(field) + varintSize(length) + length;
}

/** Writes into a buffer sized exactly beforehand. */
export class Writer {
  readonly buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  varint(n: number): void {
    this.pos = writeVarint(this.buf, this.pos, n);
  }

  int32(n: number): void {
    if (n >= 0) this.varint(n);
    else this.int64(BigInt(n));
  }

  int64(n: bigint): void {
    if (n >= 0n && n <= 0x1fffffffffffffn) {
      this.varint(Number(n));
      return;
    }
    let rest = BigInt.asUintN(64, n);
    while (rest >= 0x80n) {
      this.buf[this.pos++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.buf[this.pos++] = Number(rest);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  header(field: number, length: number): void {
    this.tag(field, WIRE_LENGTH);
    this.varint(length);
  }

  bytes(field: number, bytes: Uint8Array): void {
    this.header(field, bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  string(field: number, text: string): void {
    const length = Buffer.byteLength(text);
    this.header(field, length);
    this.buf.write(text, this.pos, length, 'utf8');
    this.pos += length;
  }

  double(n: number): void {
    this.buf.writeDoubleLE(n, this.pos);
    this.pos += 8;
  }

  float(n: number): void {
    this.buf.writeFloatLE(n, this.pos);
    this.pos += 4;
  }

  /** Checks the sizing pass and the writing pass agreed; a mismatch is a bug here, not bad input. */
  finish(): Buffer {
    if (this.pos !== this.buf.length) throw new Error(`wire encoder wrote ${this.pos} bytes into a buffer sized ${this.buf.length}`);
    return this.buf;
  }
}

/** Field number of each list case in Value (scalars are written inline below). */
const LIST_FIELD = {
  bytesListVal: 11,
  stringListVal: 12,
  int32ListVal: 13,
  int64ListVal: 14,
  doubleListVal: 15,
  floatListVal: 16,
  boolListVal: 17,
  unixTimestampListVal: 18,
} as const;

/** Payload bytes of a packed numeric list (without tag and length). */
function packedSize(value: Value): number {
  const v = value.val;
  let size = 0;
  switch (v.case) {
    case 'int32ListVal':
      for (const n of v.value.val) size += int32Size(n);
      return size;
    case 'int64ListVal':
    case 'unixTimestampListVal':
      for (const n of v.value.val) size += int64Size(n);
      return size;
    case 'doubleListVal':
      return v.value.val.length * 8;
    case 'floatListVal':
      return v.value.val.length * 4;
    case 'boolListVal':
      return v.value.val.length;
    default:
      return 0;
  }
}

/** Payload bytes of a list message (BytesList, Int64List, ...). */
function listPayloadSize(value: Value): number {
  const v = value.val;
  switch (v.case) {
    case 'bytesListVal': {
      let size = 0;
      for (const b of v.value.val) size += lengthDelimitedSize(1, b.length);
      return size;
    }
    case 'stringListVal': {
      let size = 0;
      for (const s of v.value.val) size += lengthDelimitedSize(1, Buffer.byteLength(s));
      return size;
    }
    default: {
      const packed = packedSize(value);
      return packed === 0 ? 0 : lengthDelimitedSize(1, packed);
    }
  }
}

/** Payload bytes of a Value message. */
export function valueSize(value: Value): number {
  const v = value.val;
  switch (v.case) {
    case undefined:
      return 0;
    case 'bytesVal':
      return lengthDelimitedSize(1, v.value.length);
    case 'stringVal':
      return lengthDelimitedSize(2, Buffer.byteLength(v.value));
    case 'int32Val':
      return 1 + int32Size(v.value);
    case 'int64Val':
    case 'unixTimestampVal':
      return 1 + int64Size(v.value);
    case 'doubleVal':
      return 1 + 8;
    case 'floatVal':
      return 1 + 4;
    case 'boolVal':
      return 1 + 1;
    case 'nullVal':
      return 2 + varintSize(v.value);
    default:
      return lengthDelimitedSize(LIST_FIELD[v.case], listPayloadSize(value));
  }
}

function writeList(w: Writer, value: Value): void {
  const v = value.val;
  switch (v.case) {
    case 'bytesListVal':
      for (const b of v.value.val) w.bytes(1, b);
      return;
    case 'stringListVal':
      for (const s of v.value.val) w.string(1, s);
      return;
    default:
      break;
  }
  const packed = packedSize(value);
  if (packed === 0) return;
  w.header(1, packed);
  switch (v.case) {
    case 'int32ListVal':
      for (const n of v.value.val) w.int32(n);
      return;
    case 'int64ListVal':
    case 'unixTimestampListVal':
      for (const n of v.value.val) w.int64(n);
      return;
    case 'doubleListVal':
      for (const n of v.value.val) w.double(n);
      return;
    case 'floatListVal':
      for (const n of v.value.val) w.float(n);
      return;
    case 'boolListVal':
      for (const b of v.value.val) w.varint(b ? 1 : 0);
      return;
    default:
      return;
  }
}

/** Writes a Value's payload (its fields; the caller writes its tag and length). */
export function writeValue(w: Writer, value: Value): void {
  const v = value.val;
  switch (v.case) {
    case undefined:
      return;
    case 'bytesVal':
      w.bytes(1, v.value);
      return;
    case 'stringVal':
      w.string(2, v.value);
      return;
    case 'int32Val':
      w.tag(3, WIRE_VARINT);
      w.int32(v.value);
      return;
    case 'int64Val':
      w.tag(4, WIRE_VARINT);
      w.int64(v.value);
      return;
    case 'doubleVal':
      w.tag(5, WIRE_FIXED64);
      w.double(v.value);
      return;
    case 'floatVal':
      w.tag(6, WIRE_FIXED32);
      w.float(v.value);
      return;
    case 'boolVal':
      w.tag(7, WIRE_VARINT);
      w.varint(v.value ? 1 : 0);
      return;
    case 'unixTimestampVal':
      w.tag(8, WIRE_VARINT);
      w.int64(v.value);
      return;
    case 'nullVal':
      w.tag(19, WIRE_VARINT);
      w.varint(v.value);
      return;
    default:
      w.header(LIST_FIELD[v.case], listPayloadSize(value));
      writeList(w, value);
  }
}

/** Payload bytes of a Timestamp (zero fields are not written, as in proto3). */
export function timestampSize(ts: Timestamp): number {
  return (ts.seconds !== 0n ? 1 + int64Size(ts.seconds) : 0) + (ts.nanos !== 0 ? 1 + int32Size(ts.nanos) : 0);
}

export function writeTimestamp(w: Writer, ts: Timestamp): void {
  if (ts.seconds !== 0n) {
    w.tag(1, WIRE_VARINT);
    w.int64(ts.seconds);
  }
  if (ts.nanos !== 0) {
    w.tag(2, WIRE_VARINT);
    w.int32(ts.nanos);
  }
}

/** Bytes of a repeated Timestamp field (tags, lengths, payloads). */
export function timestampsSize(field: number, list: readonly Timestamp[]): number {
  let size = 0;
  for (const ts of list) size += lengthDelimitedSize(field, timestampSize(ts));
  return size;
}

export function writeTimestamps(w: Writer, field: number, list: readonly Timestamp[]): void {
  for (const ts of list) {
    w.header(field, timestampSize(ts));
    writeTimestamp(w, ts);
  }
}

/**
 * Payload bytes of a RepeatedValue holding `values`; each Value's own payload size is
 * stored in `sizes` (from `offset`) so that writing does not size it again.
 */
export function repeatedValueSize(values: readonly Value[], sizes: Uint32Array, offset: number): number {
  let size = 0;
  for (let i = 0; i < values.length; i++) {
    const s = valueSize(values[i] as Value);
    sizes[offset + i] = s;
    size += 1 + varintSize(s) + s;
  }
  return size;
}

/** Writes a RepeatedValue's payload with the sizes repeatedValueSize stored. */
export function writeRepeatedValue(w: Writer, values: readonly Value[], sizes: Uint32Array, offset: number): void {
  for (let i = 0; i < values.length; i++) {
    w.header(1, sizes[offset + i] as number);
    writeValue(w, values[i] as Value);
  }
}
