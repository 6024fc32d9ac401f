import fc from 'fast-check';
import {
  asapScheduler,
  asyncScheduler,
  mergeMap,
  of,
  queueScheduler,
  range,
  Subject,
  Subscription,
  take,
  tap,
  throwError,
  VirtualAction,
  VirtualTimeScheduler,
} from 'rxjs';
import type { SchedulerAction, SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { coalesce } from '../../operators/coalesce.js';

interface ScheduledAction {
  delay: number;
  ran: boolean;
  subscription: Subscription;
}

/** Wraps a scheduler to record every action the operator schedules, and whether it ran. */
function spyOn(inner: SchedulerLike): SchedulerLike & { actions: ScheduledAction[] } {
  const actions: ScheduledAction[] = [];
  return {
    actions,
    now: () => inner.now(),
    schedule<S>(
      work: (this: SchedulerAction<S>, state?: S) => void,
      delay = 0,
      state?: S,
    ): Subscription {
      const record = { delay, ran: false } as ScheduledAction;
      actions.push(record);
      record.subscription = inner.schedule<S>(
        function (this: SchedulerAction<S>, s?: S) {
          record.ran = true;
          work.call(this, s);
        },
        delay,
        state,
      );
      return record.subscription;
    },
  };
}

describe('coalesce', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('should emit the batch windowMs after the first value, not on a fixed tick', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions, time }) => {
      // bufferTime(5) would emit at frames 5, 10, 15 and 20; here each window starts at its
      // first value (frames 2 and 16).
      const e1 = hot('  --a-b-----------c-d-e---|');
      const e1subs = '  ^-----------------------!';
      const t = time('    -----|');
      const expected = '-------x-------------y--|';

      expectObservable(e1.pipe(coalesce(t))).toBe(expected, {
        x: ['a', 'b'],
        y: ['c', 'd', 'e'],
      });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should emit a pending batch with the completion', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      // The docs' diagram: f's window would close at frame 30, the source completes at 28.
      const e1 = hot('  --a-b--------c-d-e-------f--|');
      const expected = '-------x----------y---------(z|)';

      expectObservable(e1.pipe(coalesce(5))).toBe(expected, {
        x: ['a', 'b'],
        y: ['c', 'd', 'e'],
        z: ['f'],
      });
    });
  });

  it('should time each window with exactly one scheduled action of windowMs', () => {
    const spy = spyOn(asyncScheduler);
    testScheduler.run(({ hot, expectObservable, time }) => {
      const e1 = hot('  --a-b-----------c-d-e------------------|');
      const t = time('    -----|');
      const expected = '-------x-------------y-----------------|';

      expectObservable(e1.pipe(coalesce(t, { scheduler: spy }))).toBe(expected, {
        x: ['a', 'b'],
        y: ['c', 'd', 'e'],
      });
    });
    // No periodic timer: a long silence after the second window schedules nothing.
    expect(spy.actions.map(({ delay, ran }) => ({ delay, ran }))).toEqual([
      { delay: 5, ran: true },
      { delay: 5, ran: true },
    ]);
  });

  it('should handle never without scheduling anything', () => {
    const spy = spyOn(asyncScheduler);
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e1 = cold(' -');
      const e1subs = '  ^-------------------!';
      const unsub = '   --------------------!';
      const expected = '---------------------';

      expectObservable(e1.pipe(coalesce(5, { scheduler: spy })), unsub).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
    expect(spy.actions).toEqual([]);
  });

  it('should handle empty without emitting an empty array', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e1 = cold(' |');
      const e1subs = '  (^!)';
      const expected = '|';

      expectObservable(e1.pipe(coalesce(5))).toBe(expected);
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should emit one value at its deadline', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e1 = cold(' -a----------|');
      const e1subs = '  ^-----------!';
      const expected = '------x-----|';

      expectObservable(e1.pipe(coalesce(5))).toBe(expected, { x: ['a'] });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should emit many values in successive windows, in order', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('  -a-b-c-d-e-f-g-h-i-|');
      const e1subs = '  ^------------------!';
      const expected = '----x---y---z---w--(v|)';

      expectObservable(e1.pipe(coalesce(3))).toBe(expected, {
        x: ['a', 'b'],
        y: ['c', 'd'],
        z: ['e', 'f'],
        w: ['g', 'h'],
        v: ['i'],
      });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should emit the pending batch at once when the source completes, and cancel its deadline', () => {
    const spy = spyOn(asyncScheduler);
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('  --a-b-|');
      const e1subs = '  ^-----!';
      const expected = '------(x|)';

      expectObservable(e1.pipe(coalesce(10, { scheduler: spy }))).toBe(expected, {
        x: ['a', 'b'],
      });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
    expect(spy.actions).toHaveLength(1);
    expect(spy.actions[0].ran).toBe(false);
    expect(spy.actions[0].subscription.closed).toBe(true);
  });

  it('should discard the pending batch when the source errors, and cancel its deadline', () => {
    const spy = spyOn(asyncScheduler);
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('  --a-b------c-d-#');
      const e1subs = '  ^--------------!';
      const expected = '-------x-------#';

      expectObservable(e1.pipe(coalesce(5, { scheduler: spy }))).toBe(expected, {
        x: ['a', 'b'],
      });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
    expect(spy.actions.map(({ ran }) => ran)).toEqual([true, false]);
    expect(spy.actions[1].subscription.closed).toBe(true);
  });

  it('should pass a synchronous error through', () => {
    testScheduler.run(({ expectObservable }) => {
      const error = new Error('boom');
      expectObservable(throwError(() => error).pipe(coalesce(5))).toBe('#', undefined, error);
    });
  });

  it('should cancel the pending deadline when unsubscribed early', () => {
    const spy = spyOn(asyncScheduler);
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('  --a-b------c-d-------|');
      const e1subs = '  ^-----------!';
      const unsub = '   ------------!';
      // The second window would close at frame 16: nothing is emitted there.
      const expected = '-------x-----';

      expectObservable(e1.pipe(coalesce(5, { scheduler: spy })), unsub).toBe(expected, {
        x: ['a', 'b'],
      });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
    expect(spy.actions.map(({ ran }) => ran)).toEqual([true, false]);
    expect(spy.actions[1].subscription.closed).toBe(true);
  });

  it('should not break unsubscription chains when the result is unsubscribed explicitly', () => {
    const spy = spyOn(asyncScheduler);
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('  --a-b------c-d-------|');
      const e1subs = '  ^-----------!';
      const unsub = '   ------------!';
      const expected = '-------x-----';

      const result = e1.pipe(
        mergeMap((x) => of(x)),
        coalesce(5, { scheduler: spy }),
        mergeMap((x) => of(x)),
      );

      expectObservable(result, unsub).toBe(expected, { x: ['a', 'b'] });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
    expect(spy.actions[1].subscription.closed).toBe(true);
  });

  it('should unsubscribe from the source when take ends the result', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const e1 = hot('  --a-b------c-d-------|');
      const e1subs = '  ^---------------!';
      const expected = '-------x--------(y|)';

      expectObservable(e1.pipe(coalesce(5), take(2))).toBe(expected, {
        x: ['a', 'b'],
        y: ['c', 'd'],
      });
      expectSubscriptions(e1.subscriptions).toBe(e1subs);
    });
  });

  it('should stop gathering a synchronous source once the result is unsubscribed', () => {
    const spy = spyOn(queueScheduler);
    const batches: number[][] = [];
    range(1, 10)
      .pipe(coalesce(5, { maxBatch: 2, scheduler: spy }), take(1))
      .subscribe((batch) => batches.push(batch));

    expect(batches).toEqual([[1, 2]]);
    // Only the first window was opened: values 3..10, still pushed by range, open none.
    expect(spy.actions).toHaveLength(1);
    expect(spy.actions[0].subscription.closed).toBe(true);
  });

  it('should emit a new array each time and never touch it again', () => {
    const batches: number[][] = [];
    testScheduler.run(({ cold }) => {
      cold('-1-2-----3-4-----5|', { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5 })
        .pipe(coalesce(3, { maxBatch: 2 }))
        .subscribe((batch) => batches.push(batch));
    });
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
    expect(new Set(batches).size).toBe(3);
  });

  describe('maxBatch', () => {
    it('should emit at once when the batch is full, and close its window', () => {
      const spy = spyOn(asyncScheduler);
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        // The docs' diagram.
        const e1 = hot('  --a-b--------c-d-e-f---------g--|');
        const e1subs = '  ^-------------------------------!';
        const expected = '----x----------y---z------------(w|)';

        expectObservable(e1.pipe(coalesce(5, { maxBatch: 2, scheduler: spy }))).toBe(expected, {
          x: ['a', 'b'],
          y: ['c', 'd'],
          z: ['e', 'f'],
          w: ['g'],
        });
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
      // Every full batch cancelled its window's deadline; the last was cancelled by complete.
      expect(spy.actions.map(({ ran }) => ran)).toEqual([false, false, false, false]);
      expect(spy.actions.every(({ subscription }) => subscription.closed)).toBe(true);
    });

    it('should let the value after a full batch open a fresh window', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        // c opens its own window at frame 5 (closing at 10), not the rest of a's (closing at 7).
        const e1 = hot('  --a-bc-------|');
        const expected = '----x-----y--|';

        expectObservable(e1.pipe(coalesce(5, { maxBatch: 2 }))).toBe(expected, {
          x: ['a', 'b'],
          y: ['c'],
        });
      });
    });

    it('should emit every value alone and at once with maxBatch 1', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const e1 = hot('  -a-(bc)-d-|');
        const expected = '-x-(yz)-w-|';

        expectObservable(e1.pipe(coalesce(5, { maxBatch: 1 }))).toBe(expected, {
          x: ['a'],
          y: ['b'],
          z: ['c'],
          w: ['d'],
        });
      });
    });

    it.each([0, -1, 1.5, NaN, -Infinity])(
      'should throw a RangeError for maxBatch %p',
      (maxBatch) => {
        expect(() => coalesce(5, { maxBatch })).toThrow(RangeError);
      },
    );

    it.each([1, 512, Infinity])('should accept maxBatch %p', (maxBatch) => {
      expect(() => coalesce(5, { maxBatch })).not.toThrow();
    });
  });

  describe('isolate', () => {
    const isolate = (value: string) => value.startsWith('I');

    it('should emit the pending batch at once, then the isolated value alone', () => {
      const spy = spyOn(asyncScheduler);
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        // The docs' diagram.
        const e1 = hot('  --a-b-I-c-------|', { a: 'a', b: 'b', I: 'I', c: 'c' });
        const e1subs = '  ^---------------!';
        const expected = '------(xy)---z--|';

        expectObservable(e1.pipe(coalesce(5, { isolate, scheduler: spy }))).toBe(expected, {
          x: ['a', 'b'],
          y: ['I'],
          z: ['c'],
        });
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
      // a's window was cancelled by I; c's ran.
      expect(spy.actions.map(({ ran }) => ran)).toEqual([false, true]);
    });

    it('should emit an isolated value at once when nothing is pending, opening no window', () => {
      const spy = spyOn(asyncScheduler);
      testScheduler.run(({ hot, expectObservable }) => {
        const e1 = hot('  -I-J-|', { I: 'I1', J: 'I2' });
        const expected = '-x-y-|';

        expectObservable(e1.pipe(coalesce(5, { isolate, scheduler: spy }))).toBe(expected, {
          x: ['I1'],
          y: ['I2'],
        });
      });
      expect(spy.actions).toEqual([]);
    });

    it('should open a fresh window after an isolated value when leading', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        // I is alone at 1 and opens a window (1 to 6): b and c wait in it, d leads again.
        const e1 = hot('  -I-b-c---------d-|', { I: 'I', b: 'b', c: 'c', d: 'd' });
        const expected = '-x----y--------z-|';

        expectObservable(e1.pipe(coalesce(5, { isolate, leading: true }))).toBe(expected, {
          x: ['I'],
          y: ['b', 'c'],
          z: ['d'],
        });
      });
    });

    it('should keep order when the pending batch’s consumer feeds a value back', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const source = new Subject<string>();
        hot('--a-I----------|', { a: 'a', I: 'I' }).subscribe(source);
        const result = source.pipe(
          coalesce(5, { isolate }),
          tap((batch) => {
            if (batch[0] === 'a') source.next('r');
          }),
        );

        // r was pushed after I arrived: it follows I, in a window of its own.
        expectObservable(result).toBe('----(xy)-z-----|', { x: ['a'], y: ['I'], z: ['r'] });
      });
    });

    it('should stop after the pending batch when its consumer unsubscribes', () => {
      const source = new Subject<string>();
      const seen: string[][] = [];
      const subscription = source.pipe(coalesce(5, { isolate })).subscribe((batch) => {
        seen.push(batch);
        subscription.unsubscribe();
      });
      source.next('a');
      source.next('I');

      expect(seen).toEqual([['a']]);
    });

    it('should error the output when isolate throws', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const failure = new Error('isolate failed');
        const e1 = hot('--a--|');
        expectObservable(
          e1.pipe(
            coalesce(5, {
              isolate: () => {
                throw failure;
              },
            }),
          ),
        ).toBe('--#', undefined, failure);
      });
    });
  });

  describe('windowMs', () => {
    it.each([-1, NaN, Infinity, '5' as unknown as number])(
      'should throw a RangeError for windowMs %p',
      (windowMs) => {
        expect(() => coalesce(windowMs)).toThrow(RangeError);
      },
    );

    it('should batch the values of one frame with windowMs 0', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('  -a-(bcd)-e-|');
        const e1subs = '  ^----------!';
        const expected = '-x-y-----z-|';

        expectObservable(e1.pipe(coalesce(0))).toBe(expected, {
          x: ['a'],
          y: ['b', 'c', 'd'],
          z: ['e'],
        });
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should send one batch per event-loop turn with windowMs 0 and asapScheduler', async () => {
      const source = new Subject<number>();
      const batches: number[][] = [];
      const firstBatch = new Promise<void>((resolve) => {
        source.pipe(coalesce(0, { scheduler: asapScheduler })).subscribe((batch) => {
          batches.push(batch);
          resolve();
        });
      });

      source.next(1);
      source.next(2);
      source.next(3);
      expect(batches).toEqual([]);
      await firstBatch;
      expect(batches).toEqual([[1, 2, 3]]);
    });

    it('should not strand values when the scheduler runs a due deadline synchronously', () => {
      const source = new Subject<number>();
      const batches: number[][] = [];
      source
        .pipe(coalesce(0, { scheduler: queueScheduler }))
        .subscribe((batch) => batches.push(batch));

      source.next(1);
      expect(batches).toEqual([[1]]);
      source.next(2);
      expect(batches).toEqual([[1], [2]]);
    });
  });

  describe('leading', () => {
    it('should send sparse values alone and at once', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('  -a-------b--------c-|');
        const e1subs = '  ^-------------------!';
        const expected = '-x-------y--------z-|';

        expectObservable(e1.pipe(coalesce(5, { leading: true }))).toBe(expected, {
          x: ['a'],
          y: ['b'],
          z: ['c'],
        });
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
    });

    it('should send the first value of a burst alone and the rest at the deadline', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const e1 = hot('  -a-b-c------------|');
        const expected = '-x----y-----------|';

        expectObservable(e1.pipe(coalesce(5, { leading: true }))).toBe(expected, {
          x: ['a'],
          y: ['b', 'c'],
        });
      });
    });

    it('should open the next window at the deadline of a non-empty batch', () => {
      const spy = spyOn(asyncScheduler);
      testScheduler.run(({ hot, expectObservable }) => {
        // The docs' diagram: windows [2,7] [7,12] [12,17], the last closes empty, e is leading.
        const e1 = hot('  --a-b-c-d-----------e-----|');
        const expected = '--x----y----z-------w-----|';

        expectObservable(e1.pipe(coalesce(5, { leading: true, scheduler: spy }))).toBe(expected, {
          x: ['a'],
          y: ['b', 'c'],
          z: ['d'],
          w: ['e'],
        });
      });
      expect(spy.actions.map(({ delay, ran }) => ({ delay, ran }))).toEqual([
        { delay: 5, ran: true },
        { delay: 5, ran: true },
        { delay: 5, ran: true },
        { delay: 5, ran: true },
      ]);
    });

    it('should coalesce a steady stream instead of sending it value by value', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const e1 = hot('  a-b-c-d-e-f-g-h-i-j-|');
        const expected = 'x----y----z----w----(v|)';

        expectObservable(e1.pipe(coalesce(5, { leading: true }))).toBe(expected, {
          x: ['a'],
          y: ['b', 'c'],
          // f arrives in the frame the window closes: arrivals in that frame still join it.
          z: ['d', 'e', 'f'],
          w: ['g', 'h'],
          v: ['i', 'j'],
        });
      });
    });

    it('should join the value after a maxBatch flush to a fresh window, not send it alone', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        // b and c fill a batch at frame 3, which opens a window to frame 8; d joins it.
        const e1 = hot('  -a-(bc)d------------e-|');
        const expected = '-x-y----z-----------w-|';

        expectObservable(e1.pipe(coalesce(5, { leading: true, maxBatch: 2 }))).toBe(expected, {
          x: ['a'],
          y: ['b', 'c'],
          z: ['d'],
          w: ['e'],
        });
      });
    });

    it('should emit the pending batch on complete and discard it on error', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const completing = hot('-a-b-|');
        const erroring = hot('  -a-b-#');

        expectObservable(completing.pipe(coalesce(5, { leading: true }))).toBe('-x---(y|)', {
          x: ['a'],
          y: ['b'],
        });
        expectObservable(erroring.pipe(coalesce(5, { leading: true }))).toBe('-x---#', {
          x: ['a'],
        });
      });
    });

    it('should cancel the open window when unsubscribed early', () => {
      const spy = spyOn(asyncScheduler);
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const e1 = hot('  -a-b------|');
        const e1subs = '  ^---!';
        const unsub = '   ----!';
        const expected = '-x---';

        expectObservable(e1.pipe(coalesce(5, { leading: true, scheduler: spy })), unsub).toBe(
          expected,
          { x: ['a'] },
        );
        expectSubscriptions(e1.subscriptions).toBe(e1subs);
      });
      expect(spy.actions).toHaveLength(1);
      expect(spy.actions[0].ran).toBe(false);
      expect(spy.actions[0].subscription.closed).toBe(true);
    });
  });

  describe('scheduler', () => {
    it('should ignore a cancelled deadline that a lax scheduler runs anyway', () => {
      const virtual = new VirtualTimeScheduler(VirtualAction, 1000);
      // Runs every action, even unsubscribed ones.
      const lax: SchedulerLike = {
        now: () => virtual.now(),
        schedule<S>(work: (this: SchedulerAction<S>, state?: S) => void, delay = 0, state?: S) {
          virtual.schedule<S>(work, delay, state);
          return new Subscription();
        },
      };
      const source = new Subject<string>();
      const emissions: { at: number; batch: string[] }[] = [];
      source
        .pipe(coalesce(10, { maxBatch: 2, scheduler: lax }))
        .subscribe((batch) => emissions.push({ at: virtual.now(), batch }));

      source.next('a');
      source.next('b');
      virtual.schedule(() => source.next('c'), 5);
      virtual.flush();
      // a's window (closing at 10) was cancelled by the full batch; c's closes at 15.
      expect(emissions).toEqual([
        { at: 0, batch: ['a', 'b'] },
        { at: 15, batch: ['c'] },
      ]);
    });

    it('should time the windows on the given scheduler', () => {
      const virtual = new VirtualTimeScheduler(VirtualAction, 1000);
      const source = new Subject<string>();
      const emissions: { at: number; batch: string[] }[] = [];
      source
        .pipe(coalesce(25, { scheduler: virtual }))
        .subscribe((batch) => emissions.push({ at: virtual.now(), batch }));

      source.next('a');
      source.next('b');
      expect(emissions).toEqual([]);
      virtual.flush();
      expect(emissions).toEqual([{ at: 25, batch: ['a', 'b'] }]);
    });
  });

  describe('reentrancy', () => {
    it('should put a value fed back at a deadline into the next batch', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const source = new Subject<string>();
        hot('--a-b----------------|').subscribe(source);
        const result = source.pipe(
          coalesce(5),
          tap((batch) => {
            if (batch[0] === 'a') source.next('r');
          }),
        );

        // If r had landed in the emitted array, x would read ['a', 'b', 'r'].
        expectObservable(result).toBe('-------x----y--------|', { x: ['a', 'b'], y: ['r'] });
      });
    });

    it('should put a value fed back at a maxBatch flush into a new batch', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const source = new Subject<string>();
        hot('--a-b----------------|').subscribe(source);
        const result = source.pipe(
          coalesce(5, { maxBatch: 2 }),
          tap((batch) => {
            if (batch[0] === 'a') source.next('r');
          }),
        );

        expectObservable(result).toBe('----x----y-----------|', { x: ['a', 'b'], y: ['r'] });
      });
    });

    it('should put a value fed back from a leading emission into the open window', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const source = new Subject<string>();
        hot('--a-b----------------|').subscribe(source);
        const result = source.pipe(
          coalesce(5, { leading: true }),
          tap((batch) => {
            if (batch[0] === 'a') source.next('r');
          }),
        );

        expectObservable(result).toBe('--x----y-------------|', { x: ['a'], y: ['r', 'b'] });
      });
    });

    it('should put a value fed back at a leading-mode deadline into the window it opens', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const source = new Subject<string>();
        hot('--a-b----------------|').subscribe(source);
        const result = source.pipe(
          coalesce(5, { leading: true }),
          tap((batch) => {
            if (batch[0] === 'b') source.next('r');
          }),
        );

        // Sent alone at frame 7, r would mean the window after b's batch had not opened yet.
        expectObservable(result).toBe('--x----y----z--------|', { x: ['a'], y: ['b'], z: ['r'] });
      });
    });

    it.each([false, true])(
      'should keep values fed back from every batch (leading: %p)',
      (leading) => {
        const source = new Subject<number>();
        const batches: number[][] = [];
        const virtual = new VirtualTimeScheduler(VirtualAction, 1000);
        source
          .pipe(coalesce(5, { maxBatch: 3, leading, scheduler: virtual }))
          .subscribe((batch) => {
            batches.push(batch);
            // Feed back two values per batch until 20 have gone through.
            const last = batch[batch.length - 1];
            if (last < 20) {
              source.next(last + 1);
              source.next(last + 2);
            }
          });

        source.next(1);
        virtual.flush();
        expect(batches.flat()).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
        expect(batches.every((batch) => batch.length > 0 && batch.length <= 3)).toBe(true);
      },
    );
  });

  describe('properties', () => {
    interface Emission {
      at: number;
      values: number[];
    }

    interface Scenario {
      arrivals: number[];
      endAt: number;
      windowMs: number;
      maxBatch: number;
      leading: boolean;
    }

    const scenario: fc.Arbitrary<Scenario> = fc
      .record({
        arrivals: fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 40 }),
        tail: fc.integer({ min: 0, max: 30 }),
        windowMs: fc.integer({ min: 0, max: 20 }),
        maxBatch: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constant(Infinity)),
        leading: fc.boolean(),
      })
      .map(({ arrivals, tail, ...rest }) => {
        const sorted = [...arrivals].sort((a, b) => a - b);
        return { ...rest, arrivals: sorted, endAt: (sorted.at(-1) ?? 0) + tail };
      });

    /**
     * Runs the operator in virtual time: value i arrives at arrivals[i], the source ends at
     * endAt. Arrivals and the end are scheduled first, so at a tie they run before a deadline.
     */
    function run(s: Scenario, end: 'complete' | 'error') {
      // Bounded, so that a window reopening forever fails the property instead of hanging it.
      const virtual = new VirtualTimeScheduler(VirtualAction, s.endAt + 10 * (s.windowMs + 1));
      const source = new Subject<number>();
      s.arrivals.forEach((at, i) => virtual.schedule(() => source.next(i), at));
      virtual.schedule(
        () => (end === 'complete' ? source.complete() : source.error(new Error('end'))),
        s.endAt,
      );
      const emissions: Emission[] = [];
      let endedAt = -1;
      let errored = false;
      source
        .pipe(
          coalesce(s.windowMs, {
            maxBatch: s.maxBatch,
            leading: s.leading,
            scheduler: virtual,
          }),
        )
        .subscribe({
          next: (values) => emissions.push({ at: virtual.now(), values }),
          error: () => {
            errored = true;
            endedAt = virtual.now();
          },
          complete: () => (endedAt = virtual.now()),
        });
      virtual.flush();
      // Every deadline has run or been cancelled: the operator left no timer behind.
      expect(virtual.actions).toEqual([]);
      return { emissions, endedAt, errored };
    }

    /** The contract as a discrete-time simulation: which batch goes out when. */
    function model(s: Scenario): { emissions: Emission[]; pendingAtEnd: number[] } {
      const emissions: Emission[] = [];
      let batch: number[] = [];
      let deadline: number | null = null;
      const closeWindowsBefore = (at: number) => {
        while (deadline !== null && deadline < at) {
          const closedAt = deadline;
          deadline = null;
          if (batch.length > 0) {
            emissions.push({ at: closedAt, values: batch });
            batch = [];
            if (s.leading) deadline = closedAt + s.windowMs;
          }
        }
      };
      s.arrivals.forEach((at, value) => {
        closeWindowsBefore(at);
        if (s.leading && deadline === null) {
          emissions.push({ at, values: [value] });
          deadline = at + s.windowMs;
          return;
        }
        batch.push(value);
        if (batch.length >= s.maxBatch) {
          emissions.push({ at, values: batch });
          batch = [];
          deadline = s.leading ? at + s.windowMs : null;
        } else if (deadline === null) {
          deadline = at + s.windowMs;
        }
      });
      closeWindowsBefore(s.endAt);
      return { emissions, pendingAtEnd: batch };
    }

    it('should emit every value once, in order, in non-empty batches of at most maxBatch', () => {
      fc.assert(
        fc.property(scenario, (s) => {
          const { emissions, endedAt } = run(s, 'complete');
          const batches = emissions.map(({ values }) => values);

          expect(batches.flat()).toEqual(s.arrivals.map((_, i) => i));
          expect(batches.every((batch) => batch.length > 0)).toBe(true);
          expect(batches.every((batch) => batch.length <= s.maxBatch)).toBe(true);
          expect(endedAt).toBe(s.endAt);
        }),
      );
    });

    it('should never hold a value longer than windowMs', () => {
      fc.assert(
        fc.property(scenario, (s) => {
          const { emissions } = run(s, 'complete');
          for (const { at, values } of emissions) {
            for (const value of values) {
              expect(at - s.arrivals[value]).toBeGreaterThanOrEqual(0);
              expect(at - s.arrivals[value]).toBeLessThanOrEqual(s.windowMs);
            }
          }
        }),
      );
    });

    it('should emit exactly the batches of the model, at the model times', () => {
      fc.assert(
        fc.property(scenario, (s) => {
          const expected = model(s);
          const { emissions } = run(s, 'complete');
          const flushed = expected.pendingAtEnd.length
            ? [{ at: s.endAt, values: expected.pendingAtEnd }]
            : [];

          expect(emissions).toEqual([...expected.emissions, ...flushed]);
        }),
      );
    });

    it('should discard only the pending batch on error', () => {
      fc.assert(
        fc.property(scenario, (s) => {
          const { emissions, endedAt, errored } = run(s, 'error');

          expect(errored).toBe(true);
          expect(endedAt).toBe(s.endAt);
          expect(emissions).toEqual(model(s).emissions);
        }),
      );
    });

    it('should send each value alone and at once in leading mode when arrivals are sparse', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 20 }),
          fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 30 }),
          (windowMs, extraGaps) => {
            let at = 0;
            // A gap over windowMs lets the window after each value close empty.
            const arrivals = extraGaps.map((gap) => (at += windowMs + gap));
            const s: Scenario = {
              arrivals,
              endAt: at + 1,
              windowMs,
              maxBatch: Infinity,
              leading: true,
            };

            expect(run(s, 'complete').emissions).toEqual(
              arrivals.map((arrivedAt, i) => ({ at: arrivedAt, values: [i] })),
            );
          },
        ),
      );
    });
  });
});
