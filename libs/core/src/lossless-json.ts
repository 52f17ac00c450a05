// JSON whose integers may not fit a double: int64 features and join keys arrive as
// JSON numbers (Kafka messages, push bodies), and JSON.parse rounds
// 9007199254740993 to ...992 before any check can see it. Node 20's JSON.parse gives
// a reviver no source text, so integer literals beyond 2^53 are read here as bigint.

// 2^53 has 16 digits: a literal of fewer can only be a safe integer (or not an integer).
const UNSAFE_DIGITS = 16;

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/**
 * Whether the text has a run of 16 digits. It probes every 16th character (such a run
 * covers one) and scans around digits only, so a typical message costs a few probes:
 * about 6x less than /\d{16}/.test on the push and Kafka path.
 */
function hasLongDigitRun(text: string): boolean {
  const end = text.length;
  for (let i = UNSAFE_DIGITS - 1; i < end; i += UNSAFE_DIGITS) {
    if (!isDigit(text.charCodeAt(i))) continue;
    let first = i;
    let last = i;
    while (first > 0 && isDigit(text.charCodeAt(first - 1))) first--;
    while (last + 1 < end && isDigit(text.charCodeAt(last + 1))) last++;
    if (last - first + 1 >= UNSAFE_DIGITS) return true;
    i = last;
  }
  return false;
}
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;
const MAX_DEPTH = 1000;

/**
 * JSON.parse, except that an integer literal outside ±(2^53 - 1) becomes a bigint
 * holding its exact value. Text without a run of 16 digits (nearly every message) is
 * parsed by JSON.parse alone; other text is checked by JSON.parse first (its errors are
 * the ones callers see), then read again here.
 */
export function parseJsonLossless(text: string): unknown {
  const parsed: unknown = JSON.parse(text);
  if (!hasLongDigitRun(text)) return parsed;
  return new LosslessReader(text).document();
}

/** Reads text that JSON.parse accepted, so it checks nothing JSON.parse checked already. */
class LosslessReader {
  private at = 0;

  constructor(private readonly text: string) {}

  document(): unknown {
    return this.value(0);
  }

  private skipSpace(): void {
    const text = this.text;
    let at = this.at;
    for (let c = text.charCodeAt(at); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++at));
    this.at = at;
  }

  private value(depth: number): unknown {
    // JSON.parse took it, so only the nesting can still be too deep for our stack.
    if (depth > MAX_DEPTH) throw new SyntaxError(`JSON nested more than ${MAX_DEPTH} levels deep`);
    this.skipSpace();
    const c = this.text[this.at];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === 't') return this.word('true', true);
    if (c === 'f') return this.word('false', false);
    if (c === 'n') return this.word('null', null);
    return this.number();
  }

  private object(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.at++;
    this.skipSpace();
    if (this.text[this.at] === '}') {
      this.at++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      const key = this.string();
      this.skipSpace();
      this.at++; // ':'
      const value = this.value(depth + 1);
      // As JSON.parse does: "__proto__" is an own key, never the prototype.
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
      this.skipSpace();
      if (this.text[this.at++] === '}') return out;
    }
  }

  private array(depth: number): unknown[] {
    const out: unknown[] = [];
    this.at++;
    this.skipSpace();
    if (this.text[this.at] === ']') {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skipSpace();
      if (this.text[this.at++] === ']') return out;
    }
  }

  private string(): string {
    const text = this.text;
    const start = this.at;
    let at = start + 1;
    let escaped = false;
    for (;;) {
      const c = text.charCodeAt(at);
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        at += 2;
      } else at++;
    }
    this.at = at + 1;
    return escaped ? (JSON.parse(text.slice(start, at + 1)) as string) : text.slice(start + 1, at);
  }

  private word<T>(word: string, value: T): T {
    this.at += word.length;
    return value;
  }

  private number(): number | bigint {
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text) as RegExpExecArray;
    this.at = NUMBER.lastIndex;
    const n = Number(match[0]);
    if (match[1] !== undefined || match[2] !== undefined || Number.isSafeInteger(n)) return n;
    return BigInt(match[0]);
  }
}
