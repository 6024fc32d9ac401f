import { asyncScheduler, Observable } from 'rxjs';
import type { OperatorFunction, SchedulerLike, Subscription } from 'rxjs';

/**
 * Options of {@link coalesce}.
 */
export interface CoalesceConfig<T = unknown> {
  /**
   * Emit the batch at once, and close its window, when it holds this many values.
   * A positive integer or `Infinity` (the default: only the deadline closes a window).
   */
  maxBatch?: number;
  /**
   * Send the first value after an idle period alone and at once, as `[value]`, then coalesce
   * the values that follow it. Default `false`.
   */
  leading?: boolean;
  /**
   * The scheduler that times the windows. Default `asyncScheduler`; `asapScheduler` with a
   * `windowMs` of `0` gives one batch per turn of the event loop.
   */
  scheduler?: SchedulerLike;
  /**
   * Values for which this returns true travel alone: the pending batch is emitted at once, then
   * `[value]`, and the window closes (with `leading`, a fresh one opens, as after a `maxBatch`
   * flush). For values that must not be merged with others, such as a frame built already.
   * A throw errors the output. Default: none.
   */
  isolate?: (value: T) => boolean;
}

/** One open window; its identity tells a live deadline from one already superseded. */
interface CoalesceWindow {
  timer: Subscription | null;
}

/**
 * Gathers the values that arrive within `windowMs` of the first one into a single array.
 *
 * <span class="informal">Like {@link https://rxjs.dev/api/operators/bufferTime | bufferTime},
 * but the window is a deadline opened by the first value after an idle period, not a fixed
 * tick, so a lone value waits at most `windowMs` and an idle source costs no timer at all.</span>
 *
 * While idle, the first value opens a window that closes `windowMs` later, through one
 * `scheduler.schedule` call. At the deadline the values gathered are emitted as one array and
 * the operator is idle again: the next value opens a new window. When a batch reaches
 * `maxBatch` it is emitted at once and its window closes.
 *
 * With `leading: true` the first value after idle is emitted alone, at once, and opens a
 * window; the values arriving in that window are emitted together at its deadline, and since
 * that batch was not empty a new window opens at the same moment. A window that closes empty
 * makes the operator idle again. A `maxBatch` flush also opens a fresh window at once. So sparse
 * traffic goes out with no added latency and dense traffic is coalesced, as `throttleTime` does
 * with `{ leading: true, trailing: true }`.
 *
 * With `isolate`, a value it picks ends the pending batch, which is emitted at once, and is
 * emitted alone right after it, so that order is kept around values that must travel alone.
 *
 * An empty array is never emitted, and every array emitted is a new one that the operator does
 * not touch again. When the source completes, the pending batch is emitted at once, then the
 * output completes; when it errors, the pending batch is discarded (as `bufferTime` does).
 * Unsubscribing cancels the pending deadline.
 *
 * With `windowMs` of `0` the deadline still goes through the scheduler, so values that arrive
 * synchronously together (before the scheduler runs) form one batch.
 *
 * ## Example
 *
 * Send the messages pushed within 25 ms of each other as one frame
 *
 * ```ts
 * import { Subject } from 'rxjs';
 * import { coalesce } from 'ws-outbox/operators';
 *
 * const outgoing = new Subject<object>();
 * outgoing
 *   .pipe(coalesce(25, { maxBatch: 512 }))
 *   .subscribe((batch) => ws.send(batch.map((m) => JSON.stringify(m)).join('\n')));
 * ```
 *
 * ```text
 * source:                          --a-b--------c-d-e-------f--|
 * coalesce(5):                     -------x----------y---------(z|)
 *                                    x = [a, b]  y = [c, d, e]  z = [f]
 *
 * source:                          --a-b--------c-d-e-f---------g--|
 * coalesce(5, { maxBatch: 2 }):    ----x----------y---z------------(w|)
 *                                    x = [a, b]  y = [c, d]  z = [e, f]  w = [g]
 *
 * source:                          --a-b-c-d-----------e-----|
 * coalesce(5, { leading: true }):  --x----y----z-------w-----|
 *                                    x = [a]  y = [b, c]  z = [d]  w = [e]
 *
 * source:                          --a-b-I-c-------|
 * coalesce(5, { isolate }):        ------(xy)---z--|
 *                                    x = [a, b]  y = [I]  z = [c]   (isolate picks I)
 * ```
 *
 * @see {@link https://rxjs.dev/api/operators/bufferTime | bufferTime}
 * @see {@link https://rxjs.dev/api/operators/throttleTime | throttleTime}
 *
 * @param windowMs How long a window stays open after the value that opened it, in the
 * scheduler's time unit (milliseconds by default). A finite number, `0` or more.
 * @param config `maxBatch`, `leading`, `scheduler` and `isolate`; see {@link CoalesceConfig}.
 * @returns A function that returns an Observable of non-empty arrays of the source's values, in
 * their order.
 * @throws {RangeError} When `windowMs` or `maxBatch` is out of range.
 */
export function coalesce<T>(
  windowMs: number,
  config: CoalesceConfig<T> = {},
): OperatorFunction<T, T[]> {
  const { maxBatch = Infinity, leading = false, scheduler = asyncScheduler, isolate } = config;
  if (typeof windowMs !== 'number' || !Number.isFinite(windowMs) || windowMs < 0) {
    throw new RangeError(
      `coalesce: windowMs must be a finite number >= 0, got ${String(windowMs)}`,
    );
  }
  if (maxBatch !== Infinity && !(Number.isInteger(maxBatch) && maxBatch >= 1)) {
    throw new RangeError(
      `coalesce: maxBatch must be a positive integer or Infinity, got ${String(maxBatch)}`,
    );
  }

  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let currentWindow: CoalesceWindow | null = null;

      // Hands the batch over and starts a new one before anyone downstream can run, so a value
      // pushed back in from a downstream `next` lands in the next batch, never in this one.
      const takeBatch = (): T[] => {
        const taken = batch;
        batch = [];
        return taken;
      };

      const cancelWindow = (): void => {
        currentWindow?.timer?.unsubscribe();
        currentWindow = null;
      };

      const closeAtDeadline = (window?: CoalesceWindow): void => {
        // A scheduler whose cancellation is lax could still run a superseded deadline.
        if (window !== currentWindow) return;
        currentWindow = null;
        if (batch.length === 0) return;
        const emitted = takeBatch();
        if (leading) openWindow();
        subscriber.next(emitted);
      };

      const openWindow = (): void => {
        const window: CoalesceWindow = { timer: null };
        // Set before scheduling: a scheduler may run due work inside `schedule` (queueScheduler
        // with a delay of 0), and that deadline must find its window open.
        currentWindow = window;
        window.timer = scheduler.schedule(closeAtDeadline, windowMs, window);
      };

      const subscription = source.subscribe({
        next: (value) => {
          // A synchronous source keeps emitting after a downstream unsubscribe until its
          // subscribe call returns; gathering those values would only hold memory.
          if (subscriber.closed) return;
          let alone = false;
          if (isolate) {
            try {
              alone = isolate(value);
            } catch (error) {
              subscriber.error(error);
              return;
            }
          }
          if (alone) {
            const pending = batch.length > 0 ? takeBatch() : undefined;
            cancelWindow();
            if (leading) openWindow();
            if (pending) subscriber.next(pending);
            // The pending batch's consumer may have unsubscribed this output.
            if (!subscriber.closed) subscriber.next([value]);
            return;
          }
          if (leading && currentWindow === null) {
            openWindow();
            subscriber.next([value]);
            return;
          }
          batch.push(value);
          if (batch.length >= maxBatch) {
            const emitted = takeBatch();
            cancelWindow();
            if (leading) openWindow();
            subscriber.next(emitted);
          } else if (currentWindow === null) {
            openWindow();
          }
        },
        // On error and complete, the teardown below discards what is left and cancels the
        // deadline.
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          if (batch.length > 0) subscriber.next(takeBatch());
          subscriber.complete();
        },
      });

      return () => {
        subscription.unsubscribe();
        cancelWindow();
        batch = [];
      };
    });
}
