import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { Subject } from 'rxjs';
import type { SchedulerAction, SchedulerLike, Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Heartbeat, outboxMetrics } from '../src/index.js';
import type { HeartbeatOptions, HeartbeatSocket } from '../src/index.js';
import { countingScheduler } from './helpers/countingScheduler.js';
import type { CountingScheduler } from './helpers/countingScheduler.js';
import { sample } from './helpers/metricsText.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * A socket as the heartbeat sees it, on the test scheduler: it records pings and terminations
 * at their virtual times and answers each ping after `pongAfter` ms (never when undefined).
 */
class FakeSocket extends EventEmitter implements HeartbeatSocket {
  readyState = OPEN;
  readonly pings: number[] = [];
  readonly terminations: number[] = [];
  readonly messages: unknown[] = [];
  pingError: Error | undefined;

  constructor(
    readonly name: string,
    private readonly scheduler: SchedulerLike,
    public pongAfter: number | undefined = undefined,
  ) {
    super();
  }

  ping(): void {
    if (this.pingError) throw this.pingError;
    this.pings.push(this.scheduler.now());
    const delay = this.pongAfter;
    if (delay !== undefined) this.scheduler.schedule(() => this.emit('pong'), delay);
  }

  terminate(): void {
    this.terminations.push(this.scheduler.now());
    this.readyState = CLOSING;
  }

  /** Where the heartbeat's application-level message goes for this socket. */
  readonly send = (message: unknown): void => {
    this.messages.push(message);
  };
}

/** More ticks than any test needs: past it the interval is a runaway, not a heartbeat. */
const MAX_TICKS = 100;

/**
 * A scheduler that logs the virtual time of every run of the work scheduled through it, and
 * fails the run past `MAX_TICKS`, so an interval that never stops fails the test instead of
 * keeping `TestScheduler.run` flushing forever.
 */
function tickLog(inner: SchedulerLike): SchedulerLike & { runs: number[] } {
  const runs: number[] = [];
  return {
    runs,
    now: () => inner.now(),
    schedule<S>(
      work: (this: SchedulerAction<S>, state?: S) => void,
      delay?: number,
      state?: S,
    ): Subscription {
      // interval reschedules the same work on its action, so this wrapper sees every tick.
      return inner.schedule<S>(
        function (this: SchedulerAction<S>, s?: S) {
          runs.push(inner.now());
          if (runs.length > MAX_TICKS) throw new Error(`more than ${MAX_TICKS} ticks`);
          work.call(this, s);
        },
        delay,
        state,
      );
    },
  };
}

describe('Heartbeat in virtual time', () => {
  let testScheduler: TestScheduler;
  let registry: Registry;
  let counting: CountingScheduler;
  let scheduler: SchedulerLike & { runs: number[] };

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    registry = new Registry();
    counting = countingScheduler(testScheduler);
    scheduler = tickLog(counting);
  });

  /** Runs `work` at virtual time `time` (inside `testScheduler.run`). */
  function at(time: number, work: () => void): void {
    testScheduler.schedule(work, time);
  }

  function socket(name: string, pongAfter?: number): FakeSocket {
    return new FakeSocket(name, testScheduler, pongAfter);
  }

  function heartbeat(options: HeartbeatOptions<FakeSocket> = {}): Heartbeat<FakeSocket> {
    return new Heartbeat<FakeSocket>({ scheduler, metrics: registry, ...options });
  }

  async function terminationsCounted(): Promise<number> {
    return sample(await registry.metrics(), 'ws_outbox_heartbeat_terminations_total');
  }

  it('should ping every socket at 25,000, 50,000, 75,000 ms from one shared timer', () => {
    const sockets = [socket('a', 5), socket('b', 5), socket('c', 5)];
    testScheduler.run(({ expectObservable }) => {
      const pings = new Subject<string>();
      const a = sockets[0];
      const ping = a.ping.bind(a);
      a.ping = () => {
        ping();
        pings.next('a');
      };
      const hb = heartbeat();
      for (const s of sockets) hb.add(s);
      at(80_000, () => hb.dispose());

      expectObservable(pings).toBe('25000ms a 24999ms a 24999ms a');
    });

    for (const s of sockets) expect(s.pings).toEqual([25_000, 50_000, 75_000]);
    // Three sockets, one interval: the scheduler was asked for one action, rescheduled per tick.
    expect(counting.scheduled).toBe(1);
    expect(scheduler.runs).toEqual([25_000, 50_000, 75_000]);
  });

  it('should hold no timer while no socket is watched', () => {
    testScheduler.run(() => {
      const hb = heartbeat();
      at(100_000, () => expect(hb.size).toBe(0));
    });

    expect(counting.scheduled).toBe(0);
    expect(scheduler.runs).toEqual([]);
  });

  it('should terminate a socket that never answers at exactly the second tick, and count it once', async () => {
    const dead = socket('dead');
    const healthy = socket('healthy', 5);
    const onTerminate = jest.fn();
    let hb!: Heartbeat<FakeSocket>;
    testScheduler.run(({ expectObservable }) => {
      const terminated = new Subject<string>();
      hb = heartbeat({
        onTerminate: (s) => {
          onTerminate(s);
          terminated.next(s.name);
        },
      });
      hb.add(dead);
      hb.add(healthy);
      at(190_000, () => hb.dispose());

      expectObservable(terminated).toBe('50000ms d', { d: 'dead' });
    });

    expect(dead.pings).toEqual([25_000]);
    expect(dead.terminations).toEqual([50_000]);
    expect(onTerminate).toHaveBeenCalledTimes(1);
    expect(onTerminate).toHaveBeenCalledWith(dead);
    expect(dead.listenerCount('pong')).toBe(0);
    expect(healthy.terminations).toEqual([]);
    expect(healthy.pings).toEqual([25_000, 50_000, 75_000, 100_000, 125_000, 150_000, 175_000]);
    expect(await terminationsCounted()).toBe(1);
  });

  it('should never terminate a socket that answers every ping, however late within the interval', async () => {
    const slow = socket('slow', 24_999);
    testScheduler.run(({ expectObservable }) => {
      const terminated = new Subject<string>();
      const hb = heartbeat({ onTerminate: (s) => terminated.next(s.name) });
      hb.add(slow);
      at(260_000, () => hb.dispose());

      expectObservable(terminated).toBe('');
    });

    expect(slow.pings).toHaveLength(10);
    expect(slow.terminations).toEqual([]);
    expect(await terminationsCounted()).toBe(0);
  });

  it('should terminate a socket whose pong arrives only after the next tick', () => {
    const late = socket('late', 25_001);
    testScheduler.run(() => {
      const hb = heartbeat();
      hb.add(late);
      at(100_000, () => hb.dispose());
    });

    expect(late.pings).toEqual([25_000]);
    expect(late.terminations).toEqual([50_000]);
  });

  it('should stop the interval when the last socket is removed, and start a new one on the next add', () => {
    const a = socket('a', 5);
    const b = socket('b', 5);
    testScheduler.run(() => {
      const hb = heartbeat();
      hb.add(a);
      at(10_000, () => hb.add(b));
      at(30_000, () => hb.remove(a));
      at(60_000, () => hb.remove(b));
      at(100_000, () => hb.add(a));
      at(160_000, () => hb.remove(a));
    });

    expect(scheduler.runs).toEqual([25_000, 50_000, 125_000, 150_000]);
    expect(a.pings).toEqual([25_000, 125_000, 150_000]);
    expect(b.pings).toEqual([25_000, 50_000]);
    expect(counting.scheduled).toBe(2);
    expect(counting.live).toBe(0);
  });

  it('should stop the interval when the heartbeat terminates the last socket', () => {
    const dead = socket('dead');
    testScheduler.run(() => {
      const hb = heartbeat();
      hb.add(dead);
      at(1_000_000, () => hb.dispose());
    });

    expect(dead.terminations).toEqual([50_000]);
    expect(scheduler.runs).toEqual([25_000, 50_000]);
  });

  it('should ping a socket added just before a tick at that tick, and not terminate it there', () => {
    const early = socket('early', 5);
    const justBefore = socket('justBefore');
    const justAfter = socket('justAfter');
    testScheduler.run(({ expectObservable }) => {
      const terminated = new Subject<string>();
      const hb = heartbeat({ onTerminate: (s) => terminated.next(s.name) });
      hb.add(early);
      at(24_999, () => hb.add(justBefore));
      at(25_001, () => hb.add(justAfter));
      at(90_000, () => hb.dispose());

      expectObservable(terminated).toBe('50000ms b 24999ms a', {
        b: 'justBefore',
        a: 'justAfter',
      });
    });

    expect(justBefore.pings).toEqual([25_000]);
    expect(justBefore.terminations).toEqual([50_000]);
    // Added just after a tick: pinged at the next one, terminated within two intervals of its add.
    expect(justAfter.pings).toEqual([50_000]);
    expect(justAfter.terminations).toEqual([75_000]);
  });

  it('should send the application-level message to every pinged socket, built once per tick', () => {
    const a = socket('a', 5);
    const b = socket('b', 5);
    const dead = socket('dead');
    const withoutSend = socket('withoutSend', 5);
    const message = jest.fn(() => ({ type: 'heartbeat', ts: testScheduler.now() }));
    testScheduler.run(() => {
      const hb = heartbeat({ message });
      hb.add(a, a.send);
      hb.add(b, b.send);
      hb.add(dead, dead.send);
      hb.add(withoutSend);
      at(60_000, () => hb.dispose());
    });

    const beats = [
      { type: 'heartbeat', ts: 25_000 },
      { type: 'heartbeat', ts: 50_000 },
    ];
    expect(a.messages).toEqual(beats);
    expect(b.messages).toEqual(beats);
    // Terminated at 50,000: no message at the tick that ended it.
    expect(dead.messages).toEqual([beats[0]]);
    expect(message).toHaveBeenCalledTimes(2);
  });

  it('should send no message to a socket removed later in the same tick', () => {
    const a = socket('a', 5);
    const dead = socket('dead');
    testScheduler.run(() => {
      // An application that drops a whole session when one of its sockets is terminated.
      const hb: Heartbeat<FakeSocket> = heartbeat({
        message: () => 'beat',
        onTerminate: () => hb.remove(a),
      });
      hb.add(a, a.send);
      hb.add(dead, dead.send);
      at(60_000, () => hb.dispose());
    });

    // Pinged at 50,000 before `dead` was terminated and `a` removed: no message then.
    expect(a.pings).toEqual([25_000, 50_000]);
    expect(a.messages).toEqual(['beat']);
  });

  it('should send no message when the option is off', () => {
    const a = socket('a', 5);
    testScheduler.run(() => {
      const hb = heartbeat({ message: false });
      hb.add(a, a.send);
      at(60_000, () => hb.dispose());
    });

    expect(a.pings).toEqual([25_000, 50_000]);
    expect(a.messages).toEqual([]);
  });

  it('should neither ping nor terminate a socket that is connecting or closing, and let go of a closed one uncounted', async () => {
    const connecting = socket('connecting', 5);
    connecting.readyState = CONNECTING;
    const closing = socket('closing');
    closing.readyState = CLOSING;
    const closed = socket('closed');
    let hb!: Heartbeat<FakeSocket>;
    testScheduler.run(() => {
      hb = heartbeat({ message: () => 'beat' });
      hb.add(connecting, connecting.send);
      hb.add(closing, closing.send);
      hb.add(closed, closed.send);
      at(30_000, () => {
        connecting.readyState = OPEN;
        closed.readyState = CLOSED;
      });
      at(110_000, () => hb.dispose());
    });

    // Opened between the first two ticks: first pinged at the second, never terminated.
    expect(connecting.pings).toEqual([50_000, 75_000, 100_000]);
    expect(connecting.terminations).toEqual([]);
    expect(connecting.messages).toEqual(['beat', 'beat', 'beat']);
    expect(closing.pings).toEqual([]);
    expect(closing.terminations).toEqual([]);
    expect(closing.messages).toEqual([]);
    expect(closed.pings).toEqual([25_000]);
    expect(closed.terminations).toEqual([]);
    expect(closed.listenerCount('pong')).toBe(0);
    expect(await terminationsCounted()).toBe(0);
  });

  it('should terminate and count a socket whose ping throws', async () => {
    const broken = socket('broken', 5);
    broken.pingError = new Error('write after end');
    const healthy = socket('healthy', 5);
    testScheduler.run(() => {
      const hb = heartbeat({ message: () => 'beat' });
      hb.add(broken, broken.send);
      hb.add(healthy, healthy.send);
      at(30_000, () => hb.dispose());
    });

    expect(broken.terminations).toEqual([25_000]);
    expect(broken.messages).toEqual([]);
    expect(healthy.pings).toEqual([25_000]);
    expect(await terminationsCounted()).toBe(1);
  });

  it('should report a failing message or send to onError and go on pinging', () => {
    const a = socket('a', 5);
    const b = socket('b', 5);
    const errors: unknown[] = [];
    let calls = 0;
    const failingSend = () => {
      throw new Error('send failed');
    };
    testScheduler.run(() => {
      const hb = heartbeat({
        message: () => {
          if (++calls === 1) throw new Error('message failed');
          return 'beat';
        },
        onError: (error) => errors.push(error),
      });
      hb.add(a, failingSend);
      hb.add(b, b.send);
      at(60_000, () => hb.dispose());
    });

    expect(errors.map((error) => (error as Error).message)).toEqual([
      'message failed',
      'send failed',
    ]);
    expect(a.pings).toEqual([25_000, 50_000]);
    expect(b.pings).toEqual([25_000, 50_000]);
    // The send that failed for `a` did not keep `b` from its message.
    expect(b.messages).toEqual(['beat']);
  });

  it('should detach from a removed socket: no listener, no ping, no termination', () => {
    const a = socket('a');
    const b = socket('b', 5);
    let hb!: Heartbeat<FakeSocket>;
    testScheduler.run(() => {
      hb = heartbeat();
      hb.add(a);
      hb.add(a);
      expect(a.listenerCount('pong')).toBe(1);
      hb.add(b);
      at(30_000, () => hb.remove(a));
      at(30_000, () => hb.remove(socket('stranger')));
      at(110_000, () => hb.dispose());
    });

    expect(a.listenerCount('pong')).toBe(0);
    expect(b.listenerCount('pong')).toBe(0);
    expect(a.pings).toEqual([25_000]);
    expect(a.terminations).toEqual([]);
    expect(b.pings).toHaveLength(4);
    expect(hb.size).toBe(0);
  });

  it('should terminate nothing on dispose, and refuse add afterwards', () => {
    const dead = socket('dead');
    testScheduler.run(() => {
      const hb = heartbeat();
      hb.add(dead);
      at(30_000, () => {
        hb.dispose();
        expect(() => hb.add(socket('late'))).toThrow('add() after dispose()');
      });
    });

    expect(dead.terminations).toEqual([]);
    expect(dead.listenerCount('pong')).toBe(0);
    expect(scheduler.runs).toEqual([25_000]);
  });

  it('should tick at its own intervalMs', () => {
    const a = socket('a', 1);
    testScheduler.run(({ expectObservable, time }) => {
      const pings = new Subject<number>();
      const ping = a.ping.bind(a);
      a.ping = () => {
        ping();
        pings.next(testScheduler.now());
      };
      const hb = heartbeat({ intervalMs: time('-----|') });
      hb.add(a);
      at(time('------------|'), () => hb.dispose());

      expectObservable(pings).toBe('-----a----b', { a: 5, b: 10 });
    });
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])(
    'should refuse an intervalMs of %p',
    (intervalMs) => {
      expect(() => new Heartbeat({ intervalMs, metrics: false })).toThrow(RangeError);
    },
  );

  it('should count nothing with metrics off, not even in the global registry', async () => {
    const dead = socket('dead');
    const global = outboxMetrics().heartbeatTerminations;
    const counted = async () => (await global.get()).values[0]?.value ?? 0;
    const before = await counted();
    testScheduler.run(() => {
      const hb = heartbeat({ metrics: false });
      hb.add(dead);
      at(1_000_000, () => hb.dispose());
    });

    expect(dead.terminations).toEqual([50_000]);
    expect(await counted()).toBe(before);
    expect(await registry.metrics()).not.toContain('ws_outbox_heartbeat_terminations_total');
  });

  it('should count into the global registry by default', async () => {
    const dead = socket('dead');
    const global = outboxMetrics().heartbeatTerminations;
    const counted = async () => (await global.get()).values[0]?.value ?? 0;
    const before = await counted();
    testScheduler.run(() => {
      const hb = new Heartbeat<FakeSocket>({ scheduler });
      hb.add(dead);
      at(1_000_000, () => hb.dispose());
    });

    expect(await counted()).toBe(before + 1);
  });
});
