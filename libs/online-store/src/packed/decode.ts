// Reading a packed row: a reader over one row's bytes that carries its own position,
// so every read says where it stopped without a returned tuple or shared state.
import { typesV1 } from '@larder/proto';
import { OnlineStoreError } from '../errors';
import * as valueCases from '../value-cases';
import * as format from './format';

// Bound once here rather than imported by name: the services run under tsx, which
// compiles to CommonJS, where every use of a named import is a call of the exporting
// module's getter, and `case T.DOUBLE:` and friends are evaluated for every value read
// (about 1% of a 1 x 50 read's CPU went to those getters).
const { NULL_TAG, T, elementTagOf, fixedSize } = format;
const { CASE_OF_TAG, LIST_TYPE_NAME } = valueCases;

type Value = typesV1.Value;

const VALUE = 'larder.types.v1.Value';

/**
 * A position in one packed row. Each read starts at `at` and leaves `at` just past what
 * it read. One reader per row decoded: a plain object with one field, cheaper than the
 * values it hands out, and never shared between two decodes.
 */
export class PackedReader {
  constructor(
    readonly buf: Buffer,
    public at: number,
  ) {}

  varint(): number {
    const buf = this.buf;
    let at = this.at;
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = buf[at++];
      if (byte === undefined) throw new OnlineStoreError('truncated packed row');
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
    }
    this.at = at;
    return result;
  }

  private scalar(tag: number): unknown {
    const buf = this.buf;
    switch (tag) {
      case T.BYTES: {
        const length = this.varint();
        const start = this.at;
        this.at = start + length;
        return new Uint8Array(buf.subarray(start, start + length));
      }
      case T.STRING: {
        const length = this.varint();
        const start = this.at;
        this.at = start + length;
        return buf.toString('utf8', start, start + length);
      }
      case T.INT32: {
        const at = this.at;
        this.at = at + 4;
        return buf.readInt32LE(at);
      }
      case T.INT64:
      case T.UNIX_TIMESTAMP: {
        const at = this.at;
        this.at = at + 8;
        return buf.readBigInt64LE(at);
      }
      case T.DOUBLE: {
        const at = this.at;
        this.at = at + 8;
        return buf.readDoubleLE(at);
      }
      case T.FLOAT: {
        const at = this.at;
        this.at = at + 4;
        return buf.readFloatLE(at);
      }
      case T.BOOL: {
        const at = this.at;
        this.at = at + 1;
        return buf[at] === 1;
      }
      default:
        throw new OnlineStoreError(`unknown value tag ${tag} in packed row`);
    }
  }

  /** The value with `tag` whose payload starts at `at`. */
  value(tag: number): Value {
    const valueCase = CASE_OF_TAG[tag];
    if (valueCase === undefined) throw new OnlineStoreError(`unknown value tag ${tag} in packed row`);
    if (tag === NULL_TAG) return { $typeName: VALUE, val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } } as Value;
    if (tag < T.BYTES_LIST) return { $typeName: VALUE, val: { case: valueCase, value: this.scalar(tag) } } as Value;
    const elementTag = elementTagOf(tag);
    const count = this.varint();
    const items = new Array<unknown>(count);
    for (let i = 0; i < count; i++) items[i] = this.scalar(elementTag);
    return { $typeName: VALUE, val: { case: valueCase, value: { $typeName: LIST_TYPE_NAME[tag], val: items } } } as Value;
  }

  /** Moves past the payload of a value with `tag` (0: absent, no payload). */
  skip(tag: number): void {
    if (tag === 0 || tag === NULL_TAG) return;
    if (tag < T.BYTES_LIST) {
      const fixed = fixedSize(tag);
      if (fixed > 0) {
        this.at += fixed;
      } else {
        const length = this.varint();
        this.at += length;
      }
      return;
    }
    const count = this.varint();
    const fixed = fixedSize(elementTagOf(tag));
    if (fixed > 0) {
      this.at += fixed * count;
      return;
    }
    for (let i = 0; i < count; i++) {
      const length = this.varint();
      this.at += length;
    }
  }
}
