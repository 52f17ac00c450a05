import { writeBulkEnd, writeBulkHeader } from './framed';

/**
 * The rows of one several-views-per-entity write, appended into one growing buffer per
 * entity and per view as the entity scripts take them: RESP-framed arguments (see
 * FramedEval). One buffer per batch instead of a Buffer per row; each call copies its
 * slice into the command it sends.
 */
export class RowsBuffer {
  buf: Buffer;
  at = 0;

  constructor(initialBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, initialBytes));
  }

  /** Makes room for `bytes` more at `at`. */
  reserve(bytes: number): Buffer {
    if (this.at + bytes > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
      this.buf.copy(grown, 0, 0, this.at);
      this.buf = grown;
    }
    return this.buf;
  }

  /** An empty RESP argument, what the entity scripts take for a view without a row; returns 1 (argument). */
  emptyArgument(): number {
    const buf = this.reserve(6);
    this.at = writeBulkEnd(buf, writeBulkHeader(buf, this.at, 0));
    return 1;
  }
}
