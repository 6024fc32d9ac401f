import { from, Observable } from 'rxjs';
import type { ObservableInput, Subscription } from 'rxjs';
import { OperationError, RejectionCode } from './errors.js';

/** Options of {@link ConcurrencyLimiter}. */
export interface ConcurrencyLimit {
  /** Tasks running at once: a positive integer. */
  readonly maxConcurrent: number;
  /**
   * Tasks waiting for a slot, in order; one more is refused at once. A non-negative integer,
   * default 0 (no queue).
   */
  readonly maxQueued?: number;
}

/** The message of the `busy` refusal. */
export const BUSY_MESSAGE = 'The server is busy with this kind of work; try again later.';

/**
 * A limit on how many tasks run at once, across every connection that shares it, with a small
 * queue that refuses at once when full.
 *
 * <span class="informal">The bound on work in total: per-connection limits do not stop a
 * thousand connections from starting one heavy search each. Under overload a few tasks run to
 * completion quickly and the rest are refused with `busy`, rather than every task sharing the
 * CPU until all of them miss their deadline.</span>
 *
 * Give one to `Operations.register(type, handler, { limiter })` for the CPU-bound operation types
 * (the same limiter for several types makes them share the slots). An operation refused by it
 * never reaches its handler and is answered with `{type:"error", code:"busy"}`; one that waits in
 * the queue counts against its deadline and can be cancelled while it waits.
 *
 * ```
 * limit(a) ──a1──a2──|
 * limit(b)        ──b1──|          maxConcurrent 1, maxQueued 1: b waits for a's slot,
 * limit(c) #                        c is refused at once (queue full)
 * ```
 *
 * ## Example
 *
 * ```ts
 * const cpu = new ConcurrencyLimiter({ maxConcurrent: 2, maxQueued: 8 });
 * operations
 *   .register('memory_search', memorySearch, { limiter: cpu })
 *   .register('memory_compress_preview', compressPreview, { limiter: cpu });
 * ```
 */
export class ConcurrencyLimiter {
  /** Tasks running at once. */
  readonly maxConcurrent: number;
  /** Tasks waiting at most. */
  readonly maxQueued: number;
  private active = 0;
  /** The start function of each waiting task, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<() => void>();
  private draining = false;

  /**
   * @param limit `maxConcurrent` and `maxQueued`.
   * @throws RangeError on a limit out of range.
   */
  constructor(limit: ConcurrencyLimit) {
    const { maxConcurrent, maxQueued = 0 } = limit;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new RangeError(
        `ConcurrencyLimiter: maxConcurrent must be a positive integer, got ${maxConcurrent}`,
      );
    }
    if (!Number.isInteger(maxQueued) || maxQueued < 0) {
      throw new RangeError(
        `ConcurrencyLimiter: maxQueued must be a non-negative integer, got ${maxQueued}`,
      );
    }
    this.maxConcurrent = maxConcurrent;
    this.maxQueued = maxQueued;
  }

  /** Tasks running now. */
  get running(): number {
    return this.active;
  }

  /** Tasks waiting for a slot now. */
  get queued(): number {
    return this.waiting.size;
  }

  /** Whether a task given now would run or wait, rather than be refused. */
  get hasRoom(): boolean {
    return this.active + this.waiting.size < this.maxConcurrent + this.maxQueued;
  }

  /**
   * Mirrors `source`, subscribed once a slot is free: at once if one is, else after the tasks
   * queued before it. The slot is released when the mirror completes, errors or is
   * unsubscribed; unsubscribing while it waits leaves the queue.
   *
   * @param source The task: its work should start on subscription (an Observable, `defer`),
   * since a Promise has started already.
   * @returns An Observable that errors at once with an `OperationError` of code `busy` when no
   * slot is free and the queue is full.
   */
  limit<T>(source: ObservableInput<T>): Observable<T> {
    // Converted here, so that a source `from` cannot take throws at the caller, not later inside
    // another task's release.
    const task = from(source);
    return new Observable<T>((subscriber) => {
      if (!this.hasRoom) {
        subscriber.error(new OperationError(BUSY_MESSAGE, { code: RejectionCode.Busy }));
        return undefined;
      }
      let state: 'waiting' | 'running' | 'done' = 'waiting';
      let inner: Subscription | undefined;
      const start = () => {
        state = 'running';
        inner = task.subscribe({
          next: (value) => subscriber.next(value),
          error: (error: unknown) => subscriber.error(error),
          complete: () => subscriber.complete(),
        });
      };
      this.waiting.add(start);
      this.drain();
      return () => {
        if (state === 'waiting') {
          this.waiting.delete(start);
        } else if (state === 'running') {
          inner?.unsubscribe();
          this.active--;
          this.drain();
        }
        state = 'done';
      };
    });
  }

  /**
   * Starts waiting tasks while slots are free. A loop rather than recursion: a task that ends
   * while it starts releases its slot into this same loop, however many do so in a row.
   */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (const start of this.waiting) {
        if (this.active >= this.maxConcurrent) break;
        this.waiting.delete(start);
        this.active++;
        start();
      }
    } finally {
      this.draining = false;
    }
  }
}
