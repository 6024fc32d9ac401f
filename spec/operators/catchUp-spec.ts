import fc from 'fast-check';
import { defer, EMPTY, mergeMap, NEVER, of, range, Subject, take, throwError } from 'rxjs';
import type { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { catchUp, CatchUpOverflowError, OffsetGapError } from '../../operators/catchUp.js';

/** Values are their own offsets: a = 1, b = 2, … */
const v = { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9 };
const offsetOf = (value: number) => value;

describe('catchUp', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  describe('creation', () => {
    it.each([-1, 1.5, NaN, Infinity, 2 ** 53])(
      'should throw a RangeError for after %p',
      (after) => {
        expect(() => catchUp(after, () => EMPTY, { offsetOf })).toThrow(RangeError);
      },
    );

    it.each([0, -1, 1.5, NaN])('should throw a RangeError for maxBuffered %p', (maxBuffered) => {
      expect(() => catchUp(0, () => EMPTY, { offsetOf, maxBuffered })).toThrow(RangeError);
    });

    it('should throw a TypeError when history or offsetOf is not a function', () => {
      const noHistory = 42 as unknown as () => Observable<number>;
      const noOffsetOf = 42 as unknown as (value: number) => number;
      expect(() => catchUp(0, noHistory, { offsetOf })).toThrow(TypeError);
      expect(() => catchUp(0, () => EMPTY, { offsetOf: noOffsetOf })).toThrow(TypeError);
    });

    it('should accept after 0, a positive integer or Infinity as maxBuffered', () => {
      expect(() => catchUp(0, () => EMPTY, { offsetOf, maxBuffered: 1 })).not.toThrow();
      expect(() => catchUp(7, () => EMPTY, { offsetOf, maxBuffered: Infinity })).not.toThrow();
    });
  });

  describe('errors', () => {
    it('should be typed Errors that carry what happened', () => {
      const gap = new OffsetGapError(41, 45);
      expect(gap).toBeInstanceOf(Error);
      expect(gap.name).toBe('OffsetGapError');
      expect([gap.after, gap.next]).toEqual([41, 45]);
      expect(gap.message).toContain('42');

      const overflow = new CatchUpOverflowError(10_000);
      expect(overflow).toBeInstanceOf(Error);
      expect(overflow.name).toBe('CatchUpOverflowError');
      expect(overflow.maxBuffered).toBe(10_000);
      expect(overflow.message).toContain('10000');
    });
  });

  it('should emit history, then the live values held meanwhile, then live ones, each once', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      // c arrives live while history still has to send it: emitted once, from history.
      const live = hot('   -c-d------e-f--|', v);
      const liveSubs = '   ^--------------!';
      const history = cold('---a-b-c|', v);
      const historySubs = '^-------!';
      const expected = '   ---a-b-cd-e-f--|';
      const asked: number[] = [];

      const result = live.pipe(
        catchUp(
          0,
          (after) => {
            asked.push(after);
            return history;
          },
          { offsetOf },
        ),
      );

      expectObservable(result).toBe(expected, v);
      expectSubscriptions(live.subscriptions).toBe(liveSubs);
      expectSubscriptions(history.subscriptions).toBe(historySubs);
      testScheduler.flush();
      expect(asked).toEqual([0]);
    });
  });

  it('should behave as its documentation diagram shows', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const digits = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6 };
      const live = hot('   -3-4------5-6-|', digits);
      const history = cold('---1-2-3|', digits);
      const expected = '   ---1-2-34-5-6-|';
      expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe(expected, digits);
    });
  });

  it('should subscribe to the live source before it asks for history', () => {
    const calls: string[] = [];
    const live = defer(() => {
      calls.push('live subscribed');
      return NEVER;
    });
    const subscription = live
      .pipe(
        catchUp(
          3,
          (after) => {
            calls.push(`history after ${after}`);
            return EMPTY;
          },
          { offsetOf },
        ),
      )
      .subscribe();
    subscription.unsubscribe();
    expect(calls).toEqual(['live subscribed', 'history after 3']);
  });

  it('should start after the given offset and skip live values up to it', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const live = hot('   -b-c-----d-e-|', v);
      const history = cold('--d-|', v);
      // History after 3 starts at d; b and c are older than the consumer's position.
      const expected = '   --d--------e-|';

      expectObservable(live.pipe(catchUp(3, () => history, { offsetOf }))).toBe(expected, v);
    });
  });

  it('should handle never', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const live = cold<number>('   -');
      const history = cold<number>('-');
      const unsub = '       ---------!';
      const subs = '        ^--------!';

      expectObservable(live.pipe(catchUp(0, () => history, { offsetOf })), unsub).toBe('-');
      expectSubscriptions(live.subscriptions).toBe(subs);
      expectSubscriptions(history.subscriptions).toBe(subs);
    });
  });

  it('should handle empty, and be caught up at once at the given offset', () => {
    const caughtUp: number[] = [];
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const live = cold<number>('   |');
      const history = cold<number>('|');
      const onCaughtUp = (last: number) => caughtUp.push(last);

      expectObservable(live.pipe(catchUp(5, () => history, { offsetOf, onCaughtUp }))).toBe('|');
      expectSubscriptions(live.subscriptions).toBe('(^!)');
      expectSubscriptions(history.subscriptions).toBe('(^!)');
    });
    expect(caughtUp).toEqual([5]);
  });

  it('should emit one value from history', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const live = hot<number>('   -------|');
      const history = cold('--a|', v);
      expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe('--a----|', v);
    });
  });

  it('should emit one value from the live source', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const live = hot('   -----a-|', v);
      const history = cold<number>('--|');
      expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe('-----a-|', v);
    });
  });

  it('should emit many values in order', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      // d arrives live after history sent it: dropped. e and f are held until history is done.
      const live = hot('   -d-e--f------g-h-|', v);
      const history = cold('(abcd)--|', v);
      const expected = '   (abcd)--(ef)-g-h-|';
      expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe(expected, v);
    });
  });

  it('should error when history errors, and unsubscribe from the live source', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const live = hot('   -c--d---|', v);
      const liveSubs = '   ^----!';
      const history = cold('-a---#', v);
      const expected = '   -a---#';

      expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe(
        expected,
        v,
        'error',
      );
      expectSubscriptions(live.subscriptions).toBe(liveSubs);
    });
  });

  it('should error when the live source errors during history, and unsubscribe from history', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const live = hot('   -c--#', v);
      const history = cold('-a---b-|', v);
      const historySubs = '^---!';
      const expected = '   -a--#';

      expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe(
        expected,
        v,
        'error',
      );
      expectSubscriptions(history.subscriptions).toBe(historySubs);
    });
  });

  it('should error when the live source errors after catch-up', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const live = hot('   ----b--#', v);
      const history = cold('-a|', v);
      expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe(
        '-a--b--#',
        v,
        'error',
      );
    });
  });

  it('should pass a synchronous live error through without asking for history', () => {
    const history = jest.fn(() => of(1));
    testScheduler.run(({ expectObservable }) => {
      const error = new Error('boom');
      const result = throwError(() => error).pipe(catchUp(0, history, { offsetOf }));
      expectObservable(result).toBe('#', undefined, error);
    });
    expect(history).not.toHaveBeenCalled();
  });

  it('should error when history throws instead of returning an input', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const live = hot('--a--|', v);
      const error = new Error('store closed');
      const history = () => {
        throw error;
      };
      expectObservable(live.pipe(catchUp(0, history, { offsetOf }))).toBe('#', undefined, error);
      expectSubscriptions(live.subscriptions).toBe('(^!)');
    });
  });

  it('should take history from an async iterable, as a paging reader gives it', async () => {
    const live = new Subject<number>();
    const seen: number[] = [];
    let caughtUpAt = -1;
    // Two pages of two, read one after the other.
    async function* pages(after: number) {
      for (let page = 0; page < 2; page++) {
        const start = after + 1 + page * 2;
        yield* await Promise.resolve([start, start + 1]);
      }
    }
    const done = new Promise<void>((resolve, reject) => {
      live
        .pipe(
          catchUp(1, pages, {
            offsetOf,
            onCaughtUp: (last) => {
              caughtUpAt = last;
              resolve();
            },
          }),
        )
        .subscribe({ next: (value) => seen.push(value), error: reject });
    });
    live.next(5);
    live.next(6);
    await done;
    expect(seen).toEqual([2, 3, 4, 5, 6]);
    expect(caughtUpAt).toBe(6);
    live.next(7);
    expect(seen).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('should unsubscribe from both when unsubscribed early', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const live = hot('   -c-d----e-|', v);
      const history = cold('--a--b--c-|', v);
      const unsub = '      ------!';
      const subs = '       ^-----!';

      expectObservable(live.pipe(catchUp(0, () => history, { offsetOf })), unsub).toBe('--a--b', v);
      expectSubscriptions(live.subscriptions).toBe(subs);
      expectSubscriptions(history.subscriptions).toBe(subs);
    });
  });

  it('should not break unsubscription chains when the result is unsubscribed explicitly', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const live = hot('   -c-d----e-|', v);
      const history = cold('--a--b--c-|', v);
      const unsub = '      ------!';
      const subs = '       ^-----!';

      const result = live.pipe(
        mergeMap((x) => of(x)),
        catchUp(0, () => history, { offsetOf }),
        mergeMap((x) => of(x)),
      );
      expectObservable(result, unsub).toBe('--a--b', v);
      expectSubscriptions(live.subscriptions).toBe(subs);
      expectSubscriptions(history.subscriptions).toBe(subs);
    });
  });

  it('should stop emitting held values when take ends the result during the catch-up', () => {
    const caughtUp = jest.fn();
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const live = hot('   -b-c-d---e-|', v);
      const history = cold('------a|', v);
      const subs = '       ^------!';
      const result = live.pipe(catchUp(0, () => history, { offsetOf, onCaughtUp: caughtUp }));

      expectObservable(result.pipe(take(3))).toBe('------a(bc|)', v);
      expectSubscriptions(live.subscriptions).toBe(subs);
    });
    expect(caughtUp).not.toHaveBeenCalled();
  });

  it('should stop a synchronous history once take has ended the result', () => {
    const seen: number[] = [];
    const history = defer(() => range(1, 1000));
    NEVER.pipe(
      catchUp(0, () => history, { offsetOf }),
      take(3),
    ).subscribe((value) => seen.push(value));
    expect(seen).toEqual([1, 2, 3]);
  });

  describe('completion', () => {
    it('should complete after history and the held values when the live source completed first', () => {
      const caughtUp: number[] = [];
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot('   -c-d|', v);
        const history = cold('-----a-b|', v);
        const expected = '   -----a-b(cd|)';
        const onCaughtUp = (last: number) => caughtUp.push(last);

        expectObservable(live.pipe(catchUp(0, () => history, { offsetOf, onCaughtUp }))).toBe(
          expected,
          v,
        );
      });
      expect(caughtUp).toEqual([4]);
    });

    it('should complete with the live source after catch-up', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot('   ----b---|', v);
        const history = cold('-a|', v);
        expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe('-a--b---|', v);
      });
    });

    it('should not complete when history completes while the live source goes on', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot<number>('   --------');
        const history = cold('-a|', v);
        expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe('-a------', v);
      });
    });
  });

  describe('holes', () => {
    it('should error with an OffsetGapError when history skips an offset', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot<number>('   ---------|');
        const history = cold('-a-c|', v);
        expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe(
          '-a-#',
          v,
          new OffsetGapError(1, 3),
        );
      });
    });

    it('should error when the history starts past the position (trimmed meanwhile)', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot<number>('   ---------|');
        const history = cold('-d-e|', v);
        expectObservable(live.pipe(catchUp(1, () => history, { offsetOf }))).toBe(
          '-#',
          undefined,
          new OffsetGapError(1, 4),
        );
      });
    });

    it('should error when history stops short of the live values held, without reading it again', () => {
      let reads = 0;
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot('   -d-e-----|', v);
        const history = cold('-a-b|', v);
        const result = live.pipe(
          catchUp(
            0,
            () => {
              reads++;
              return history;
            },
            { offsetOf },
          ),
        );
        expectObservable(result).toBe('-a-b#', v, new OffsetGapError(2, 4));
      });
      expect(reads).toBe(1);
    });

    it('should error when the live source skips an offset after catch-up', () => {
      testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
        const live = hot('   ---b--d--|', v);
        const liveSubs = '   ^-----!';
        const history = cold('-a|', v);
        expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe(
          '-a-b--#',
          v,
          new OffsetGapError(2, 4),
        );
        expectSubscriptions(live.subscriptions).toBe(liveSubs);
      });
    });

    it('should skip duplicates after catch-up', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot('   ---b-b-a-c--|', v);
        const history = cold('-a|', v);
        expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe(
          '-a-b-----c--|',
          v,
        );
      });
    });

    it('should error with a TypeError when offsetOf gives no safe integer', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot<number>('   ------|');
        const history = cold('-a-b|', { a: 1, b: 2.5 });
        const result = live.pipe(catchUp(0, () => history, { offsetOf }));
        expectObservable(result).toBe(
          '-a-#',
          { a: 1 },
          new TypeError('catchUp: offsetOf returned 2.5, not a safe integer'),
        );
      });
    });

    it('should error when offsetOf throws', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot('   --a--|', v);
        const history = cold<number>('----|');
        const error = new Error('no offset');
        const result = live.pipe(
          catchUp(0, () => history, {
            offsetOf: () => {
              throw error;
            },
          }),
        );
        expectObservable(result).toBe('--#', undefined, error);
      });
    });
  });

  describe('maxBuffered', () => {
    it('should error with a CatchUpOverflowError when one more live value arrives', () => {
      testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
        const live = hot('   -b-c-d---|', v);
        const history = cold('--------a|', v);
        const historySubs = '^----!';
        const result = live.pipe(catchUp(0, () => history, { offsetOf, maxBuffered: 2 }));

        expectObservable(result).toBe('-----#', undefined, new CatchUpOverflowError(2));
        expectSubscriptions(history.subscriptions).toBe(historySubs);
      });
    });

    it('should count only the live values not emitted yet', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        // a and b are emitted before they arrive live, so only c and d are held.
        const live = hot('   ---a-b-c-d---|', v);
        const history = cold('-(ab)------c|', v);
        const result = live.pipe(catchUp(0, () => history, { offsetOf, maxBuffered: 2 }));

        expectObservable(result).toBe('-(ab)------cd|', v);
      });
    });

    it('should hold up to maxBuffered and release them', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot('   -b-c--------|', v);
        const history = cold('------a|', v);
        const result = live.pipe(catchUp(0, () => history, { offsetOf, maxBuffered: 2 }));
        expectObservable(result).toBe('------a(bc)-|', v);
      });
    });
  });

  describe('onCaughtUp', () => {
    it('should be called once, when history is done and the held values emitted', () => {
      const events: string[] = [];
      testScheduler.run(({ hot, cold }) => {
        const live = hot('   -c-d----e-|', v);
        const history = cold('----a-b|', v);
        live
          .pipe(
            catchUp(0, () => history, {
              offsetOf,
              onCaughtUp: (last) =>
                events.push(`caught up at ${last}, frame ${testScheduler.now()}`),
            }),
          )
          .subscribe((value) => events.push(`${value} at frame ${testScheduler.now()}`));
      });
      expect(events).toEqual([
        '1 at frame 4',
        '2 at frame 6',
        '3 at frame 7',
        '4 at frame 7',
        'caught up at 4, frame 7',
        '5 at frame 8',
      ]);
    });

    it('should not be called when the output errors first', () => {
      const onCaughtUp = jest.fn();
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot('   -c---|', v);
        const history = cold('--a|', v);
        const result = live.pipe(catchUp(0, () => history, { offsetOf, onCaughtUp }));
        expectObservable(result).toBe('--a#', v, new OffsetGapError(1, 3));
      });
      expect(onCaughtUp).not.toHaveBeenCalled();
    });

    it('should error the output when it throws', () => {
      testScheduler.run(({ hot, cold, expectObservable }) => {
        const live = hot<number>('   ------|');
        const history = cold('--a|', v);
        const error = new Error('hub gone');
        const onCaughtUp = () => {
          throw error;
        };
        const result = live.pipe(catchUp(0, () => history, { offsetOf, onCaughtUp }));
        expectObservable(result).toBe('--a#', v, error);
      });
    });
  });

  describe('reentrancy', () => {
    it('should hold a live value pushed from inside a history value, and emit it in order', () => {
      const live = new Subject<number>();
      const history = new Subject<number>();
      const seen: number[] = [];
      live.pipe(catchUp(0, () => history, { offsetOf })).subscribe((value) => {
        seen.push(value);
        // Each value published live as a consequence of the one before it.
        if (value < 6) live.next(value + 3);
      });
      history.next(1);
      history.next(2);
      history.next(3);
      expect(seen).toEqual([1, 2, 3]);
      history.complete();
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    });

    it('should emit a live value pushed from inside the release of held values behind them', () => {
      const live = new Subject<number>();
      const history = new Subject<number>();
      const seen: number[] = [];
      const caughtUp: number[] = [];
      live
        .pipe(catchUp(0, () => history, { offsetOf, onCaughtUp: (last) => caughtUp.push(last) }))
        .subscribe((value) => {
          seen.push(value);
          if (value === 2) live.next(4);
        });
      live.next(2);
      live.next(3);
      history.next(1);
      history.complete();
      expect(seen).toEqual([1, 2, 3, 4]);
      expect(caughtUp).toEqual([4]);
    });

    it('should keep order when a downstream next pushes live values after catch-up', () => {
      const live = new Subject<number>();
      const seen: number[] = [];
      live.pipe(catchUp(0, () => EMPTY, { offsetOf })).subscribe((value) => {
        seen.push(value);
        if (value % 2 === 1) live.next(value + 1);
      });
      live.next(1);
      live.next(3);
      expect(seen).toEqual([1, 2, 3, 4]);
    });

    it('should emit a live value pushed from onCaughtUp at once', () => {
      const live = new Subject<number>();
      const seen: number[] = [];
      live
        .pipe(catchUp(0, () => of(1), { offsetOf, onCaughtUp: (last) => live.next(last + 1) }))
        .subscribe((value) => seen.push(value));
      expect(seen).toEqual([1, 2]);
    });

    it('should complete after the held values when the live source completes from inside next', () => {
      const live = new Subject<number>();
      const history = new Subject<number>();
      const seen: number[] = [];
      let completed = false;
      live.pipe(catchUp(0, () => history, { offsetOf })).subscribe({
        next: (value) => {
          seen.push(value);
          if (value === 2) live.complete();
        },
        complete: () => (completed = true),
      });
      live.next(2);
      live.next(3);
      history.next(1);
      history.complete();
      expect(seen).toEqual([1, 2, 3]);
      expect(completed).toBe(true);
    });
  });

  it('should pass the test shown in its documentation', () => {
    const v = { a: 1, b: 2, c: 3, d: 4, e: 5 };
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const live = hot('   -c-d-----e-|', v);
      const history = cold('---a-b-c|', v);
      expectObservable(live.pipe(catchUp(0, () => history, { offsetOf }))).toBe('---a-b-cde-|', v);

      const holed = hot('   -----e-|', v);
      expectObservable(holed.pipe(catchUp(0, () => cold('-a-b-c|', v), { offsetOf }))).toBe(
        '-a-b-c#',
        v,
        new OffsetGapError(3, 5),
      );
    });
  });

  describe('properties', () => {
    /** One run: a contiguous sequence, split between history and live with an overlap. */
    interface Scenario {
      after: number;
      top: number;
      historyTop: number;
      liveFrom: number;
      order: boolean[];
      liveCompletes: boolean;
    }

    const scenarioArb: fc.Arbitrary<Scenario> = fc
      .record({
        top: fc.integer({ min: 0, max: 40 }),
        afterShare: fc.double({ min: 0, max: 1, noNaN: true }),
        historyShare: fc.double({ min: 0, max: 1, noNaN: true }),
        liveShare: fc.double({ min: 0, max: 1, noNaN: true }),
        order: fc.array(fc.boolean(), { maxLength: 100 }),
        liveCompletes: fc.boolean(),
      })
      .map(({ top, afterShare, historyShare, liveShare, order, liveCompletes }) => {
        const after = Math.floor(afterShare * top);
        // History holds after+1 … historyTop: everything published when it was read.
        const historyTop = after + Math.floor(historyShare * (top - after));
        // The live feed started at or before historyTop + 1 (established before the read),
        // possibly well before `after`: the overlap, or a feed that saw old values.
        const liveFrom = 1 + Math.floor(liveShare * historyTop);
        return { after, top, historyTop, liveFrom, order, liveCompletes };
      });

    function between(from: number, to: number): number[] {
      return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
    }

    /** Feeds both inputs in the interleaving `order` says, synchronously. */
    function run(scenario: Scenario, missing?: number) {
      const { after, top, historyTop, liveFrom, order, liveCompletes } = scenario;
      const keep = (offset: number) => offset !== missing;
      const historyValues = between(after + 1, historyTop).filter(keep);
      const liveValues = between(liveFrom, top).filter(keep);
      const live = new Subject<number>();
      const history = new Subject<number>();
      const seen: number[] = [];
      const caughtUp: number[] = [];
      let error: unknown;
      let completed = false;
      live
        .pipe(
          catchUp(after, () => history as Observable<number>, {
            offsetOf,
            maxBuffered: Infinity,
            onCaughtUp: (last) => caughtUp.push(last),
          }),
        )
        .subscribe({
          next: (value) => seen.push(value),
          error: (e: unknown) => (error = e),
          complete: () => (completed = true),
        });
      let h = 0;
      let l = 0;
      let historyDone = false;
      let step = 0;
      while (!historyDone || l < liveValues.length) {
        const pickHistory = !historyDone && (l === liveValues.length || (order[step++] ?? true));
        if (!pickHistory) live.next(liveValues[l++]);
        else if (h < historyValues.length) history.next(historyValues[h++]);
        else {
          history.complete();
          historyDone = true;
        }
      }
      if (liveCompletes) live.complete();
      return { seen, caughtUp, error, completed };
    }

    it('should emit exactly after+1 … top, in order, whatever the overlap and interleaving', () => {
      fc.assert(
        fc.property(scenarioArb, (scenario) => {
          const { seen, caughtUp, error, completed } = run(scenario);
          expect(error).toBeUndefined();
          expect(seen).toEqual(between(scenario.after + 1, scenario.top));
          expect(caughtUp).toHaveLength(1);
          expect(caughtUp[0]).toBeGreaterThanOrEqual(scenario.historyTop);
          expect(completed).toBe(scenario.liveCompletes);
        }),
        { numRuns: 500 },
      );
    });

    it('should emit an exact prefix and then an OffsetGapError when an offset is missing', () => {
      const withHole = scenarioArb
        .filter(({ after, top }) => top - after >= 2)
        .chain((scenario) =>
          fc
            .integer({ min: scenario.after + 1, max: scenario.top - 1 })
            .map((missing) => ({ scenario, missing })),
        );
      fc.assert(
        fc.property(withHole, ({ scenario, missing }) => {
          const { seen, error, completed } = run(scenario, missing);
          expect(seen).toEqual(between(scenario.after + 1, missing - 1));
          expect(error).toBeInstanceOf(OffsetGapError);
          expect(error).toMatchObject({ after: missing - 1, next: missing + 1 });
          expect(completed).toBe(false);
        }),
        { numRuns: 500 },
      );
    });
  });
});
