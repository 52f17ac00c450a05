// A hand-written encoder for GetOnlineFeaturesResponse, the one message on
// the serving hot path. protobuf-es's reflective toBinary spends most of a
// 100 x 50 request walking descriptors for 5,000 Values and 5,000
// Timestamps; this walks the known shape instead: one pass to size every
// message, one pass to write into a buffer of exactly that size. Its output
// is byte-identical to toBinary's (the spec checks that), so clients see no
// difference.
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { servingV1, typesV1 } from '@larder/proto';

type Value = typesV1.Value;
type Vector = servingV1.GetOnlineFeaturesResponse_FeatureVector;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

/** Bytes of a varint holding a non-negative number below 2^53. */
function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 5;
  for (let rest = Math.floor(n / 0x800000000); rest > 0; rest = Math.floor(rest / 0x80)) size++;
  return size;
}

/** int32 on the wire: negative values are sign-extended to ten bytes. */
function int32Size(n: number): number {
  return n < 0 ? 10 : varintSize(n);
}

function int64Size(n: bigint): number {
  if (n >= 0n && n <= 0x1fffffffffffffn) return varintSize(Number(n));
  let size = 1;
  for (let rest = BigInt.asUintN(64, n) >> 7n; rest > 0n; rest >>= 7n) size++;
  return size;
}

function tagSize(field: number): number {
  return field < 16 ? 1 : 2;
}

function lengthDelimitedSize(field: number, length: number): number {
  return tagSize(field) + varintSize(length) + length;
}

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

function valueSize(value: Value): number {
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
      return lengthDelimitedSize(FIELD_OF[v.case], listPayloadSize(value));
  }
}

const FIELD_OF = {
  bytesListVal: 11,
  stringListVal: 12,
  int32ListVal: 13,
  int64ListVal: 14,
  doubleListVal: 15,
  floatListVal: 16,
  boolListVal: 17,
  unixTimestampListVal: 18,
} as const;

function timestampSize(ts: Timestamp): number {
  return (ts.seconds !== 0n ? 1 + int64Size(ts.seconds) : 0) + (ts.nanos !== 0 ? 1 + int32Size(ts.nanos) : 0);
}

function vectorSize(vector: Vector): number {
  let size = 0;
  for (const value of vector.values) size += lengthDelimitedSize(1, valueSize(value));
  if (vector.statuses.length > 0) {
    let packed = 0;
    for (const status of vector.statuses) packed += int32Size(status);
    size += lengthDelimitedSize(2, packed);
  }
  for (const ts of vector.eventTimestamps) size += lengthDelimitedSize(3, timestampSize(ts));
  return size;
}

function featureNamesSize(names: readonly string[]): number {
  let size = 0;
  for (const name of names) size += lengthDelimitedSize(1, Buffer.byteLength(name));
  return size;
}

/** Writes into a buffer sized exactly beforehand. */
class Writer {
  readonly buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
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

function writeValue(w: Writer, value: Value): void {
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
      w.header(FIELD_OF[v.case], listPayloadSize(value));
      writeList(w, value);
  }
}

function writeTimestamp(w: Writer, ts: Timestamp): void {
  if (ts.seconds !== 0n) {
    w.tag(1, WIRE_VARINT);
    w.int64(ts.seconds);
  }
  if (ts.nanos !== 0) {
    w.tag(2, WIRE_VARINT);
    w.int32(ts.nanos);
  }
}

function writeVector(w: Writer, vector: Vector): void {
  for (const value of vector.values) {
    w.header(1, valueSize(value));
    writeValue(w, value);
  }
  if (vector.statuses.length > 0) {
    let packed = 0;
    for (const status of vector.statuses) packed += int32Size(status);
    w.header(2, packed);
    for (const status of vector.statuses) w.int32(status);
  }
  for (const ts of vector.eventTimestamps) {
    w.header(3, timestampSize(ts));
    writeTimestamp(w, ts);
  }
}

/** The wire bytes of a GetOnlineFeaturesResponse, as toBinary would write them. */
export function encodeGetOnlineFeaturesResponse(response: servingV1.GetOnlineFeaturesResponse): Uint8Array {
  const names = response.metadata?.featureNames?.val;
  const namesSize = names === undefined ? 0 : featureNamesSize(names);
  const metadataSize = response.metadata === undefined ? 0 : response.metadata.featureNames === undefined ? 0 : lengthDelimitedSize(1, namesSize);
  const vectorSizes = response.results.map(vectorSize);

  let total = response.metadata === undefined ? 0 : lengthDelimitedSize(1, metadataSize);
  for (const size of vectorSizes) total += lengthDelimitedSize(2, size);

  const w = new Writer(total);
  if (response.metadata !== undefined) {
    w.header(1, metadataSize);
    if (names !== undefined) {
      w.header(1, namesSize);
      for (const name of names) w.string(1, name);
    }
  }
  response.results.forEach((vector, i) => {
    w.header(2, vectorSizes[i] as number);
    writeVector(w, vector);
  });
  return w.buf;
}
