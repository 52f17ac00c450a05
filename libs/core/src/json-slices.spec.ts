import { parseJsonInSlices } from './json-slices';
import { parseJsonLossless } from './lossless-json';

const documents = [
  '{"push_source_name":"s","df":{"driver_id":[1,2,9007199254740993,-4],"conv_rate":[0.5,1e-3,null,2],"name":["a","b\\"c","\\u00e9",""],"when":["2026-01-01T00:00:00Z",1,2,3]}}',
  '[[1,[2,[3,[4,{"a":[5,6,{"b":"x,]}"}]}]]]],{"__proto__":{"polluted":true},"k":[]},{}, [] ,"tail"]',
  ' { "a" : { "b" : [ true , false , null , 12345678901234567890 , -0.5e10 ] } , "c" : "' + 'x'.repeat(300) + '" } ',
];

test.each(documents.map((d, i) => [i, d] as const))('document %i parses to the same value in slices of every size', async (_i, text) => {
  const whole = parseJsonLossless(text);
  for (const slice of [1, 2, 3, 5, 8, 13, 40, 100, 10_000]) {
    expect([slice, await parseJsonInSlices(text, slice)]).toEqual([slice, whole]);
  }
});

test('"__proto__" stays an own key, as JSON.parse keeps it', async () => {
  const parsed = (await parseJsonInSlices('{"__proto__":{"polluted":1},"x":[1,2,3,4,5,6]}', 4)) as Record<string, unknown>;
  expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  expect(Object.keys(parsed)).toEqual(['__proto__', 'x']);
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
});

test.each(['{"a":[1,2,3', '{"a":[1,2,3]} x', '[1,2,,3]', '{"a" 1}', '{a:1}', '[1 2]', '[1,2,3,4,@]'])(
  '%s is refused as not JSON in slices too',
  async (text) => {
    expect(() => parseJsonLossless(text)).toThrow(SyntaxError);
    for (const slice of [1, 3, 5]) await expect(parseJsonInSlices(text, slice)).rejects.toThrow(SyntaxError);
  },
);

test('a 14 MB data frame parses while the event loop keeps turning', async () => {
  const n = 300_000;
  const text = JSON.stringify({
    df: {
      id: Array.from({ length: n }, (_, i) => i),
      rate: Array.from({ length: n }, (_, i) => i / 7),
      at: Array.from({ length: n }, () => '2026-01-01T00:00:00Z'),
    },
  });
  expect(text.length).toBeGreaterThan(13_000_000);
  // Counted turns of the event loop, not wall-clock gaps (the machine is shared): one parse
  // of the whole text lets no timer run; slicing lets one run between slices.
  let turns = 0;
  const probe = setInterval(() => {
    turns += 1;
  }, 0);
  const parsed = (await parseJsonInSlices(text)) as { df: { id: number[]; rate: number[] } };
  clearInterval(probe);
  expect(parsed.df.id.length).toBe(n);
  expect(parsed.df.rate[7]).toBe(1);
  expect(turns).toBeGreaterThan(10);
});
