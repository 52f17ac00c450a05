// The sections in front of a packed row's values: the header (format version and event
// time) and the feature names the row was written with.
import { wire } from '@larder/proto';
import { OnlineStoreError } from '../errors';
import { eventMicros, eventMsFromMicros } from '../event-time';
import { PackedReader } from './decode';
import { PACKED_FORMAT_VERSION, PACKED_MS_VERSION } from './format';

const { varintSize, writeVarint } = wire;

/** Writes the header at `start`: the current version and the event time in microseconds. */
export function writeHeader(buf: Buffer, start: number, eventTs: number): void {
  const micros = eventMicros(eventTs);
  buf[start] = PACKED_FORMAT_VERSION;
  buf.writeUInt32BE(Math.floor(micros / 0x1_0000_0000), start + 1);
  buf.writeUInt32BE(micros % 0x1_0000_0000, start + 5);
}

/** Whether `version` is one this code reads. */
export function isReadableVersion(version: number | undefined): boolean {
  return version === PACKED_FORMAT_VERSION || version === PACKED_MS_VERSION;
}

/** The event time in milliseconds from a row's header, by its version. */
export function readEventTs(buf: Buffer): number {
  const stamp = buf.readUInt32BE(1) * 0x1_0000_0000 + buf.readUInt32BE(5);
  return buf[0] === PACKED_FORMAT_VERSION ? eventMsFromMicros(stamp) : stamp;
}

/** The feature-names section: a count, then each name length-prefixed in UTF-8. */
export function namesBlock(names: readonly string[]): Buffer {
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

/** The names of a names section spanning [start, end) of buf. */
export function parseNamesBlock(buf: Buffer, start: number, end: number): string[] {
  const reader = new PackedReader(buf, start);
  const count = reader.varint();
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = reader.varint();
    names.push(buf.toString('utf8', reader.at, reader.at + length));
    reader.at += length;
  }
  if (reader.at !== end) throw new OnlineStoreError('malformed feature names in packed row');
  return names;
}
