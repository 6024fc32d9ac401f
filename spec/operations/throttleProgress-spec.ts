import fc from 'fast-check';
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { progress, result, throttleProgress } from '../../src/index.js';
import type { OperationEvent } from '../../src/index.js';

const p = (value: number) => progress(value);

describe('throttleProgress', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  const values = {
    a: p(1),
    b: p(2),
    c: p(3),
    d: p(4),
    e: p(5),
    f: p(6),
    r: result('done'),
  };

  it('should send the first progress at once and the latest one at the end of each window', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      // a@0 b@30 c@60 | d@150 | e@320 f@350 r@380 |@400
      const source = cold('a 29ms b 29ms c 89ms d 169ms e 29ms f 29ms r 19ms |', values);
      // c at the end of a's window (100) opens the next; d ends it (200); e comes after a
      // quiet window (320); f is superseded by the result (380).
      const expected = 'a 99ms c 99ms d 119ms e 59ms r 19ms |';
      expectObservable(source.pipe(throttleProgress(100, testScheduler))).toBe(expected, values);
    });
  });

  it('should send a result at once, discarding the progress held before it', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const source = cold('a 9ms b 9ms r 9ms c 100ms |', values);
      // b is held at 10 and superseded at 20; c (30) waits for the window opened at 0 to end.
      expectObservable(source.pipe(throttleProgress(100, testScheduler))).toBe(
        'a 19ms r 79ms c 30ms |',
        values,
      );
    });
  });

  it('should discard a held progress when the source completes or errors', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const completing = cold('a 9ms b 9ms |', values);
      const erroring = cold('a 9ms b 9ms #', values);
      expectObservable(completing.pipe(throttleProgress(100, testScheduler))).toBe(
        'a 19ms |',
        values,
      );
      expectObservable(erroring.pipe(throttleProgress(100, testScheduler))).toBe(
        'a 19ms #',
        values,
      );
    });
  });

  it('should release its window timer and the source when unsubscribed', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a 9ms b 200ms |', values);
      expectObservable(source.pipe(throttleProgress(100, testScheduler)), '^ 49ms !').toBe(
        'a',
        values,
      );
      expectSubscriptions(source.subscriptions).toBe('^ 49ms !');
    });
    // Nothing was left scheduled: the held b's window died with the subscription.
    expect(testScheduler.actions).toHaveLength(0);
  });

  it('should survive a subscriber that unsubscribes inside next', () => {
    const seen: OperationEvent[] = [];
    testScheduler.run(({ cold }) => {
      const subscription = cold('a 9ms b 200ms c', values)
        .pipe(throttleProgress(100, testScheduler))
        .subscribe((event) => {
          seen.push(event);
          subscription?.unsubscribe();
        });
    });
    expect(seen).toEqual([values.a]);
    expect(testScheduler.actions).toHaveLength(0);
  });

  it('should keep at least intervalMs between progress events, latest winning, results on time', () => {
    const step = fc.record({
      gap: fc.integer({ min: 0, max: 250 }),
      kind: fc.constantFrom('progress', 'progress', 'progress', 'result'),
    });
    const property = (steps: Array<{ gap: number; kind: string }>, interval: number) => {
      const scheduler = new TestScheduler(() => undefined);
      const input: Array<{ time: number; event: OperationEvent }> = [];
      let time = 0;
      steps.forEach(({ gap, kind }, index) => {
        time += gap;
        input.push({ time, event: kind === 'progress' ? p(index) : result(index) });
      });
      /** What went out, with how many inputs had arrived by then. */
      const output: Array<{ time: number; event: OperationEvent; arrived: number }> = [];
      let arrived = 0;
      scheduler.run(() => {
        new Observable<OperationEvent>((subscriber) => {
          input.forEach(({ time: at, event }, index) =>
            scheduler.schedule(() => {
              arrived = index + 1;
              subscriber.next(event);
            }, at),
          );
        })
          .pipe(throttleProgress(interval, scheduler))
          .subscribe((event) => output.push({ time: scheduler.now(), event, arrived }));
      });

      // Results: every one, at the time it came.
      expect(output.filter((o) => o.event.kind === 'result').map((o) => [o.time, o.event])).toEqual(
        input.filter((i) => i.event.kind === 'result').map((i) => [i.time, i.event]),
      );
      const sent = output.filter((o) => o.event.kind === 'progress');
      for (let i = 1; i < sent.length; i++) {
        expect(sent[i].time - sent[i - 1].time).toBeGreaterThanOrEqual(interval);
      }
      for (const { event, arrived: seen } of sent) {
        // Latest wins, and a result supersedes: what goes out is the newest event in so far.
        expect(event).toBe(input[seen - 1].event);
      }
      // Liveness: the last progress, unless a result follows it, goes out within one interval.
      const last = input[input.length - 1];
      if (last?.event.kind === 'progress') {
        const delivered = sent.find((s) => s.event === last.event);
        expect(delivered).toBeDefined();
        expect(delivered!.time - last.time).toBeLessThanOrEqual(interval);
      }
    };
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.integer({ min: 1, max: 150 }), property),
      { numRuns: 300 },
    );
  });
});
