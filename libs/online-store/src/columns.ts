// Column-major writes of several views per entity key (materialization's path): the
// values arrive as plain cells straight from the offline engine, and are encoded into
// the stored bytes without building a Value message per cell.
import { typesV1 } from '@larder/proto';
import { InvalidRowError, OnlineStoreError } from './errors';
import { CASE_OF_TAG, LIST_TYPE_NAME } from './value-cases';
import { checkEventTs } from './event-time';
import type { EntityBatch, EntityCell, FeatureCell, ViewColumns, ViewDescriptor } from './types';

const T = typesV1.ValueType;
type Value = typesV1.Value;
const VALUE = 'larder.types.v1.Value';

/** Checks the shape of a batch once, before anything is encoded or written. */
export function checkEntityBatch(batch: EntityBatch): void {
  if (batch.keyColumns.length !== batch.joinKeys.length) {
    throw new OnlineStoreError(`entity batch has ${batch.joinKeys.length} join keys but ${batch.keyColumns.length} key columns`);
  }
  for (const column of batch.keyColumns) {
    if (column.length < batch.size) throw new OnlineStoreError(`entity batch: a key column has ${column.length} values for ${batch.size} entities`);
  }
  const seen = new Set<ViewDescriptor>();
  const keys = [...batch.joinKeys].sort().join('\0');
  for (const v of batch.views) {
    // Keys are per project (and per join keys): one batch, one key per entity.
    if (v.view.project !== batch.views[0]!.view.project)
      throw new OnlineStoreError(`entity batch mixes projects ${batch.views[0]!.view.project} and ${v.view.project}`);
    if ([...v.view.joinKeys].sort().join('\0') !== keys) {
      throw new OnlineStoreError(`view ${v.view.name} has join keys (${v.view.joinKeys.join(', ')}), the entity batch (${batch.joinKeys.join(', ')})`);
    }
    if (seen.has(v.view)) throw new OnlineStoreError(`entity batch names view ${v.view.name} twice`);
    seen.add(v.view);
    if (v.rowOf.length < batch.size) throw new OnlineStoreError(`view ${v.view.name}: rowOf has ${v.rowOf.length} entries for ${batch.size} entities`);
    if (v.columns.length !== v.view.features.length) {
      throw new InvalidRowError(v.view.name, `${v.columns.length} feature columns for ${v.view.features.length} features`);
    }
  }
}

const encoders = new Map<string, EntityKeyEncoder>();

/** The key encoder of a list of join key names, built once per list. */
export function entityKeyEncoder(joinKeys: readonly string[]): EntityKeyEncoder {
  const id = joinKeys.join('\0');
  let encoder = encoders.get(id);
  if (encoder === undefined) {
    if (encoders.size >= 256) encoders.clear();
    encoders.set(id, (encoder = new EntityKeyEncoder(joinKeys)));
  }
  return encoder;
}

const utf8Order = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * Serializes entity keys from key cells (Feast's version 3, as serializeEntityKey does
 * from Values): a string cell is STRING, Uint8Array BYTES, number INT32, bigint INT64,
 * Date UNIX_TIMESTAMP (whole seconds). Built once per list of join key names.
 */
export class EntityKeyEncoder {
  private readonly order: number[];
  private readonly names: Buffer;

  constructor(joinKeys: readonly string[]) {
    this.order = Array.from({ length: joinKeys.length }, (_, i) => i).sort((a, b) => utf8Order(joinKeys[a]!, joinKeys[b]!));
    const parts: Buffer[] = [];
    const count = Buffer.allocUnsafe(4);
    count.writeUInt32LE(joinKeys.length, 0);
    parts.push(count);
    for (const i of this.order) {
      const name = Buffer.from(joinKeys[i]!, 'utf8');
      const head = Buffer.allocUnsafe(8);
      head.writeUInt32LE(T.STRING, 0);
      head.writeUInt32LE(name.length, 4);
      parts.push(head, name);
    }
    this.names = Buffer.concat(parts);
  }

  encode(columns: readonly ArrayLike<EntityCell>[], row: number, prefix: Buffer | undefined, suffix: Buffer | undefined): Buffer {
    let size = (prefix?.length ?? 0) + this.names.length + (suffix?.length ?? 0);
    for (const i of this.order) size += 8 + cellKeySize(columns[i]![row]);
    const out = Buffer.allocUnsafe(size);
    let at = prefix === undefined ? 0 : prefix.copy(out, 0);
    at += this.names.copy(out, at);
    for (const i of this.order) at = writeKeyCell(out, at, columns[i]![row]);
    if (suffix !== undefined) at += suffix.copy(out, at);
    return out;
  }
}

function cellKeySize(cell: EntityCell | null | undefined): number {
  switch (typeof cell) {
    case 'string':
      return Buffer.byteLength(cell, 'utf8');
    case 'number':
      return 4;
    case 'bigint':
      return 8;
    default:
      if (cell instanceof Date) return 8;
      if (cell instanceof Uint8Array) return cell.length;
      throw new OnlineStoreError(`entity key values must be string, bytes, int32, int64 or unix_timestamp, not ${cell === null ? 'null' : typeof cell}`);
  }
}

function writeKeyCell(out: Buffer, at: number, cell: EntityCell | null | undefined): number {
  switch (typeof cell) {
    case 'string': {
      at = out.writeUInt32LE(T.STRING, at);
      const length = out.write(cell, at + 4, 'utf8');
      out.writeUInt32LE(length, at);
      return at + 4 + length;
    }
    case 'number':
      at = out.writeUInt32LE(T.INT32, at);
      at = out.writeUInt32LE(4, at);
      return out.writeInt32LE(cell, at);
    case 'bigint':
      at = out.writeUInt32LE(T.INT64, at);
      at = out.writeUInt32LE(8, at);
      return out.writeBigInt64LE(cell, at);
    default:
      if (cell instanceof Date) {
        at = out.writeUInt32LE(T.UNIX_TIMESTAMP, at);
        at = out.writeUInt32LE(8, at);
        return out.writeBigInt64LE(BigInt(Math.floor(cell.getTime() / 1000)), at);
      }
      // Checked by cellKeySize.
      at = out.writeUInt32LE(T.BYTES, at);
      at = out.writeUInt32LE((cell as Uint8Array).length, at);
      out.set(cell as Uint8Array, at);
      return at + (cell as Uint8Array).length;
  }
}

const seconds = (d: unknown): bigint => {
  if (d instanceof Date) return BigInt(Math.floor(d.getTime() / 1000));
  if (typeof d === 'bigint') return d;
  throw new TypeError('not a timestamp');
};

const JS_TYPE: Partial<Record<number, string>> = {
  [T.STRING]: 'string',
  [T.INT32]: 'number',
  [T.INT64]: 'bigint',
  [T.DOUBLE]: 'number',
  [T.FLOAT]: 'number',
  [T.BOOL]: 'boolean',
};

function scalarFits(type: number, cell: unknown): boolean {
  const js = JS_TYPE[type];
  if (js !== undefined) return typeof cell === js;
  if (type === T.BYTES) return cell instanceof Uint8Array;
  if (type === T.UNIX_TIMESTAMP) return cell instanceof Date || typeof cell === 'bigint';
  return false;
}

/**
 * The payload the packed codec writes for a non-null cell of a declared type (what
 * Value.val.value holds for that type), checked against the type.
 */
export function cellPayload(view: string, feature: string, type: number, cell: FeatureCell): unknown {
  if (type >= T.BYTES_LIST && type <= T.UNIX_TIMESTAMP_LIST) {
    if (!Array.isArray(cell)) throw new InvalidRowError(view, `feature ${feature} is ${T[type]}, got a ${typeof cell} cell`);
    const element = type === T.UNIX_TIMESTAMP_LIST ? T.UNIX_TIMESTAMP : type - 10;
    for (const item of cell as unknown[]) {
      if (!scalarFits(element, item)) throw new InvalidRowError(view, `feature ${feature} is ${T[type]}, got an element of type ${typeof item}`);
    }
    return { val: type === T.UNIX_TIMESTAMP_LIST ? (cell as unknown[]).map(seconds) : cell };
  }
  if (!scalarFits(type, cell))
    throw new InvalidRowError(view, `feature ${feature} is ${T[type] ?? type}, got a ${cell instanceof Date ? 'Date' : typeof cell} cell`);
  return type === T.UNIX_TIMESTAMP ? seconds(cell) : cell;
}

/** The one null Value the stores hand out (shared: readers never change a Value). */
export const NULL_VALUE = { $typeName: VALUE, val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } } as Value;

/** A cell as a Value of the declared type (null: an explicit null). For layouts that store Values. */
export function cellValue(view: string, feature: string, type: number, cell: FeatureCell): Value {
  if (cell === null) return NULL_VALUE;
  const payload = cellPayload(view, feature, type, cell);
  const listName = LIST_TYPE_NAME[type];
  const value = listName === undefined ? payload : { $typeName: listName, val: (payload as { val: unknown }).val };
  return { $typeName: VALUE, val: { case: CASE_OF_TAG[type], value } } as Value;
}

/** Event time of a row as the stores keep it, checked like WriteRow.eventTs. */
export function rowEventTs(v: ViewColumns, row: number): number {
  const ts = v.eventTs[row]!;
  checkEventTs(v.view.name, ts);
  return ts;
}
