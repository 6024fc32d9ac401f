/** An item kept by {@link TopK}. */
export interface Ranked {
  readonly index: number;
  readonly score: number;
}

/**
 * Keeps the `k` best of a stream of scores: a min-heap of size `k`, so a scan of `n` items costs
 * `O(n log k)` and `O(k)` memory whatever `n`.
 *
 * Ties go to the lower index, so a ranking is reproducible.
 */
export class TopK {
  private readonly heap: Ranked[] = [];

  /** @param k How many to keep, at least 1. */
  constructor(private readonly k: number) {
    if (!(Number.isInteger(k) && k >= 1))
      throw new RangeError('TopK: k must be a positive integer');
  }

  /** Offers an item; kept if it beats the worst of those held. */
  offer(index: number, score: number): void {
    const heap = this.heap;
    if (heap.length < this.k) {
      heap.push({ index, score });
      this.up(heap.length - 1);
    } else if (worse(heap[0], { index, score })) {
      heap[0] = { index, score };
      this.down(0);
    }
  }

  /** The items held, best first. */
  sorted(): Ranked[] {
    return [...this.heap].sort((a, b) => (worse(a, b) ? 1 : -1));
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!worse(heap[i], heap[parent])) return;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      let worst = i;
      for (const child of [2 * i + 1, 2 * i + 2]) {
        if (child < heap.length && worse(heap[child], heap[worst])) worst = child;
      }
      if (worst === i) return;
      [heap[i], heap[worst]] = [heap[worst], heap[i]];
      i = worst;
    }
  }
}

/** Whether `a` ranks below `b`: a lower score, or the same score and a higher index. */
function worse(a: Ranked, b: Ranked): boolean {
  return a.score < b.score || (a.score === b.score && a.index > b.index);
}
