/**
 * Term statistics of a corpus, for TF-IDF weights: how many documents hold each term (so its
 * IDF) and the length of each document's TF-IDF vector (the cosine's denominator).
 *
 * Built once; documents scored later (chat messages) are weighed with the corpus's IDF, so the
 * weights do not drift as the demo runs.
 */
export class TfIdfIndex {
  /** Use {@link TfIdfIndexBuilder}. */
  constructor(
    private readonly documentFrequency: ReadonlyMap<string, number>,
    private readonly norms: Float64Array,
  ) {}

  /** Documents in the corpus. */
  get size(): number {
    return this.norms.length;
  }

  /** Distinct terms in the corpus. */
  get vocabularySize(): number {
    return this.documentFrequency.size;
  }

  /** Whether the corpus holds `term` (already lowercased, as `terms()` gives it). */
  has(term: string): boolean {
    return this.documentFrequency.has(term);
  }

  /** Every term of the corpus. */
  vocabulary(): IterableIterator<string> {
    return this.documentFrequency.keys();
  }

  /**
   * The IDF of a term: `ln((N + 1) / (df + 1)) + 1`, smoothed so that a term absent from the
   * corpus gets the highest weight rather than a division by zero.
   */
  idf(term: string): number {
    return idf(this.documentFrequency.get(term) ?? 0, this.size);
  }

  /** The length of corpus document `doc`'s TF-IDF vector. */
  norm(doc: number): number {
    return this.norms[doc];
  }

  /** The length of the TF-IDF vector of a text outside the corpus, with the corpus's IDF. */
  normOf(textTerms: readonly string[]): number {
    const counts = new Map<string, number>();
    for (const term of textTerms) counts.set(term, (counts.get(term) ?? 0) + 1);
    let sum = 0;
    for (const [term, count] of counts) sum += (count * this.idf(term)) ** 2;
    return Math.sqrt(sum);
  }
}

/** Smoothed IDF: `ln((N + 1) / (df + 1)) + 1`. */
export function idf(documentFrequency: number, documents: number): number {
  return Math.log((documents + 1) / (documentFrequency + 1)) + 1;
}

/**
 * Builds a {@link TfIdfIndex} from documents given one at a time as their terms.
 *
 * Two passes: the norms need the final IDF. The first keeps every document's term ids end to
 * end in one typed array, which the second reads back: far cheaper than tokenizing twice, and a
 * few bytes per term instead of an array of strings per document.
 */
export class TfIdfIndexBuilder {
  private readonly ids = new Map<string, number>();
  private readonly df: number[] = [];
  private readonly lastSeenIn: number[] = [];
  private postings = new Int32Array(1 << 16);
  private length = 0;
  private readonly starts: number[] = [0];

  /** Adds the next document. */
  add(documentTerms: readonly string[]): void {
    const doc = this.starts.length - 1;
    for (const term of documentTerms) {
      let id = this.ids.get(term);
      if (id === undefined) {
        id = this.df.length;
        this.ids.set(term, id);
        this.df.push(0);
        this.lastSeenIn.push(-1);
      }
      if (this.lastSeenIn[id] !== doc) {
        this.lastSeenIn[id] = doc;
        this.df[id]++;
      }
      if (this.length === this.postings.length) {
        const grown = new Int32Array(this.postings.length * 2);
        grown.set(this.postings);
        this.postings = grown;
      }
      this.postings[this.length++] = id;
    }
    this.starts.push(this.length);
  }

  /** The index of the documents added so far. */
  build(): TfIdfIndex {
    const { df, postings, starts } = this;
    const documents = starts.length - 1;
    const idfById = df.map((count) => idf(count, documents));
    const norms = new Float64Array(documents);
    const tf = new Float64Array(df.length);
    for (let doc = 0; doc < documents; doc++) {
      const [start, end] = [starts[doc], starts[doc + 1]];
      for (let p = start; p < end; p++) tf[postings[p]]++;
      let sum = 0;
      for (let p = start; p < end; p++) {
        const id = postings[p];
        if (tf[id] === 0) continue; // a repeated term, already counted
        const weight = tf[id] * idfById[id];
        sum += weight * weight;
        tf[id] = 0;
      }
      norms[doc] = Math.sqrt(sum);
    }
    const frequency = new Map<string, number>();
    for (const [term, id] of this.ids) frequency.set(term, df[id]);
    return new TfIdfIndex(frequency, norms);
  }
}
