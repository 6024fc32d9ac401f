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
    const picker = this.picker(max);
    picker.step(Infinity);
    return picker.result();
  }

  /**
   * Picks the `max` best sentences a step at a time, for a caller that yields between steps:
   * each pick scores every sentence not yet kept, so a summary costs up to `max × sentences`
   * scores, which a thread of many short sentences makes long.
   * @throws Error if some sentences have not been read.
   */
  picker(max: number): SentencePicker {
    if (this.sentenceTerms.length !== this.sentences.length) {
      throw new Error('ThreadSummarizer: read every sentence first');
    }
    const weights = new Map<string, number>();
    for (const [term, count] of this.counts) weights.set(term, count * this.index.idf(term));
    const distinct = this.sentenceTerms.map((sentenceTerms) => [...new Set(sentenceTerms)]);
    return new SentencePicker(
      distinct.length,
      max,
      (i) => this.score(distinct[i], this.sentenceTerms[i].length, weights),
      (i) => {
        for (const term of distinct[i]) weights.set(term, weights.get(term)! * COVERED);
      },
      (i) => this.sentences[i],
    );
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

/**
 * The greedy pick of {@link ThreadSummarizer.picker}, resumable: each round scores every
 * sentence not yet kept, keeps the best (ties to the earlier one) and damps its terms.
 */
export class SentencePicker {
  private readonly kept: ScoredSentence[] = [];
  private readonly taken: Uint8Array;
  private readonly wanted: number;
  /** The next sentence to score in the current round. */
  private next = 0;
  private best = -1;
  private bestScore = -Infinity;

  /**
   * @param count Sentences in the thread.
   * @param max Sentences to keep.
   * @param scoreOf A sentence's score under the current weights.
   * @param damp Damps the weights of a kept sentence's terms.
   * @param textOf A sentence's text.
   */
  constructor(
    count: number,
    max: number,
    private readonly scoreOf: (sentence: number) => number,
    private readonly damp: (sentence: number) => void,
    private readonly textOf: (sentence: number) => string,
  ) {
    this.taken = new Uint8Array(count);
    this.wanted = Math.min(max, count);
  }

  /** Whether every sentence wanted is kept. */
  get done(): boolean {
    return this.kept.length >= this.wanted;
  }

  /**
   * Scores up to `budget` sentences (at least one), keeping the round's best whenever a round
   * ends.
   * @returns Whether the pick is done.
   */
  step(budget: number): boolean {
    const count = this.taken.length;
    for (let spent = 0; !this.done && spent < Math.max(1, budget);) {
      if (this.next === count) {
        this.keep();
        continue;
      }
      const i = this.next++;
      if (this.taken[i]) continue;
      spent++;
      const score = this.scoreOf(i);
      if (score > this.bestScore) [this.best, this.bestScore] = [i, score];
    }
    return this.done;
  }

  /** The sentences kept, in the thread's order. */
  result(): ScoredSentence[] {
    return [...this.kept].sort((a, b) => a.index - b.index);
  }

  /** Ends a round: keeps its best sentence and damps its terms. */
  private keep(): void {
    const { best, bestScore } = this;
    this.taken[best] = 1;
    this.kept.push({ index: best, text: this.textOf(best), score: bestScore });
    this.damp(best);
    [this.next, this.best, this.bestScore] = [0, -1, -Infinity];
  }
}
