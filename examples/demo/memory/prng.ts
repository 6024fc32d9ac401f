/** A source of uniform numbers in [0, 1), like `Math.random`. */
export type Random = () => number;

/**
 * mulberry32: a 32-bit seeded PRNG, small and fast, good enough to generate a corpus.
 *
 * The corpus must be the same on every start (the tests plant queries against it, and the
 * figures in docs/demo.md must be reproducible), which `Math.random` cannot give.
 *
 * @param seed Any integer; the same seed gives the same sequence.
 */
export function seededRandom(seed: number): Random {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An element of `items` chosen uniformly. */
export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}
