import { from, Observable } from 'rxjs';
import type { MonoTypeOperatorFunction, ObservableInput, Subscription } from 'rxjs';

/**
 * Options of {@link catchUp}.
 */
export interface CatchUpConfig<T> {
  /**
   * The offset of a value: a safe integer, one more than the value before it. Called once per
   * value that arrives, from history and from the live source alike.
   */
  offsetOf: (value: T) => number;
  /**
   * The most live values held while history is read and emitted: a positive integer, or
   * `Infinity`. One more errors the output with a {@link CatchUpOverflowError}. Live values whose
   * offset was already emitted are dropped on arrival and never count. Default 10,000.
   */
  maxBuffered?: number;
  /**
   * Called once with the last offset emitted, when history has completed and the held live
   * values are emitted: from then on the output follows the live source directly. Not called
   * if the output errors or is unsubscribed first.
   */
  onCaughtUp?: (last: number) => void;
}

/**
 * The error {@link catchUp} emits when a value's offset skips over offsets that were never
 * emitted: the values between `after` and `next` are missing from both history and the live
 * source.
 */
export class OffsetGapError extends Error {
  override readonly name = 'OffsetGapError';

  /**
   * @param after The last offset emitted: resume from here.
   * @param next The offset that arrived instead of `after + 1`.
   */
  constructor(
    readonly after: number,
    readonly next: number,
  ) {
    super(`catchUp: offset ${next} arrived after ${after}; ${after + 1} is missing`);
  }
}

/**
 * The error {@link catchUp} emits when more than `maxBuffered` live values arrive while history
 * is being read.
 */
export class CatchUpOverflowError extends Error {
  override readonly name = 'CatchUpOverflowError';

  /**
   * @param maxBuffered The most live values the operator could hold.
   */
  constructor(readonly maxBuffered: number) {
    super(`catchUp: more than ${maxBuffered} live values arrived while history was read`);
  }
}

const DEFAULT_MAX_BUFFERED = 10_000;

/** A live value held during catch-up, with its offset, read once on arrival. */
interface Held<T> {
  readonly value: T;
  readonly offset: number;
}

/**
 * Emits the values after offset `after`, read first from history and then from the live
 * source, exactly once each and in offset order.
 *
 * <span class="informal">Resume a stream: subscribe to the live feed, read what was missed,
 * and splice the two together where they overlap, with no duplicate and no hole.</span>
 *
 * The source is the live feed. It is subscribed first and its values are held; then
 * `history(after)` is subscribed and its values are emitted. When history completes, the held
 * live values are emitted, and from then on live values pass straight through. All along, the
 * output is exactly the values with offsets `after + 1`, `after + 2`, …: a value whose offset
 * was already emitted is a duplicate and is skipped (history and live feed overlap by design),
 * and a value whose offset is more than one past the last emitted is a hole: the output errors
 * with an {@link OffsetGapError} that says where to resume.
 *
 * The caller must make sure the live feed is established by the time the source's `subscribe`
 * returns, and that `history(after)` emits every value up to at least the last one published
 * before that moment (page through a bounded history inside `history`, with `expand` for
 * instance). Then history and live feed overlap and every offset is in one or the other. This
 * is why a hole found while emitting the held live values is not patched by reading history a
 * second time: it means either that `history` stopped short of the live feed (a caller's bug
 * that a second read would hide) or that the live feed lost values, which can happen just as
 * well after catch-up. Either way the consumer must resume from `error.after`, which it can do
 * with this very operator.
 *
 * `onCaughtUp(last)` is called once, when history has completed and the held values are
 * emitted. If the live source completes before that, the output completes after history and
 * the held values are emitted (and `onCaughtUp` is called); after that, with the source. An
 * error from history or the live source errors the output at once, and the held values are
 * discarded, as they are on unsubscribe, which tears down both subscriptions.
 *
 * Reentrancy: a downstream `next` may push into the live source synchronously. While history
 * is read or the held values are emitted, such a value is held behind the others; after
 * catch-up it is emitted at once, like any live value.
 *
 * The operator schedules nothing: it reacts to the live source and to history only.
 *
 * ## Example
 *
 * Resume a topic after offset 41: follow its live feed, read what was missed from its store
 *
 * ```ts
 * import { catchUp } from 'ws-outbox/operators';
 *
 * const resumed$ = live$.pipe(
 *   catchUp(41, (after) => store.readAfter('room:lobby', after), {
 *     offsetOf: (publication) => publication.offset,
 *     onCaughtUp: (last) => console.log(`live from offset ${last}`),
 *   }),
 * );
 * ```
 *
 * ```
 * live:     -3-4------5-6-|       subscribed first: 3 and 4 are held
 * history:  ---1-2-3|             subscribed second: history(0)
 *           catchUp(0, () => history, { offsetOf: (n) => n })
 * result:   ---1-2-34-5-6-|       3 is emitted once; caught up at 4, then live
 * ```
 *
 * @param after The last offset the consumer already has; 0 for everything. A non-negative
 * safe integer.
 * @param history Called with `after` once per subscription, after the source was subscribed:
 * the values after that offset, oldest first, then completes.
 * @param config `offsetOf`, `maxBuffered` and `onCaughtUp`; see {@link CatchUpConfig}. A throw
 * inside `offsetOf`, `history` or `onCaughtUp` errors the output.
 * @returns A function that returns an Observable of the values with offsets `after + 1`,
 * `after + 2`, … in order.
 * @throws {RangeError} When `after` or `maxBuffered` is out of range.
 * @throws {TypeError} When `history` or `offsetOf` is not a function.
 */
export function catchUp<T>(
  after: number,
  history: (after: number) => ObservableInput<T>,
  config: CatchUpConfig<T>,
): MonoTypeOperatorFunction<T> {
  if (!Number.isSafeInteger(after) || after < 0) {
    throw new RangeError(`catchUp: after must be a non-negative safe integer, got ${after}`);
  }
  const { offsetOf, maxBuffered = DEFAULT_MAX_BUFFERED, onCaughtUp } = config;
  if (typeof history !== 'function') throw new TypeError('catchUp: history must be a function');
  if (typeof offsetOf !== 'function') throw new TypeError('catchUp: offsetOf must be a function');
  if (!(maxBuffered >= 1) || (!Number.isInteger(maxBuffered) && maxBuffered !== Infinity)) {
    throw new RangeError(
      `catchUp: maxBuffered must be a positive integer or Infinity, got ${maxBuffered}`,
    );
  }

  const offsetOfValue = (value: T): number => {
    const offset = offsetOf(value);
    if (!Number.isSafeInteger(offset)) {
      throw new TypeError(`catchUp: offsetOf returned ${offset}, not a safe integer`);
    }
    return offset;
  };

  return (source) =>
    new Observable<T>((subscriber) => {
      let last = after;
      // The live values held until history has been emitted, and the index of the next one to
      // emit; `null` once caught up, when live values pass straight through.
      let held: Held<T>[] | null = [];
      let next = 0;
      let sourceCompleted = false;

      const emitInOrder = (value: T, offset: number): void => {
        if (offset <= last) return;
        if (offset !== last + 1) throw new OffsetGapError(last, offset);
        last = offset;
        subscriber.next(value);
      };

      const hold = (queue: Held<T>[], value: T, offset: number): void => {
        // Already emitted by history: holding it would only cost memory.
        if (offset <= last) return;
        if (queue.length - next >= maxBuffered) throw new CatchUpOverflowError(maxBuffered);
        queue.push({ value, offset });
      };

      // The queue is read by index, so a value pushed from inside a downstream `next` lands
      // behind the others and is emitted by this same loop, in order.
      const emitHeld = (queue: Held<T>[]): void => {
        while (next < queue.length && !subscriber.closed) {
          const { value, offset } = queue[next];
          next++;
          emitInOrder(value, offset);
        }
        if (subscriber.closed) return;
        held = null;
        onCaughtUp?.(last);
        if (sourceCompleted) subscriber.complete();
      };

      const sourceSubscription = source.subscribe({
        next: (value) => {
          // A synchronous source may keep emitting after the output closed.
          if (subscriber.closed) return;
          try {
            const offset = offsetOfValue(value);
            if (held) hold(held, value, offset);
            else emitInOrder(value, offset);
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceCompleted = true;
          if (!held) subscriber.complete();
        },
      });

      let historySubscription: Subscription | undefined;
      if (!subscriber.closed) {
        try {
          historySubscription = from(history(after)).subscribe({
            next: (value) => {
              if (subscriber.closed) return;
              try {
                emitInOrder(value, offsetOfValue(value));
              } catch (error) {
                subscriber.error(error);
              }
            },
            error: (error: unknown) => subscriber.error(error),
            complete: () => {
              try {
                if (held) emitHeld(held);
              } catch (error) {
                subscriber.error(error);
              }
            },
          });
        } catch (error) {
          subscriber.error(error);
        }
      }

      return () => {
        sourceSubscription.unsubscribe();
        historySubscription?.unsubscribe();
        held = null;
      };
    });
}
