import { typesV1 } from '@larder/proto';
import { OnlineStoreError } from './errors';
import type { EntityKeyInput } from './types';

const utf8Order = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * Feast's entity key serialization, version 3 (feast/infra/key_encoding_utils.py):
 * u32 count, then per join key (sorted by name) u32 type STRING(2), u32 byte length, UTF-8
 * name, then per value (same order) u32 value type, u32 byte length, bytes. All
 * integers little-endian. Values: string (UTF-8), bytes, int32 (4 bytes), int64 and
 * unix_timestamp (8 bytes); Feast accepts no other entity value type.
 * `prefix` and `suffix` are copied around it into the same buffer (Redis keys).
 */
export function serializeEntityKey(key: EntityKeyInput, prefix?: Buffer, suffix?: Buffer): Buffer {
  const count = key.joinKeys.length;
  if (key.entityValues.length !== count) {
    throw new OnlineStoreError(`entity key has ${count} join keys but ${key.entityValues.length} values`);
  }
  const order = count === 1 ? SINGLE : Array.from({ length: count }, (_, i) => i).sort((a, b) => utf8Order(key.joinKeys[a]!, key.joinKeys[b]!));
  let size = (prefix?.length ?? 0) + 4 + (suffix?.length ?? 0);
  for (const i of order) {
    size += 16 + Buffer.byteLength(key.joinKeys[i]!, 'utf8') + entityValueSize(key.entityValues[i]!, key.joinKeys[i]!);
  }
  const out = Buffer.allocUnsafe(size);
  let at = prefix === undefined ? 0 : prefix.copy(out, 0);
  at = out.writeUInt32LE(count, at);
  for (const i of order) {
    const name = key.joinKeys[i]!;
    at = out.writeUInt32LE(typesV1.ValueType.STRING, at);
    const length = out.write(name, at + 4, 'utf8');
    out.writeUInt32LE(length, at);
    at += 4 + length;
  }
  for (const i of order) at = writeEntityValue(out, at, key.entityValues[i]!);
  if (suffix !== undefined) at += suffix.copy(out, at);
  if (at !== size) throw new OnlineStoreError(`entity key size mismatch (${at} != ${size})`);
  return out;
}

const SINGLE = [0];

function entityValueSize(value: typesV1.Value, joinKey: string): number {
  const val = value.val;
  switch (val.case) {
    case 'stringVal':
      return Buffer.byteLength(val.value, 'utf8');
    case 'bytesVal':
      return val.value.length;
    case 'int32Val':
      return 4;
    case 'int64Val':
    case 'unixTimestampVal':
      return 8;
    default:
      throw new OnlineStoreError(`join key ${joinKey}: entity values must be string, bytes, int32, int64 or unix_timestamp, not ${val.case ?? 'unset'}`);
  }
}

function writeEntityValue(out: Buffer, at: number, value: typesV1.Value): number {
  const val = value.val;
  switch (val.case) {
    case 'stringVal': {
      at = out.writeUInt32LE(typesV1.ValueType.STRING, at);
      const length = out.write(val.value, at + 4, 'utf8');
      out.writeUInt32LE(length, at);
      return at + 4 + length;
    }
    case 'bytesVal':
      at = out.writeUInt32LE(typesV1.ValueType.BYTES, at);
      at = out.writeUInt32LE(val.value.length, at);
      out.set(val.value, at);
      return at + val.value.length;
    case 'int32Val':
      at = out.writeUInt32LE(typesV1.ValueType.INT32, at);
      at = out.writeUInt32LE(4, at);
      return out.writeInt32LE(val.value, at);
    case 'int64Val':
    case 'unixTimestampVal':
      at = out.writeUInt32LE(val.case === 'int64Val' ? typesV1.ValueType.INT64 : typesV1.ValueType.UNIX_TIMESTAMP, at);
      at = out.writeUInt32LE(8, at);
      return out.writeBigInt64LE(val.value, at);
    default:
      throw new OnlineStoreError(`unsupported entity value ${val.case ?? 'unset'}`);
  }
}

/**
 * The length of the serialized entity key at the start of `bytes`, or -1 when the bytes do
 * not start with a well-formed one. Lets a scan tell `<entity key><project>` apart from
 * another project whose name merely ends the same way.
 */
export function serializedEntityKeyLength(bytes: Buffer, start = 0): number {
  if (bytes.length < start + 4) return -1;
  const count = bytes.readUInt32LE(start);
  if (count > 64) return -1;
  let at = start + 4;
  for (let i = 0; i < 2 * count; i++) {
    if (bytes.length < at + 8) return -1;
    const length = bytes.readUInt32LE(at + 4);
    at += 8 + length;
    if (at > bytes.length) return -1;
  }
  return at - start;
}
