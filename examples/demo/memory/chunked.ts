import { Observable } from 'rxjs';
import { progress, result } from '../../../src/index.js';
import type { OperationEvent } from '../../../src/index.js';

/** What a chunked operation reports between chunks: `<type>.progress` data. */
export interface ScanProgress {
  /** Items done so far. */
  readonly scanned: number;
  /** Items in all. */
  readonly total: number;
}

/**
 * Runs `work` later, in another macrotask; returns a function that cancels it if it has not run.
 */
export type Defer = (work: () => void) => () => void;

/**
 * The default {@link Defer}: `setImmediate`, which runs after the pending I/O callbacks, so a
 * socket's frames (a `cancel` among them) are read between two chunks. A microtask or
 * `setTimeout(0)` would not do: the first starves I/O, the second waits ~1 ms a chunk.
 */
export const nextMacrotask: Defer = (work) => {
  const handle = setImmediate(work);
  return () => clearImmediate(handle);
};

/** Options of {@link chunked}. */
export interface ChunkedOptions<R> {
  /** Items to go through. */
  readonly total: number;
  /** Items per chunk: each chunk runs in one macrotask. */
  readonly chunkSize: number;
  /** Does items `[start, end)`. */
  readonly step: (start: number, end: number) => void;
  /**
   * Work left once every item is done, a slice per macrotask (no progress between them) until
   * it returns true: the part of a job whose size is not known in items.
   */
  readonly settle?: () => boolean;
  /** Builds the result once every item is done (and `settle` has returned true). */
  readonly finish: () => R;
  /** Stops the loop when it aborts, even if nobody unsubscribes. */
  readonly signal: AbortSignal;
  /** How the loop yields between chunks. Default {@link nextMacrotask}. */
  readonly defer?: Defer;
  /** Called after each chunk, for tests and benchmarks that count chunks. */
  readonly onChunk?: (done: ScanProgress) => void;
}

/**
 * A long loop as an operation handler's Observable: one chunk per macrotask, `progress({
 * scanned, total })` after each, then `settle()` one slice per macrotask if given, then
 * `result(finish())`.
 *
 * Unsubscribing (cancel, timeout, disconnect) cancels the next chunk, so the CPU use stops
 * within the chunk in progress; the signal is checked too, for callers that only abort. A
 * throw in `step` or `finish` errors the Observable.
 */
export function chunked<R>(
  options: ChunkedOptions<R>,
): Observable<OperationEvent<ScanProgress, R>> {
  const { total, chunkSize, step, settle, finish, signal, onChunk } = options;
  const defer = options.defer ?? nextMacrotask;
  return new Observable((subscriber) => {
    let done = 0;
    let cancelNext: (() => void) | undefined;
    const stopped = () => {
      if (signal.aborted && !subscriber.closed) subscriber.error(signal.reason);
      return subscriber.closed;
    };
    const runSettle = () => {
      cancelNext = undefined;
      if (stopped()) return;
      try {
        if (settle && !settle()) {
          cancelNext = defer(runSettle);
          return;
        }
        if (stopped()) return;
        subscriber.next(result(finish()));
        subscriber.complete();
      } catch (error) {
        subscriber.error(error);
      }
    };
    const runChunk = () => {
      cancelNext = undefined;
      if (stopped()) return;
      try {
        const end = Math.min(total, done + chunkSize);
        step(done, end);
        done = end;
        onChunk?.({ scanned: done, total });
        // `onChunk` or the work may have ended the operation (a timeout firing, say).
        if (stopped()) return;
        subscriber.next(progress({ scanned: done, total }));
        if (subscriber.closed) return;
        if (done < total) {
          cancelNext = defer(runChunk);
          return;
        }
        if (settle) {
          cancelNext = defer(runSettle);
          return;
        }
        subscriber.next(result(finish()));
        subscriber.complete();
      } catch (error) {
        subscriber.error(error);
      }
    };
    cancelNext = defer(runChunk);
    return () => cancelNext?.();
  });
}
