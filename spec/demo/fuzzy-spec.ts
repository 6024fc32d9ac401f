import fc from 'fast-check';
import { approximateMatcher, MAX_PATTERN_LENGTH } from '../../examples/demo/memory/fuzzy.js';

/**
 * The reference: the optimal-string-alignment distance from `pattern` to the best substring of
 * `text`, by the textbook dynamic programme (row 0 all zeros: a match starts anywhere).
 */
function referenceDistance(pattern: string, text: string): number {
  const m = pattern.length;
  const rows = Array.from({ length: m + 1 }, (_, i) => [i]);
  let best = m;
  for (let j = 1; j <= text.length; j++) {
    rows[0][j] = 0;
    for (let i = 1; i <= m; i++) {
      let d = Math.min(
        rows[i - 1][j] + 1,
        rows[i][j - 1] + 1,
        rows[i - 1][j - 1] + (pattern[i - 1] === text[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && pattern[i - 1] === text[j - 2] && pattern[i - 2] === text[j - 1]) {
        d = Math.min(d, rows[i - 2][j - 2] + 1);
      }
      rows[i][j] = d;
    }
    best = Math.min(best, rows[m][j]);
  }
  return best;
}

describe('approximateMatcher (bit-parallel OSA substring distance)', () => {
  it.each([
    ['saffron', ' the saffron risotto ', 0],
    ['safron', ' the saffron risotto ', 1], // a letter left out
    ['safforn', ' the saffron risotto ', 1], // two letters swapped: one edit, not two
    [' entangl', ' quantum entanglement ', 0], // a word cut short
    [' newyork', ' in new york ', 1], // words run together
    ['kitten', 'sitting', 2],
    ['abc', 'xyz', 3],
    ['abc', '', 3],
    ['été', ' un été chaud ', 0], // outside ASCII
  ])('%j in %j: %i', (pattern, text, distance) => {
    expect(approximateMatcher(pattern)(text)).toBe(distance);
    expect(referenceDistance(pattern, text)).toBe(distance);
  });

  it('agrees with the dynamic programme on random patterns up to 32 characters', () => {
    // A small alphabet makes near matches, swaps and repeats common; 'é' takes the non-ASCII path.
    const letters = fc.constantFrom('a', 'b', 'c', 'é');
    fc.assert(
      fc.property(
        fc.string({ unit: letters, minLength: 1, maxLength: MAX_PATTERN_LENGTH }),
        fc.string({ unit: letters, maxLength: 60 }),
        (pattern, text) => approximateMatcher(pattern)(text) === referenceDistance(pattern, text),
      ),
      { numRuns: 5_000 },
    );
  });

  it('refuses an empty pattern and one over 32 characters', () => {
    expect(() => approximateMatcher('')).toThrow(RangeError);
    expect(() => approximateMatcher('x'.repeat(MAX_PATTERN_LENGTH + 1))).toThrow(RangeError);
    expect(approximateMatcher('x'.repeat(MAX_PATTERN_LENGTH))('x'.repeat(40))).toBe(0);
  });
});
