import { fromBinary } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { typesV1 } from '@larder/proto';
import { serializeEntityKey, serializedEntityKeyLength } from '../entity-key';
import { InvalidRowError, OnlineStoreError } from '../errors';
import { decodeValue, encodeTimestampMs, encodeValue, timestampMsSize, writeTimestampMs } from '../feast-value';
import { feastFeatureField } from '../murmur3';
import { cellValue, NULL_VALUE, type EntityKeyEncoder } from '../columns';
import { valueTag, viewCodec } from '../packed-codec';
import { checkEventTs, eventMsFromParts } from '../event-time';
import type { EntityCell, EntityKeyInput, StoredRow, ViewColumns, ViewDescriptor, WriteRow } from '../types';
import type { EntityWriteScript, RowWrite, ScriptArg, WriteScript } from './connection';
import { bulkHeaderSize, writeBulkEnd, writeBulkHeader } from './framed';
import type { RowsBuffer } from './rows-buffer';

const DOUBLE = typesV1.ValueType.DOUBLE;

/** How one Redis layout names keys and fields, and encodes rows. */
export interface RedisLayout {
  readonly script: WriteScript;
  key(view: ViewDescriptor, entityKey: EntityKeyInput): Buffer;
  /** The hash fields to HMGET for a read of `features` (all when undefined) of a view. */
  readFields(view: ViewDescriptor, features: readonly string[] | undefined): readonly Buffer[];
  /** Turns the replies for readFields (starting at `at`) into a row. */
  decode(view: ViewDescriptor, features: readonly string[] | undefined, replies: readonly (Buffer | null)[], at: number): StoredRow | undefined;
  /** The head of ARGV of every write call for the view (see scripts.ts). */
  writeShared(view: ViewDescriptor): readonly ScriptArg[];
  /** The row's key and its part of ARGV; throws InvalidRowError for a row that does not fit. */
  writeRow(view: ViewDescriptor, row: WriteRow): RowWrite;
  /** The several-views-per-entity write script, whose arguments appendColumns frames. */
  readonly entityScript: EntityWriteScript;
  /** The key of entity `row` of key columns, in a project. */
  entityKey(project: string, encoder: EntityKeyEncoder, keyColumns: readonly ArrayLike<EntityCell>[], row: number): Buffer;
  /** The head of ARGV of every several-views-per-entity call for these views. */
  entityShared(views: readonly ViewDescriptor[]): readonly ScriptArg[];
  /**
   * Appends one view's row of an entity as the entity script's arguments, already framed
   * as RESP bulk strings (see FramedEval); returns how many arguments it appended. (A
   * view without a row for the entity is one empty argument: RowsBuffer.emptyArgument.)
   */
  appendColumns(out: RowsBuffer, v: ViewColumns, row: number, eventTs: number): number;
  /** SCAN pattern covering every key that may hold the view's data. */
  scanPattern(view: ViewDescriptor): Buffer;
  /** The fields holding the view's data in `key`, or undefined when the key belongs elsewhere. */
  fieldsToDelete(view: ViewDescriptor, key: Buffer): readonly Buffer[] | undefined;
}

const ttlMs = (view: ViewDescriptor): number => Math.max(0, Math.round((view.keyTtlSeconds ?? 0) * 1000));

/** Escapes glob metacharacters so SCAN MATCH takes the bytes literally. */
function globLiteral(bytes: Buffer): Buffer {
  const out: number[] = [];
  for (const byte of bytes) {
    if (byte === 0x2a || byte === 0x3f || byte === 0x5b || byte === 0x5d || byte === 0x5c) out.push(0x5c);
    out.push(byte);
  }
  return Buffer.from(out);
}

/**
 * `packed`: key `<keyPrefix><project>:<entity key>`, the entity key serialized as Feast's
 * version 3; one field per view, named by the view, holding the packed row.
 */
export class PackedLayout implements RedisLayout {
  readonly script = 'larderPackedWrite' as const;
  private readonly prefixes = new Map<string, Buffer>();
  private readonly viewFields = new WeakMap<ViewDescriptor, readonly Buffer[]>();

  constructor(private readonly keyPrefix: string) {}

  private prefix(project: string): Buffer {
    let prefix = this.prefixes.get(project);
    if (prefix === undefined) {
      prefix = Buffer.from(`${this.keyPrefix}${project}:`, 'utf8');
      this.prefixes.set(project, prefix);
    }
    return prefix;
  }

  key(view: ViewDescriptor, entityKey: EntityKeyInput): Buffer {
    return serializeEntityKey(entityKey, this.prefix(view.project));
  }

  readFields(view: ViewDescriptor): readonly Buffer[] {
    let fields = this.viewFields.get(view);
    if (fields === undefined) {
      fields = [Buffer.from(view.name, 'utf8')];
      this.viewFields.set(view, fields);
    }
    return fields;
  }

  decode(view: ViewDescriptor, features: readonly string[] | undefined, replies: readonly (Buffer | null)[], at: number): StoredRow | undefined {
    const buf = replies[at];
    return buf === null || buf === undefined ? undefined : viewCodec(view).plan(features).decode(buf);
  }

  writeShared(view: ViewDescriptor): readonly ScriptArg[] {
    return [this.readFields(view)[0]!, ttlMs(view)];
  }

  writeRow(view: ViewDescriptor, row: WriteRow): RowWrite {
    const packed = viewCodec(view).encode(row);
    return { key: this.key(view, row.entityKey), args: [packed] };
  }

  readonly entityScript = 'larderPackedEntityWrite' as const;

  entityKey(project: string, encoder: EntityKeyEncoder, keyColumns: readonly ArrayLike<EntityCell>[], row: number): Buffer {
    return encoder.encode(keyColumns, row, this.prefix(project), undefined);
  }

  entityShared(views: readonly ViewDescriptor[]): readonly ScriptArg[] {
    return [views.length, ...views.map((v) => this.readFields(v)[0]!), ...views.map(ttlMs)];
  }

  appendColumns(out: RowsBuffer, v: ViewColumns, row: number, eventTs: number): number {
    const codec = viewCodec(v.view);
    const size = codec.measureColumns(v, row);
    const buf = out.reserve(bulkHeaderSize(size) + size + 2);
    out.at = writeBulkEnd(buf, codec.writeColumns(buf, writeBulkHeader(buf, out.at, size), eventTs));
    return 1;
  }

  scanPattern(view: ViewDescriptor): Buffer {
    return Buffer.concat([globLiteral(this.prefix(view.project)), Buffer.from('*')]);
  }

  fieldsToDelete(view: ViewDescriptor, key: Buffer): readonly Buffer[] | undefined {
    const prefix = this.prefix(view.project);
    if (!key.subarray(0, prefix.length).equals(prefix)) return undefined;
    return serializedEntityKeyLength(key, prefix.length) === key.length - prefix.length ? this.readFields(view) : undefined;
  }
}

interface FeastView {
  readonly tsField: Buffer;
  readonly project: Buffer;
  readonly fieldOf: Map<string, Buffer>;
  /** Field of each feature, in the view's order. */
  readonly fields: readonly Buffer[];
  readonly typeOf: Map<string, number>;
  readonly all: readonly Buffer[];
  readonly names: readonly string[];
  readonly byFeatures: WeakMap<readonly string[], readonly Buffer[]>;
}

/**
 * `feast`: Feast's RedisOnlineStore layout. Key: serialized entity key (version 3) then the
 * project name; fields: murmur3(`view:feature`) as 4 bytes little-endian holding a
 * serialized Value, and `_ts:<view>` holding a serialized google.protobuf.Timestamp.
 */
export class FeastLayout implements RedisLayout {
  readonly script = 'larderFeastWrite' as const;
  private readonly views = new WeakMap<ViewDescriptor, FeastView>();

  private info(view: ViewDescriptor): FeastView {
    let info = this.views.get(view);
    if (info === undefined) {
      const fieldOf = new Map(view.features.map((f) => [f.name, feastFeatureField(view.name, f.name)]));
      const tsField = Buffer.from(`_ts:${view.name}`, 'utf8');
      info = {
        tsField,
        project: Buffer.from(view.project, 'utf8'),
        fieldOf,
        fields: view.features.map((f) => fieldOf.get(f.name)!),
        typeOf: new Map(view.features.map((f) => [f.name, f.type])),
        all: [...fieldOf.values(), tsField],
        names: view.features.map((f) => f.name),
        byFeatures: new WeakMap(),
      };
      this.views.set(view, info);
    }
    return info;
  }

  key(view: ViewDescriptor, entityKey: EntityKeyInput): Buffer {
    return serializeEntityKey(entityKey, undefined, this.info(view).project);
  }

  readFields(view: ViewDescriptor, features: readonly string[] | undefined): readonly Buffer[] {
    const info = this.info(view);
    if (features === undefined) return info.all;
    let fields = info.byFeatures.get(features);
    if (fields === undefined) {
      fields = [
        ...features.map((name) => {
          const field = info.fieldOf.get(name);
          if (field === undefined) throw new OnlineStoreError(`view ${view.name} has no feature ${name}`);
          return field;
        }),
        info.tsField,
      ];
      info.byFeatures.set(features, fields);
    }
    return fields;
  }

  decode(view: ViewDescriptor, features: readonly string[] | undefined, replies: readonly (Buffer | null)[], at: number): StoredRow | undefined {
    const info = this.info(view);
    const names = features ?? info.names;
    const ts = replies[at + names.length];
    if (ts === null || ts === undefined) return undefined;
    const stamp = fromBinary(TimestampSchema, ts);
    const eventTs = eventMsFromParts(Number(stamp.seconds), stamp.nanos);
    const typeOf = info.typeOf;
    const values = names.map((name, i) => {
      const bytes = replies[at + i];
      if (bytes === null || bytes === undefined) return undefined;
      const value = decodeValue(bytes);
      const stored = value.val.case;
      // Feast stores a null as a Value with nothing set (zero bytes) and reads it back as a
      // present null; Larder never writes one (a left-out feature's field is deleted).
      if (stored === undefined) return NULL_VALUE;
      // A value of another type (the feature's type changed) is never handed out.
      return stored === 'nullVal' || tagOf(value) === typeOf.get(name) ? value : undefined;
    });
    return { eventTs, values };
  }

  writeShared(view: ViewDescriptor): readonly ScriptArg[] {
    const info = this.info(view);
    return [info.tsField, ttlMs(view), info.fields.length, ...info.fields];
  }

  /** One blob per row, laid out as FEAST_WRITE_LUA reads it. */
  writeRow(view: ViewDescriptor, row: WriteRow): RowWrite {
    checkEventTs(view.name, row.eventTs);
    const info = this.info(view);
    for (const name in row.values) {
      if (!info.fieldOf.has(name)) throw new InvalidRowError(view.name, `unknown feature ${name}`);
    }
    const features = view.features;
    const encoded = new Array<Buffer | undefined>(features.length);
    for (let f = 0; f < features.length; f++) {
      const feature = features[f]!;
      const value = row.values[feature.name];
      if (value === undefined || value.val.case === undefined) continue;
      valueTag(view.name, feature.name, value, feature.type);
      encoded[f] = encodeValue(value);
    }
    return { key: this.key(view, row.entityKey), args: [feastBlob(row.eventTs, encoded)] };
  }

  readonly entityScript = 'larderFeastEntityWrite' as const;

  entityKey(project: string, encoder: EntityKeyEncoder, keyColumns: readonly ArrayLike<EntityCell>[], row: number): Buffer {
    let suffix = this.projects.get(project);
    if (suffix === undefined) this.projects.set(project, (suffix = Buffer.from(project, 'utf8')));
    return encoder.encode(keyColumns, row, undefined, suffix);
  }

  entityShared(views: readonly ViewDescriptor[]): readonly ScriptArg[] {
    const out: ScriptArg[] = [views.length];
    for (const view of views) {
      const info = this.info(view);
      out.push(info.tsField, ttlMs(view), info.fields.length, ...info.fields);
    }
    return out;
  }

  /** The Timestamp, then every feature's Value (null is a Value too), each an argument. */
  appendColumns(out: RowsBuffer, v: ViewColumns, row: number, eventTs: number): number {
    const features = v.view.features;
    const columns = v.columns;
    // Never empty, which stands for no row: the epoch itself is written as seconds = 0.
    const stampSize = eventTs === 0 ? 2 : timestampMsSize(eventTs);
    let size = bulkHeaderSize(stampSize) + stampSize + 2;
    const encoded = this.scratch;
    for (let f = 0; f < features.length; f++) {
      const feature = features[f]!;
      const cell = columns[f]![row] ?? null;
      if (feature.type === DOUBLE && typeof cell === 'number') {
        // The common case, written in place: tag of double_val, f64le.
        encoded[f] = undefined;
        size += 4 + 9 + 2;
      } else {
        const bytes = encodeValue(cellValue(v.view.name, feature.name, feature.type, cell));
        encoded[f] = bytes;
        size += bulkHeaderSize(bytes.length) + bytes.length + 2;
      }
    }
    const buf = out.reserve(size);
    let at = writeBulkHeader(buf, out.at, stampSize);
    if (eventTs === 0) {
      buf[at++] = 0x08;
      buf[at++] = 0x00;
    } else {
      at = writeTimestampMs(buf, at, eventTs);
    }
    at = writeBulkEnd(buf, at);
    for (let f = 0; f < features.length; f++) {
      const bytes = encoded[f];
      if (bytes === undefined) {
        at = writeBulkHeader(buf, at, 9);
        buf[at] = 0x29;
        at = writeBulkEnd(buf, buf.writeDoubleLE(columns[f]![row] as number, at + 1));
      } else {
        at = writeBulkHeader(buf, at, bytes.length);
        at = writeBulkEnd(buf, at + bytes.copy(buf, at));
        encoded[f] = undefined;
      }
    }
    out.at = at;
    return 1 + features.length;
  }

  // Reused by appendColumns (synchronous, so never shared between two calls at once).
  private readonly scratch: (Buffer | undefined)[] = [];

  private readonly projects = new Map<string, Buffer>();

  scanPattern(view: ViewDescriptor): Buffer {
    return Buffer.concat([Buffer.from('*'), globLiteral(this.info(view).project)]);
  }

  fieldsToDelete(view: ViewDescriptor, key: Buffer): readonly Buffer[] | undefined {
    const info = this.info(view);
    const keyLength = key.length - info.project.length;
    if (keyLength < 4 || !key.subarray(keyLength).equals(info.project)) return undefined;
    return serializedEntityKeyLength(key) === keyLength ? info.all : undefined;
  }
}

/** u8 stamp length, the Timestamp, then per feature an i32le length (-1: none) and the Value. */
function feastBlob(eventTs: number, encoded: readonly (Buffer | undefined)[]): Buffer {
  const stamp = encodeTimestampMs(eventTs);
  let size = 1 + stamp.length + 4 * encoded.length;
  for (const bytes of encoded) if (bytes !== undefined) size += bytes.length;
  const blob = Buffer.allocUnsafe(size);
  blob[0] = stamp.length;
  let at = 1 + stamp.copy(blob, 1);
  for (const bytes of encoded) {
    if (bytes === undefined) {
      at = blob.writeInt32LE(-1, at);
    } else {
      at = blob.writeInt32LE(bytes.length, at);
      at += bytes.copy(blob, at);
    }
  }
  return blob;
}

// ValueType numbers equal Value's oneof field numbers.
const TAG_OF_CASE = new Map(typesV1.ValueSchema.fields.filter((f) => f.oneof !== undefined).map((f) => [f.localName, f.number]));

function tagOf(value: typesV1.Value): number {
  return TAG_OF_CASE.get(value.val.case ?? '') ?? 0;
}
