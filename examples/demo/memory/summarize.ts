import type { TfIdfIndex } from './tfidf.js';
import { terms } from './text.js';

/** A sentence a summary keeps. */
export interface ScoredSentence {
  /** Its position among the thread's sentences. */
  readonly index: number;
  readonly text: string;
  readonly score: number;
}

/** What a term's weight is multiplied by each time a kept sentence uses it. */
const COVERED = 0.25;

/**
 * Counts the terms of a thread, sentence by sentence, then picks the sentences that carry the
 * most weight: an extractive summary.
 *
 * A term's weight is its TF-IDF in the thread (how often the thread says it, times how rare it
 * is in the corpus): what the thread is about, rather than what every text says. A sentence
 * scores the sum of its distinct terms' weights over the square root of its length, so that
 * neither a long sentence nor a two-word one wins by its length alone. Sentences are kept one at
 * a time, best first, and each kept sentence damps the weight of its terms (as SumBasic does):
 * without that, a thread that names one person in every sentence would be summed up by three
 * sentences about that person.
 */
export class ThreadSummarizer {
  private readonly sentenceTerms: string[][] = [];
  private readonly counts = new Map<string, number>();

  /**
   * @param sentences The thread's sentences, in order.
   * @param index Where IDF comes from.
   */
  constructor(
    private readonly sentences: readonly string[],
    private readonly index: TfIdfIndex,
  ) {}

  /** Reads sentences `[start, end)`: call in order until every sentence is read. */
  read(start: number, end: number): void {
    for (let i = start; i < end; i++) {
      const sentenceTerms = terms(this.sentences[i]);
      this.sentenceTerms[i] = sentenceTerms;
      for (const term of sentenceTerms) this.counts.set(term, (this.counts.get(term) ?? 0) + 1);
    }
  }

  /**
   * The `max` best sentences, in the thread's order, each with its score when it was kept.
   * @throws Error if some sentences have not been read.
   */
  summary(max: number): ScoredSentence[] {
    if (this.sentenceTerms.length !== this.sentences.length) {
      throw new Error('ThreadSummarizer: read every sentence first');
    }
    const weights = new Map<string, number>();
    for (const [term, count] of this.counts) weights.set(term, count * this.index.idf(term));
    const distinct = this.sentenceTerms.map((sentenceTerms) => [...new Set(sentenceTerms)]);
    const kept: ScoredSentence[] = [];
    const taken = new Set<number>();
    while (kept.length < Math.min(max, distinct.length)) {
      let best = -1;
      let bestScore = -Infinity;
      for (let i = 0; i < distinct.length; i++) {
        if (taken.has(i)) continue;
        const score = this.score(distinct[i], this.sentenceTerms[i].length, weights);
        if (score > bestScore) [best, bestScore] = [i, score];
      }
      taken.add(best);
      kept.push({ index: best, text: this.sentences[best], score: bestScore });
      for (const term of distinct[best]) weights.set(term, weights.get(term)! * COVERED);
    }
    return kept.sort((a, b) => a.index - b.index);
  }

  private score(
    distinctTerms: readonly string[],
    length: number,
    weights: ReadonlyMap<string, number>,
  ): number {
    if (length === 0) return 0;
    let sum = 0;
    for (const term of distinctTerms) sum += weights.get(term)!;
    return sum / Math.sqrt(length);
  }
}
