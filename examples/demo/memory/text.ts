/** Letters and digits, any script: what a term is made of. */
const TERM = /[\p{L}\p{N}]+/gu;

/**
 * The terms of a text: lowercased runs of letters and digits, in order, repeats kept.
 *
 * The same function reads the corpus, chat messages and queries, so a query term and a stored
 * word compare equal exactly when they are spelled alike.
 */
export function terms(text: string): string[] {
  return text.toLowerCase().match(TERM) ?? [];
}

/**
 * Splits a text into sentences: after `.`, `!` or `?` followed by white space, and at line
 * breaks. Each sentence is trimmed; empty ones are left out.
 */
export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 0);
}

/**
 * The form of a text that searches scan: its terms joined by single spaces, with a space at
 * each end, so that a pattern can be anchored to the start of a word (` saffron`) or to a whole
 * word (` at `).
 */
export function searchKey(textTerms: readonly string[]): string {
  return ` ${textTerms.join(' ')} `;
}
