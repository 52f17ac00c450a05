// A script call whose arguments the caller has already written in Redis's protocol (RESP
// bulk strings), so that a call of a few hundred arguments costs the client one buffer
// instead of three pieces and a copy per argument in ioredis's own encoder.
import { Command } from 'ioredis';

const CRLF = 0x0a0d; // "\r\n" as a u16le

/** Bytes of the RESP bulk string header `$<length>\r\n`. */
export function bulkHeaderSize(length: number): number {
  return length < 10 ? 4 : length < 100 ? 5 : length < 1000 ? 6 : 4 + String(length).length;
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

/** Whole RESP bulk strings of these arguments. */
export function frameArgs(args: readonly (string | number | Buffer)[]): Buffer {
  const parts = args.map((arg) => (Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg), 'utf8')));
  const out = Buffer.allocUnsafe(parts.reduce((n, part) => n + bulkHeaderSize(part.length) + part.length + 2, 0));
  let at = 0;
  for (const part of parts) {
    at = writeBulkHeader(out, at, part.length);
    at += part.copy(out, at);
    at = writeBulkEnd(out, at);
  }
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
    const count = String(keys.length);
    const head = `*${3 + keys.length + argc}\r\n$4\r\nEVAL\r\n$${script.length}\r\n`;
    const keysSize = keys.reduce((n, key) => n + bulkHeaderSize(key.length) + key.length + 2, 0);
    const headSize = head.length + script.length + 2 + bulkHeaderSize(count.length) + count.length + 2;
    const framedSize = framed.reduce((n, part) => n + part.length, 0);
    const out = Buffer.allocUnsafe(headSize + keysSize + framedSize);
    let at = out.write(head, 0, 'latin1');
    at += script.copy(out, at);
    at = writeBulkEnd(out, at);
    at = writeBulkHeader(out, at, count.length);
    at += out.write(count, at, 'latin1');
    at = writeBulkEnd(out, at);
    for (const key of keys) {
      at = writeBulkHeader(out, at, key.length);
      at += key.copy(out, at);
      at = writeBulkEnd(out, at);
    }
    for (const part of framed) at += part.copy(out, at);
    this.payload = out;
  }

  override toWritable(): Buffer {
    return this.payload;
  }
}
