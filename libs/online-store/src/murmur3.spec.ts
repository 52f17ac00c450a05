import { feastFeatureField, murmur3 } from './murmur3';

describe('murmur3', () => {
  it.each([
    ['', 0],
    ['a', 1009084850],
    ['ab', 2613040991],
    ['abc', 3017643002],
    ['hello', 613153351],
    ['The quick brown fox jumps over the lazy dog', 776992547],
    ['ünï', 916940523],
  ])('hashes %j like Python mmh3.hash(signed=False)', (text, expected) => {
    expect(murmur3(Buffer.from(text, 'utf8'))).toBe(expected);
  });

  it('names Feast fields as the little-endian hash of view:feature', () => {
    const field = feastFeatureField('v', 'f');
    expect(field.readUInt32LE(0)).toBe(murmur3(Buffer.from('v:f')));
  });
});
