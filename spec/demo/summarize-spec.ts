import fc from 'fast-check';
import { ThreadSummarizer } from '../../examples/demo/memory/summarize.js';
import { TfIdfIndexBuilder } from '../../examples/demo/memory/tfidf.js';
import { terms } from '../../examples/demo/memory/text.js';

describe('ThreadSummarizer', () => {
  // IDF from a corpus where "the", "we", "said", "other" and "thing" are everywhere.
  const builder = new TfIdfIndexBuilder();
  for (let i = 0; i < 50; i++) builder.add(terms(`the we said other thing filler${i}`));
  const index = builder.build();

  function summarize(sentences: string[], max: number, chunk = 2) {
    const summarizer = new ThreadSummarizer(sentences, index);
    for (let start = 0; start < sentences.length; start += chunk) {
      summarizer.read(start, Math.min(sentences.length, start + chunk));
    }
    return summarizer.summary(max);
  }

  it('keeps the sentences about what the thread is about, in the thread order', () => {
    const thread = [
      'We said the thing.', // common words only
      'The migration of the billing database failed.',
      'We said the other thing.',
      'Rolling back the billing migration fixed the database.',
    ];
    const kept = summarize(thread, 2);
    expect(kept.map((s) => s.index)).toEqual([1, 3]);
    expect(kept.map((s) => s.text)).toEqual([thread[1], thread[3]]);
    expect(kept[0].score).toBeGreaterThan(0);
  });

  it('does not keep the same point twice: a kept sentence damps its words', () => {
    const thread = ['Orion deployment failed.', 'Orion deployment failed.', 'Saffron risotto.'];
    // By weight alone the two orion sentences come first (their words count twice); damping
    // lets the third one in.
    expect(summarize(thread, 2).map((s) => s.index)).toEqual([0, 2]);
  });

  it('keeps every sentence when asked for more than there are', () => {
    expect(summarize(['One.', 'Two.'], 5).map((s) => s.index)).toEqual([0, 1]);
  });

  it('keeps what the plain greedy keeps, whole or a few scores at a time (property)', () => {
    /** The summary as first written: every remaining sentence scored afresh each round. */
    function plainGreedy(sentences: string[], max: number): number[] {
      const sentenceTerms = sentences.map(terms);
      const weights = new Map<string, number>();
      for (const t of sentenceTerms.flat()) weights.set(t, (weights.get(t) ?? 0) + 1);
      for (const [t, count] of weights) weights.set(t, count * index.idf(t));
      const distinct = sentenceTerms.map((ts) => [...new Set(ts)]);
      const kept: number[] = [];
      while (kept.length < Math.min(max, sentences.length)) {
        let best = -1;
        let bestScore = -Infinity;
        for (let i = 0; i < sentences.length; i++) {
          if (kept.includes(i)) continue;
          const length = sentenceTerms[i].length;
          let sum = 0;
          for (const t of distinct[i]) sum += weights.get(t)!;
          const score = length === 0 ? 0 : sum / Math.sqrt(length);
          if (score > bestScore) [best, bestScore] = [i, score];
        }
        kept.push(best);
        for (const t of distinct[best]) weights.set(t, weights.get(t)! * 0.25);
      }
      return kept.sort((a, b) => a - b);
    }
    const word = fc.constantFrom(
      'the',
      'we',
      'said',
      'orion',
      'billing',
      'saffron',
      'replica',
      '...',
    );
    const sentence = fc.array(word, { maxLength: 6 }).map((w) => `${w.join(' ')}.`);
    fc.assert(
      fc.property(
        fc.array(sentence, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 40 }),
        (thread, max, budget) => {
          const expected = plainGreedy(thread, max);
          expect(summarize(thread, max).map((s) => s.index)).toEqual(expected);
          // The same, picked a few scores at a time, as a chunked caller does.
          const summarizer = new ThreadSummarizer(thread, index);
          summarizer.read(0, thread.length);
          const picker = summarizer.picker(max);
          let steps = 0;
          while (!picker.step(budget)) steps++;
          expect(picker.result().map((s) => s.index)).toEqual(expected);
          // Every step but the last spends its whole budget: at most max × n scores in all.
          expect(steps).toBeLessThanOrEqual(Math.ceil((max * thread.length) / budget));
        },
      ),
    );
  });

  it('refuses to summarise before every sentence is read', () => {
    const summarizer = new ThreadSummarizer(['One.', 'Two.'], index);
    summarizer.read(0, 1);
    expect(() => summarizer.summary(1)).toThrow(/read every sentence/);
  });
});
