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

  it('refuses to summarise before every sentence is read', () => {
    const summarizer = new ThreadSummarizer(['One.', 'Two.'], index);
    summarizer.read(0, 1);
    expect(() => summarizer.summary(1)).toThrow(/read every sentence/);
  });
});
