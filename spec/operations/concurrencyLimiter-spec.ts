import fc from 'fast-check';
import { defer, EMPTY, NEVER, of, Subject } from 'rxjs';
import type { Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { BUSY_MESSAGE, ConcurrencyLimiter, OperationError } from '../../src/index.js';

const busy = expect.objectContaining({ code: 'busy', message: BUSY_MESSAGE, rejected: true });

describe('ConcurrencyLimiter', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('should run maxConcurrent tasks at once, queue maxQueued in order, and refuse the next at once', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 2 });
      const a = cold('--a|');
      const b = cold('-b|');
      const c = cold('c|');
      const d = cold('d|');
      expectObservable(limiter.limit(a)).toBe('--a|');
      expectObservable(limiter.limit(b)).toBe('----b|');
      expectObservable(limiter.limit(c)).toBe('-----c|');
      expectObservable(limiter.limit(d)).toBe('#', undefined, busy);
      expectSubscriptions(a.subscriptions).toBe('^--!');
      expectSubscriptions(b.subscriptions).toBe('---^-!');
      expectSubscriptions(c.subscriptions).toBe('-----^!');
      expectSubscriptions(d.subscriptions).toBe([]);
    });
  });

  it('should run up to maxConcurrent side by side', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const limiter = new ConcurrencyLimiter({ maxConcurrent: 2, maxQueued: 1 });
      expectObservable(limiter.limit(cold('---a|'))).toBe('---a|');
      expectObservable(limiter.limit(cold('-b|'))).toBe('-b|');
      expectObservable(limiter.limit(cold('c|'))).toBe('--c|'); // b's slot, freed at 2
      testScheduler.schedule(() => {
        expect([limiter.running, limiter.queued, limiter.hasRoom]).toEqual([2, 1, false]);
      }, 0);
      testScheduler.schedule(() => {
        expect([limiter.running, limiter.queued, limiter.hasRoom]).toEqual([0, 0, true]);
      }, 5);
    });
  });

  it('should hold a slot for a task that never ends until it is unsubscribed', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 1 });
      const next = cold('a|');
      expectObservable(limiter.limit(NEVER), '---!').toBe('-');
      expectObservable(limiter.limit(next)).toBe('---a|');
      expectSubscriptions(next.subscriptions).toBe('---^!');
    });
  });

  it('should pass an empty task through and free its slot at once', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 1 });
      expectObservable(limiter.limit(EMPTY)).toBe('|');
      expectObservable(limiter.limit(cold('a|'))).toBe('a|');
    });
  });

  it("should pass a task's error through and free its slot", () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 1 });
      expectObservable(limiter.limit(cold('a-#', { a: 1 }, 'boom'))).toBe('a-#', { a: 1 }, 'boom');
      expectObservable(limiter.limit(cold('b|'))).toBe('--b|');
    });
  });

  it('should take a task out of the queue when it is unsubscribed while waiting', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 2 });
      const waiting = cold('w|');
      const last = cold('l|');
      expectObservable(limiter.limit(cold('----a|'))).toBe('----a|');
      expectObservable(limiter.limit(waiting), '--!').toBe('-');
      expectObservable(limiter.limit(last)).toBe('-----l|');
      // Its place is free again: a task given at 3 waits rather than being refused.
      testScheduler.schedule(() => expect([limiter.queued, limiter.hasRoom]).toEqual([1, true]), 3);
      expectSubscriptions(waiting.subscriptions).toBe([]);
      expectSubscriptions(last.subscriptions).toBe('-----^!');
    });
  });

  it('should start a long queue of tasks that end as they start without growing the stack', () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 10_000 });
    const blocker = new Subject<never>();
    const seen: number[] = [];
    limiter.limit(blocker).subscribe();
    for (let i = 0; i < 10_000; i++) limiter.limit(of(i)).subscribe((value) => seen.push(value));
    expect(limiter.queued).toBe(10_000);
    blocker.complete();
    expect(seen).toHaveLength(10_000);
    expect(seen.every((value, index) => value === index)).toBe(true);
    expect([limiter.running, limiter.queued]).toEqual([0, 0]);
  });

  it('should let a task start another from inside its own end, in queue order', () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 2 });
    const order: string[] = [];
    const first = new Subject<string>();
    limiter.limit(first).subscribe({
      complete: () => {
        order.push('first done');
        // The slot is released after `complete` returns: this one queues behind b.
        limiter.limit(defer(() => (order.push('c'), of('c')))).subscribe();
      },
    });
    limiter.limit(defer(() => (order.push('b'), of('b')))).subscribe();
    expect([limiter.running, limiter.queued]).toEqual([1, 1]);
    first.complete();
    expect(order).toEqual(['first done', 'b', 'c']);
    expect([limiter.running, limiter.queued]).toEqual([0, 0]);
  });

  it('should refuse with an OperationError of code busy, a refusal rather than a failure', () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1 });
    limiter.limit(NEVER).subscribe();
    let error: unknown;
    limiter.limit(of(1)).subscribe({ error: (e: unknown) => (error = e) });
    expect(error).toBeInstanceOf(OperationError);
    expect(error).toEqual(busy);
  });

  it('should throw at once on a source that is not one', () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1 });
    expect(() => limiter.limit(42 as never)).toThrow(TypeError);
    expect(limiter.hasRoom).toBe(true);
  });

  it.each([
    [{ maxConcurrent: 0 }],
    [{ maxConcurrent: 1.5 }],
    [{ maxConcurrent: 1, maxQueued: -1 }],
    [{ maxConcurrent: 1, maxQueued: 0.5 }],
    [{ maxConcurrent: NaN }],
  ])('should refuse the limit %j', (limit) => {
    expect(() => new ConcurrencyLimiter(limit)).toThrow(RangeError);
  });

  it('should never run more than maxConcurrent nor queue more than maxQueued, never leave a slot idle while tasks wait, and start them in order', () => {
    type Command =
      { kind: 'give' } | { kind: 'complete'; pick: number } | { kind: 'unsubscribe'; pick: number };
    const command = fc.oneof(
      fc.constant<Command>({ kind: 'give' }),
      fc.nat().map<Command>((pick) => ({ kind: 'complete', pick })),
      fc.nat().map<Command>((pick) => ({ kind: 'unsubscribe', pick })),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(command, { maxLength: 60 }),
        (maxConcurrent, maxQueued, commands) => {
          const limiter = new ConcurrencyLimiter({ maxConcurrent, maxQueued });
          interface Task {
            readonly id: number;
            readonly work: Subject<never>;
            readonly subscription: Subscription;
            started: boolean;
            ended: boolean;
          }
          const tasks: Task[] = [];
          const started: number[] = [];
          let accepted: number[] = [];
          for (const c of commands) {
            const live = tasks.filter((task) => !task.ended);
            if (c.kind === 'give') {
              const id = tasks.length;
              const hadRoom = limiter.hasRoom;
              expect(hadRoom).toBe(live.length < maxConcurrent + maxQueued);
              let refused = false;
              const work = new Subject<never>();
              const task = { id, work, started: false, ended: false } as Task;
              const source = defer(() => {
                task.started = true;
                started.push(id);
                return work;
              });
              tasks.push(task);
              (task as { subscription: Subscription }).subscription = limiter
                .limit(source)
                .subscribe({ error: () => (refused = true) });
              expect(refused).toBe(!hadRoom);
              if (refused) task.ended = true;
              else accepted.push(id);
            } else if (live.length > 0) {
              const task = live[c.pick % live.length];
              task.ended = true;
              if (c.kind === 'complete' && task.started) task.work.complete();
              else task.subscription.unsubscribe();
              if (!task.started) accepted = accepted.filter((id) => id !== task.id);
            }
            const running = tasks.filter((task) => task.started && !task.ended).length;
            const waiting = tasks.filter((task) => !task.started && !task.ended).length;
            expect(limiter.running).toBe(running);
            expect(limiter.queued).toBe(waiting);
            expect(running).toBeLessThanOrEqual(maxConcurrent);
            expect(waiting).toBeLessThanOrEqual(maxQueued);
            if (waiting > 0) expect(running).toBe(maxConcurrent);
          }
          // Tasks started in the order they were accepted (those that left the queue aside).
          expect(started).toEqual(accepted.filter((id) => tasks[id].started));
        },
      ),
    );
  });
});
