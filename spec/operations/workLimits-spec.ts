import { Registry } from 'prom-client';
import { NEVER } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { ConcurrencyLimiter, OperationError, Operations, result } from '../../src/index.js';
import type { HandlerErrorInfo, OperationsOptions } from '../../src/index.js';
import { sample } from '../helpers/metricsText.js';
import { RecordingOutbox } from './support.js';

/**
 * The bounds on the work a frame starts: what a message costs against the rate limit, and the
 * limit shared by every connection on how many CPU-bound operations run at once.
 */

const start = (type: string, id: string, data?: unknown) => JSON.stringify({ type, id, data });
const cancel = (id: string) => JSON.stringify({ type: 'cancel', id });

let testScheduler: TestScheduler;

beforeEach(() => {
  testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
});

function operationsOn(options: OperationsOptions = {}): Operations {
  return new Operations({ scheduler: testScheduler, metrics: false, ...options });
}

/** Runs `work` at virtual time `time`. */
function at(time: number, work: () => void): void {
  testScheduler.schedule(work, time);
}

describe('a message cost', () => {
  it('should take as many tokens as the message costs, and refuse it when fewer are left', () => {
    const handled: number[] = [];
    let outbox!: RecordingOutbox;
    testScheduler.run(() => {
      const operations = operationsOn({ rateLimit: { burst: 10, perSecond: 1 } });
      operations.on('chat', (message) => void handled.push(message.size as number), {
        cost: (message) => message.size as number,
      });
      outbox = new RecordingOutbox(testScheduler);
      const runner = operations.runner(outbox);
      const chat = (size: number) => runner.receive(JSON.stringify({ type: 'chat', size }));
      chat(6); // 10 → 4
      chat(5); // refused: its frame's token spent, 3 left
      chat(3); // 3 → 0
      at(2_000, () => chat(2)); // 2 tokens back
      at(3_000, () => chat(1.2)); // rounded up to 2: only 1 token back
      at(100_000, () => chat(500)); // more than the burst: costs the whole burst
      at(100_001, () => chat(1));
    });
    expect(handled).toEqual([6, 3, 2, 500]);
    expect(outbox.timeline()).toEqual([
      [0, 'error', 'rate_limited'],
      [3_000, 'error', 'rate_limited'],
      [100_001, 'error', 'rate_limited'],
    ]);
  });

  it('should charge a fixed cost of an operation type before starting it', () => {
    let started = 0;
    let outbox!: RecordingOutbox;
    testScheduler.run(() => {
      const operations = operationsOn({ rateLimit: { burst: 10, perSecond: 1 } });
      operations.register('search', () => (started++, NEVER), { cost: 4 });
      outbox = new RecordingOutbox(testScheduler);
      const runner = operations.runner(outbox);
      for (const id of ['a', 'b', 'c']) runner.receive(start('search', id));
    });
    expect(started).toBe(2);
    expect(outbox.messages.map(({ id, code }) => [id, code])).toEqual([
      ['c', 'rate_limited'],
      ['a', 'search_timeout'],
      ['b', 'search_timeout'],
    ]);
  });

  it('should cost one token when the cost function throws or gives nonsense, and report the throw', () => {
    const reported: Array<[unknown, HandlerErrorInfo]> = [];
    const handled: unknown[] = [];
    testScheduler.run(() => {
      const operations = operationsOn({
        rateLimit: { burst: 3, perSecond: 1 },
        onHandlerError: (error, info) => reported.push([error, info]),
      });
      operations.on('chat', (message) => void handled.push(message.id), {
        cost: (message) => {
          if (message.id === 'boom') throw new Error('cost bug');
          return message.id === 'nan' ? NaN : -5;
        },
      });
      const runner = operations.runner(new RecordingOutbox(testScheduler));
      for (const id of ['boom', 'nan', 'negative']) {
        runner.receive(JSON.stringify({ type: 'chat', id }));
      }
    });
    expect(handled).toEqual(['boom', 'nan', 'negative']);
    expect(reported).toEqual([[new Error('cost bug'), { type: 'chat', id: 'boom' }]]);
  });

  it('should not charge anything with rateLimit: false', () => {
    let handled = 0;
    testScheduler.run(() => {
      const operations = operationsOn({ rateLimit: false });
      operations.on('chat', () => void handled++, { cost: 1_000 });
      const runner = operations.runner(new RecordingOutbox(testScheduler));
      for (let i = 0; i < 100; i++) runner.receive('{"type":"chat"}');
    });
    expect(handled).toBe(100);
  });

  it.each([0, -1, 1.5, NaN])('should refuse a fixed cost of %p at registration', (cost) => {
    expect(() => operationsOn().on('chat', () => undefined, { cost })).toThrow(RangeError);
    expect(() => operationsOn().register('search', () => NEVER, { cost })).toThrow(RangeError);
  });
});

describe('a ConcurrencyLimiter shared by connections', () => {
  it('should run maxConcurrent operations across connections, queue the next, refuse the rest with busy before their handler runs', async () => {
    const registry = new Registry();
    const called: string[] = [];
    const outboxes: RecordingOutbox[] = [];
    testScheduler.run(({ cold }) => {
      const cpu = new ConcurrencyLimiter({ maxConcurrent: 2, maxQueued: 1 });
      const operations = operationsOn({ metrics: registry });
      operations.register(
        'search',
        (_, { id }) => {
          called.push(id);
          return cold('100ms (r|)', { r: result(id) });
        },
        { limiter: cpu },
      );
      const runners = [0, 1, 2].map(() => {
        const outbox = new RecordingOutbox(testScheduler);
        outboxes.push(outbox);
        return operations.runner(outbox);
      });
      runners[0].receive(start('search', 'a'));
      runners[1].receive(start('search', 'b'));
      runners[2].receive(start('search', 'c')); // queued
      runners[2].receive(start('search', 'd')); // refused
      at(0, () => expect([cpu.running, cpu.queued]).toEqual([2, 1]));
      at(150, () => runners[0].receive(start('search', 'e'))); // c runs: room for e
    });
    expect(called).toEqual(['a', 'b', 'c', 'e']);
    expect(outboxes.map((outbox) => outbox.timeline())).toEqual([
      [
        [100, 'search.result', 'a'],
        [100, 'search.complete', undefined],
        [250, 'search.result', 'e'],
        [250, 'search.complete', undefined],
      ],
      [
        [100, 'search.result', 'b'],
        [100, 'search.complete', undefined],
      ],
      [
        [0, 'error', 'busy'],
        [200, 'search.result', 'c'],
        [200, 'search.complete', undefined],
      ],
    ]);
    expect(outboxes[2].messages[0]).toMatchObject({ id: 'd', code: 'busy' });
    const text = await registry.metrics();
    expect(sample(text, 'ws_outbox_rejected_messages_total', { code: 'busy' })).toBe(1);
    expect(
      sample(text, 'ws_outbox_operations_total', { operation: 'search', outcome: 'complete' }),
    ).toBe(4);
  });

  it('should free the slot or the queue place of an operation cancelled, timed out or disconnected', () => {
    let outbox!: RecordingOutbox;
    const seen: Array<[string, number]> = [];
    let cpu!: ConcurrencyLimiter;
    testScheduler.run(({ cold }) => {
      cpu = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 2 });
      const operations = operationsOn({ timeoutMs: 1_000 });
      operations.register(
        'search',
        (_, { id }) => (id === 'quick' ? cold('10ms (r|)', { r: result(id) }) : NEVER),
        { limiter: cpu },
      );
      outbox = new RecordingOutbox(testScheduler);
      const runner = operations.runner(outbox);
      const other = operations.runner(new RecordingOutbox(testScheduler));
      runner.receive(start('search', 'slow')); // runs, never ends: times out at 1,000
      runner.receive(start('search', 'waits')); // queued, cancelled at 100
      other.receive(start('search', 'gone')); // queued, its connection closes at 200
      at(100, () => runner.receive(cancel('waits')));
      at(100, () => seen.push(['after cancel', cpu.queued]));
      at(200, () => other.close());
      at(200, () => seen.push(['after close', cpu.queued]));
      at(500, () => runner.receive(start('search', 'quick'))); // queued behind slow
      at(1_000, () => seen.push(['after timeout', cpu.running]));
    });
    expect(seen).toEqual([
      ['after cancel', 1],
      ['after close', 0],
      ['after timeout', 1], // quick took the slot at once
    ]);
    expect(outbox.timeline()).toEqual([
      [100, 'search.cancelled', undefined],
      [1_000, 'error', 'search_timeout'],
      [1_010, 'search.result', 'quick'],
      [1_010, 'search.complete', undefined],
    ]);
    expect([cpu.running, cpu.queued]).toEqual([0, 0]);
  });

  it('should refuse a bad request at once, without waiting for a slot', () => {
    let outbox!: RecordingOutbox;
    testScheduler.run(() => {
      const cpu = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 1 });
      const operations = operationsOn();
      operations.register(
        'search',
        (data) => {
          if (data !== 'q') throw new OperationError('data must be "q".', { code: 'bad_request' });
          return NEVER;
        },
        { limiter: cpu },
      );
      outbox = new RecordingOutbox(testScheduler);
      const runner = operations.runner(outbox);
      runner.receive(start('search', 'a', 'q'));
      runner.receive(start('search', 'b', 42));
    });
    expect(outbox.timeline()).toEqual([
      [0, 'error', 'bad_request'], // while a holds the only slot
      [120_000, 'error', 'search_timeout'],
    ]);
  });
});
