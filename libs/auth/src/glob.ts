/**
 * Name globs of Permission objects: `*` is any run of characters, `?` one character, and
 * every other character stands for itself. Matching never backtracks: the common shapes
 * (exact, `prefix*`, `*suffix`, `*`) are one string comparison, and anything else runs the
 * pattern as a bit-parallel automaton, one pass over the name, O(|name| x |pattern| / 32).
 * A hostile pattern such as `*a*a*a*a*b` costs no more than any other of its length.
 */
export type GlobMatcher = (name: string) => boolean;

export function compileGlob(pattern: string): GlobMatcher {
  // `**` means the same as `*`; collapsing runs keeps the automaton's closure to one step.
  const p = pattern.replace(/\*{2,}/g, '*');
  if (p === '*') return () => true;
  const star = p.indexOf('*');
  const hasQuestion = p.includes('?');
  if (!hasQuestion) {
    if (star < 0) return (name) => name === p;
    if (star === p.length - 1) {
      const prefix = p.slice(0, -1);
      return (name) => name.startsWith(prefix);
    }
    if (star === 0 && p.indexOf('*', 1) < 0) {
      const suffix = p.slice(1);
      return (name) => name.endsWith(suffix);
    }
  }
  return automaton(p);
}

/**
 * Shift-And over the pattern's positions: bit i set = "the first i pattern characters match
 * a prefix of the name read so far". A character c moves position i to i+1 when pattern[i]
 * is c or `?`; a `*` at i keeps i alive (it absorbs c) and also lets i+1 be reached without
 * reading (closure).
 */
function automaton(pattern: string): GlobMatcher {
  // Code points, not UTF-16 units, so `?` is one letter of any script (as @larder/core's globMatches).
  const p = [...pattern].map((c) => c.codePointAt(0) as number);
  const m = p.length;
  const words = (m >>> 5) + 1; // bits 0..m
  const starMask = new Uint32Array(words);
  const anyMask = new Uint32Array(words); // positions holding `?`
  const charMasks = new Map<number, Uint32Array>();
  for (let i = 0; i < m; i++) {
    const c = p[i] as number;
    if (c === 42 /* * */) starMask[i >>> 5]! |= 1 << (i & 31);
    else if (c === 63 /* ? */) anyMask[i >>> 5]! |= 1 << (i & 31);
    else {
      let mask = charMasks.get(c);
      if (mask === undefined) charMasks.set(c, (mask = new Uint32Array(words)));
      mask[i >>> 5]! |= 1 << (i & 31);
    }
  }
  for (const mask of charMasks.values()) for (let w = 0; w < words; w++) mask[w]! |= anyMask[w]!;
  const acceptWord = m >>> 5;
  const acceptBit = 1 << (m & 31);

  return (name) => {
    let state = new Uint32Array(words);
    let next = new Uint32Array(words);
    state[0] = 1;
    closure(state, starMask, words);
    for (const ch of name) {
      const mask = charMasks.get(ch.codePointAt(0) as number) ?? anyMask;
      let carry = 0;
      let alive = 0;
      for (let w = 0; w < words; w++) {
        const s = state[w]!;
        const moved = s & mask[w]!;
        // Shift left by one across words: bit 31 of word w becomes bit 0 of word w+1.
        const shifted = ((moved << 1) | carry) >>> 0;
        carry = moved >>> 31;
        const v = (shifted | (s & starMask[w]!)) >>> 0;
        next[w] = v;
        alive |= v;
      }
      if (alive === 0) return false;
      closure(next, starMask, words);
      const t = state;
      state = next;
      next = t;
    }
    return (state[acceptWord]! & acceptBit) !== 0;
  };
}

/** Positions after a live `*` are live too (no two stars are adjacent, so one step is enough). */
function closure(state: Uint32Array, starMask: Uint32Array, words: number): void {
  let carry = 0;
  for (let w = 0; w < words; w++) {
    const live = state[w]! & starMask[w]!;
    const add = ((live << 1) | carry) >>> 0;
    carry = live >>> 31;
    state[w] = (state[w]! | add) >>> 0;
  }
}
