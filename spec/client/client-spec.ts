import { gzipSync } from 'node:zlib';
import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  backoffDelay,
  CLOSE_SERVER_SILENT,
  ConnectionLostError,
  OperationFailedError,
  OutboxClient,
  RequestTimeoutError,
  resolveReconnect,
} from '../../src/client/index.js';
import type { OutboxClientOptions } from '../../src/client/index.js';
import { fakeWebSocket } from './fakeSocket.js';
import { at as atTime, soon as soonIn } from './virtualTime.js';
import type { FakeSocket } from './fakeSocket.js';

const STATUS = { c: 'connecting', o: 'open', r: 'reconnecting', x: 'closed' } as const;

describe('OutboxClient in virtual time', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  /** A client on the test scheduler; `onCreate` scripts each socket it opens. */
  function setup(
    onCreate: (socket: FakeSocket, index: number) => void = (socket) => soon(() => socket.open()),
    options: OutboxClientOptions = {},
  ) {
    const fake = fakeWebSocket((socket, index) => {
      created.push(testScheduler.now());
      onCreate(socket, index);
    });
    const created: number[] = [];
    const client = new OutboxClient('ws://test/', {
      WebSocket: fake.WebSocket,
      scheduler: testScheduler,
      reconnect: { initialDelayMs: 100, maxDelayMs: 300, factor: 2, random: () => 0 },
      ...options,
    });
    return { client, sockets: fake.sockets, created };
  }

  const at = (time: number, work: () => void) => atTime(testScheduler, time, work);
  const soon = (work: () => void) => soonIn(testScheduler, work);

  describe('request', () => {
    it('should send the request and stream its events until complete', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        const events = {
          p: { type: 'memory_search.progress', id: 'r1', data: { scanned: 1 } },
          r: { type: 'memory_search.result', id: 'r1', data: { items: [] } },
          c: { type: 'memory_search.complete', id: 'r1' },
        };
        at(2, () => sockets[0].receiveJson(events.p, { type: 'other.progress', id: 'r1' }));
        at(4, () => sockets[0].receiveJson(events.r, { type: 'heartbeat', ts: 1 }, events.c));
        at(9, () => client.close());
        expectObservable(client.request('memory_search', { query: 'q' })).toBe('--p-(rc|)', events);
        at(8, () =>
          expect(sockets[0].sent).toEqual([
            { type: 'memory_search', id: 'r1', data: { query: 'q' } },
          ]),
        );
      });
    });

    it('should complete on cancelled, and send no cancel after the end', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        const x = { type: 'op.cancelled', id: 'r1' };
        at(3, () => sockets[0].receiveJson(x));
        at(5, () => client.close());
        expectObservable(client.request('op'), '^------!').toBe('---(x|)', { x });
        at(4, () => expect(sockets[0].sent).toEqual([{ type: 'op', id: 'r1' }]));
      });
    });

    it('should error with OperationFailedError carrying the server code and message', () => {
      let failure: unknown;
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(3, () =>
          sockets[0].receiveJson({
            type: 'error',
            id: 'r1',
            code: 'memory_search_timeout',
            message: 'The operation ran out of time.',
          }),
        );
        at(5, () => client.close());
        const request = client.request('memory_search', {});
        request.subscribe({ error: (error: unknown) => (failure = error) });
        // A second request, never answered, fails when the client closes.
        expectObservable(client.request('memory_search', {})).toBe(
          '5ms #',
          undefined,
          new ConnectionLostError('memory_search', 'r2', 'The client was closed.'),
        );
      });
      expect(failure).toBeInstanceOf(OperationFailedError);
      expect(failure).toMatchObject({
        code: 'memory_search_timeout',
        message: 'The operation ran out of time.',
        operation: 'memory_search',
        id: 'r1',
      });
    });

    it('should send cancel when unsubscribed before the end', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(1, () => sockets[0].receiveJson({ type: 'op.progress', id: 'r1', data: 1 }));
        at(9, () => client.close());
        expectObservable(client.request('op'), '^--!').toBe('-p-', {
          p: { type: 'op.progress', id: 'r1', data: 1 },
        });
        at(5, () =>
          expect(sockets[0].sent).toEqual([
            { type: 'op', id: 'r1' },
            { type: 'cancel', id: 'r1' },
          ]),
        );
      });
    });

    it('should time out on the scheduler, and cancel the operation on the server', () => {
      let failure: unknown;
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(1000, () => client.close());
        const request = client.request('op', 1, { timeoutMs: 100 });
        request.subscribe({ error: (error: unknown) => (failure = error) });
        expectObservable(request).toBe(
          '100ms #',
          undefined,
          new RequestTimeoutError('op', 'r2', 100),
        );
        at(200, () =>
          expect(sockets[0].sent).toEqual([
            { type: 'op', id: 'r1', data: 1 },
            { type: 'op', id: 'r2', data: 1 },
            { type: 'cancel', id: 'r1' },
            { type: 'cancel', id: 'r2' },
          ]),
        );
      });
      expect(failure).toBeInstanceOf(RequestTimeoutError);
      expect(failure).toMatchObject({ operation: 'op', id: 'r1', timeoutMs: 100 });
    });

    it('should wait for the connection to open before sending', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup((socket) => at(50, () => socket.open()));
        at(10, () => expect(sockets[0].sent).toEqual([]));
        at(60, () => sockets[0].receiveJson({ type: 'op.complete', id: 'r1' }));
        at(70, () => client.close());
        expectObservable(client.request('op')).toBe('60ms (c|)', {
          c: { type: 'op.complete', id: 'r1' },
        });
        at(55, () => expect(sockets[0].sent).toEqual([{ type: 'op', id: 'r1' }]));
      });
    });

    it('should error requests in flight with ConnectionLostError when the connection drops', () => {
      let failure: unknown;
      testScheduler.run(({ expectObservable }) => {
        // The first socket opens and drops at 10; the second never opens.
        const { client, sockets } = setup((socket, index) => {
          if (index === 0) at(0, () => socket.open());
        });
        at(10, () => sockets[0].drop());
        at(500, () => client.close());
        const inFlight = client.request('op');
        inFlight.subscribe({ error: (error: unknown) => (failure = error) });
        expectObservable(inFlight).toBe('10ms #', undefined, new ConnectionLostError('op', 'r1'));
        // Subscribed while reconnecting: waits, then fails only when the client is closed.
        expectObservable(client.request('op'), '20ms ^').toBe(
          '500ms #',
          undefined,
          new ConnectionLostError('op', 'r3', 'The client was closed.'),
        );
      });
      expect(failure).toBeInstanceOf(ConnectionLostError);
      expect(failure).toMatchObject({ operation: 'op', id: 'r1' });
    });

    it('should report a lost connection only after the frames that came before it', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup((socket, index) => {
          if (index === 0) at(0, () => socket.open());
        });
        at(10, () => {
          sockets[0].receiveJson({ type: 'op.complete', id: 'r1' });
          sockets[0].drop();
        });
        at(20, () => client.close());
        expectObservable(client.request('op')).toBe('10ms (c|)', {
          c: { type: 'op.complete', id: 'r1' },
        });
      });
    });
  });

  describe('send', () => {
    it('should send a plain message only while open', () => {
      testScheduler.run(() => {
        const { client, sockets } = setup((socket) => at(5, () => socket.open()));
        at(0, () => expect(client.send({ type: 'chat.message', payload: 'early' })).toBe(false));
        at(6, () => expect(client.send({ type: 'chat.message', payload: 'hi' })).toBe(true));
        at(7, () => client.close());
        at(8, () => {
          expect(client.send({ type: 'chat.message', payload: 'late' })).toBe(false);
          expect(sockets[0].sent).toEqual([{ type: 'chat.message', payload: 'hi' }]);
        });
      });
    });
  });

  describe('final close', () => {
    const big = { type: 'big', text: 'x'.repeat(20_000) };
    const progress = { type: 'op.progress', id: 'r1', data: 1 };

    it.each([
      ['reconnect: false', false],
      ['maxAttempts reached', { maxAttempts: 0 }],
    ] as const)(
      'should deliver a gzip frame received just before the close (%s), then end',
      async (_name, reconnect) => {
        const seen: unknown[] = [];
        const events: unknown[] = [];
        const order: string[] = [];
        let ended!: Promise<void>;
        let failure: unknown;
        let client!: OutboxClient;
        testScheduler.run(() => {
          const setUp = setup(undefined, { reconnect });
          client = setUp.client;
          const { sockets } = setUp;
          ended = new Promise((resolve) =>
            client.messages$.subscribe({
              next: (message) => seen.push(message),
              complete: () => {
                order.push('messages complete');
                resolve();
              },
            }),
          );
          client.status$.subscribe((status) => order.push(status));
          client.request('op').subscribe({
            next: (event) => events.push(event),
            error: (error: unknown) => {
              order.push('request error');
              failure = error;
            },
          });
          at(10, () => {
            sockets[0].receive(gzipSync([big, progress].map((m) => JSON.stringify(m)).join('\n')));
            sockets[0].receiveJson({ type: 'after' });
            sockets[0].drop();
          });
        });
        await ended;
        // Compared by type, so that a failure does not print 20 kB of text.
        expect(seen.map((message) => (message as { type: string }).type)).toEqual([
          'big',
          'op.progress',
          'after',
        ]);
        expect(seen[0]).toEqual(big);
        expect(events).toEqual([progress]);
        expect(failure).toBeInstanceOf(ConnectionLostError);
        // Everything received is delivered before the request fails and the client ends.
        expect(order).toEqual([
          'connecting',
          'open',
          'request error',
          'closed',
          'messages complete',
        ]);
        expect(client.status).toBe('closed');
      },
    );
  });

  describe('reconnect', () => {
    it('should back off exponentially up to the cap, and start over after an open', () => {
      testScheduler.run(({ expectObservable }) => {
        // Sockets 0, 3 and 4 open at once; 1 and 2 fail.
        const { client, sockets, created } = setup((socket, index) =>
          soon(() => (index === 1 || index === 2 ? socket.drop() : socket.open())),
        );
        at(10, () => sockets[0].drop());
        at(700, () => sockets[3].drop());
        at(900, () => client.close());
        expectObservable(client.status$).toBe('o 9ms r 599ms o 89ms r 99ms o 99ms (x|)', STATUS);
        at(901, () => expect(created).toEqual([0, 110, 310, 610, 800]));
      });
    });

    it('should say connecting before the first open', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client } = setup((socket) => at(5, () => socket.open()));
        at(10, () => client.close());
        expectObservable(client.status$).toBe('c 4ms o 4ms (x|)', STATUS);
      });
    });

    it('should give up after maxAttempts, closing everything', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets, created } = setup(
          (socket, index) => soon(() => (index === 0 ? socket.open() : socket.drop())),
          { reconnect: { initialDelayMs: 100, maxAttempts: 2, random: () => 0 } },
        );
        const subs = new Subject<void>();
        at(10, () => client.request('op').subscribe({ error: () => subs.next() }));
        at(20, () => expect(created).toEqual([0]));
        // 0: open; 20: dropped; 120: attempt 1 fails; 320: attempt 2 fails; gives up.
        at(20, () => sockets[0].drop());
        expectObservable(client.status$).toBe('o 19ms r 299ms (x|)', STATUS);
        expectObservable(client.messages$).toBe('320ms |');
        expectObservable(subs).toBe('20ms s', { s: undefined });
        at(400, () => expect(created).toEqual([0, 120, 320]));
      });
    });

    it('should not reconnect with reconnect: false', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets, created } = setup(undefined, { reconnect: false });
        at(10, () => sockets[0].drop());
        expectObservable(client.status$).toBe('o 9ms (x|)', STATUS);
        at(5000, () => expect(created).toEqual([0]));
      });
    });

    it('should stop reconnecting when closed while waiting', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets, created } = setup();
        at(10, () => sockets[0].drop());
        at(50, () => client.close());
        expectObservable(client.status$).toBe('o 9ms r 39ms (x|)', STATUS);
        at(5000, () => expect(created).toEqual([0]));
      });
    });

    it('should close the socket it holds on close()', () => {
      testScheduler.run(() => {
        const { client, sockets } = setup();
        at(10, () => client.close());
        at(11, () =>
          expect(sockets[0].closedWith).toEqual({ code: 1000, reason: 'client closed' }),
        );
      });
    });
  });

  describe('heartbeat', () => {
    it('should close and reconnect when no frame arrives for heartbeatTimeoutMs', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets, created } = setup(undefined, { heartbeatTimeoutMs: 1000 });
        at(400, () => sockets[0].receiveJson({ type: 'heartbeat' }));
        at(1300, () => sockets[0].receiveJson({ type: 'heartbeat' }));
        at(2299, () => expect(sockets[0].closedWith).toBeUndefined());
        at(3000, () => client.close());
        // Silent from 1300: given up on at 2300, reopened 100 ms later.
        expectObservable(client.status$).toBe('o 2299ms r 99ms o 599ms (x|)', STATUS);
        at(2301, () =>
          expect(sockets[0].closedWith).toEqual({
            code: CLOSE_SERVER_SILENT,
            reason: 'server silent',
          }),
        );
        at(2500, () => expect(created).toEqual([0, 2400]));
      });
    });

    it('should leave a silent connection alone when off', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(1_000_000, () => client.close());
        expectObservable(client.status$).toBe('o 999999ms (x|)', STATUS);
        at(999_999, () => expect(sockets[0].closedWith).toBeUndefined());
      });
    });
  });
});

describe('backoffDelay', () => {
  it('should grow by factor, cap at maxDelayMs, and take off up to jitter of it at random', () => {
    const fixed = (random: number) =>
      resolveReconnect({
        initialDelayMs: 100,
        maxDelayMs: 1000,
        factor: 3,
        jitter: 0.5,
        random: () => random,
      });
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(attempt, fixed(0)))).toEqual([
      100, 300, 900, 1000,
    ]);
    expect(backoffDelay(1, fixed(0.5))).toBe(225);
    expect(backoffDelay(5, fixed(0.999))).toBeCloseTo(500.5);
  });

  it('should refuse options that make no sense', () => {
    expect(() => resolveReconnect({ initialDelayMs: 10, maxDelayMs: 5 })).toThrow(RangeError);
    expect(() => resolveReconnect({ jitter: 2 })).toThrow(RangeError);
    expect(() => resolveReconnect({ factor: 0.5 })).toThrow(RangeError);
  });
});
