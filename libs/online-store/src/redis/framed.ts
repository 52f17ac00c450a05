// A script call whose arguments the caller has already written in Redis's protocol (RESP
// bulk strings), so that a call of a few hundred arguments costs the client one buffer
// instead of three pieces and a copy per argument in ioredis's own encoder.
import { Command } from 'ioredis';

const CRLF = 0x0a0d; // "\r\n" as a u16le

/** Bytes of the RESP bulk string header `$<length>\r\n`. */
export function bulkHeaderSize(length: number): number {
  return length < 10 ? 4 : length < 100 ? 5 : length < 1000 ? 6 : 3 + String(length).length;
}

/** Writes `$<length>\r\n` at `at`; returns the end. */
export function writeBulkHeader(buf: Buffer, at: number, length: number): number {
  buf[at++] = 0x24; // $
  if (length < 10) {
    buf[at++] = 0x30 + length;
  } else if (length < 100) {
    buf[at++] = 0x30 + ((length / 10) | 0);
    buf[at++] = 0x30 + (length % 10);
  } else if (length < 1000) {
    buf[at++] = 0x30 + ((length / 100) | 0);
    buf[at++] = 0x30 + (((length / 10) | 0) % 10);
    buf[at++] = 0x30 + (length % 10);
  } else {
    at += buf.write(String(length), at, 'latin1');
  }
  buf.writeUInt16LE(CRLF, at);
  return at + 2;
}

/** Writes the `\r\n` that ends a bulk string; returns the end. */
export function writeBulkEnd(buf: Buffer, at: number): number {
  buf.writeUInt16LE(CRLF, at);
  return at + 2;
}

/** Bytes of `bytes` as a whole RESP bulk string. */
function bulkSize(bytes: Buffer): number {
  return bulkHeaderSize(bytes.length) + bytes.length + 2;
}

/** Writes `bytes` as a whole RESP bulk string at `at`; returns the end. */
function writeBulk(buf: Buffer, at: number, bytes: Buffer): number {
  at = writeBulkHeader(buf, at, bytes.length);
  at += bytes.copy(buf, at);
  return writeBulkEnd(buf, at);
}

/** Whole RESP bulk strings of these arguments. */
export function frameArgs(args: readonly (string | number | Buffer)[]): Buffer {
  const parts = args.map((arg) => (Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg), 'utf8')));
  const out = Buffer.allocUnsafe(parts.reduce((n, part) => n + bulkSize(part), 0));
  let at = 0;
  for (const part of parts) at = writeBulk(out, at, part);
  return out;
}

/**
 * EVAL of `script` on `keys`, ARGV being `framed` (the arguments already as RESP bulk
 * strings, `argc` of them, in one or more buffers). EVAL, not EVALSHA: Redis caches the
 * script by its hash on the first call, and a server that lost its cache (a restart, a
 * failover) needs no NOSCRIPT round trip; hashing a 2 kB script per call of 64 entities
 * is noise beside the call. ioredis still sees the keys, for cluster slots.
 */
export class FramedEval extends Command {
  private readonly payload: Buffer;

  constructor(script: Buffer, keys: readonly Buffer[], framed: readonly Buffer[], argc: number) {
    super('eval', [script, keys.length, ...keys]);
    const head = Buffer.from(`*${3 + keys.length + argc}\r\n$4\r\nEVAL\r\n`, 'latin1');
    const count = Buffer.from(String(keys.length), 'latin1');
    let size = head.length + bulkSize(script) + bulkSize(count);
    for (const key of keys) size += bulkSize(key);
    for (const part of framed) size += part.length;
    const out = Buffer.allocUnsafe(size);
    let at = head.copy(out, 0);
    at = writeBulk(out, at, script);
    at = writeBulk(out, at, count);
    for (const key of keys) at = writeBulk(out, at, key);
    for (const part of framed) at += part.copy(out, at);
    if (at !== size) throw new Error(`EVAL framed to ${at} bytes, ${size} expected`);
    this.payload = out;
  }

  override toWritable(): Buffer {
    return this.payload;
  }
}
