import { globMatches } from '@larder/core';
import { compileGlob } from './glob';

/** The meaning of a glob, written the slow obvious way (recursion over both strings) to check the fast one against. */
function reference(pattern: string, name: string): boolean {
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let result: boolean;
    if (i === pattern.length) result = j === name.length;
    else if (pattern[i] === '*') result = go(i + 1, j) || (j < name.length && go(i, j + 1));
    else result = j < name.length && (pattern[i] === '?' || pattern[i] === name[j]) && go(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

describe('compileGlob', () => {
  it.each([
    ['driver_stats', 'driver_stats', true],
    ['driver_stats', 'driver_stat', false],
    ['risk_*', 'risk_scores', true],
    ['risk_*', 'risk_', true],
    ['risk_*', 'fraud_risk', false],
    ['*_stats', 'driver_stats', true],
    ['*_stats', 'driver_stats_v2', false],
    ['*', '', true],
    ['**', 'anything', true],
    ['d?iver', 'driver', true],
    ['d?iver', 'dfiver', true],
    ['d?iver', 'dfriver', false],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXcYYb', false],
    ['*.*', 'no_dot', false],
    ['risk.*', 'riskX', false], // '.' is literal, not a regex
    ['[ab]', 'a', false], // so are brackets
    ['[ab]', '[ab]', true],
    ['?', '', false],
    ['x*?', 'x', false],
    ['x*?', 'xy', true],
  ])('%s against %s is %s', (pattern, name, expected) => {
    expect(compileGlob(pattern)(name)).toBe(expected);
    expect(reference(pattern, name)).toBe(expected);
  });

  it('agrees with the reference on seeded random patterns and names over a small alphabet', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = (alphabet: string, length: number) => Array.from({ length }, () => alphabet[rand(alphabet.length)]).join('');
    let mismatches = 0;
    for (let k = 0; k < 3000; k++) {
      const pattern = pick('ab*?', rand(12));
      const name = pick('ab', rand(14));
      if (compileGlob(pattern)(name) !== reference(pattern, name)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('agrees with @larder/core globMatches (the CLI and validation), astral letters included', () => {
    let seed = 11;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = (alphabet: string[], length: number) => Array.from({ length }, () => alphabet[rand(alphabet.length)]).join('');
    const letters = ['a', 'b', '\u{1D4B3}', 'é'];
    let mismatches = 0;
    for (let k = 0; k < 3000; k++) {
      const pattern = pick([...letters, '*', '?'], rand(10));
      const name = pick(letters, rand(12));
      if (compileGlob(pattern)(name) !== globMatches(pattern, name)) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(compileGlob('?')('\u{1D4B3}')).toBe(true);
  });

  it('handles patterns longer than one 32-bit word of automaton state', () => {
    const pattern = `${'a?'.repeat(40)}*${'b'.repeat(30)}`;
    const name = `${'ax'.repeat(40)}zzz${'b'.repeat(30)}`;
    expect(compileGlob(pattern)(name)).toBe(true);
    expect(compileGlob(pattern)(name.slice(0, -1))).toBe(false);
    expect(reference(pattern, name)).toBe(true);
  });

  it('matches a backtracking-hostile pattern in one pass (a regex engine would explode)', () => {
    const pattern = `${'*a'.repeat(30)}*b`;
    const name = 'a'.repeat(50_000); // no b: every split must be ruled out
    const match = compileGlob(pattern);
    // The automaton reads each character once whatever the pattern; 50k characters x 2 words is quick.
    expect(match(name)).toBe(false);
    expect(match(`${name}b`)).toBe(true);
  });
});
