import { ScalarType, type DescField, type DescMessage, type Message, type MessageShape } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';

/**
 * Protobuf text format (what TFDV's `write_schema_text` writes and
 * `load_schema_text` reads, e.g. schema.pbtxt), parsed and printed through the
 * message's descriptor, so one implementation serves schemas, statistics and
 * anomalies. npm has no maintained text-format parser for protobuf-es, hence
 * this one; it covers the grammar protobuf's own printers emit plus the
 * shorthands people type by hand (`[a, b]` lists, `<...>` messages, `#`
 * comments, adjacent string literals, enum numbers). `google.protobuf.Any`
 * expansion (`[type.googleapis.com/...] { }`) is refused with a message.
 */
export class TextFormatError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`${line}:${column}: ${reason}`);
    this.name = 'TextFormatError';
  }
}

/** A guard against hostile input: nesting deeper than this is refused rather than recursed into. */
const MAX_DEPTH = 100;

type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'eof';

interface Token {
  kind: TokenKind;
  text: string;
  /** Decoded bytes of a string literal (adjacent literals concatenated). */
  bytes?: Uint8Array;
  line: number;
  column: number;
}

class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private peeked: Token | undefined;

  constructor(private readonly text: string) {}

  peek(): Token {
    this.peeked ??= this.read();
    return this.peeked;
  }

  next(): Token {
    const token = this.peek();
    this.peeked = undefined;
    return token;
  }

  fail(token: Token, reason: string): never {
    throw new TextFormatError(token.line, token.column, reason);
  }

  private skipSpaceAndComments(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === '\n') {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        this.pos++;
      } else if (c === '#') {
        while (this.pos < this.text.length && this.text[this.pos] !== '\n') this.pos++;
      } else {
        return;
      }
    }
  }

  private read(): Token {
    this.skipSpaceAndComments();
    const line = this.line;
    const column = this.pos - this.lineStart + 1;
    if (this.pos >= this.text.length) return { kind: 'eof', text: '', line, column };
    const c = this.text[this.pos] as string;
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos, this.pos + 1024)) as RegExpExecArray;
      this.pos += m[0].length;
      return { kind: 'ident', text: m[0], line, column };
    }
    if (/[0-9.\-+]/.test(c)) {
      const m = /^[-+]?(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[fF]?|inf(?:inity)?|nan)/i.exec(
        this.text.slice(this.pos, this.pos + 1024),
      );
      if (m === null || m[0] === '-' || m[0] === '+') {
        if (c === '-' || c === '+') {
          // `-inf` style identifiers are matched above; a lone sign is an error.
          throw new TextFormatError(line, column, `unexpected '${c}'`);
        }
        this.pos++;
        return { kind: 'punct', text: c, line, column };
      }
      this.pos += m[0].length;
      return { kind: 'number', text: m[0], line, column };
    }
    if (c === '"' || c === "'") {
      const parts: number[] = [];
      // Adjacent literals ("a" "b") form one string, as in C.
      for (;;) {
        this.readString(parts, line, column);
        this.skipSpaceAndComments();
        const n = this.text[this.pos];
        if (n !== '"' && n !== "'") break;
      }
      return { kind: 'string', text: '', bytes: Uint8Array.from(parts), line, column };
    }
    this.pos++;
    return { kind: 'punct', text: c, line, column };
  }

  private readString(out: number[], line: number, column: number): void {
    const quote = this.text[this.pos];
    this.pos++;
    const encoder = new TextEncoder();
    for (;;) {
      if (this.pos >= this.text.length || this.text[this.pos] === '\n') {
        throw new TextFormatError(line, column, 'unterminated string');
      }
      const c = this.text[this.pos] as string;
      if (c === quote) {
        this.pos++;
        return;
      }
      if (c !== '\\') {
        const cp = this.text.codePointAt(this.pos) as number;
        const ch = String.fromCodePoint(cp);
        out.push(...encoder.encode(ch));
        this.pos += ch.length;
        continue;
      }
      const e = this.text[this.pos + 1];
      this.pos += 2;
      const simple: Record<string, number> = { n: 10, r: 13, t: 9, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, '?': 63 };
      if (e !== undefined && e in simple) {
        out.push(simple[e] as number);
      } else if (e !== undefined && /[0-7]/.test(e)) {
        const m = /^[0-7]{1,3}/.exec(this.text.slice(this.pos - 1, this.pos + 2)) as RegExpExecArray;
        const v = parseInt(m[0], 8);
        if (v > 255) throw new TextFormatError(this.line, this.pos - this.lineStart, `octal escape \\${m[0]} is out of range`);
        out.push(v);
        this.pos += m[0].length - 1;
      } else if (e === 'x' || e === 'X') {
        const m = /^[0-9a-fA-F]{1,2}/.exec(this.text.slice(this.pos, this.pos + 2));
        if (m === null) throw new TextFormatError(this.line, this.pos - this.lineStart, 'bad \\x escape');
        out.push(parseInt(m[0], 16));
        this.pos += m[0].length;
      } else if (e === 'u' || e === 'U') {
        const len = e === 'u' ? 4 : 8;
        const hex = this.text.slice(this.pos, this.pos + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex) || parseInt(hex, 16) > 0x10ffff) {
          throw new TextFormatError(this.line, this.pos - this.lineStart, `bad \\${e} escape`);
        }
        out.push(...encoder.encode(String.fromCodePoint(parseInt(hex, 16))));
        this.pos += len;
      } else {
        throw new TextFormatError(this.line, this.pos - this.lineStart - 1, `unknown escape \\${e ?? ''}`);
      }
    }
  }
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function parseInteger(lexer: Lexer, token: Token, scalar: ScalarType): number | bigint {
  if (token.kind !== 'number' || /[.eEfF]|inf|nan/i.test(token.text.replace(/^[-+]?0[xX][0-9a-fA-F]+$/, ''))) {
    lexer.fail(token, `expected an integer, got '${token.text}'`);
  }
  const negative = token.text.startsWith('-');
  const body = token.text.replace(/^[-+]/, '');
  let value: bigint;
  if (/^0[xX]/.test(body)) value = BigInt(body);
  else if (/^0[0-7]+$/.test(body)) value = BigInt(`0o${body.slice(1)}`);
  else value = BigInt(body);
  if (negative) value = -value;
  const ranges: Partial<Record<ScalarType, [bigint, bigint]>> = {
    [ScalarType.INT32]: [BigInt(INT32_MIN), BigInt(INT32_MAX)],
    [ScalarType.SINT32]: [BigInt(INT32_MIN), BigInt(INT32_MAX)],
    [ScalarType.SFIXED32]: [BigInt(INT32_MIN), BigInt(INT32_MAX)],
    [ScalarType.UINT32]: [0n, 2n ** 32n - 1n],
    [ScalarType.FIXED32]: [0n, 2n ** 32n - 1n],
    [ScalarType.INT64]: [-(2n ** 63n), 2n ** 63n - 1n],
    [ScalarType.SINT64]: [-(2n ** 63n), 2n ** 63n - 1n],
    [ScalarType.SFIXED64]: [-(2n ** 63n), 2n ** 63n - 1n],
    [ScalarType.UINT64]: [0n, 2n ** 64n - 1n],
    [ScalarType.FIXED64]: [0n, 2n ** 64n - 1n],
  };
  const [lo, hi] = ranges[scalar] as [bigint, bigint];
  if (value < lo || value > hi) lexer.fail(token, `${token.text} is out of range for ${ScalarType[scalar].toLowerCase()}`);
  const is64 =
    scalar === ScalarType.INT64 ||
    scalar === ScalarType.SINT64 ||
    scalar === ScalarType.SFIXED64 ||
    scalar === ScalarType.UINT64 ||
    scalar === ScalarType.FIXED64;
  return is64 ? value : Number(value);
}

function parseFloatToken(lexer: Lexer, token: Token): number {
  const text = token.kind === 'ident' || token.kind === 'number' ? token.text : '';
  const body = text.replace(/^[-+]/, '').toLowerCase();
  const sign = text.startsWith('-') ? -1 : 1;
  if (body === 'inf' || body === 'infinity') return sign * Infinity;
  if (body === 'nan') return NaN;
  if (token.kind !== 'number') lexer.fail(token, `expected a number, got '${token.text}'`);
  if (/^0[xX]/.test(body)) return sign * Number(BigInt(body));
  const value = Number(text.replace(/[fF]$/, ''));
  if (Number.isNaN(value)) lexer.fail(token, `expected a number, got '${token.text}'`);
  return value;
}

function scalarValue(lexer: Lexer, field: DescField, scalar: ScalarType): unknown {
  const token = lexer.next();
  switch (scalar) {
    case ScalarType.STRING: {
      if (token.kind !== 'string') lexer.fail(token, `field '${field.name}' expects a string`);
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(token.bytes);
      } catch {
        return lexer.fail(token, `field '${field.name}' holds invalid UTF-8`);
      }
    }
    case ScalarType.BYTES:
      if (token.kind !== 'string') lexer.fail(token, `field '${field.name}' expects a quoted byte string`);
      return token.bytes;
    case ScalarType.BOOL:
      if (token.kind === 'ident' && ['true', 't', 'True'].includes(token.text)) return true;
      if (token.kind === 'ident' && ['false', 'f', 'False'].includes(token.text)) return false;
      if (token.kind === 'number' && (token.text === '1' || token.text === '0')) return token.text === '1';
      return lexer.fail(token, `field '${field.name}' expects true or false, got '${token.text}'`);
    case ScalarType.DOUBLE:
      return parseFloatToken(lexer, token);
    case ScalarType.FLOAT:
      return Math.fround(parseFloatToken(lexer, token));
    default:
      return parseInteger(lexer, token, scalar);
  }
}

function enumValue(lexer: Lexer, field: DescField & { fieldKind: 'enum' | 'list' | 'map' }): number {
  const token = lexer.next();
  const desc = field.enum as NonNullable<typeof field.enum>;
  if (token.kind === 'ident') {
    const value = desc.values.find((v) => v.name === token.text);
    if (value === undefined) lexer.fail(token, `'${token.text}' is not a value of ${desc.typeName} (field '${field.name}')`);
    return value.number;
  }
  if (token.kind === 'number') {
    const n = parseInteger(lexer, token, ScalarType.INT32) as number;
    return n;
  }
  return lexer.fail(token, `field '${field.name}' expects an enum value name`);
}

function expectPunct(lexer: Lexer, text: string): Token {
  const token = lexer.next();
  if (token.kind !== 'punct' || token.text !== text) lexer.fail(token, `expected '${text}', got '${token.text || token.kind}'`);
  return token;
}

function acceptPunct(lexer: Lexer, text: string): boolean {
  const token = lexer.peek();
  if (token.kind === 'punct' && token.text === text) {
    lexer.next();
    return true;
  }
  return false;
}

/** Where each field of a parsed message was written: `feature[1].string_domain` -> its name's line and column. */
export type TextPositions = Map<string, { line: number; column: number }>;

interface Positions {
  readonly map: TextPositions;
  readonly prefix: string;
}

function parseMessageBody(lexer: Lexer, target: ReflectMessage, close: string | undefined, depth: number, positions?: Positions): void {
  if (depth > MAX_DEPTH) lexer.fail(lexer.peek(), `messages nest deeper than ${MAX_DEPTH} levels`);
  const seen = new Set<number>();
  for (;;) {
    const token = lexer.peek();
    if (close === undefined && token.kind === 'eof') return;
    if (close !== undefined && token.kind === 'punct' && token.text === close) {
      lexer.next();
      return;
    }
    if (token.kind === 'punct' && token.text === '[') {
      lexer.fail(token, 'extensions and expanded google.protobuf.Any are not supported');
    }
    if (token.kind !== 'ident')
      lexer.fail(
        token,
        close === undefined
          ? `expected a field name, got '${token.text || token.kind}'`
          : `expected a field name or '${close}', got '${token.text || token.kind}'`,
      );
    lexer.next();
    const field = target.desc.fields.find((f) => f.name === token.text);
    if (field === undefined) lexer.fail(token, `${target.desc.typeName} has no field '${token.text}'`);
    const singular = field.fieldKind !== 'list' && field.fieldKind !== 'map';
    if (singular && seen.has(field.number)) lexer.fail(token, `field '${field.name}' is set twice`);
    if (singular && field.oneof !== undefined) {
      const other = target.oneofCase(field.oneof);
      if (other !== undefined && other.number !== field.number)
        lexer.fail(token, `field '${field.name}' and '${other.name}' are in the same oneof '${field.oneof.name}'`);
    }
    seen.add(field.number);
    let inner: Positions | undefined;
    if (positions !== undefined) {
      // Proto field names, a list element by its index: the paths registry issues use.
      const index = field.fieldKind === 'list' ? `[${target.get(field).size}]` : '';
      const at = `${positions.prefix}${field.name}${index}`;
      positions.map.set(at, { line: token.line, column: token.column });
      inner = { map: positions.map, prefix: `${at}.` };
    }
    parseFieldValue(lexer, target, field, depth, inner);
    // Fields may be separated by ',' or ';'.
    if (!acceptPunct(lexer, ',')) acceptPunct(lexer, ';');
  }
}

function isMessageField(field: DescField): boolean {
  return field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message') || field.fieldKind === 'map';
}

function parseFieldValue(lexer: Lexer, target: ReflectMessage, field: DescField, depth: number, positions?: Positions): void {
  const colon = acceptPunct(lexer, ':');
  if (!colon && !isMessageField(field)) lexer.fail(lexer.peek(), `expected ':' after '${field.name}'`);
  if (field.fieldKind === 'list' && acceptPunct(lexer, '[')) {
    if (acceptPunct(lexer, ']')) return;
    for (;;) {
      parseOneValue(lexer, target, field, depth);
      if (acceptPunct(lexer, ']')) return;
      expectPunct(lexer, ',');
    }
  }
  parseOneValue(lexer, target, field, depth, positions);
}

function parseSubMessage(lexer: Lexer, desc: DescMessage, depth: number, positions?: Positions): ReflectMessage {
  const open = lexer.next();
  if (open.kind !== 'punct' || (open.text !== '{' && open.text !== '<')) lexer.fail(open, `expected '{' to open ${desc.typeName}`);
  const child = reflect(desc);
  parseMessageBody(lexer, child, open.text === '{' ? '}' : '>', depth + 1, positions);
  return child;
}

function parseOneValue(lexer: Lexer, target: ReflectMessage, field: DescField, depth: number, positions?: Positions): void {
  switch (field.fieldKind) {
    case 'scalar':
      target.set(field, scalarValue(lexer, field, field.scalar));
      return;
    case 'enum':
      target.set(field, enumValue(lexer, field as never));
      return;
    case 'message':
      target.set(field, parseSubMessage(lexer, field.message, depth, positions));
      return;
    case 'list': {
      const list = target.get(field);
      if (field.listKind === 'scalar') list.add(scalarValue(lexer, field, field.scalar));
      else if (field.listKind === 'enum') list.add(enumValue(lexer, field as never));
      else list.add(parseSubMessage(lexer, field.message, depth, positions));
      return;
    }
    case 'map': {
      const open = lexer.next();
      if (open.kind !== 'punct' || (open.text !== '{' && open.text !== '<')) lexer.fail(open, `expected '{' to open a '${field.name}' entry`);
      const close = open.text === '{' ? '}' : '>';
      let key: unknown;
      let value: unknown;
      while (!acceptPunct(lexer, close)) {
        const name = lexer.next();
        if (name.kind === 'ident' && name.text === 'key') {
          expectPunct(lexer, ':');
          key = scalarValue(lexer, field, field.mapKey);
        } else if (name.kind === 'ident' && name.text === 'value') {
          if (field.mapKind === 'message') {
            acceptPunct(lexer, ':');
            value = parseSubMessage(lexer, field.message, depth);
          } else {
            expectPunct(lexer, ':');
            value = field.mapKind === 'enum' ? enumValue(lexer, field as never) : scalarValue(lexer, field, field.scalar);
          }
        } else {
          lexer.fail(name, `a map entry holds 'key' and 'value', got '${name.text || name.kind}'`);
        }
        if (!acceptPunct(lexer, ',')) acceptPunct(lexer, ';');
      }
      if (key === undefined) lexer.fail(open, `a '${field.name}' entry has no key`);
      const map = target.get(field);
      map.set(typeof key === 'bigint' ? key.toString() : key, value ?? (field.mapKind === 'message' ? reflect(field.message) : undefined));
      return;
    }
  }
}

/**
 * Parses text format into a message of `desc`; throws TextFormatError naming line and
 * column. With `positions`, records where each field was written (see TextPositions),
 * so a problem found later in the message can point into the text.
 */
export function parseTextFormat<Desc extends DescMessage>(desc: Desc, text: string, positions?: TextPositions): MessageShape<Desc> {
  const lexer = new Lexer(text);
  const target = reflect(desc);
  parseMessageBody(lexer, target, undefined, 0, positions === undefined ? undefined : { map: positions, prefix: '' });
  return target.message as MessageShape<Desc>;
}

function escapeBytes(bytes: Uint8Array, utf8: boolean): string {
  let out = '';
  const text = utf8 ? new TextDecoder().decode(bytes) : undefined;
  if (text !== undefined) {
    for (const ch of text) {
      const cp = ch.codePointAt(0) as number;
      if (ch === '"') out += '\\"';
      else if (ch === '\\') out += '\\\\';
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else if (cp < 0x20 || cp === 0x7f) out += `\\${cp.toString(8).padStart(3, '0')}`;
      else out += ch;
    }
    return out;
  }
  for (const b of bytes) {
    if (b === 34) out += '\\"';
    else if (b === 92) out += '\\\\';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}

function formatFloat(value: number, single: boolean): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (!single) return Number.isInteger(value) && Math.abs(value) < 1e16 ? value.toFixed(1) : String(value);
  // The shortest decimal that reads back as the same float32.
  for (let p = 1; p <= 9; p++) {
    const text = value.toPrecision(p);
    if (Math.fround(Number(text)) === value) {
      const n = Number(text);
      return Number.isInteger(n) && Math.abs(n) < 1e16 ? n.toFixed(1) : String(n);
    }
  }
  return String(value);
}

function formatScalar(field: DescField, scalar: ScalarType, value: unknown): string {
  switch (scalar) {
    case ScalarType.STRING:
      return `"${escapeBytes(new TextEncoder().encode(value as string), true)}"`;
    case ScalarType.BYTES:
      return `"${escapeBytes(value as Uint8Array, false)}"`;
    case ScalarType.BOOL:
      return value ? 'true' : 'false';
    case ScalarType.DOUBLE:
      return formatFloat(value as number, false);
    case ScalarType.FLOAT:
      return formatFloat(value as number, true);
    default:
      return String(value);
  }
}

function formatEnum(field: DescField, value: number): string {
  return field.enum?.values.find((v) => v.number === value)?.name ?? String(value);
}

function printMessage(r: ReflectMessage, indent: string, lines: string[]): void {
  // Field-number order, as TFDV's write_schema_text prints: its files and ours diff cleanly.
  for (const field of r.sortedFields) {
    if (!r.isSet(field)) continue;
    switch (field.fieldKind) {
      case 'scalar':
        lines.push(`${indent}${field.name}: ${formatScalar(field, field.scalar, r.get(field))}`);
        break;
      case 'enum':
        lines.push(`${indent}${field.name}: ${formatEnum(field, r.get(field))}`);
        break;
      case 'message':
        lines.push(`${indent}${field.name} {`);
        printMessage(r.get(field), `${indent}  `, lines);
        lines.push(`${indent}}`);
        break;
      case 'list':
        for (const item of r.get(field)) {
          if (field.listKind === 'message') {
            lines.push(`${indent}${field.name} {`);
            printMessage(item as ReflectMessage, `${indent}  `, lines);
            lines.push(`${indent}}`);
          } else if (field.listKind === 'enum') {
            lines.push(`${indent}${field.name}: ${formatEnum(field, item as number)}`);
          } else {
            lines.push(`${indent}${field.name}: ${formatScalar(field, field.scalar, item)}`);
          }
        }
        break;
      case 'map': {
        const entries = [...r.get(field).entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
        for (const [key, value] of entries) {
          lines.push(`${indent}${field.name} {`);
          lines.push(`${indent}  key: ${formatScalar(field, field.mapKey, key)}`);
          if (field.mapKind === 'message') {
            lines.push(`${indent}  value {`);
            printMessage(value as ReflectMessage, `${indent}    `, lines);
            lines.push(`${indent}  }`);
          } else if (field.mapKind === 'enum') {
            lines.push(`${indent}  value: ${formatEnum(field, value as number)}`);
          } else {
            lines.push(`${indent}  value: ${formatScalar(field, field.scalar, value)}`);
          }
          lines.push(`${indent}}`);
        }
        break;
      }
    }
  }
}

/** Prints a message in text format, fields in field-number order as protobuf's printers do. */
export function printTextFormat<Desc extends DescMessage>(desc: Desc, message: MessageShape<Desc> & Message): string {
  const lines: string[] = [];
  printMessage(reflect(desc, message), '', lines);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
