import fc from 'fast-check';
import { compileQuery, MAX_QUERY_TERMS, scoreText } from '../../examples/demo/memory/similarity.js';
import { TfIdfIndexBuilder } from '../../examples/demo/memory/tfidf.js';
import type { TfIdfIndex } from '../../examples/demo/memory/tfidf.js';
import { searchKey, terms } from '../../examples/demo/memory/text.js';

function indexOf(texts: readonly string[]): TfIdfIndex {
  const builder = new TfIdfIndexBuilder();
  for (const text of texts) builder.add(terms(text));
  return builder.build();
}

/** Scores a text as the search does: by its search key and its TF-IDF norm. */
function score(index: TfIdfIndex, query: string, text: string): number {
  const textTerms = terms(text);
  return scoreText(compileQuery(query, index), searchKey(textTerms), index.normOf(textTerms));
}

const corpus = [
  'Alice fixed the flaky cache for orion on monday.',
  'On tuesday we measured the saffron and the risotto with lea.',
  'Remember that bruno prefers the sourdough over the rye.',
  'The crispy pastry took 12 hours in may.',
  'Hugo asked about the saffron of vega twice this week.',
  'That trail was steep at the border.',
];
const index = indexOf(corpus);

describe('compileQuery', () => {
  it('keeps distinct terms of two characters or more, rarest first, at most eight', () => {
    const query = compileQuery('the saffron the a risotto SAFFRON', index);
    expect(query.terms.map((t) => t.term)).toEqual(['risotto', 'saffron', 'the']);
    const many = compileQuery('aa bb cc dd ee ff gg hh ii jj the', index);
    expect(many.terms).toHaveLength(MAX_QUERY_TERMS);
    expect(many.terms.map((t) => t.term)).not.toContain('the'); // the commonest goes first
    expect(compileQuery('a b c !', index).terms).toEqual([]);
  });

  it('anchors a short term to a whole word with no edits, a longer one to a word start with 1 or 2', () => {
    const query = compileQuery('at trail pipelines', index);
    const byTerm = new Map(query.terms.map((t) => [t.term, t]));
    expect(byTerm.get('at')).toMatchObject({ pattern: ' at ', maxEdits: 0 });
    expect(byTerm.get('trail')).toMatchObject({ pattern: ' trail', maxEdits: 1 });
    expect(byTerm.get('pipelines')).toMatchObject({ pattern: ' pipelines', maxEdits: 2 });
  });
});

describe('scoreText', () => {
  it('is 1 for a text made of exactly the query terms, 0 for a text with none', () => {
    expect(score(index, 'saffron risotto', 'risotto saffron')).toBeCloseTo(1, 12);
    expect(score(index, 'saffron risotto', 'Alice fixed the flaky cache.')).toBe(0);
  });

  it('ranks a text with more of the query, and rarer parts of it, higher', () => {
    const both = score(index, 'saffron risotto', corpus[1]);
    const one = score(index, 'saffron risotto', corpus[4]);
    expect(both).toBeGreaterThan(one);
    expect(one).toBeGreaterThan(0);
  });

  it('forgives a typo, a swap or a cut word, for less than an exact match', () => {
    const exact = score(index, 'saffron', corpus[1]);
    for (const typo of ['safron', 'safforn', 'saffr']) {
      const fuzzy = score(index, typo, corpus[1]);
      expect(fuzzy).toBeGreaterThan(0);
      expect(fuzzy).toBeLessThanOrEqual(exact);
    }
    expect(score(index, 'sfrn', corpus[1])).toBe(0); // three edits: too many
  });

  it('matches a short term as a whole word only', () => {
    expect(score(index, 'at', corpus[5])).toBeGreaterThan(0); // "steep at the border"
    expect(score(index, 'at', 'that what flat')).toBe(0);
  });

  it('stays within [0, 1] for any query and text', () => {
    const word = fc.constantFrom(
      'saffron',
      'safron',
      'at',
      'the',
      'cat',
      'category',
      'xyzzy',
      'fox',
    );
    const sentence = fc.array(word, { maxLength: 8 }).map((words) => words.join(' '));
    fc.assert(
      fc.property(sentence, sentence, (query, text) => {
        const value = score(index, query, text);
        return value >= 0 && value <= 1 + 1e-12;
      }),
      { numRuns: 1_000 },
    );
  });
});
