import fc from 'fast-check';
import { TopK } from '../../examples/demo/memory/topK.js';

describe('TopK', () => {
  it('keeps the k best of any stream, best first, ties to the lower index', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 30 }),
        (scores, k) => {
          const top = new TopK(k);
          scores.forEach((score, index) => top.offer(index, score));
          const expected = scores
            .map((score, index) => ({ index, score }))
            .sort((a, b) => b.score - a.score || a.index - b.index)
            .slice(0, k);
          expect(top.sorted()).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses k < 1', () => {
    expect(() => new TopK(0)).toThrow(RangeError);
    expect(() => new TopK(1.5)).toThrow(RangeError);
  });
});
