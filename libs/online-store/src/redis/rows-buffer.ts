/**
 * The rows of one several-views-per-entity write, appended into one growing buffer: per
 * entity and per view a u32le length and that many bytes (see scripts.ts). One buffer per
 * batch instead of a Buffer per row, which is what the client sends as one argument per
 * call, sliced.
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

  /** A view without a row for this entity. */
  empty(): void {
    this.reserve(4).writeUInt32LE(0, this.at);
    this.at += 4;
  }
}
