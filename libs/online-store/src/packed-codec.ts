// The packed row format shared by the Redis `packed` layout and SQLite: one binary value
// per (view, entity key) with the event time, the feature names it was written with and
// every value. See README.md for the byte layout.
import { typesV1, wire } from '@larder/proto';
import { InvalidRowError, OnlineStoreError } from './errors';
import { cellPayload } from './columns';
import { CASE_OF_TAG, LIST_TYPE_NAME, TAG_OF_CASE } from './value-cases';
import { checkEventTs, eventMicros, eventMsFromMicros } from './event-time';
import type { StoredRow, ViewColumns, ViewDescriptor, WriteRow } from './types';

// Bound once: reading a namespace member on every call goes through an export getter.
const { varintSize, writeVarint } = wire;

// Version 2 holds the event time in microseconds; version 1 (rows written before) in
// milliseconds, still read, and replaced by version 2 at the next write.
export const PACKED_FORMAT_VERSION = 2;
const PACKED_MS_VERSION = 1;
const HEADER = 9; // version byte + u64 event time

type Value = typesV1.Value;

const T = typesV1.ValueType;
const NULL_TAG = T.NULL;


/** Size in bytes of one list element (0: length-prefixed bytes or string), by element tag. */
function fixedSize(tag: number): number {
  switch (tag) {
    case T.INT32:
    case T.FLOAT:
      return 4;
    case T.INT64:
    case T.UNIX_TIMESTAMP:
    case T.DOUBLE:
      return 8;
    case T.BOOL:
      return 1;
    default:
      return 0;
  }
}

// ---------------------------------------------------------------- encoding

function scalarSize(tag: number, v: unknown): number {
  const fixed = fixedSize(tag);
  if (fixed > 0) return fixed;
  const length = tag === T.STRING ? Buffer.byteLength(v as string, 'utf8') : (v as Uint8Array).length;
  return varintSize(length) + length;
}

function payloadSize(tag: number, v: unknown): number {
  if (tag === NULL_TAG) return 0;
  if (tag < T.BYTES_LIST) return scalarSize(tag, v);
  const items = (v as { val: unknown[] }).val;
  const elementTag = tag === T.UNIX_TIMESTAMP_LIST ? T.UNIX_TIMESTAMP : tag - 10;
  const fixed = fixedSize(elementTag);
  let size = varintSize(items.length);
  if (fixed > 0) return size + fixed * items.length;
  for (const item of items) size += scalarSize(elementTag, item);
  return size;
}

function writeScalar(buf: Buffer, at: number, tag: number, v: unknown): number {
  switch (tag) {
    case T.BYTES: {
      const bytes = v as Uint8Array;
      at = writeVarint(buf, at, bytes.length);
      buf.set(bytes, at);
      return at + bytes.length;
    }
    case T.STRING: {
      const text = v as string;
      at = writeVarint(buf, at, Buffer.byteLength(text, 'utf8'));
      return at + buf.write(text, at, 'utf8');
    }
    case T.INT32:
      return buf.writeInt32LE(v as number, at);
    case T.INT64:
    case T.UNIX_TIMESTAMP:
      return buf.writeBigInt64LE(v as bigint, at);
    case T.DOUBLE:
      return buf.writeDoubleLE(v as number, at);
    case T.FLOAT:
      return buf.writeFloatLE(v as number, at);
    case T.BOOL:
      buf[at] = v ? 1 : 0;
      return at + 1;
    default:
      throw new OnlineStoreError(`cannot encode value tag ${tag}`);
  }
}

function writePayload(buf: Buffer, at: number, tag: number, v: unknown): number {
  if (tag === NULL_TAG) return at;
  if (tag < T.BYTES_LIST) return writeScalar(buf, at, tag, v);
  const items = (v as { val: unknown[] }).val;
  const elementTag = tag === T.UNIX_TIMESTAMP_LIST ? T.UNIX_TIMESTAMP : tag - 10;
  at = writeVarint(buf, at, items.length);
  for (const item of items) at = writeScalar(buf, at, elementTag, item);
  return at;
}

// ---------------------------------------------------------------- decoding

const VALUE = 'larder.types.v1.Value';

// Where the last read or skip stopped; a module variable instead of a returned tuple
// keeps the hot decode loop free of per-value allocations beyond the values themselves.
let cursor = 0;

function readVarint(buf: Buffer, at: number): number {
  let result = 0;
  let scale = 1;
  for (;;) {
    const byte = buf[at++];
    if (byte === undefined) throw new OnlineStoreError('truncated packed row');
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
    scale *= 128;
  }
  cursor = at;
  return result;
}

function readScalar(buf: Buffer, at: number, tag: number): unknown {
  switch (tag) {
    case T.BYTES: {
      const length = readVarint(buf, at);
      const start = cursor;
      cursor = start + length;
      return new Uint8Array(buf.subarray(start, start + length));
    }
    case T.STRING: {
      const length = readVarint(buf, at);
      const start = cursor;
      cursor = start + length;
      return buf.toString('utf8', start, start + length);
    }
    case T.INT32:
      cursor = at + 4;
      return buf.readInt32LE(at);
    case T.INT64:
    case T.UNIX_TIMESTAMP:
      cursor = at + 8;
      return buf.readBigInt64LE(at);
    case T.DOUBLE:
      cursor = at + 8;
      return buf.readDoubleLE(at);
    case T.FLOAT:
      cursor = at + 4;
      return buf.readFloatLE(at);
    case T.BOOL:
      cursor = at + 1;
      return buf[at] === 1;
    default:
      throw new OnlineStoreError(`unknown value tag ${tag} in packed row`);
  }
}

function readValue(buf: Buffer, at: number, tag: number): Value {
  const valueCase = CASE_OF_TAG[tag];
  if (valueCase === undefined) throw new OnlineStoreError(`unknown value tag ${tag} in packed row`);
  if (tag === NULL_TAG) {
    cursor = at;
    return { $typeName: VALUE, val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } } as Value;
  }
  if (tag < T.BYTES_LIST) return { $typeName: VALUE, val: { case: valueCase, value: readScalar(buf, at, tag) } } as Value;
  const elementTag = tag === T.UNIX_TIMESTAMP_LIST ? T.UNIX_TIMESTAMP : tag - 10;
  const count = readVarint(buf, at);
  const items = new Array<unknown>(count);
  for (let i = 0; i < count; i++) items[i] = readScalar(buf, cursor, elementTag);
  return { $typeName: VALUE, val: { case: valueCase, value: { $typeName: LIST_TYPE_NAME[tag], val: items } } } as Value;
}

function skipValue(buf: Buffer, at: number, tag: number): void {
  if (tag === 0 || tag === NULL_TAG) {
    cursor = at;
    return;
  }
  if (tag < T.BYTES_LIST) {
    const fixed = fixedSize(tag);
    if (fixed > 0) {
      cursor = at + fixed;
    } else {
      const length = readVarint(buf, at);
      cursor += length;
    }
    return;
  }
  const elementTag = tag === T.UNIX_TIMESTAMP_LIST ? T.UNIX_TIMESTAMP : tag - 10;
  const count = readVarint(buf, at);
  const fixed = fixedSize(elementTag);
  if (fixed > 0) {
    cursor += fixed * count;
    return;
  }
  for (let i = 0; i < count; i++) {
    const length = readVarint(buf, cursor);
    cursor += length;
  }
}

// ---------------------------------------------------------------- per view

function namesBlock(names: readonly string[]): Buffer {
  const encoded = names.map((n) => Buffer.from(n, 'utf8'));
  const size = varintSize(names.length) + encoded.reduce((sum, b) => sum + varintSize(b.length) + b.length, 0);
  const out = Buffer.allocUnsafe(size);
  let at = writeVarint(out, 0, names.length);
  for (const b of encoded) {
    at = writeVarint(out, at, b.length);
    at += b.copy(out, at);
  }
  return out;
}

function parseNamesBlock(buf: Buffer, start: number, end: number): string[] {
  const count = readVarint(buf, start);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = readVarint(buf, cursor);
    names.push(buf.toString('utf8', cursor, cursor + length));
    cursor += length;
  }
  if (cursor !== end) throw new OnlineStoreError('malformed feature names in packed row');
  return names;
}

/**
 * How to turn a stored row into the requested features: for each stored position, the
 * output index (-1: not requested). The positional map serves rows written with the
 * view's current feature list; rows written under another list get a map by name.
 */
class ReadPlan {
  readonly outIndex: Map<string, number>;
  readonly positional: Int32Array;
  private readonly byStoredNames = new Map<string, Int32Array>();

  constructor(
    private readonly codec: ViewCodec,
    readonly features: readonly string[],
    readonly expectedTags: Int32Array,
  ) {
    this.outIndex = new Map(features.map((f, i) => [f, i]));
    this.positional = this.mapFor(codec.featureNames);
  }

  private mapFor(stored: readonly string[]): Int32Array {
    return Int32Array.from(stored, (name) => this.outIndex.get(name) ?? -1);
  }

  mapForStored(buf: Buffer, start: number, end: number): Int32Array {
    const key = buf.toString('latin1', start, end);
    let map = this.byStoredNames.get(key);
    if (map === undefined) {
      map = this.mapFor(parseNamesBlock(buf, start, end));
      if (this.byStoredNames.size >= 64) this.byStoredNames.clear();
      this.byStoredNames.set(key, map);
    }
    return map;
  }

  decode(buf: Buffer): StoredRow {
    const version = buf[0];
    if ((version !== PACKED_FORMAT_VERSION && version !== PACKED_MS_VERSION) || buf.length < HEADER + 1) {
      throw new OnlineStoreError(`view ${this.codec.view.name}: stored row has unknown format ${buf[0]}`);
    }
    const stamp = buf.readUInt32BE(1) * 0x1_0000_0000 + buf.readUInt32BE(5);
    const eventTs = version === PACKED_FORMAT_VERSION ? eventMsFromMicros(stamp) : stamp;
    const namesLength = readVarint(buf, HEADER);
    const namesStart = cursor;
    const namesEnd = namesStart + namesLength;
    const names = this.codec.names;
    const map =
      namesLength === names.length && names.compare(buf, namesStart, namesEnd) === 0
        ? this.positional
        : this.mapForStored(buf, namesStart, namesEnd);
    const values = new Array<Value | undefined>(this.features.length).fill(undefined);
    let at = namesEnd;
    for (let i = 0; i < map.length; i++) {
      const tag = buf[at];
      if (tag === undefined) break;
      const out = map[i]!;
      if (out >= 0 && tag !== 0 && (tag === NULL_TAG || tag === this.expectedTags[out])) {
        values[out] = readValue(buf, at + 1, tag);
      } else {
        // Not requested, absent, or stored under another type (the feature's type changed):
        // never hand out a value of the wrong type.
        skipValue(buf, at + 1, tag);
      }
      at = cursor;
    }
    return { eventTs, values };
  }
}

export class ViewCodec {
  readonly featureNames: readonly string[];
  readonly names: Buffer;
  private readonly index: Map<string, number>;
  private readonly tags: Int32Array;
  private readonly allFeatures: ReadPlan;
  private readonly plans = new WeakMap<readonly string[], ReadPlan>();
  // Reused by encodeColumns (synchronous, so never shared between two calls at once).
  private readonly scratchTags: Int32Array;
  private readonly scratchPayloads: unknown[];
  private measured = 0;
  // The fixed path (see measureColumns): the columns last checked, whether they qualify,
  // the row's bytes with zero time and values, and the row measured.
  private fixedColumns: ViewColumns['columns'] | undefined;
  private fixedOk = false;
  private fixedTemplate: Buffer | undefined;
  private fixedRow = -1;
  // A DataView of the buffer last written to: setFloat64 is about 5x faster than
  // writeDoubleLE per value, and the fixed path writes 50 of them per entity.
  private dataViewOf: Buffer | undefined;
  private dataView: DataView | undefined;

  constructor(readonly view: ViewDescriptor) {
    this.scratchTags = new Int32Array(view.features.length);
    this.scratchPayloads = new Array<unknown>(view.features.length);
    this.featureNames = view.features.map((f) => f.name);
    this.names = namesBlock(this.featureNames);
    this.index = new Map(this.featureNames.map((n, i) => [n, i]));
    this.tags = Int32Array.from(view.features, (f) => f.type);
    this.allFeatures = new ReadPlan(this, this.featureNames, this.tags);
  }

  /** The plan for reading `features` (all when omitted); cached per array. */
  plan(features?: readonly string[]): ReadPlan {
    if (features === undefined) return this.allFeatures;
    let plan = this.plans.get(features);
    if (plan === undefined) {
      const tags = Int32Array.from(features, (name) => {
        const i = this.index.get(name);
        if (i === undefined) throw new OnlineStoreError(`view ${this.view.name} has no feature ${name}`);
        return this.tags[i]!;
      });
      plan = new ReadPlan(this, features, tags);
      this.plans.set(features, plan);
    }
    return plan;
  }

  /** The stored bytes of one row. Throws InvalidRowError when the row does not fit the view. */
  encode(row: WriteRow): Buffer {
    checkEventTs(this.view.name, row.eventTs);
    const count = this.featureNames.length;
    const tags = new Array<number>(count).fill(0);
    const payloads = new Array<unknown>(count);
    for (const name in row.values) {
      const value = row.values[name];
      const i = this.index.get(name);
      if (i === undefined) throw new InvalidRowError(this.view.name, `unknown feature ${name}`);
      if (value === undefined) continue;
      tags[i] = valueTag(this.view.name, name, value, this.tags[i]!);
      payloads[i] = value.val.value;
    }
    let size = HEADER + varintSize(this.names.length) + this.names.length + count;
    for (let i = 0; i < count; i++) if (tags[i]! !== 0) size += payloadSize(tags[i]!, payloads[i]);
    const buf = Buffer.allocUnsafe(size);
    const micros = eventMicros(row.eventTs);
    buf[0] = PACKED_FORMAT_VERSION;
    buf.writeUInt32BE(Math.floor(micros / 0x1_0000_0000), 1);
    buf.writeUInt32BE(micros % 0x1_0000_0000, 5);
    let at = writeVarint(buf, HEADER, this.names.length);
    at += this.names.copy(buf, at);
    for (let i = 0; i < count; i++) {
      const tag = tags[i]!;
      buf[at++] = tag;
      if (tag !== 0) at = writePayload(buf, at, tag, payloads[i]);
    }
    if (at !== size) throw new OnlineStoreError(`packed row size mismatch (${at} != ${size})`);
    return buf;
  }

  /** A row of all-DOUBLE features with time 0 and every value 0, for the fixed path. */
  private template(): Buffer {
    if (this.fixedTemplate === undefined) {
      const count = this.featureNames.length;
      const out = Buffer.alloc(HEADER + varintSize(this.names.length) + this.names.length + 9 * count);
      out[0] = PACKED_FORMAT_VERSION;
      let at = writeVarint(out, HEADER, this.names.length);
      at += this.names.copy(out, at);
      for (let i = 0; i < count; i++, at += 9) out[at] = T.DOUBLE;
      this.fixedTemplate = out;
    }
    return this.fixedTemplate;
  }

  /**
   * The stored bytes of row `row` of columns laid out in this view's feature order (the
   * same bytes encode() writes for the equivalent WriteRow with explicit nulls).
   */
  encodeColumns(v: ViewColumns, row: number, eventTs: number): Buffer {
    const buf = Buffer.allocUnsafe(this.measureColumns(v, row));
    this.writeColumns(buf, 0, eventTs);
    return buf;
  }

  /**
   * Size of row `row`'s stored bytes; remembers the row's cells for the writeColumns that
   * must follow before the next measure (both synchronous, so never interleaved).
   */
  measureColumns(v: ViewColumns, row: number): number {
    const count = this.featureNames.length;
    const columns = v.columns;
    if (columns !== this.fixedColumns) {
      this.fixedColumns = columns;
      this.fixedOk = count > 0 && this.tags.every((tag, i) => tag === T.DOUBLE && columns[i] instanceof Float64Array);
    }
    if (this.fixedOk) {
      // Every feature a DOUBLE in a column without nulls (as DuckDB hands them): every
      // row has the same bytes but for its time and values, so the row is a copy of a
      // template with those written in, with no per-cell checks.
      this.fixedRow = row;
      this.measured = this.template().length;
      return this.measured;
    }
    this.fixedRow = -1;
    const tags = this.scratchTags;
    const payloads = this.scratchPayloads;
    let size = HEADER + varintSize(this.names.length) + this.names.length + count;
    for (let i = 0; i < count; i++) {
      const cell = columns[i]![row];
      const type = this.tags[i]!;
      if (cell === null || cell === undefined) {
        tags[i] = NULL_TAG;
        continue;
      }
      tags[i] = type;
      if (type === T.DOUBLE && typeof cell === 'number') {
        payloads[i] = cell;
        size += 8;
        continue;
      }
      const payload = cellPayload(this.view.name, this.featureNames[i]!, type, cell);
      payloads[i] = payload;
      size += payloadSize(type, payload);
    }
    this.measured = size;
    return size;
  }

  /** Writes the row last measured at `at` of buf; returns the end. */
  writeColumns(buf: Buffer, start: number, eventTs: number): number {
    const count = this.featureNames.length;
    if (this.fixedRow >= 0) {
      const template = this.template();
      const columns = this.fixedColumns as readonly Float64Array[];
      const row = this.fixedRow;
      if (buf !== this.dataViewOf) {
        this.dataViewOf = buf;
        this.dataView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      }
      const view = this.dataView!;
      const micros = eventMicros(eventTs);
      template.copy(buf, start);
      view.setUint32(start + 1, Math.floor(micros / 0x1_0000_0000));
      view.setUint32(start + 5, micros % 0x1_0000_0000);
      // Each value follows its tag byte: 9 bytes per feature from the template's end back.
      let at = start + template.length - 9 * count + 1;
      for (let i = 0; i < count; i++, at += 9) view.setFloat64(at, columns[i]![row]!, true);
      return start + template.length;
    }
    const tags = this.scratchTags;
    const payloads = this.scratchPayloads;
    const micros = eventMicros(eventTs);
    buf[start] = PACKED_FORMAT_VERSION;
    buf.writeUInt32BE(Math.floor(micros / 0x1_0000_0000), start + 1);
    buf.writeUInt32BE(micros % 0x1_0000_0000, start + 5);
    let at = writeVarint(buf, start + HEADER, this.names.length);
    at += this.names.copy(buf, at);
    for (let i = 0; i < count; i++) {
      const tag = tags[i]!;
      buf[at++] = tag;
      if (tag === T.DOUBLE) at = buf.writeDoubleLE(payloads[i] as number, at);
      else if (tag !== NULL_TAG) at = writePayload(buf, at, tag, payloads[i]);
    }
    if (at - start !== this.measured) throw new OnlineStoreError(`packed row size mismatch (${at - start} != ${this.measured})`);
    return at;
  }
}

const codecs = new WeakMap<ViewDescriptor, ViewCodec>();

/** The codec of a view descriptor, built once per descriptor object. */
export function viewCodec(view: ViewDescriptor): ViewCodec {
  let codec = codecs.get(view);
  if (codec === undefined) {
    codec = new ViewCodec(view);
    codecs.set(view, codec);
  }
  return codec;
}

/** The tag of a value being written, checked against the feature's declared type. */
export function valueTag(view: string, feature: string, value: Value, declared: number): number {
  const valueCase = value.val.case;
  if (valueCase === undefined) return 0;
  const tag = TAG_OF_CASE[valueCase];
  if (tag !== NULL_TAG && tag !== declared) {
    throw new InvalidRowError(view, `feature ${feature} is ${T[declared]}, got a ${T[tag]} value`);
  }
  return tag;
}

