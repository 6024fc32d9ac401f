import { Observable, Subscription } from 'rxjs';
import type { MonoTypeOperatorFunction } from 'rxjs';

/**
 * What {@link boundedBuffer} does with a value that arrives while it already
 * holds `capacity` values.
 *
 * - `'drop-newest'`: the arriving value is dropped (reported to `onDrop`).
 * - `'drop-oldest'`: the oldest held value is dropped (reported to `onDrop`)
 *   and the arriving value is held behind the others.
 * - `'error'`: the output errors with a {@link BufferOverflowError}.
 */
export type OverflowStrategy = 'drop-newest' | 'drop-oldest' | 'error';

/**
 * Options of {@link boundedBuffer}.
 */
export interface BoundedBufferConfig<T> {
  /**
   * The consumer's demand: `true` while it can take values, `false` while it
   * cannot. Until it first emits, the consumer counts as ready. Subscribed
   * before the source, so a synchronous initial value (a `BehaviorSubject`) is
   * known before the first source value. If it completes, its last state is
   * kept; if it errors, the output errors. Default: always ready.
   */
  ready?: Observable<boolean>;
  /** What to do when a value arrives while `capacity` values are held. Default `'drop-newest'`. */
  overflow?: OverflowStrategy;
  /**
   * Called with every value that will never be emitted: values dropped by
   * overflow, and values still held when the subscription ends (source error,
   * `ready` error, overflow error, unsubscribe, or completion while a completed
   * `ready` is stuck at `false`). Those teardown calls come after the output
   * has ended, so a throw there cannot error it: RxJS reports it as it does a
   * throwing `finalize` callback.
   */
  onDrop?: (value: T) => void;
  /** Called with the number of held values every time that number changes. */
  onSize?: (size: number) => void;
  /**
   * Values for which this returns true are never dropped by overflow: one that finds the
   * buffer full is held beyond `capacity`, and `'drop-oldest'` evicts the oldest value that
   * is not protected (or, if every held value is, drops the arriving unprotected one).
   * For the few values a consumer must see, such as the last event of an operation; what
   * they add to memory is bounded by how many the producer protects.
   */
  isProtected?: (value: T) => boolean;
}

/**
 * The error {@link boundedBuffer} emits when a value arrives while it holds
 * `capacity` values and its overflow strategy is `'error'`.
 */
export class BufferOverflowError extends Error {
  override readonly name = 'BufferOverflowError';

  /**
   * @param capacity The capacity of the buffer that overflowed.
   */
  constructor(readonly capacity: number) {
    super(`boundedBuffer overflowed: it already held its capacity of ${capacity} values`);
  }
}

/**
 * Holds values while the consumer is not ready, at most `capacity` of them, and
 * releases them in order as soon as it is ready again.
 *
 * <span class="informal">A bounded, order-keeping waiting room in front of a
 * consumer that reports its own readiness.</span>
 *
 * While `ready` says `true` and nothing is held, each source value passes
 * straight through, synchronously. While `ready` says `false`, values are held
 * in arrival order, up to `capacity`; what happens to one more depends on
 * `overflow`. When `ready` turns `true`, the held values are emitted one at a
 * time, in order, and readiness is checked again before each one, so a
 * consumer may set `ready` to `false` inside its own `next` handler and the
 * rest stay held. A value that arrives while others are held always goes
 * behind them.
 *
 * When the source completes, what is held is released once `ready` allows,
 * then the output completes. If `ready` has completed while `false`, the held
 * values can never be released: the output completes and reports them to
 * `onDrop`. When the source errors, the output errors at once and the held
 * values are reported to `onDrop`, as they are on unsubscribe, so that passed
 * plus dropped always equals what the source sent.
 *
 * The operator schedules nothing: it reacts to the source and to `ready` only.
 *
 * ## Example
 *
 * Feed a Node stream without letting its internal buffer grow past its
 * high-water mark, holding at most 512 messages meanwhile
 *
 * ```ts
 * import { BehaviorSubject, Subject } from 'rxjs';
 * import { boundedBuffer } from 'ws-outbox/operators';
 *
 * const messages = new Subject<string>();
 * const ready = new BehaviorSubject(true);
 * let dropped = 0;
 *
 * writable.on('drain', () => ready.next(true));
 * messages
 *   .pipe(boundedBuffer(512, { ready, onDrop: () => dropped++ }))
 *   .subscribe((message) => {
 *     if (!writable.write(message + '\n')) ready.next(false);
 *   });
 * ```
 *
 * ```
 * source:  -a--b-c-d-e-----f-|
 * ready:   t-f---------t------
 *          boundedBuffer(2, { ready })
 * result:  -a----------(bc)f-|    d and e go to onDrop ('drop-newest')
 * ```
 *
 * @param capacity The most values held at once: a positive integer, or
 * `Infinity` for no limit. Anything else throws a `RangeError` at once.
 * @param config The consumer's readiness, the overflow strategy, and the
 * `onDrop`, `onSize` and `isProtected` callbacks. A throw inside a callback
 * errors the output.
 * @returns A function that returns an Observable of the source values, in
 * order, less the dropped ones.
 */
export function boundedBuffer<T>(
  capacity: number,
  config: BoundedBufferConfig<T> = {},
): MonoTypeOperatorFunction<T> {
  if (!(capacity >= 1) || (!Number.isInteger(capacity) && capacity !== Infinity)) {
    throw new RangeError(
      `boundedBuffer: capacity must be a positive integer or Infinity, got ${capacity}`,
    );
  }
  const { ready, overflow = 'drop-newest', onDrop, onSize, isProtected } = config;
  if (overflow !== 'drop-newest' && overflow !== 'drop-oldest' && overflow !== 'error') {
    throw new RangeError(`boundedBuffer: unknown overflow strategy ${String(overflow)}`);
  }

  return (source) =>
    new Observable<T>((subscriber) => {
      const held = new Fifo<T>();
      let isReady = true;
      let readyCompleted = false;
      let sourceCompleted = false;
      // Set while the release loop runs: values and `ready` changes that arrive
      // from inside a downstream `next` are left to the loop, so nothing is
      // emitted twice or out of order.
      let releasing = false;

      const guarded = (work: () => void) => {
        try {
          work();
        } catch (err) {
          subscriber.error(err);
        }
      };

      const completeIfDone = () => {
        if (!sourceCompleted || releasing || subscriber.closed) return;
        // A completed `ready` stuck at false can never release what is held.
        if (held.length === 0 || (!isReady && readyCompleted)) subscriber.complete();
      };

      const release = () => {
        if (releasing) return;
        releasing = true;
        try {
          while (isReady && held.length > 0 && !subscriber.closed) {
            const value = held.shift();
            onSize?.(held.length);
            subscriber.next(value);
          }
        } finally {
          releasing = false;
        }
        completeIfDone();
      };

      const accept = (value: T) => {
        if (isReady && !releasing && held.length === 0) {
          subscriber.next(value);
        } else if (held.length < capacity || isProtected?.(value)) {
          held.push(value);
          onSize?.(held.length);
        } else if (overflow === 'drop-newest') {
          onDrop?.(value);
        } else if (overflow === 'drop-oldest') {
          const evicted = isProtected ? held.removeFirst((v) => !isProtected(v)) : held.shift();
          if (evicted === NOTHING) {
            onDrop?.(value);
            return;
          }
          held.push(value);
          onDrop?.(evicted);
        } else {
          onDrop?.(value);
          throw new BufferOverflowError(capacity);
        }
      };

      // Runs once the subscription has ended, so these callbacks cannot reach
      // `subscriber.error`; a throw surfaces as RxJS reports a throwing finalizer.
      const discardHeld = () => {
        if (held.length === 0) return;
        for (const value of held.takeAll()) onDrop?.(value);
        onSize?.(0);
      };

      let readySubscription: Subscription | undefined;
      if (ready) {
        readySubscription = ready.subscribe({
          next: (readyNow) => {
            if (subscriber.closed) return;
            isReady = readyNow;
            if (readyNow) guarded(release);
          },
          error: (err) => subscriber.error(err),
          complete: () => {
            readyCompleted = true;
            completeIfDone();
          },
        });
      }

      let sourceSubscription: Subscription | undefined;
      if (!subscriber.closed) {
        sourceSubscription = source.subscribe({
          next: (value) => {
            // A synchronous source may keep emitting after the output closed.
            if (subscriber.closed) return;
            // Inline rather than through `guarded`: this is the per-message hot path.
            try {
              accept(value);
            } catch (err) {
              subscriber.error(err);
            }
          },
          error: (err) => subscriber.error(err),
          complete: () => {
            sourceCompleted = true;
            completeIfDone();
          },
        });
      }

      return () => {
        readySubscription?.unsubscribe();
        sourceSubscription?.unsubscribe();
        discardHeld();
      };
    });
}

const NOTHING: unique symbol = Symbol('nothing');

/**
 * A FIFO queue with O(1) `shift`, so that releasing a large backlog (with
 * `capacity: Infinity`) stays linear.
 */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(value: T): void {
    this.items.push(value);
  }

  /** Only call when `length > 0`. */
  shift(): T {
    const value = this.items[this.head];
    // Let the value be collected once it has left the queue.
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return value;
  }

  /** Removes and returns the oldest value that `matches`, or NOTHING. */
  removeFirst(matches: (value: T) => boolean): T | typeof NOTHING {
    for (let i = this.head; i < this.items.length; i++) {
      if (matches(this.items[i])) {
        const [value] = this.items.splice(i, 1);
        return value;
      }
    }
    return NOTHING;
  }

  takeAll(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}
