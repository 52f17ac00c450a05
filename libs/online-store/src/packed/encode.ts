// Writing values into a packed row: the size of a payload first (rows are allocated at
// their exact size), then its bytes.
import { wire } from '@larder/proto';
import { OnlineStoreError } from '../errors';
import { NULL_TAG, T, elementTagOf, fixedSize } from './format';

// Bound once: reading a namespace member on every call goes through an export getter.
const { varintSize, writeVarint } = wire;

function scalarSize(tag: number, v: unknown): number {
  const fixed = fixedSize(tag);
  if (fixed > 0) return fixed;
  const length = tag === T.STRING ? Buffer.byteLength(v as string, 'utf8') : (v as Uint8Array).length;
  return varintSize(length) + length;
}

/** Bytes the payload of a value with `tag` takes (the tag byte not included). */
export function payloadSize(tag: number, v: unknown): number {
  if (tag === NULL_TAG) return 0;
  if (tag < T.BYTES_LIST) return scalarSize(tag, v);
  const items = (v as { val: unknown[] }).val;
  const elementTag = elementTagOf(tag);
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

/** Writes the payload of a value with `tag` at `at`; returns the end. */
export function writePayload(buf: Buffer, at: number, tag: number, v: unknown): number {
  if (tag === NULL_TAG) return at;
  if (tag < T.BYTES_LIST) return writeScalar(buf, at, tag, v);
  const items = (v as { val: unknown[] }).val;
  const elementTag = elementTagOf(tag);
  at = writeVarint(buf, at, items.length);
  for (const item of items) at = writeScalar(buf, at, elementTag, item);
  return at;
}
