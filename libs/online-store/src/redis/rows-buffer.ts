/**
 * The rows of one several-views-per-entity write, appended into one growing buffer per
 * entity and per view as the layout's script takes them (see RedisLayout.entityWrite).
 * One buffer per batch instead of a Buffer per row; each call sends a slice of it.
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
}
