// Reading protobuf wire format by hand, for the decoders of hot messages. A reader
// meets only what it expects; anything else throws Unexpected, and the decoder
// then hands the whole message to protobuf-es's fromBinary instead.

/** Thrown on input a hand-written decoder does not handle; never escapes a decoder. */
export class Unexpected extends Error {}

export class Reader {
  pos = 0;
  private readonly view: DataView;
  protected readonly text: Buffer;

  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.text = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** A varint of up to 32 significant bits, as an unsigned number (tags, lengths). */
  uint32(): number {
    const buf = this.buf;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= buf.length) throw new Unexpected('truncated varint');
      const byte = buf[this.pos++] as number;
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return shift === 28 ? result % 0x100000000 : result;
    }
    // Longer varints (a sign-extended int32, say) are left to protobuf-es.
    throw new Unexpected('varint longer than 5 bytes');
  }

  /** A full 64-bit varint as two's-complement int64. */
  int64(): bigint {
    const buf = this.buf;
    let lo = 0;
    let hi = 0;
    let byte = 0;
    let shift = 0;
    for (; shift < 28; shift += 7) {
      if (this.pos >= buf.length) throw new Unexpected('truncated varint');
      byte = buf[this.pos++] as number;
      lo |= (byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt(lo >>> 0);
    }
    if (this.pos >= buf.length) throw new Unexpected('truncated varint');
    byte = buf[this.pos++] as number;
    lo |= (byte & 0x0f) << 28;
    hi = (byte & 0x7f) >> 4;
    if (byte < 0x80) return BigInt(hi) * 0x100000000n + BigInt(lo >>> 0);
    for (shift = 3; shift <= 31; shift += 7) {
      if (this.pos >= buf.length) throw new Unexpected('truncated varint');
      byte = buf[this.pos++] as number;
      hi |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        const h = hi >>> 0;
        // Below 2^53 the number path is exact and cheaper than BigInt arithmetic.
        if (h < 0x200000) return BigInt(h * 0x100000000 + (lo >>> 0));
        return BigInt.asIntN(64, (BigInt(h) << 32n) | BigInt(lo >>> 0));
      }
    }
    throw new Unexpected('varint longer than 10 bytes');
  }

  /** An int32 field: the low 32 bits of the varint, signed. */
  int32(): number {
    const start = this.pos;
    const buf = this.buf;
    // Non-negative values fit in five bytes; negative ones are sign-extended to ten.
    for (let i = 0; i < 10; i++) {
      if (this.pos >= buf.length) throw new Unexpected('truncated varint');
      if ((buf[this.pos++] as number) < 0x80) break;
      if (i === 9) throw new Unexpected('varint longer than 10 bytes');
    }
    let result = 0;
    for (let i = 0, p = start; i < 5 && p < this.pos; i++, p++) result |= ((buf[p] as number) & 0x7f) << (7 * i);
    return result | 0;
  }

  /**
   * A bool: whether any bit of the varint is set. Not `int32() !== 0`: protobuf-es reads
   * all 64 bits, so a varint whose low 32 bits are zero and high ones are not is true.
   */
  bool(): boolean {
    const buf = this.buf;
    let any = false;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= buf.length) throw new Unexpected('truncated varint');
      const byte = buf[this.pos++] as number;
      // Bits past the 64th (a tenth byte above 1) are protobuf-es's to interpret.
      if (i === 9 && byte > 1) throw new Unexpected('varint beyond 64 bits');
      if ((byte & 0x7f) !== 0) any = true;
      if (byte < 0x80) return any;
    }
    throw new Unexpected('varint longer than 10 bytes');
  }

  double(): number {
    if (this.pos + 8 > this.buf.length) throw new Unexpected('truncated double');
    const n = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return n;
  }

  float(): number {
    if (this.pos + 4 > this.buf.length) throw new Unexpected('truncated float');
    const n = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return n;
  }

  /** The end offset of a length-delimited field whose length comes next. */
  end(): number {
    const length = this.uint32();
    const end = this.pos + length;
    if (end > this.buf.length) throw new Unexpected('length beyond the message');
    return end;
  }

  bytes(): Uint8Array {
    const end = this.end();
    const start = this.pos;
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  string(): string {
    const end = this.end();
    const start = this.pos;
    this.pos = end;
    return this.text.toString('utf8', start, end);
  }
}
