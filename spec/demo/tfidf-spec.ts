import { idf, TfIdfIndexBuilder } from '../../examples/demo/memory/tfidf.js';

describe('TfIdfIndex', () => {
  const documents = [
    ['red', 'fox', 'red'],
    ['blue', 'fox'],
    ['green', 'owl'],
  ];
  const builder = new TfIdfIndexBuilder();
  for (const terms of documents) builder.add(terms);
  const index = builder.build();

  it('counts documents, not occurrences, for IDF (smoothed: ln((N+1)/(df+1)) + 1)', () => {
    expect(index.size).toBe(3);
    expect(index.vocabularySize).toBe(5);
    expect(index.idf('fox')).toBeCloseTo(Math.log(4 / 3) + 1, 12);
    expect(index.idf('red')).toBeCloseTo(Math.log(4 / 2) + 1, 12); // twice in one document
    // An unseen term is rarer than any: the highest weight, not a division by zero.
    expect(index.idf('zebra')).toBeCloseTo(Math.log(4) + 1, 12);
    expect(index.idf('zebra')).toBeGreaterThan(index.idf('owl'));
    expect(index.has('owl')).toBe(true);
    expect(index.has('zebra')).toBe(false);
  });

  it('gives each document the length of its tf × idf vector, and a text outside the corpus the same measure', () => {
    const [red, fox] = [idf(1, 3), idf(2, 3)];
    expect(index.norm(0)).toBeCloseTo(Math.hypot(2 * red, fox), 12);
    expect(index.norm(1)).toBeCloseTo(Math.hypot(idf(1, 3), fox), 12);
    expect(index.normOf(documents[0])).toBeCloseTo(index.norm(0), 12);
    expect(index.normOf(['zebra', 'fox'])).toBeCloseTo(Math.hypot(idf(0, 3), fox), 12);
    expect(index.normOf([])).toBe(0);
  });

  it('grows its buffer past the first 65,536 terms without losing any', () => {
    const big = new TfIdfIndexBuilder();
    for (let doc = 0; doc < 10_000; doc++) big.add(['a', 'b', 'c', 'd', 'e', 'f', 'g', `u${doc}`]);
    const built = big.build();
    expect(built.size).toBe(10_000);
    // The last document's norm needs its terms, read back from past the first buffer.
    expect(built.norm(9_999)).toBeCloseTo(
      Math.hypot(...Array(7).fill(idf(10_000, 10_000)), idf(1, 10_000)),
      9,
    );
  });
});
