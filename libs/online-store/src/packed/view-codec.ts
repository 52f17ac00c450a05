// A view's packed rows: encoding WriteRows and columns into them, and decoding them into
// the features a read asks for (ReadPlan), one codec per view descriptor.
import { wire } from '@larder/proto';
import type { typesV1 } from '@larder/proto';
import { cellPayload } from '../columns';
import { InvalidRowError, OnlineStoreError } from '../errors';
import { checkEventTs, eventMicros } from '../event-time';
import type { StoredRow, ViewColumns, ViewDescriptor, WriteRow } from '../types';
import { TAG_OF_CASE } from '../value-cases';
import { PackedReader } from './decode';
import { payloadSize, writePayload } from './encode';
import * as format from './format';
import { isReadableVersion, namesBlock, parseNamesBlock, readEventTs, writeHeader } from './sections';

const { varintSize, writeVarint } = wire;
// Bound once, not imported by name: see decode.ts (tsx's CommonJS export getters in the read loop).
const { HEADER, NULL_TAG, PACKED_FORMAT_VERSION, T } = format;

type Value = typesV1.Value;

/**
 * How to turn a stored row into the requested features: for each stored position, the
 * output index (-1: not requested). The positional map serves rows written with the
 * view's current feature list; rows written under another list get a map by name.
 */
export class ReadPlan {
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
    if (!isReadableVersion(buf[0]) || buf.length < HEADER + 1) {
      throw new OnlineStoreError(`view ${this.codec.view.name}: stored row has unknown format ${buf[0]}`);
    }
    const eventTs = readEventTs(buf);
    const reader = new PackedReader(buf, HEADER);
    const namesLength = reader.varint();
    const namesStart = reader.at;
    const namesEnd = namesStart + namesLength;
    const names = this.codec.names;
    const map = namesLength === names.length && names.compare(buf, namesStart, namesEnd) === 0 ? this.positional : this.mapForStored(buf, namesStart, namesEnd);
    const values = new Array<Value | undefined>(this.features.length).fill(undefined);
    reader.at = namesEnd;
    for (let i = 0; i < map.length; i++) {
      const tag = buf[reader.at];
      if (tag === undefined) break;
      reader.at++;
      const out = map[i]!;
      if (out >= 0 && tag !== 0 && (tag === NULL_TAG || tag === this.expectedTags[out])) {
        values[out] = reader.value(tag);
      } else {
        // Not requested, absent, or stored under another type (the feature's type changed):
        // never hand out a value of the wrong type.
        reader.skip(tag);
      }
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
    writeHeader(buf, 0, row.eventTs);
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
    writeHeader(buf, start, eventTs);
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
