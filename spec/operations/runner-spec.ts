import { Registry } from 'prom-client';
import { interval, map, NEVER, Observable, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  GENERIC_FAILURE_MESSAGE,
  OperationAbortedError,
  OperationError,
  Operations,
  progress,
  result,
} from '../../src/index.js';
import type {
  HandlerErrorInfo,
  OperationEvent,
  OperationHandler,
  OperationRunner,
  OperationsOptions,
} from '../../src/index.js';
import { sample } from '../helpers/metricsText.js';
import { until } from '../helpers/until.js';
import { LEAK_PATTERN, RecordingOutbox } from './support.js';

const start = (type: string, id: string, data?: unknown) => JSON.stringify({ type, id, data });
const cancel = (id: string) => JSON.stringify({ type: 'cancel', id });

describe('OperationRunner in virtual time', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  /** Operations on the test scheduler, a recording outbox and one connection's runner. */
  function setup(
    handlers: Record<string, OperationHandler>,
    options: OperationsOptions = {},
  ): { outbox: RecordingOutbox; runner: OperationRunner; operations: Operations } {
    const operations = new Operations({ scheduler: testScheduler, metrics: false, ...options });
    for (const [type, handler] of Object.entries(handlers)) operations.register(type, handler);
    const outbox = new RecordingOutbox(testScheduler);
    return { outbox, runner: operations.runner(outbox), operations };
  }

  /** Runs `work` at virtual time `time`. */
  function at(time: number, work: () => void): void {
    testScheduler.schedule(work, time);
  }

  describe('the happy path', () => {
    it('should stream throttled progress, results at once, then complete, with the id', () => {
      let outbox!: RecordingOutbox;
      testScheduler.run(({ cold }) => {
        const events = {
          a: progress(10),
          b: progress(20),
          c: progress(30),
          d: progress(40),
          r: result({ items: ['x'] }),
          s: result({ items: ['y'] }),
        };
        // a@0 b@30 c@60 d@150 r@170 s@180 |@190
        const work = cold<OperationEvent>('a 29ms b 29ms c 89ms d 19ms r 9ms s 9ms |', events);
        const setupResult = setup({ search: () => work });
        outbox = setupResult.outbox;
        at(1_000, () => setupResult.runner.receive(start('search', 'r1', { query: 'q' })));
      });

      expect(outbox.sent).toEqual([
        { time: 1_000, message: { type: 'search.progress', id: 'r1', data: 10 }, critical: false },
        { time: 1_100, message: { type: 'search.progress', id: 'r1', data: 30 }, critical: false },
        // d (1,150) waited for the window that c opened; the result at 1,170 superseded it.
        {
          time: 1_170,
          message: { type: 'search.result', id: 'r1', data: { items: ['x'] } },
          critical: false,
        },
        {
          time: 1_180,
          message: { type: 'search.result', id: 'r1', data: { items: ['y'] } },
          critical: false,
        },
        { time: 1_190, message: { type: 'search.complete', id: 'r1' }, critical: true },
      ]);
    });

    it('should give the handler the data, the id, the type and the session', () => {
      const seen: unknown[] = [];
      testScheduler.run(() => {
        const operations = new Operations<{ user: string }>({
          scheduler: testScheduler,
          metrics: false,
        });
        operations.register('search', (data, { id, type, session, signal }) => {
          seen.push({ data, id, type, session, aborted: signal.aborted });
          return [result(1)];
        });
        operations
          .runner(new RecordingOutbox(testScheduler), { user: 'ada' })
          .receive(start('search', 'r1', { query: 'q' }));
      });
      expect(seen).toEqual([
        {
          data: { query: 'q' },
          id: 'r1',
          type: 'search',
          session: { user: 'ada' },
          aborted: false,
        },
      ]);
    });

    it('should take a Promise or an array from the handler, as from() does', async () => {
      const outbox = new RecordingOutbox(testScheduler);
      const operations = new Operations({ metrics: false });
      operations.register('async', async () => result('later'));
      operations.register('array', () => [progress(1), result('now')]);
      const runner = operations.runner(outbox);
      runner.receive(start('async', 'a1'));
      runner.receive(start('array', 'b1'));
      await until(() => outbox.sent.length === 5, outbox, 'send');
      expect(outbox.messages).toEqual([
        { type: 'array.progress', id: 'b1', data: 1 },
        { type: 'array.result', id: 'b1', data: 'now' },
        { type: 'array.complete', id: 'b1' },
        { type: 'async.result', id: 'a1', data: 'later' },
        { type: 'async.complete', id: 'a1' },
      ]);
    });

    it('should send every progress when progressIntervalMs is 0', () => {
      let outbox!: RecordingOutbox;
      testScheduler.run(({ cold }) => {
        const work = cold('abc|', { a: progress(1), b: progress(2), c: progress(3) });
        const s = setup({ count: () => work }, { progressIntervalMs: 0 });
        outbox = s.outbox;
        s.runner.receive(start('count', 'r1'));
      });
      expect(outbox.timeline()).toEqual([
        [0, 'count.progress', 1],
        [1, 'count.progress', 2],
        [2, 'count.progress', 3],
        [3, 'count.complete', undefined],
      ]);
    });
  });

  describe('the deadline', () => {
    it('should time out at exactly 120,000 ms by default, not at 119,999', () => {
      let outbox!: RecordingOutbox;
      let signal!: AbortSignal;
      testScheduler.run(({ cold, expectSubscriptions }) => {
        const work = cold<OperationEvent>('-');
        const s = setup({
          search: (_, context) => {
            signal = context.signal;
            return work;
          },
        });
        outbox = s.outbox;
        s.runner.receive(start('search', 'r1'));
        at(119_999, () => expect(signal.aborted).toBe(false));
        expectSubscriptions(work.subscriptions).toBe('^ 119999ms !');
      });

      expect(outbox.sent).toEqual([
        {
          time: 120_000,
          message: {
            type: 'error',
            id: 'r1',
            code: 'search_timeout',
            message: 'The operation did not finish within 120000 ms.',
          },
          critical: true,
        },
      ]);
      expect(signal.aborted).toBe(true);
      expect(signal.reason).toBeInstanceOf(OperationAbortedError);
      expect((signal.reason as OperationAbortedError).outcome).toBe('timeout');
    });

    it('should complete a handler that ends at 119,999 ms', () => {
      let outbox!: RecordingOutbox;
      testScheduler.run(({ cold }) => {
        const s = setup({ search: () => cold('119999ms |') });
        outbox = s.outbox;
        s.runner.receive(start('search', 'r1'));
      });
      expect(outbox.timeline()).toEqual([[119_999, 'search.complete', undefined]]);
    });

    it('should count the deadline from each operation start, progress not extending it', () => {
      let outbox!: RecordingOutbox;
      testScheduler.run(() => {
        // A progress every second for 10 s (finite, so a broken deadline fails, not hangs).
        const ticking = interval(1_000, testScheduler).pipe(
          take(10),
          map((i) => progress(i)),
        );
        const s = setup({ search: () => ticking }, { timeoutMs: 5_000 });
        outbox = s.outbox;
        at(0, () => s.runner.receive(start('search', 'r1')));
        at(700, () => s.runner.receive(start('search', 'r2')));
      });
      const errors = outbox.sent.filter((entry) => entry.message.type === 'error');
      expect(errors.map((entry) => [entry.time, entry.message.id, entry.message.code])).toEqual([
        [5_000, 'r1', 'search_timeout'],
        [5_700, 'r2', 'search_timeout'],
      ]);
    });
  });

  describe('cancel', () => {
    it('should end the operation with .cancelled, abort its signal and run its teardown', () => {
      let outbox!: RecordingOutbox;
      let signal!: AbortSignal;
      let tornDownAt: number | undefined;
      testScheduler.run(({ cold, expectSubscriptions }) => {
        // Progress at 0 goes out; the one at 20 is held in the throttle when the cancel comes.
        const work = cold<OperationEvent>('a 19ms b', { a: progress(1), b: progress(2) });
        const s = setup({
          search: (_, context) => {
            signal = context.signal;
            return new Observable<OperationEvent>((subscriber) => {
              const inner = work.subscribe(subscriber);
              return () => {
                tornDownAt = testScheduler.now();
                inner.unsubscribe();
              };
            });
          },
        });
        outbox = s.outbox;
        s.runner.receive(start('search', 'r1'));
        at(50, () => s.runner.receive(cancel('r1')));
        expectSubscriptions(work.subscriptions).toBe('^ 49ms !');
      });

      expect(outbox.sent).toEqual([
        { time: 0, message: { type: 'search.progress', id: 'r1', data: 1 }, critical: false },
        { time: 50, message: { type: 'search.cancelled', id: 'r1' }, critical: true },
      ]);
      expect(tornDownAt).toBe(50);
      expect((signal.reason as OperationAbortedError).outcome).toBe('cancelled');
      expect((signal.reason as Error).name).toBe('AbortError');
    });

    it('should stop a work loop that checks the signal', () => {
      let iterations = 0;
      let stoppedAt: number | undefined;
      testScheduler.run(() => {
        const s = setup({
          crunch: (_, { signal }) =>
            new Observable<OperationEvent>((subscriber) => {
              // Work in 1 ms slices, checking the signal between slices, as a CPU-bound
              // handler must; nothing tears it down but the signal.
              const slice = (): void => {
                if (signal.aborted) {
                  stoppedAt = testScheduler.now();
                  return;
                }
                // Bounded, so that a broken signal fails this test instead of looping forever.
                if (++iterations === 1_000) return;
                subscriber.next(progress(iterations));
                testScheduler.schedule(slice, 1);
              };
              slice();
            }),
        });
        s.runner.receive(start('crunch', 'r1'));
        at(30, () => s.runner.receive(cancel('r1')));
      });
      expect(stoppedAt).toBe(30);
      expect(iterations).toBe(30);
    });

    it('should ignore a cancel for an id that is not running, and answer one without id', () => {
      let outbox!: RecordingOutbox;
      testScheduler.run(({ cold }) => {
        const s = setup({ quick: () => cold('1ms |') });
        outbox = s.outbox;
        s.runner.receive(start('quick', 'r1'));
        at(5, () => s.runner.receive(cancel('r1'))); // ended at 1: its complete is on its way
        at(6, () => s.runner.receive(cancel('never-started')));
        at(7, () => s.runner.receive('{"type":"cancel"}'));
      });
      expect(outbox.timeline()).toEqual([
        [1, 'quick.complete', undefined],
        [7, 'error', 'bad_request'],
      ]);
    });
  });

  describe('nothing after a terminal event', () => {
    it('should send nothing more once an operation has ended, whatever its handler does', () => {
      let outbox!: RecordingOutbox;
      testScheduler.run(() => {
        const s = setup(
          {
            // Ignores unsubscription: keeps emitting on the scheduler and from abort listeners.
            rogue: (_, { signal }) =>
              new Observable<OperationEvent>((subscriber) => {
                signal.addEventListener('abort', () => subscriber.next(result('from abort')));
                subscriber.next(progress('p0'));
                testScheduler.schedule(() => subscriber.next(progress('p1')), 10);
                for (const t of [200, 300]) {
                  testScheduler.schedule(() => subscriber.next(result(`late ${t}`)), t);
                }
                testScheduler.schedule(() => subscriber.complete(), 400);
              }),
            // Completes, then goes on emitting.
            afterComplete: () =>
              new Observable<OperationEvent>((subscriber) => {
                subscriber.next(result(1));
                subscriber.complete();
                subscriber.next(result(2));
                subscriber.error(new Error('after complete'));
              }),
          },
          { timeoutMs: 250 },
        );
        outbox = s.outbox;
        s.runner.receive(start('rogue', 'cancelled'));
        s.runner.receive(start('rogue', 'timed-out'));
        s.runner.receive(start('afterComplete', 'done'));
        at(50, () => s.runner.receive(cancel('cancelled')));
        // A held progress (p1, due at 100) must not escape after the cancel.
        at(60, () => s.runner.receive(cancel('cancelled')));
      });

      expect(outbox.timeline()).toEqual([
        [0, 'rogue.progress', 'p0'],
        [0, 'rogue.progress', 'p0'],
        [0, 'afterComplete.result', 1],
        [0, 'afterComplete.complete', undefined],
        [50, 'rogue.cancelled', undefined],
        [100, 'rogue.progress', 'p1'],
        [200, 'rogue.result', 'late 200'],
        [250, 'error', 'rogue_timeout'],
        // Not 'late 300', not the complete at 400, not 'from abort'.
      ]);
      // One terminal event per id, and nothing of an id after its terminal event.
      for (const id of ['cancelled', 'timed-out', 'done']) {
        const events = outbox.messages.filter((message) => message.id === id);
        const terminal = events.findIndex((message) =>
          /\.(complete|cancelled)$|^error$/.test(message.type),
        );
        expect(terminal).toBe(events.length - 1);
      }
    });

    it('should send nothing after a timeout or a failure either', () => {
      let outbox!: RecordingOutbox;
      testScheduler.run(() => {
        const leaky =
          (failAt?: number): OperationHandler =>
          () =>
            new Observable<OperationEvent>((subscriber) => {
              for (const t of [0, 50, 150, 250]) {
                testScheduler.schedule(() => subscriber.next(progress(t)), t);
              }
              if (failAt !== undefined) {
                testScheduler.schedule(() => subscriber.error(new Error('boom')), failAt);
              }
              testScheduler.schedule(() => subscriber.next(result('late')), 300);
            });
        const s = setup({ slow: leaky(), failing: leaky(120) }, { timeoutMs: 120 });
        outbox = s.outbox;
        s.runner.receive(start('slow', 's1'));
        at(1, () => s.runner.receive(start('failing', 'f1')));
      });
      expect(
        outbox.sent.map((e) => [e.time, e.message.id, e.message.type, e.message.code]),
      ).toEqual([
        [0, 's1', 'slow.progress', undefined],
        [1, 'f1', 'failing.progress', undefined],
        // 50's progress is held until 100 (s1) and 101 (f1): both windows are still open then.
        [100, 's1', 'slow.progress', undefined],
        [101, 'f1', 'failing.progress', undefined],
        [120, 's1', 'error', 'slow_timeout'],
        [121, 'f1', 'error', 'failing_timeout'],
      ]);
    });
  });

  describe('disconnect', () => {
    it('should end every operation as disconnected: signals aborted, teardowns run, nothing sent', async () => {
      const registry = new Registry();
      let outbox!: RecordingOutbox;
      const signals: AbortSignal[] = [];
      const tornDown: string[] = [];
      let runner!: OperationRunner;
      testScheduler.run(({ cold }) => {
        const s = setup(
          {
            search: (_, { id, signal }) => {
              signals.push(signal);
              return new Observable<OperationEvent>((subscriber) => {
                const inner = cold<OperationEvent>('a 9ms b 100ms c', {
                  a: progress(1),
                  b: progress(2),
                  c: result(3),
                }).subscribe(subscriber);
                return () => {
                  tornDown.push(id);
                  inner.unsubscribe();
                };
              });
            },
          },
          { metrics: registry },
        );
        ({ outbox, runner } = s);
        s.runner.receive(start('search', 'r1'));
        s.runner.receive(start('search', 'r2'));
        at(50, () => s.runner.close());
        at(60, () => s.runner.receive(start('search', 'r3')));
      });

      // Both progress events at 10 were held in their throttles when the socket went.
      expect(outbox.timeline()).toEqual([
        [0, 'search.progress', 1],
        [0, 'search.progress', 1],
      ]);
      expect(tornDown).toEqual(['r1', 'r2']);
      expect(signals).toHaveLength(2);
      for (const signal of signals) {
        expect((signal.reason as OperationAbortedError).outcome).toBe('disconnected');
      }
      expect(runner.size).toBe(0);
      const text = await registry.metrics();
      expect(
        sample(text, 'ws_outbox_operations_total', {
          operation: 'search',
          outcome: 'disconnected',
        }),
      ).toBe(2);
    });

    it('should abort the plain handlers signal and refuse their sends after close', () => {
      let outbox!: RecordingOutbox;
      const sends: boolean[] = [];
      let signal!: AbortSignal;
      testScheduler.run(() => {
        const operations = new Operations({ scheduler: testScheduler, metrics: false });
        operations.on('chat.message', (_, context) => {
          signal = context.signal;
          // A reply streamed over time, as the demo's chat agent does.
          for (const t of [10, 20]) {
            testScheduler.schedule(() => sends.push(context.send({ type: 'chat.delta', t })), t);
          }
        });
        outbox = new RecordingOutbox(testScheduler);
        const runner = operations.runner(outbox);
        runner.receive('{"type":"chat.message","payload":{"text":"hi"}}');
        at(15, () => runner.close());
      });
      expect(sends).toEqual([true, false]);
      expect(outbox.timeline()).toEqual([[10, 'chat.delta', undefined]]);
      expect((signal.reason as OperationAbortedError).outcome).toBe('disconnected');
    });
  });

  describe('failures', () => {
    it('should answer a thrown error with a generic message, and hand the error to onHandlerError', () => {
      const reported: Array<[unknown, HandlerErrorInfo]> = [];
      let outbox!: RecordingOutbox;
      const secret = new Error('connect ECONNREFUSED 10.0.0.3:5432 at /srv/app/db.ts:42');
      testScheduler.run(({ cold }) => {
        const s = setup(
          {
            throws: () => {
              throw secret;
            },
            errors: () => cold('a 9ms #', { a: progress(1) }, secret),
            rejects: () => Promise.reject(secret),
            notObservable: () => undefined as never,
            notAnEvent: () => [{ items: [] } as unknown as OperationEvent],
          },
          { onHandlerError: (error, info) => reported.push([error, info]) },
        );
        outbox = s.outbox;
        for (const type of ['throws', 'errors', 'notObservable', 'notAnEvent']) {
          s.runner.receive(start(type, `${type}-1`));
        }
      });

      const errors = outbox.messages.filter((message) => message.type === 'error');
      expect(errors).toEqual(
        ['throws', 'notObservable', 'notAnEvent', 'errors'].map((type) => ({
          type: 'error',
          id: `${type}-1`,
          code: `${type}_error`,
          message: GENERIC_FAILURE_MESSAGE,
        })),
      );
      for (const message of outbox.messages) {
        expect(JSON.stringify(message)).not.toMatch(/ECONNREFUSED|5432|db\.ts/);
        expect(JSON.stringify(message)).not.toMatch(LEAK_PATTERN);
      }
      expect(reported.map(([error, info]) => [error === secret, info])).toEqual([
        [true, { type: 'throws', id: 'throws-1' }],
        [false, { type: 'notObservable', id: 'notObservable-1' }],
        [false, { type: 'notAnEvent', id: 'notAnEvent-1' }],
        [true, { type: 'errors', id: 'errors-1' }],
      ]);
      expect(String(reported[2][0])).toMatch(/progress\(value\) or result\(data\)/);
    });

    it("should show an OperationError's own message, and its code when it has one", () => {
      let outbox!: RecordingOutbox;
      testScheduler.run(({ cold }) => {
        const s = setup({
          search: (data) => {
            if (typeof data !== 'string') {
              throw new OperationError('data must be a query string', { code: 'bad_request' });
            }
            return cold('5ms #', {}, new OperationError('The index is rebuilding; retry later.'));
          },
        });
        outbox = s.outbox;
        s.runner.receive(start('search', 'r1', 42));
        s.runner.receive(start('search', 'r2', 'q'));
      });
      expect(outbox.sent).toEqual([
        {
          time: 0,
          message: {
            type: 'error',
            id: 'r1',
            code: 'bad_request',
            message: 'data must be a query string',
          },
          critical: true,
        },
        {
          time: 5,
          message: {
            type: 'error',
            id: 'r2',
            code: 'search_error',
            message: 'The index is rebuilding; retry later.',
          },
          critical: true,
        },
      ]);
    });

    it('should count a refusal by the handler as rejected, a failure as error, and report only the failures', async () => {
      const registry = new Registry();
      const reported: unknown[] = [];
      let outbox!: RecordingOutbox;
      const signals: AbortSignal[] = [];
      testScheduler.run(({ cold }) => {
        const s = setup(
          {
            search: (data, { signal }) => {
              signals.push(signal);
              if (data === 'bad') throw new OperationError('Not a query.', { code: 'bad_request' });
              if (data === 'late') {
                return cold('5ms #', {}, new OperationError('Too long.', { code: 'too_large' }));
              }
              if (data === 'down') throw new OperationError('The index is rebuilding.');
              if (data === 'down2') {
                throw new OperationError('Upstream down.', {
                  code: 'unavailable',
                  rejected: false,
                });
              }
              throw new Error('a bug');
            },
          },
          { metrics: registry, onHandlerError: (error) => reported.push(error) },
        );
        outbox = s.outbox;
        for (const data of ['bad', 'late', 'down', 'down2', 'bug']) {
          s.runner.receive(start('search', data, data));
        }
      });
      expect(outbox.messages.map(({ id, code }) => [id, code])).toEqual([
        ['bad', 'bad_request'],
        ['down', 'search_error'],
        ['down2', 'unavailable'],
        ['bug', 'search_error'],
        ['late', 'too_large'],
      ]);
      const text = await registry.metrics();
      const ops = (outcome: string) =>
        sample(text, 'ws_outbox_operations_total', { operation: 'search', outcome });
      expect(ops('rejected')).toBe(2);
      expect(ops('error')).toBe(3);
      expect(reported.map((error) => (error as Error).message)).toEqual([
        'The index is rebuilding.',
        'Upstream down.',
        'a bug',
      ]);
      expect(signals.map((signal) => (signal.reason as OperationAbortedError).outcome)).toEqual([
        'rejected',
        'rejected',
        'error',
        'error',
        'error',
      ]);
    });

    it('should answer a failing plain handler, sync or async, with <type>_error and its id', async () => {
      const outbox = new RecordingOutbox(testScheduler);
      const operations = new Operations({ metrics: false });
      operations.on('sync', () => {
        throw new Error('internal detail');
      });
      operations.on('async', async () => {
        throw new OperationError('Nope.');
      });
      const runner = operations.runner(outbox);
      runner.receive('{"type":"sync","id":"m1"}');
      runner.receive('{"type":"async"}');
      await until(() => outbox.sent.length === 2, outbox, 'send');
      expect(outbox.sent).toEqual([
        {
          time: expect.any(Number) as unknown,
          message: {
            type: 'error',
            id: 'm1',
            code: 'sync_error',
            message: GENERIC_FAILURE_MESSAGE,
          },
          critical: false,
        },
        {
          time: expect.any(Number) as unknown,
          message: { type: 'error', code: 'async_error', message: 'Nope.' },
          critical: false,
        },
      ]);
    });
  });

  describe('limits', () => {
    it('should refuse malformed frames with bad_request, echoing a valid id only', () => {
      let outbox!: RecordingOutbox;
      testScheduler.run(() => {
        const s = setup({ search: () => NEVER });
        outbox = s.outbox;
        s.runner.receive('not json');
        s.runner.receive(Buffer.from('{"type":"search","id":"b1"}'), true);
        s.runner.receive('{"id":"r1"}');
        s.runner.receive('{"type":"search","id":7}');
        s.runner.receive('{"type":"search"}');
      });
      expect(outbox.messages.map(({ type, id, code }) => ({ type, id, code }))).toEqual([
        { type: 'error', id: undefined, code: 'bad_request' },
        { type: 'error', id: undefined, code: 'bad_request' },
        { type: 'error', id: 'r1', code: 'bad_request' },
        { type: 'error', id: undefined, code: 'bad_request' },
        { type: 'error', id: undefined, code: 'bad_request' },
      ]);
      expect(outbox.messages.every((message) => !('id' in message) || message.id === 'r1')).toBe(
        true,
      );
      expect(outbox.sent.every((entry) => !entry.critical)).toBe(true);
    });

    it('should refuse an unknown type with unknown_operation', () => {
      let outbox!: RecordingOutbox;
      testScheduler.run(() => {
        const s = setup({ search: () => NEVER });
        outbox = s.outbox;
        s.runner.receive(start('delete_everything', 'x1'));
      });
      expect(outbox.messages).toEqual([
        {
          type: 'error',
          id: 'x1',
          code: 'unknown_operation',
          message: 'No operation or message of this type.',
        },
      ]);
    });

    it('should refuse an id already running with bad_request, leaving the running one alone', () => {
      let outbox!: RecordingOutbox;
      const started: number[] = [];
      testScheduler.run(({ cold }) => {
        const s = setup({
          search: () => {
            started.push(testScheduler.now());
            return cold('100ms (r|)', { r: result('first') });
          },
        });
        outbox = s.outbox;
        s.runner.receive(start('search', 'r1'));
        at(10, () => s.runner.receive(start('search', 'r1')));
        // Once it has ended, the id is free again.
        at(200, () => s.runner.receive(start('search', 'r1')));
      });
      expect(started).toEqual([0, 200]);
      expect(outbox.timeline()).toEqual([
        [10, 'error', 'bad_request'],
        [100, 'search.result', 'first'],
        [100, 'search.complete', undefined],
        [300, 'search.result', 'first'],
        [300, 'search.complete', undefined],
      ]);
      expect(outbox.messages[0].id).toBe('r1');
    });

    it('should refuse more than maxConcurrent (default 8) with too_many_operations', () => {
      let outbox!: RecordingOutbox;
      let runner!: OperationRunner;
      testScheduler.run(({ cold }) => {
        const s = setup({ search: () => cold('100ms |') });
        ({ outbox, runner } = s);
        for (let i = 1; i <= 9; i++) s.runner.receive(start('search', `r${i}`));
        at(0, () => expect(s.runner.size).toBe(8));
        at(100, () => s.runner.receive(start('search', 'r10'))); // after the eight ended
      });
      expect(outbox.timeline().filter(([, type]) => type === 'error')).toEqual([
        [0, 'error', 'too_many_operations'],
      ]);
      expect(outbox.messages.find((m) => m.type === 'error')?.id).toBe('r9');
      expect(outbox.messages.filter((m) => m.type === 'search.complete')).toHaveLength(9);
      expect(runner.size).toBe(0);
    });

    it('should rate-limit with a token bucket: a burst of 2,000, then 100 per second', () => {
      let outbox!: RecordingOutbox;
      let handled = 0;
      testScheduler.run(() => {
        const operations = new Operations({ scheduler: testScheduler, metrics: false });
        operations.on('ping', () => {
          handled++;
        });
        outbox = new RecordingOutbox(testScheduler);
        const runner = operations.runner(outbox);
        const ping = (count: number, id?: string) => {
          for (let i = 0; i < count; i++) runner.receive(JSON.stringify({ type: 'ping', id }));
        };
        at(0, () => ping(2_001));
        at(9, () => ping(1, 'p9'));
        at(10, () => ping(1));
        at(1_010, () => ping(101));
        at(100_000, () => ping(2_001));
        at(100_000, () => runner.receive('garbage')); // malformed frames cost a token too
      });
      expect(handled).toBe(2_000 + 1 + 100 + 2_000);
      expect(outbox.timeline()).toEqual([
        [0, 'error', 'rate_limited'],
        [9, 'error', 'rate_limited'],
        [1_010, 'error', 'rate_limited'],
        [100_000, 'error', 'rate_limited'],
        [100_000, 'error', 'rate_limited'],
      ]);
      expect(outbox.messages[1].id).toBe('p9');
    });

    it('should not rate-limit with rateLimit: false', () => {
      let handled = 0;
      let outbox!: RecordingOutbox;
      testScheduler.run(() => {
        const operations = new Operations({
          scheduler: testScheduler,
          metrics: false,
          rateLimit: false,
        });
        operations.on('ping', () => {
          handled++;
        });
        outbox = new RecordingOutbox(testScheduler);
        const runner = operations.runner(outbox);
        for (let i = 0; i < 5_000; i++) runner.receive('{"type":"ping"}');
      });
      expect(handled).toBe(5_000);
      expect(outbox.sent).toEqual([]);
    });

    it('should count each refusal by code', async () => {
      const registry = new Registry();
      testScheduler.run(() => {
        const s = setup(
          { search: () => NEVER },
          { metrics: registry, maxConcurrent: 1, rateLimit: { burst: 6, perSecond: 1 } },
        );
        s.runner.receive('nope');
        s.runner.receive('{"type":"nope"}');
        s.runner.receive(start('search', 'a'));
        s.runner.receive(start('search', 'a'));
        s.runner.receive(start('search', 'b'));
        s.runner.receive(start('search', 'c'));
        s.runner.receive(start('search', 'd'));
      });
      const text = await registry.metrics();
      const count = (code: string) => sample(text, 'ws_outbox_rejected_messages_total', { code });
      expect(count('bad_request')).toBe(2);
      expect(count('unknown_operation')).toBe(1);
      expect(count('too_many_operations')).toBe(2);
      expect(count('rate_limited')).toBe(1);
    });
  });

  describe('plain message handlers', () => {
    it('should get the whole message and send through the outbox', () => {
      const seen: unknown[] = [];
      let outbox!: RecordingOutbox;
      testScheduler.run(() => {
        const operations = new Operations({ scheduler: testScheduler, metrics: false });
        operations.on('chat.message', (message, { send }) => {
          seen.push(message);
          send({ type: 'chat.ack', id: message.id }, { critical: true });
        });
        outbox = new RecordingOutbox(testScheduler);
        operations
          .runner(outbox)
          .receive(
            '{"type":"chat.message","id":"c1","payload":{"text":"Test 0","agent_id":"anima"}}',
          );
      });
      expect(seen).toEqual([
        { type: 'chat.message', id: 'c1', payload: { text: 'Test 0', agent_id: 'anima' } },
      ]);
      expect(outbox.sent).toEqual([
        { time: 0, message: { type: 'chat.ack', id: 'c1' }, critical: true },
      ]);
    });
  });

  describe('metrics', () => {
    it('should count operations by outcome and observe their durations', async () => {
      const registry = new Registry();
      testScheduler.run(({ cold }) => {
        const s = setup(
          {
            quick: () => cold('250ms |'),
            slow: () => NEVER,
            failing: () => cold('30ms #'),
          },
          { metrics: registry, timeoutMs: 60_000 },
        );
        s.runner.receive(start('quick', 'q1'));
        s.runner.receive(start('slow', 's1'));
        s.runner.receive(start('slow', 's2'));
        s.runner.receive(start('failing', 'f1'));
        at(5_000, () => s.runner.receive(cancel('s2')));
      });
      const text = await registry.metrics();
      const ops = (operation: string, outcome: string) =>
        sample(text, 'ws_outbox_operations_total', { operation, outcome });
      expect(ops('quick', 'complete')).toBe(1);
      expect(ops('slow', 'timeout')).toBe(1);
      expect(ops('slow', 'cancelled')).toBe(1);
      expect(ops('failing', 'error')).toBe(1);
      const bucket = (operation: string, le: string) =>
        sample(text, 'ws_outbox_operation_duration_seconds_bucket', { operation, le });
      expect(bucket('quick', '0.1')).toBe(0);
      expect(bucket('quick', '0.25')).toBe(1);
      expect(bucket('failing', '0.01')).toBe(0);
      expect(bucket('failing', '0.05')).toBe(1);
      expect(bucket('slow', '5')).toBe(1); // the cancel at 5 s
      expect(bucket('slow', '30')).toBe(1);
      expect(bucket('slow', '60')).toBe(2); // the timeout at 60 s
      expect(sample(text, 'ws_outbox_operation_duration_seconds_sum', { operation: 'slow' })).toBe(
        65,
      );
    });
  });

  it('should expose every refusal code and every outcome of a registered type at 0 from the start', async () => {
    const registry = new Registry();
    new Operations({ metrics: registry }).register('search', () => NEVER);
    const text = await registry.metrics();
    for (const code of [
      'bad_request',
      'unknown_operation',
      'too_many_operations',
      'rate_limited',
      'busy',
    ]) {
      expect(sample(text, 'ws_outbox_rejected_messages_total', { code })).toBe(0);
    }
    for (const outcome of [
      'complete',
      'cancelled',
      'rejected',
      'timeout',
      'error',
      'disconnected',
    ]) {
      expect(sample(text, 'ws_outbox_operations_total', { operation: 'search', outcome })).toBe(0);
    }
  });

  describe('options', () => {
    it.each([
      [{ timeoutMs: 0 }],
      [{ timeoutMs: 2 ** 31 }],
      [{ timeoutMs: Infinity }],
      [{ maxConcurrent: 0 }],
      [{ maxConcurrent: 1.5 }],
      [{ progressIntervalMs: -1 }],
      [{ rateLimit: { burst: 0, perSecond: 1 } }],
    ])('should refuse %j', (options) => {
      expect(() => new Operations({ metrics: false, ...options })).toThrow(RangeError);
    });

    it.each(['cancel', 'error', ''])('should refuse to register %j', (type) => {
      const operations = new Operations({ metrics: false });
      expect(() => operations.register(type, () => NEVER)).toThrow(Error);
      expect(() => operations.on(type, () => undefined)).toThrow(Error);
    });

    it('should refuse a type registered twice, as an operation or a message', () => {
      const operations = new Operations({ metrics: false }).register('search', () => NEVER);
      expect(() => operations.register('search', () => NEVER)).toThrow(/already registered/);
      expect(() => operations.on('search', () => undefined)).toThrow(/already registered/);
    });
  });

  it('should detach a socket on close and stop reading its frames', () => {
    const listeners = new Map<string, Set<(...args: never[]) => void>>();
    const fakeSocket = {
      on(event: string, listener: (...args: never[]) => void) {
        if (!listeners.has(event)) listeners.set(event, new Set());
        listeners.get(event)!.add(listener);
      },
      off(event: string, listener: (...args: never[]) => void) {
        listeners.get(event)?.delete(listener);
      },
    };
    const emit = (event: string, ...args: unknown[]) => {
      for (const listener of listeners.get(event) ?? []) {
        (listener as (...a: unknown[]) => void)(...args);
      }
    };
    const signals: AbortSignal[] = [];
    const outbox = new RecordingOutbox(testScheduler);
    const operations = new Operations({ scheduler: testScheduler, metrics: false });
    operations.register('search', (_, { signal }) => {
      signals.push(signal);
      return NEVER;
    });
    const detach = operations.attach(fakeSocket, outbox);
    expect(operations.attach(fakeSocket, outbox)).toBe(detach);
    emit('message', Buffer.from(start('search', 'r1')), false);
    emit('message', Buffer.from('{}'), false);
    expect(outbox.timeline()).toEqual([[0, 'error', 'bad_request']]);
    expect(signals).toHaveLength(1);

    emit('close', 1006, Buffer.alloc(0));
    expect(signals[0].aborted).toBe(true);
    expect(listeners.get('message')?.size).toBe(0);
    expect(listeners.get('close')?.size).toBe(0);
    emit('message', Buffer.from(start('search', 'r2')), false);
    expect(signals).toHaveLength(1);
    detach(); // idempotent
  });

  it('should detach at once a socket that is closed already', () => {
    const listeners: string[] = [];
    const closedSocket = {
      readyState: 3,
      on: (event: string) => listeners.push(`+${event}`),
      off: (event: string) => listeners.push(`-${event}`),
    };
    const outbox = new RecordingOutbox(testScheduler);
    new Operations({ scheduler: testScheduler, metrics: false }).attach(closedSocket, outbox);
    expect(listeners.sort()).toEqual(['+close', '+message', '-close', '-message']);
  });
});
