/** Longest pattern {@link approximateMatcher} takes: one bit per character in a 32-bit word. */
export const MAX_PATTERN_LENGTH = 32;

/**
 * The fewest edits (insertions, deletions, substitutions, and swaps of two adjacent
 * characters) that turn `pattern` into some substring of a text.
 */
export type ApproximateMatcher = (text: string) => number;

/**
 * Compiles `pattern` for approximate substring search: Myers' bit-parallel algorithm (1999) with
 * Hyyrö's extension to transpositions (2002), as agrep-style tools use: one pass over the text,
 * a dozen word operations per character. The distance is the optimal string alignment one
 * (Levenshtein plus adjacent swaps, each character edited at most once): `safforn` is one edit
 * from `saffron`, as a typist would count it.
 *
 * A substring, not a whole word, on purpose: `entangl` finds `entanglement` and `newyork` finds
 * `new york`, which no lookup of whole terms in a dictionary can do. That is why a search scans
 * every memory's text rather than an inverted index.
 *
 * @param pattern 1 to {@link MAX_PATTERN_LENGTH} characters, compared by UTF-16 code unit.
 * @returns A function giving the distance of the best match in a text; `pattern.length` when
 * nothing matches better than deleting it all.
 * @throws RangeError on an empty or too long pattern.
 */
export function approximateMatcher(pattern: string): ApproximateMatcher {
  const m = pattern.length;
  if (m < 1 || m > MAX_PATTERN_LENGTH) {
    throw new RangeError(`approximateMatcher: pattern length must be 1..${MAX_PATTERN_LENGTH}`);
  }
  // Where each character occurs in the pattern, one bit per position: an array for ASCII (the
  // hot path), a map for the rest.
  const ascii = new Int32Array(128);
  const other = new Map<number, number>();
  for (let i = 0; i < m; i++) {
    const code = pattern.charCodeAt(i);
    if (code < 128) ascii[code] |= 1 << i;
    else other.set(code, (other.get(code) ?? 0) | (1 << i));
  }
  const last = 1 << (m - 1);
  return (text) => {
    // The column of the distance matrix as vertical deltas: +1 everywhere at first (pattern
    // prefix of length i + 1 against nothing costs i + 1), no -1. Bits above the pattern's
    // length hold junk that carries and shifts only move further up: they never reach `last`.
    let plus = -1;
    let minus = 0;
    let zeroDiagonal = 0;
    let previousEqual = 0;
    let score = m;
    let best = m;
    for (let j = 0; j < text.length; j++) {
      const code = text.charCodeAt(j);
      const equal = code < 128 ? ascii[code] : (other.get(code) ?? 0);
      // Pattern positions where swapping text[j-1] and text[j] matches pattern[i-1..i].
      const swapped = ((~zeroDiagonal & equal) << 1) & previousEqual;
      zeroDiagonal = (((equal & plus) + plus) ^ plus) | equal | minus | swapped;
      let hPlus = minus | ~(zeroDiagonal | plus);
      let hMinus = plus & zeroDiagonal;
      if (hPlus & last) score++;
      else if (hMinus & last) score--;
      // A match may start anywhere in the text: row 0 stays 0, so nothing is shifted in.
      hPlus <<= 1;
      hMinus <<= 1;
      plus = hMinus | ~(zeroDiagonal | hPlus);
      minus = hPlus & zeroDiagonal;
      previousEqual = equal;
      if (score < best) best = score;
    }
    return best;
  };
}
