import { approximateMatcher, MAX_PATTERN_LENGTH } from './fuzzy.js';
import type { ApproximateMatcher } from './fuzzy.js';
import type { TfIdfIndex } from './tfidf.js';
import { terms } from './text.js';

/** Query terms searched at most: each costs one pass over every memory's text. */
export const MAX_QUERY_TERMS = 8;

/** One term of a query, ready to score texts. */
export interface QueryTerm {
  readonly term: string;
  /** What is searched for in a `searchKey`: ` term ` for a short term, ` term` else. */
  readonly pattern: string;
  /** Its IDF in the corpus (see `compileQuery`): its weight in the query vector. */
  readonly weight: number;
  /** Edits a match may have: 0 up to 3 letters, 1 up to 7, then 2. */
  readonly maxEdits: number;
  readonly match: ApproximateMatcher;
}

/** A query compiled for {@link scoreText}. */
export interface Query {
  readonly terms: readonly QueryTerm[];
  /** Length of the query's TF-IDF vector. */
  readonly norm: number;
}

/** Longest term kept whole; a longer one is searched by its first this many characters. */
export const MAX_TERM_LENGTH = MAX_PATTERN_LENGTH - 1;

/**
 * Compiles a query: its distinct terms of two characters or more, the {@link MAX_QUERY_TERMS}
 * rarest in the corpus if there are more (common ones barely move a cosine, and each term costs
 * a pass over every text).
 *
 * A term of up to three letters must match a whole word exactly: as a fragment it would match
 * inside most texts (`at` in `that`). A longer one matches from the start of a word, with
 * edits: `entangl` finds `entanglement`, `safforn` finds `saffron`, `newyork` finds `new york`.
 *
 * @returns The query, with no terms if none qualifies.
 */
export function compileQuery(text: string, index: TfIdfIndex): Query {
  const distinct = new Set(
    terms(text)
      .filter((term) => term.length >= 2)
      .map((term) => term.slice(0, MAX_TERM_LENGTH)),
  );
  const chosen = [...distinct]
    .map((term) => {
      const short = term.length <= 3;
      const pattern = short ? ` ${term} ` : ` ${term}`;
      const maxEdits = short ? 0 : term.length <= 7 ? 1 : 2;
      const match = approximateMatcher(pattern);
      return { term, pattern, maxEdits, match, weight: weightOf(term, match, maxEdits, index) };
    })
    .sort((a, b) => b.weight - a.weight || (a.term < b.term ? -1 : 1))
    .slice(0, MAX_QUERY_TERMS);
  return {
    terms: chosen,
    norm: Math.sqrt(chosen.reduce((sum, { weight }) => sum + weight * weight, 0)),
  };
}

/**
 * A query term's IDF; for a term the corpus lacks (a typo, a word cut short), the IDF of the
 * commonest corpus term it matches, the word it most likely stands for. Without that, a
 * misspelling would weigh as the rarest word there is and outrank the correct spelling.
 */
function weightOf(
  term: string,
  match: ApproximateMatcher,
  maxEdits: number,
  index: TfIdfIndex,
): number {
  if (index.has(term)) return index.idf(term);
  let weight = index.idf(term);
  for (const known of index.vocabulary()) {
    if (match(` ${known} `) <= maxEdits) weight = Math.min(weight, index.idf(known));
  }
  return weight;
}

/**
 * The cosine of a query and a text in TF-IDF space, where a query term counts as present in
 * the text when an approximate match of it occurs there (typos, inflections, a word cut short or
 * run together), weighed down by its edits: `1 − edits / (maxEdits + 1)`.
 *
 * The denominator is the query's norm times the text's own TF-IDF norm, or the norm of its
 * matched part if that is larger (a match inside a longer, rarer word), so the score stays in
 * [0, 1]; 1 for a text made of exactly the query's terms.
 *
 * @param key The text's `searchKey`.
 * @param textNorm The text's TF-IDF norm ({@link TfIdfIndex.norm}).
 */
export function scoreText(query: Query, key: string, textNorm: number): number {
  let dot = 0;
  let matchedSquares = 0;
  for (const { weight, maxEdits, match } of query.terms) {
    const edits = match(key);
    if (edits > maxEdits) continue;
    const textWeight = weight * (1 - edits / (maxEdits + 1));
    dot += weight * textWeight;
    matchedSquares += textWeight * textWeight;
  }
  if (dot === 0) return 0;
  return dot / (query.norm * Math.max(textNorm, Math.sqrt(matchedSquares)));
}
