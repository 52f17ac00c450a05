import { parseJsonLossless } from './lossless-json';

test('integers beyond 2^53 keep every digit, as bigints; everything else is what JSON.parse gives', () => {
  const text =
    '{"id": 9007199254740993, "neg": -9223372036854775808, "safe": 9007199254740991, "big_float": ' +
    '9007199254740993.0, "exp": 1e30, "list": [18446744073709551615, 1.5, -0, "9007199254740993"], "s": ' +
    '"a\\"b\\u00e9\\\\", "t": true, "f": false, "n": null, "o": {}}';
  const parsed = parseJsonLossless(text) as Record<string, unknown>;
  expect(parsed['id']).toBe(9007199254740993n);
  expect(parsed['neg']).toBe(-9223372036854775808n);
  expect(parsed['list']).toEqual([18446744073709551615n, 1.5, -0, '9007199254740993']);
  const plain = JSON.parse(text) as Record<string, unknown>;
  for (const key of ['safe', 'big_float', 'exp', 's', 't', 'f', 'n', 'o']) expect([key, parsed[key]]).toEqual([key, plain[key]]);
  expect(Object.is((parsed['list'] as unknown[])[2], -0)).toBe(true);
});

test('a text with no long digit run is JSON.parse exactly; digit runs inside strings change nothing', () => {
  expect(parseJsonLossless('{"a": [1, 2.5, "x"], "b": {"c": null}}')).toEqual({ a: [1, 2.5, 'x'], b: { c: null } });
  expect(parseJsonLossless('  {"card": "1234567890123456789", "n" : [ 1 , { } , [ ] ] }  ')).toEqual({ card: '1234567890123456789', n: [1, {}, []] });
});

test('"__proto__" is an own key, as with JSON.parse', () => {
  const parsed = parseJsonLossless('{"__proto__": {"polluted": 12345678901234567890}}') as Record<string, unknown>;
  expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  expect(Object.keys(parsed)).toEqual(['__proto__']);
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
});

test("invalid JSON throws JSON.parse's SyntaxError; nesting too deep for the reader is a SyntaxError too", () => {
  expect(() => parseJsonLossless('{"id": 12345678901234567890,}')).toThrow(SyntaxError);
  const deep = `${'['.repeat(5000)}12345678901234567890${']'.repeat(5000)}`;
  expect(() => parseJsonLossless(deep)).toThrow(/nested more than 1000 levels/);
});

test('a 16-digit integer is found wherever it starts', () => {
  for (let pad = 0; pad < 40; pad++) {
    const text = `{"${'x'.repeat(pad)}": [1, 9007199254740993]}`;
    expect((parseJsonLossless(text) as Record<string, unknown[]>)['x'.repeat(pad)]).toEqual([1, 9007199254740993n]);
  }
});
