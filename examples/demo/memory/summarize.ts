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
   *
   * Greedy, as described above, done lazily (Minoux's accelerated greedy): damping only ever
   * lowers scores, so a sentence's last computed score bounds its current one. The candidates
   * wait in a heap by that bound; the top one is scored afresh and kept if it still beats the
   * next bound, else put back. Most rounds rescore a handful of sentences instead of all of
   * them, and the result is the same as rescoring every sentence every round, ties going to the
   * earlier sentence.
   *
   * @throws Error if some sentences have not been read.
   */
  summary(max: number): ScoredSentence[] {
    if (this.sentenceTerms.length !== this.sentences.length) {
      throw new Error('ThreadSummarizer: read every sentence first');
    }
    const weights = new Map<string, number>();
    for (const [term, count] of this.counts) weights.set(term, count * this.index.idf(term));
    const distinct = this.sentenceTerms.map((sentenceTerms) => [...new Set(sentenceTerms)]);
    const scoreOf = (i: number) => this.score(distinct[i], this.sentenceTerms[i].length, weights);
    const candidates = new CandidateHeap();
    for (let i = 0; i < distinct.length; i++) candidates.push({ index: i, bound: scoreOf(i) });
    const kept: ScoredSentence[] = [];
    while (kept.length < max && candidates.size > 0) {
      const top = candidates.pop()!;
      const fresh = { index: top.index, bound: scoreOf(top.index) };
      const next = candidates.peek();
      if (next && ranksBelow(fresh, next)) {
        candidates.push(fresh);
        continue;
      }
      kept.push({ index: fresh.index, text: this.sentences[fresh.index], score: fresh.bound });
      for (const term of distinct[fresh.index]) weights.set(term, weights.get(term)! * COVERED);
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

/** A sentence waiting to be kept, and an upper bound of its score. */
interface Candidate {
  readonly index: number;
  readonly bound: number;
}

/** Whether `a` ranks below `b`: a lower score, or the same and a later sentence. */
function ranksBelow(a: Candidate, b: Candidate): boolean {
  return a.bound < b.bound || (a.bound === b.bound && a.index > b.index);
}

/** A max-heap of candidates by {@link ranksBelow}. */
class CandidateHeap {
  private readonly heap: Candidate[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): Candidate | undefined {
    return this.heap[0];
  }

  push(candidate: Candidate): void {
    const heap = this.heap;
    heap.push(candidate);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!ranksBelow(heap[parent], heap[i])) return;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  pop(): Candidate | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return top;
    heap[0] = last;
    for (let i = 0; ;) {
      let best = i;
      for (const child of [2 * i + 1, 2 * i + 2]) {
        if (child < heap.length && ranksBelow(heap[best], heap[child])) best = child;
      }
      if (best === i) return top;
      [heap[i], heap[best]] = [heap[best], heap[i]];
      i = best;
    }
  }
}
