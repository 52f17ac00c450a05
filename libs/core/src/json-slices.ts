// A large JSON body parsed in one JSON.parse holds the event loop for as long as the
// parse takes (tens of ms per MB with the lossless pass): every other call of the
// service waits. Here containers larger than a slice are walked member by member, the
// small members are parsed together a slice at a time, and the loop gets a turn between
// slices. Values are the same as parseJsonLossless's.
import { parseJsonLossless } from './lossless-json';

/** Characters parsed between two turns of the event loop: a few ms of work. */
export const JSON_SLICE_CHARS = 64 * 1024;
const MAX_DEPTH = 1000;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Where the value starting at `at` ends, if it ends within `limit` characters; undefined
 * otherwise. Only brackets and strings are tracked: the slice is checked by JSON.parse.
 */
function endWithin(text: string, at: number, limit: number): number | undefined {
  const stop = Math.min(text.length, at + limit);
  const first = text.charCodeAt(at);
  if (first !== 0x5b && first !== 0x7b && first !== 0x22) {
    // A number or a word: up to the next delimiter.
    let i = at;
    for (; i < stop; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x2c || c === 0x5d || c === 0x7d || isSpace(c)) return i;
    }
    return i === text.length ? i : undefined;
  }
  let depth = 0;
  for (let i = at; i < stop; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < stop; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
      if (depth === 0) return i < stop ? i + 1 : undefined;
    } else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return undefined;
}

class SlicedReader {
  private sinceYield = 0;

  constructor(
    private readonly text: string,
    private readonly slice: number,
  ) {}

  private fail(at: number, what: string): never {
    throw new SyntaxError(`${what} at position ${at}`);
  }

  private skipSpace(at: number): number {
    while (isSpace(this.text.charCodeAt(at))) at++;
    return at;
  }

  private async tick(chars: number): Promise<void> {
    this.sinceYield += chars;
    if (this.sinceYield >= this.slice) {
      this.sinceYield = 0;
      await yieldToLoop();
    }
  }

  /** The value at `at` (no leading space) and where it ends. */
  async value(at: number, depth: number): Promise<[unknown, number]> {
    if (depth > MAX_DEPTH) this.fail(at, `JSON nested more than ${MAX_DEPTH} levels deep`);
    const end = endWithin(this.text, at, this.slice);
    if (end !== undefined) {
      await this.tick(end - at);
      return [parseJsonLossless(this.text.slice(at, end)), end];
    }
    const c = this.text[at];
    if (c === '[') return this.container(at, depth, false);
    if (c === '{') return this.container(at, depth, true);
    // A scalar longer than a slice (a long string, or garbage): it cannot be split.
    const scalarEnd = endWithin(this.text, at, Infinity);
    if (scalarEnd === undefined) this.fail(at, c === '"' ? 'Unterminated string' : 'Unexpected end of JSON input');
    await this.tick(scalarEnd - at);
    return [parseJsonLossless(this.text.slice(at, scalarEnd)), scalarEnd];
  }

  /** An array or object over a slice: small members parsed in groups, large ones walked. */
  private async container(start: number, depth: number, isObject: boolean): Promise<[unknown, number]> {
    const text = this.text;
    const close = isObject ? '}' : ']';
    const array: unknown[] = [];
    const object: Record<string, unknown> = {};
    const put = (key: string, value: unknown): void => {
      // As JSON.parse does: "__proto__" is an own key, never the prototype.
      Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
    };
    // Members start..end are small and not parsed yet.
    let groupStart = -1;
    let groupEnd = -1;
    const flush = async (): Promise<void> => {
      if (groupStart < 0) return;
      const piece = text.slice(groupStart, groupEnd);
      groupStart = -1;
      const parsed = parseJsonLossless(isObject ? `{${piece}}` : `[${piece}]`);
      if (isObject) for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) put(key, value);
      else for (const value of parsed as unknown[]) array.push(value);
      await this.tick(piece.length);
    };
    let at = this.skipSpace(start + 1);
    if (text[at] === close) return [isObject ? object : array, at + 1];
    for (;;) {
      const memberStart = at;
      let key = '';
      if (isObject) {
        if (text[at] !== '"') this.fail(at, 'Expected a property name');
        const keyEnd = endWithin(text, at, Infinity);
        if (keyEnd === undefined) this.fail(at, 'Unterminated string');
        key = JSON.parse(text.slice(at, keyEnd)) as string;
        at = this.skipSpace(keyEnd);
        if (text[at] !== ':') this.fail(at, "Expected ':' after a property name");
        at = this.skipSpace(at + 1);
      }
      const small = endWithin(text, at, this.slice);
      if (small === at) this.fail(at, `Unexpected token ${JSON.stringify(text[at] ?? 'end of input')}`);
      let memberEnd: number;
      if (small !== undefined) {
        memberEnd = small;
        if (groupStart < 0) groupStart = memberStart;
        groupEnd = memberEnd;
        if (groupEnd - groupStart >= this.slice) await flush();
      } else {
        await flush();
        const [value, end] = await this.value(at, depth + 1);
        if (isObject) put(key, value);
        else array.push(value);
        memberEnd = end;
      }
      at = this.skipSpace(memberEnd);
      const next = text[at];
      if (next === ',') {
        at = this.skipSpace(at + 1);
        continue;
      }
      if (next === close) {
        await flush();
        return [isObject ? object : array, at + 1];
      }
      this.fail(at, `Expected ',' or '${close}'`);
    }
  }
}

/**
 * parseJsonLossless for text of any size without holding the event loop: text over a
 * slice is parsed in slices with a turn of the loop between them. Throws SyntaxError
 * for text that is not JSON.
 */
export async function parseJsonInSlices(text: string, sliceChars: number = JSON_SLICE_CHARS): Promise<unknown> {
  if (text.length <= sliceChars) return parseJsonLossless(text);
  const reader = new SlicedReader(text, sliceChars);
  let at = 0;
  while (isSpace(text.charCodeAt(at))) at++;
  const [value, end] = await reader.value(at, 0);
  let rest = end;
  while (isSpace(text.charCodeAt(rest))) rest++;
  if (rest !== text.length) throw new SyntaxError(`Unexpected non-whitespace character after JSON at position ${rest}`);
  return value;
}
