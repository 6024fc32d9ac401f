import fc from 'fast-check';
import {
  BehaviorSubject,
  Observable,
  Subject,
  UnsubscriptionError,
  defer,
  mergeMap,
  of,
  startWith,
  take,
  tap,
  throwError,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { BufferOverflowError, boundedBuffer } from '../../operators/boundedBuffer.js';
import type { OverflowStrategy } from '../../operators/boundedBuffer.js';

const readyValues = { t: true, f: false };

/** Collects what the callbacks see, so a test can assert on the exact call sequences. */
function recorder<T>() {
  const dropped: T[] = [];
  const sizes: number[] = [];
  return {
    dropped,
    sizes,
    onDrop: (value: T) => dropped.push(value),
    onSize: (size: number) => sizes.push(size),
  };
}

describe('boundedBuffer', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  describe('creation', () => {
    it.each([0, -1, 1.5, NaN, -Infinity])(
      'should throw a RangeError for capacity %p',
      (capacity) => {
        expect(() => boundedBuffer(capacity)).toThrow(RangeError);
      },
    );

    it('should accept a positive integer capacity and Infinity', () => {
      expect(() => boundedBuffer(1)).not.toThrow();
      expect(() => boundedBuffer(512)).not.toThrow();
      expect(() => boundedBuffer(Infinity)).not.toThrow();
    });

    it('should throw a RangeError for an unknown overflow strategy', () => {
      const overflow = 'drop-random' as unknown as OverflowStrategy;
      expect(() => boundedBuffer(1, { overflow })).toThrow(RangeError);
    });
  });

  describe('BufferOverflowError', () => {
    it('should be a typed Error that carries the capacity', () => {
      const error = new BufferOverflowError(512);
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(BufferOverflowError);
      expect(error.name).toBe('BufferOverflowError');
      expect(error.capacity).toBe(512);
      expect(error.message).toContain('512');
    });
  });

  it('should hold values while not ready and release them in order when ready turns true', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('    -a--b-c-d-e-----f-|');
      const e1subs = '    ^-----------------!';
      const ready = hot(' t-f---------t------', readyValues);
      const readySubs = ' ^-----------------!';
      const expected = '  -a----------(bc)f-|';
      const { dropped, sizes, onDrop, onSize } = recorder<string>();

      expectObservable(e1.pipe(boundedBuffer(2, { ready, onDrop, onSize }))).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
      expectSubscriptions(ready.subscriptions).toBe(readySubs);
      testScheduler.flush();
      expect(dropped).toEqual(['d', 'e']);
      expect(sizes).toEqual([1, 2, 1, 0]);
    });
  });

  it('should mirror the source when there is no ready, holding nothing', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('  --a--b--c--d--|');
      const e1subs = '  ^-------------!';
      const expected = '--a--b--c--d--|';
      const { dropped, sizes, onDrop, onSize } = recorder<string>();

      expectObservable(e1.pipe(boundedBuffer(1, { onDrop, onSize }))).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
      testScheduler.flush();
      expect(dropped).toEqual([]);
      expect(sizes).toEqual([]);
    });
  });

  it('should pass a value straight through, synchronously, while ready and nothing is held', () => {
    const source = new Subject<number>();
    const ready = new BehaviorSubject(true);
    const received: number[] = [];
    const { sizes, onSize } = recorder<number>();
    source.pipe(boundedBuffer(4, { ready, onSize })).subscribe((value) => received.push(value));

    source.next(1);
    expect(received).toEqual([1]);
    source.next(2);
    expect(received).toEqual([1, 2]);
    expect(sizes).toEqual([]);
  });

  it('should handle never', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const e1 = cold('  -');
      const e1subs = '   ^';
      const ready = hot('f-t-f-t', readyValues);
      const expected = ' -';

      expectObservable(e1.pipe(boundedBuffer(3, { ready }))).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should handle empty', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e1 = cold(' |');
      const e1subs = '  (^!)';
      const expected = '|';

      expectObservable(e1.pipe(boundedBuffer(3))).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should complete at once when the source completes with nothing held, even if not ready', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('    --|');
      const ready = hot(' f---', readyValues);
      const readySubs = ' ^-!';
      const expected = '  --|';

      expectObservable(e1.pipe(boundedBuffer(3, { ready }))).toBe(expected);
      expectSubscriptions(ready.subscriptions).toBe(readySubs);
    });
  });

  it('should pass one value', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const e1 = cold('   --a--|');
      const e1subs = '    ^----!';
      const ready = hot(' t', readyValues);
      const expected = '  --a--|';

      expectObservable(e1.pipe(boundedBuffer(1, { ready }))).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should pass many values while ready, and hold many while not', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const e1 = hot('    -ab-cd-ef-gh---------|');
      const ready = hot(' t--f---------t--------', readyValues);
      const expected = '  -ab----------(cdefgh)|';

      expectObservable(e1.pipe(boundedBuffer(10, { ready }))).toBe(expected);
    });
  });

  it('should treat the consumer as ready until ready first emits', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const e1 = hot('    -a---b--|');
      const ready = hot(' ---f-----t', readyValues);
      const expected = '  -a-------(b|)';

      expectObservable(e1.pipe(boundedBuffer(3, { ready }))).toBe(expected);
    });
  });

  it('should subscribe to ready before the source, so a synchronous initial false holds the first values', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const readyHot = hot('-----t', readyValues);
      const readySubs = '  ^----!';
      const expected = '  -----(abc|)';
      const subscribed: string[] = [];
      const source = defer(() => {
        subscribed.push('source');
        return of('a', 'b', 'c');
      });
      const ready = defer(() => {
        subscribed.push('ready');
        return readyHot.pipe(startWith(false));
      });

      expectObservable(source.pipe(boundedBuffer(3, { ready }))).toBe(expected);
      expectSubscriptions(readyHot.subscriptions).toBe(readySubs);
      testScheduler.flush();
      expect(subscribed).toEqual(['ready', 'source']);
    });
  });

  it('should ignore repeated equal ready values', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const e1 = hot('    -a-b-----c---|');
      const ready = hot(' f-f-t-t-f-f-t', readyValues);
      const expected = '  ----(ab)----c|';
      const { sizes, onSize } = recorder<string>();

      expectObservable(e1.pipe(boundedBuffer(3, { ready, onSize }))).toBe(expected);
      testScheduler.flush();
      expect(sizes).toEqual([1, 2, 1, 0, 1, 0]);
    });
  });

  it('should stay ready when ready completes while true', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('    -a---b--|');
      const ready = hot(' t--|', readyValues);
      const readySubs = ' ^--!';
      const expected = '  -a---b--|';

      expectObservable(e1.pipe(boundedBuffer(1, { ready }))).toBe(expected);
      expectSubscriptions(ready.subscriptions).toBe(readySubs);
    });
  });

  it('should keep holding when ready completes while false, and on complete report the held values as dropped', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('    -a---b---|');
      const e1subs = '    ^--------!';
      const ready = hot(' f--|', readyValues);
      const expected = '  ---------|';
      const { dropped, sizes, onDrop, onSize } = recorder<string>();

      expectObservable(e1.pipe(boundedBuffer(3, { ready, onDrop, onSize }))).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
      testScheduler.flush();
      expect(dropped).toEqual(['a', 'b']);
      expect(sizes).toEqual([1, 2, 0]);
    });
  });

  it('should complete when ready completes while false after the source completed while holding', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('    -a-|');
      const ready = hot(' f-----|', readyValues);
      const readySubs = ' ^-----!';
      const expected = '  ------|';
      const { dropped, sizes, onDrop, onSize } = recorder<string>();

      expectObservable(e1.pipe(boundedBuffer(3, { ready, onDrop, onSize }))).toBe(expected);
      expectSubscriptions(ready.subscriptions).toBe(readySubs);
      testScheduler.flush();
      expect(dropped).toEqual(['a']);
      expect(sizes).toEqual([1, 0]);
    });
  });

  it('should release the held values once ready, then complete, when the source completes while holding', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('    -a-b-|');
      const e1subs = '    ^----!';
      const ready = hot(' t-f-----t', readyValues);
      const readySubs = ' ^-------!';
      const expected = '  -a------(b|)';
      const { dropped, onDrop } = recorder<string>();

      expectObservable(e1.pipe(boundedBuffer(3, { ready, onDrop }))).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
      expectSubscriptions(ready.subscriptions).toBe(readySubs);
      testScheduler.flush();
      expect(dropped).toEqual([]);
    });
  });

  it('should raise errors', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('  --a--#');
      const e1subs = '  ^----!';
      const expected = '--a--#';

      expectObservable(e1.pipe(boundedBuffer(3))).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should raise a synchronous error', () => {
    testScheduler.run(({ expectObservable }) => {
      const error = new Error('too bad');
      const e1 = throwError(() => error);

      expectObservable(e1.pipe(boundedBuffer(3))).toBe('#', undefined, error);
    });
  });

  it('should error at once when the source errors while holding, and report the held values as dropped', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('    -a-b-#');
      const ready = hot(' f------t', readyValues);
      const readySubs = ' ^----!';
      const expected = '  -----#';
      const { dropped, sizes, onDrop, onSize } = recorder<string>();

      expectObservable(e1.pipe(boundedBuffer(3, { ready, onDrop, onSize }))).toBe(expected);
      expectSubscriptions(ready.subscriptions).toBe(readySubs);
      testScheduler.flush();
      expect(dropped).toEqual(['a', 'b']);
      expect(sizes).toEqual([1, 2, 0]);
    });
  });

  it('should error when ready errors, unsubscribe the source and report the held values as dropped', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('    -a-b------|');
      const e1subs = '    ^----!';
      const ready = hot(' f----#', readyValues, new Error('socket gone'));
      const expected = '  -----#';
      const { dropped, sizes, onDrop, onSize } = recorder<string>();

      expectObservable(e1.pipe(boundedBuffer(3, { ready, onDrop, onSize }))).toBe(
        expected,
        undefined,
        new Error('socket gone'),
      );
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
      testScheduler.flush();
      expect(dropped).toEqual(['a', 'b']);
      expect(sizes).toEqual([1, 2, 0]);
    });
  });

  it('should not subscribe to the source when ready errors synchronously', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e1 = cold('a|');
      const ready = throwError(() => new Error('no socket'));

      expectObservable(e1.pipe(boundedBuffer(3, { ready }))).toBe(
        '#',
        undefined,
        new Error('no socket'),
      );
      expectSubscriptions(e1.subscriptions).toBe([]);
    });
  });

  describe('overflow', () => {
    it("should drop the arriving value with 'drop-newest', the default", () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const e1 = hot('    -a-b-c-d--------|');
        const ready = hot(' f---------t', readyValues);
        const expected = '  ----------(ab)--|';
        const { dropped, sizes, onDrop, onSize } = recorder<string>();

        expectObservable(e1.pipe(boundedBuffer(2, { ready, onDrop, onSize }))).toBe(expected);
        testScheduler.flush();
        expect(dropped).toEqual(['c', 'd']);
        expect(sizes).toEqual([1, 2, 1, 0]);
      });
    });

    it("should drop the oldest held value with 'drop-oldest'", () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const e1 = hot('    -a-b-c-d--------|');
        const ready = hot(' f---------t', readyValues);
        const expected = '  ----------(cd)--|';
        const { dropped, sizes, onDrop, onSize } = recorder<string>();

        expectObservable(
          e1.pipe(boundedBuffer(2, { ready, overflow: 'drop-oldest', onDrop, onSize })),
        ).toBe(expected);
        testScheduler.flush();
        expect(dropped).toEqual(['a', 'b']);
        expect(sizes).toEqual([1, 2, 1, 0]);
      });
    });

    it("should error with a BufferOverflowError with 'error'", () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('    -a-b-c-d--------|');
        const e1subs = '    ^----!';
        const ready = hot(' f---------t', readyValues);
        const readySubs = ' ^----!';
        const expected = '  -----#';
        const { dropped, sizes, onDrop, onSize } = recorder<string>();

        expectObservable(
          e1.pipe(boundedBuffer(2, { ready, overflow: 'error', onDrop, onSize })),
        ).toBe(expected, undefined, new BufferOverflowError(2));
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
        expectSubscriptions(ready.subscriptions).toBe(readySubs);
        testScheduler.flush();
        // The arriving value first, then the held ones at teardown.
        expect(dropped).toEqual(['c', 'a', 'b']);
        expect(sizes).toEqual([1, 2, 0]);
      });
    });

    it("should emit an instance of BufferOverflowError with 'error'", () => {
      const source = new Subject<number>();
      const errors: unknown[] = [];
      source
        .pipe(boundedBuffer(1, { ready: of(false), overflow: 'error' }))
        .subscribe({ error: (err) => errors.push(err) });

      source.next(1);
      expect(errors).toEqual([]);
      source.next(2);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(BufferOverflowError);
      expect((errors[0] as BufferOverflowError).capacity).toBe(1);
      expect(source.observed).toBe(false);
    });

    it('should never overflow with capacity Infinity', () => {
      const source = new Subject<number>();
      const ready = new BehaviorSubject(false);
      const received: number[] = [];
      const { dropped, onDrop } = recorder<number>();
      source.pipe(boundedBuffer(Infinity, { ready, onDrop })).subscribe((v) => received.push(v));

      const input = Array.from({ length: 5000 }, (_, i) => i);
      input.forEach((value) => source.next(value));
      expect(received).toEqual([]);
      ready.next(true);
      expect(received).toEqual(input);
      expect(dropped).toEqual([]);
    });
  });

  describe('isProtected', () => {
    // Upper-case letters stand for protected values (an operation's terminal event, say).
    const isProtected = (value: string) => value === value.toUpperCase();

    it("should hold a protected value beyond capacity with 'drop-newest'", () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const e1 = hot('    -a-b-C-d-E------|');
        const ready = hot(' f---------t', readyValues);
        const expected = '  ----------(abCE)|';
        const { dropped, sizes, onDrop, onSize } = recorder<string>();

        expectObservable(e1.pipe(boundedBuffer(2, { ready, onDrop, onSize, isProtected }))).toBe(
          expected,
        );
        testScheduler.flush();
        expect(dropped).toEqual(['d']);
        expect(sizes).toEqual([1, 2, 3, 4, 3, 2, 1, 0]);
      });
    });

    it("should evict the oldest unprotected value with 'drop-oldest'", () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const e1 = hot('    -A-b-c-d--------|');
        const ready = hot(' f---------t', readyValues);
        const expected = '  ----------(Ad)--|';
        const { dropped, onDrop } = recorder<string>();

        expectObservable(
          e1.pipe(boundedBuffer(2, { ready, overflow: 'drop-oldest', onDrop, isProtected })),
        ).toBe(expected);
        testScheduler.flush();
        expect(dropped).toEqual(['b', 'c']);
      });
    });

    it("should drop the arriving value with 'drop-oldest' when every held value is protected", () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const e1 = hot('    -A-B-c-D--------|');
        const ready = hot(' f---------t', readyValues);
        const expected = '  ----------(ABD)-|';
        const { dropped, onDrop } = recorder<string>();

        expectObservable(
          e1.pipe(boundedBuffer(2, { ready, overflow: 'drop-oldest', onDrop, isProtected })),
        ).toBe(expected);
        testScheduler.flush();
        expect(dropped).toEqual(['c']);
      });
    });

    it("should hold a protected value instead of erroring with 'error'", () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const e1 = hot('    -a-b-C-d--------|');
        const ready = hot(' f---------t', readyValues);
        const expected = '  -------#';

        expectObservable(e1.pipe(boundedBuffer(2, { ready, overflow: 'error', isProtected }))).toBe(
          expected,
          undefined,
          new BufferOverflowError(2),
        );
      });
    });

    it('should error the output when isProtected throws', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const e1 = hot('    -a-b-c--|');
        const ready = hot(' f', readyValues);
        const expected = '  -----#';
        const failing = () => {
          throw new Error('boom');
        };

        expectObservable(e1.pipe(boundedBuffer(2, { ready, isProtected: failing }))).toBe(
          expected,
          undefined,
          new Error('boom'),
        );
      });
    });
  });

  describe('callbacks', () => {
    it('should call onSize only when the held count changes', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        // a passes through, b and c are held, d overflows, e passes through.
        const e1 = hot('    -a--b-c-d-----e-|');
        const ready = hot(' t-f-------t-----', readyValues);
        const expected = '  -a--------(bc)e-|';
        const { sizes, onSize } = recorder<string>();

        expectObservable(e1.pipe(boundedBuffer(2, { ready, onSize }))).toBe(expected);
        testScheduler.flush();
        expect(sizes).toEqual([1, 2, 1, 0]);
      });
    });

    it('should send a throw inside onSize to the error channel', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const error = new Error('gauge broke');
        const e1 = hot('    -a-b---|');
        const e1subs = '    ^--!';
        const ready = hot(' f', readyValues);
        const expected = '  ---#';
        const { dropped, onDrop } = recorder<string>();
        const onSize = (size: number) => {
          if (size === 2) throw error;
        };

        expectObservable(e1.pipe(boundedBuffer(3, { ready, onDrop, onSize }))).toBe(
          expected,
          undefined,
          error,
        );
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
        testScheduler.flush();
        expect(dropped).toEqual(['a', 'b']);
      });
    });

    it('should send a throw inside onSize during a release to the error channel', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const error = new Error('gauge broke');
        const e1 = hot('    -a---|');
        const e1subs = '    ^-!';
        const ready = hot(' f-t', readyValues);
        const readySubs = ' ^-!';
        const expected = '  --#';
        const onSize = (size: number) => {
          if (size === 0) throw error;
        };

        expectObservable(e1.pipe(boundedBuffer(3, { ready, onSize }))).toBe(
          expected,
          undefined,
          error,
        );
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
        expectSubscriptions(ready.subscriptions).toBe(readySubs);
      });
    });

    it('should send a throw inside onDrop to the error channel', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const error = new Error('counter broke');
        const e1 = hot('    -a-b---|');
        const e1subs = '    ^--!';
        const ready = hot(' f', readyValues);
        const expected = '  ---#';
        const onDrop = (value: string) => {
          if (value === 'b') throw error;
        };

        expectObservable(e1.pipe(boundedBuffer(1, { ready, onDrop }))).toBe(
          expected,
          undefined,
          error,
        );
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should surface a throw inside onDrop at teardown as RxJS does for finalizers', () => {
      const source = new Subject<number>();
      const error = new Error('counter broke');
      const subscription = source
        .pipe(
          boundedBuffer(2, {
            ready: of(false),
            onDrop: () => {
              throw error;
            },
          }),
        )
        .subscribe();

      source.next(1);
      let thrown: unknown;
      try {
        subscription.unsubscribe();
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(UnsubscriptionError);
      expect((thrown as UnsubscriptionError).errors).toEqual([error]);
      expect(source.observed).toBe(false);
    });
  });

  describe('unsubscription', () => {
    it('should allow unsubscribing early and explicitly, report the held values and release nothing after', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('    -a-b-c-d---|');
        const e1subs = '    ^---!';
        const ready = hot(' t-f-----t', readyValues);
        const readySubs = ' ^---!';
        const unsub = '     ----!';
        const expected = '  -a---';
        const { dropped, sizes, onDrop, onSize } = recorder<string>();

        expectObservable(e1.pipe(boundedBuffer(3, { ready, onDrop, onSize })), unsub).toBe(
          expected,
        );
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
        expectSubscriptions(ready.subscriptions).toBe(readySubs);
        testScheduler.flush();
        expect(dropped).toEqual(['b']);
        expect(sizes).toEqual([1, 0]);
      });
    });

    it('should not break unsubscription chains when the result is unsubscribed explicitly', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('    -a-b-c-d---|');
        const e1subs = '    ^-----!';
        const ready = hot(' t-f-----t', readyValues);
        const readySubs = ' ^-----!';
        const unsub = '     ------!';
        const expected = '  -a-----';
        const { dropped, onDrop } = recorder<string>();

        const result = e1.pipe(
          mergeMap((x) => of(x)),
          boundedBuffer(3, { ready, onDrop }),
          mergeMap((x) => of(x)),
        );

        expectObservable(result, unsub).toBe(expected);
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
        expectSubscriptions(ready.subscriptions).toBe(readySubs);
        testScheduler.flush();
        expect(dropped).toEqual(['b', 'c']);
      });
    });

    it('should stop releasing when the downstream unsubscribes inside next', () => {
      const source = new Subject<string>();
      const ready = new BehaviorSubject(false);
      const received: string[] = [];
      const { dropped, sizes, onDrop, onSize } = recorder<string>();
      source
        .pipe(boundedBuffer(5, { ready, onDrop, onSize }), take(2))
        .subscribe((value) => received.push(value));

      ['a', 'b', 'c', 'd'].forEach((value) => source.next(value));
      ready.next(true);

      expect(received).toEqual(['a', 'b']);
      expect(dropped).toEqual(['c', 'd']);
      expect(sizes).toEqual([1, 2, 3, 4, 3, 2, 0]);
      expect(source.observed).toBe(false);
      expect(ready.observed).toBe(false);
    });

    it('should neither emit nor hold what a synchronous source sends after the output closed', () => {
      const ready = new BehaviorSubject(true);
      const received: number[] = [];
      const { dropped, sizes, onDrop, onSize } = recorder<number>();
      const sent: number[] = [];
      // Like `of`, but without checking whether its subscriber has closed.
      const source = new Observable<number>((subscriber) => {
        for (const value of [1, 2, 3]) {
          sent.push(value);
          subscriber.next(value);
        }
      });

      source
        .pipe(
          boundedBuffer(3, { ready, onDrop, onSize }),
          tap(() => ready.next(false)),
          take(1),
        )
        .subscribe((value) => received.push(value));

      expect(sent).toEqual([1, 2, 3]);
      expect(received).toEqual([1]);
      expect(sizes).toEqual([]);
      expect(dropped).toEqual([]);
      expect(ready.observed).toBe(false);
    });
  });

  describe('reentrancy', () => {
    function holding(values: string[], capacity = 10) {
      const source = new Subject<string>();
      const ready = new BehaviorSubject(false);
      const callbacks = recorder<string>();
      const output = source.pipe(
        boundedBuffer(capacity, { ready, onDrop: callbacks.onDrop, onSize: callbacks.onSize }),
      );
      return {
        source,
        ready,
        output,
        ...callbacks,
        hold: () => values.forEach((value) => source.next(value)),
      };
    }

    it('should stop releasing at once when a downstream next sets ready to false', () => {
      const { source, ready, output, sizes, hold } = holding(['a', 'b', 'c']);
      const received: string[] = [];
      output.subscribe((value) => {
        received.push(value);
        ready.next(false);
      });
      hold();

      ready.next(true);
      expect(received).toEqual(['a']);
      expect(sizes).toEqual([1, 2, 3, 2]);

      source.next('d');
      ready.next(true);
      expect(received).toEqual(['a', 'b']);
      ready.next(true);
      ready.next(true);
      ready.next(true);
      expect(received).toEqual(['a', 'b', 'c', 'd']);
      expect(sizes).toEqual([1, 2, 3, 2, 3, 2, 1, 0]);
    });

    it('should neither nest nor repeat emissions when a downstream next flips ready false then true', () => {
      const { ready, output, dropped, hold } = holding(['a', 'b', 'c']);
      const received: string[] = [];
      let depth = 0;
      let maxDepth = 0;
      output.subscribe((value) => {
        depth++;
        maxDepth = Math.max(maxDepth, depth);
        ready.next(false);
        ready.next(true);
        // Recorded after the flip: a nested release would record c, b, a.
        received.push(value);
        depth--;
      });
      hold();

      ready.next(true);
      expect(received).toEqual(['a', 'b', 'c']);
      expect(maxDepth).toBe(1);
      expect(dropped).toEqual([]);
    });

    it('should neither nest nor repeat emissions when ready emits true inside a release', () => {
      const { ready, output, hold } = holding(['a', 'b', 'c']);
      const received: string[] = [];
      output.subscribe((value) => {
        ready.next(true);
        received.push(value);
      });
      hold();

      ready.next(true);
      expect(received).toEqual(['a', 'b', 'c']);
    });

    it('should put a value sent from inside a release behind the held ones', () => {
      const { source, ready, output, sizes, hold } = holding(['a', 'b', 'c']);
      const received: string[] = [];
      output.subscribe((value) => {
        if (value === 'a') source.next('x');
        if (value === 'c') source.next('y');
        // Nothing is held any more when y goes out, but z must still wait its turn.
        if (value === 'y') source.next('z');
        // Recorded after the send: a value passed through at once would come before c.
        received.push(value);
      });
      hold();

      ready.next(true);
      expect(received).toEqual(['a', 'b', 'c', 'x', 'y', 'z']);
      expect(sizes).toEqual([1, 2, 3, 2, 3, 2, 1, 2, 1, 0, 1, 0]);
    });

    it('should apply the overflow strategy to values sent from inside a release', () => {
      const { source, ready, output, dropped, hold } = holding(['a', 'b'], 2);
      const received: string[] = [];
      output.subscribe((value) => {
        if (value === 'a') {
          source.next('x');
          source.next('y');
        }
        received.push(value);
      });
      hold();

      ready.next(true);
      expect(received).toEqual(['a', 'b', 'x']);
      expect(dropped).toEqual(['y']);
    });

    it('should complete only after the held values when the source completes inside a release', () => {
      const { source, ready, output, hold } = holding(['a', 'b', 'c']);
      const received: string[] = [];
      output.subscribe({
        next: (value) => {
          if (value === 'a') source.complete();
          received.push(value);
        },
        complete: () => received.push('|'),
      });
      hold();

      ready.next(true);
      expect(received).toEqual(['a', 'b', 'c', '|']);
    });

    it('should hold a value sent from inside a pass-through next that sets ready to false', () => {
      const source = new Subject<string>();
      const ready = new BehaviorSubject(true);
      const received: string[] = [];
      source.pipe(boundedBuffer(3, { ready })).subscribe((value) => {
        received.push(value);
        if (value === 'a') {
          ready.next(false);
          source.next('b');
        }
      });

      source.next('a');
      expect(received).toEqual(['a']);
      ready.next(true);
      expect(received).toEqual(['a', 'b']);
    });
  });

  describe('properties', () => {
    type Step = { kind: 'value' } | { kind: 'ready'; ready: boolean };
    type Reaction = 'none' | 'ready-false' | 'ready-true' | 'send';
    type Ending = 'complete-then-ready' | 'complete-then-ready-completes' | 'error' | 'unsubscribe';

    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      { weight: 3, arbitrary: fc.constant<Step>({ kind: 'value' }) },
      { weight: 1, arbitrary: fc.boolean().map<Step>((ready) => ({ kind: 'ready', ready })) },
    );
    const reactionArb = fc.constantFrom<Reaction>(
      'none',
      'none',
      'ready-false',
      'ready-true',
      'send',
    );
    const endingArb = fc.constantFrom<Ending>(
      'complete-then-ready',
      'complete-then-ready-completes',
      'error',
      'unsubscribe',
    );
    const capacityArb = fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constant(Infinity));
    const overflowArb = fc.constantFrom<OverflowStrategy>('drop-newest', 'drop-oldest', 'error');

    /**
     * Drives the operator synchronously with Subjects: source values are
     * increasing integers, so "in input order" means "increasing". Each
     * emission may react by flipping `ready` or sending another value, as a
     * socket sink would.
     */
    function drive(
      capacity: number,
      overflow: OverflowStrategy,
      steps: Step[],
      reactions: Reaction[],
      ending: Ending,
    ) {
      const source = new Subject<number>();
      const ready = new Subject<boolean>();
      const input: number[] = [];
      const emitted: number[] = [];
      const { dropped, sizes, onDrop, onSize } = recorder<number>();
      const terminal: unknown[] = [];
      let nextValue = 0;
      let reactionIndex = 0;
      const send = () => source.next(nextValue++);

      const subscription = source
        .pipe(
          // Counts what reaches the operator while it is subscribed.
          tap((value) => input.push(value)),
          boundedBuffer(capacity, { ready, overflow, onDrop, onSize }),
        )
        .subscribe({
          next: (value) => {
            emitted.push(value);
            const reaction = reactions[reactionIndex++] ?? 'none';
            if (reaction === 'ready-false') ready.next(false);
            if (reaction === 'ready-true') ready.next(true);
            if (reaction === 'send') send();
          },
          error: (err) => terminal.push(err),
          complete: () => terminal.push('complete'),
        });

      for (const step of steps) {
        if (step.kind === 'value') send();
        else ready.next(step.ready);
      }
      if (ending === 'complete-then-ready') {
        source.complete();
        // Reactions may set ready to false again; each call releases at least one value.
        for (let i = 0; i <= reactions.length && terminal.length === 0; i++) ready.next(true);
      } else if (ending === 'complete-then-ready-completes') {
        source.complete();
        ready.complete();
      } else if (ending === 'error') {
        source.error(new Error('source failed'));
      } else {
        subscription.unsubscribe();
      }
      // Harmless after a terminal event; otherwise releases what is held to onDrop.
      subscription.unsubscribe();
      return { input, emitted, dropped, sizes, terminal };
    }

    it('should account for every value: passed + dropped = input, exactly', () => {
      fc.assert(
        fc.property(
          capacityArb,
          overflowArb,
          fc.array(stepArb, { maxLength: 40 }),
          fc.array(reactionArb, { maxLength: 20 }),
          endingArb,
          (capacity, overflow, steps, reactions, ending) => {
            const { input, emitted, dropped, terminal } = drive(
              capacity,
              overflow,
              steps,
              reactions,
              ending,
            );
            const accounted = [...emitted, ...dropped].sort((a, b) => a - b);
            expect(accounted).toEqual(input);
            if (ending !== 'unsubscribe') {
              expect(terminal).toHaveLength(1);
              const [end] = terminal;
              if (overflow !== 'error') expect(end).not.toBeInstanceOf(BufferOverflowError);
              if (ending === 'error') expect(end).toBeInstanceOf(Error);
              else expect(end === 'complete' || end instanceof BufferOverflowError).toBe(true);
            }
          },
        ),
      );
    });

    it('should emit in input order', () => {
      fc.assert(
        fc.property(
          capacityArb,
          overflowArb,
          fc.array(stepArb, { maxLength: 40 }),
          fc.array(reactionArb, { maxLength: 20 }),
          endingArb,
          (capacity, overflow, steps, reactions, ending) => {
            const { emitted } = drive(capacity, overflow, steps, reactions, ending);
            for (let i = 1; i < emitted.length; i++) {
              expect(emitted[i]).toBeGreaterThan(emitted[i - 1]);
            }
          },
        ),
      );
    });

    it('should never hold more than capacity, report only changes, and end at 0', () => {
      fc.assert(
        fc.property(
          capacityArb,
          overflowArb,
          fc.array(stepArb, { maxLength: 40 }),
          fc.array(reactionArb, { maxLength: 20 }),
          endingArb,
          (capacity, overflow, steps, reactions, ending) => {
            const { sizes } = drive(capacity, overflow, steps, reactions, ending);
            let previous = 0;
            for (const size of sizes) {
              expect(size).toBeLessThanOrEqual(capacity);
              expect(size).not.toBe(previous);
              // One value in or out at a time, except the discard at the end.
              if (size !== 0) expect(Math.abs(size - previous)).toBe(1);
              previous = size;
            }
            expect(previous).toBe(0);
          },
        ),
      );
    });

    it('should match a reference model when the consumer does not re-enter', () => {
      fc.assert(
        fc.property(
          capacityArb,
          fc.constantFrom<OverflowStrategy>('drop-newest', 'drop-oldest'),
          fc.array(stepArb, { maxLength: 40 }),
          (capacity, overflow, steps) => {
            const { emitted, dropped } = drive(capacity, overflow, steps, [], 'unsubscribe');

            const model = { ready: true, held: [] as number[], emitted: [] as number[] };
            const modelDropped: number[] = [];
            let nextValue = 0;
            for (const step of steps) {
              if (step.kind === 'ready') {
                model.ready = step.ready;
                if (model.ready) model.emitted.push(...model.held.splice(0));
                continue;
              }
              const value = nextValue++;
              if (model.ready) model.emitted.push(value);
              else if (model.held.length < capacity) model.held.push(value);
              else if (overflow === 'drop-newest') modelDropped.push(value);
              else {
                modelDropped.push(model.held.shift()!);
                model.held.push(value);
              }
            }
            modelDropped.push(...model.held);

            expect(emitted).toEqual(model.emitted);
            expect(dropped).toEqual(modelDropped);
          },
        ),
      );
    });
  });
});
