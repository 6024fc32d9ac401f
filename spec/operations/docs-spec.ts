import { from, interval, map, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Operations, progress, result } from '../../src/index.js';
import type { OperationHandler } from '../../src/index.js';

// The examples of docs/operations.md ("Testing a handler with marbles"), kept runnable.

const countdown: OperationHandler = () =>
  interval(1_000).pipe(
    take(3),
    map((i) => (i < 2 ? progress(2 - i) : result('liftoff'))),
  );

describe('docs/operations.md examples', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('counts down', () => {
    testScheduler.run(({ expectObservable }) => {
      const context = {
        type: 'countdown',
        id: 'c1',
        signal: new AbortController().signal,
        session: undefined,
      };
      expectObservable(from(countdown(null, context))).toBe('1s a 999ms b 999ms (c|)', {
        a: progress(2),
        b: progress(1),
        c: result('liftoff'),
      });
    });
  });

  it('times the countdown out through a runner on the default scheduler, virtualised', () => {
    let sent: Array<[number, unknown]> = [];
    testScheduler.run(() => {
      sent = [];
      const outbox = {
        send: (message: unknown) => (sent.push([testScheduler.now(), message]), true),
      };
      const runner = new Operations({ metrics: false, timeoutMs: 2_500 })
        .register('countdown', countdown)
        .runner(outbox);
      runner.receive('{"type":"countdown","id":"c1"}');
    });
    expect(sent).toEqual([
      [1_000, { type: 'countdown.progress', id: 'c1', data: 2 }],
      [2_000, { type: 'countdown.progress', id: 'c1', data: 1 }],
      [
        2_500,
        {
          type: 'error',
          id: 'c1',
          code: 'countdown_timeout',
          message: 'The operation did not finish within 2500 ms.',
        },
      ],
    ]);
  });
});
