import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { map, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { boundedBuffer } from '../../operators/index.js';
import { gzipOver, gzipSyncCompressor, socketSink } from '../../src/index.js';
import { createVirtualSocket, decodeFrameSync } from '../../src/testing/index.js';
import type { VirtualSocket } from '../../src/testing/index.js';

describe('createVirtualSocket', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  /** Sends `frame` at virtual time `time`; its callback's outcome goes to `settled`. */
  function sendAt(
    socket: VirtualSocket,
    time: number,
    frame: string | Uint8Array,
    settled?: Subject<string>,
  ): void {
    testScheduler.schedule(
      () => socket.send(frame, (error) => settled?.next(error ? 'e' : 'k')),
      time,
    );
  }

  describe('frames$', () => {
    it('should emit the decoded values of each frame at the virtual time it is sent', () => {
      testScheduler.run(({ expectObservable }) => {
        const socket = createVirtualSocket(testScheduler);
        expectObservable(socket.frames$).toBe('--a 4ms b', { a: [1, { x: 2 }], b: ['s'] });
        expectObservable(socket.messages$).toBe('--(ab) 1ms c', { a: 1, b: { x: 2 }, c: 's' });
        expectObservable(socket.rawFrames$).toBe('--a 4ms b', { a: '1\n{"x":2}', b: '"s"' });
        sendAt(socket, 2, '1\n{"x":2}');
        sendAt(socket, 7, '"s"');
      });
    });

    it('should gunzip binary frames and base64 gzip envelopes', () => {
      const text = '{"a":1}\n{"a":2}';
      testScheduler.run(({ cold, expectObservable }) => {
        const socket = createVirtualSocket(testScheduler);
        const envelope = cold('----t', { t: text }).pipe(
          gzipOver(0, { encoding: 'base64', compressor: gzipSyncCompressor }),
        );
        expectObservable(socket.frames$).toBe('-b--e', {
          b: [{ a: 1 }, { a: 2 }],
          e: [{ a: 1 }, { a: 2 }],
        });
        expectObservable(socket.rawFrames$.pipe(map((frame) => typeof frame))).toBe('-b--s', {
          b: 'object',
          s: 'string',
        });
        sendAt(socket, 1, gzipSync(text));
        envelope.subscribe((frame) => socket.send(frame, () => {}));
      });
    });

    it('should error when a frame cannot be decoded, and use a custom decode when given', () => {
      testScheduler.run(({ expectObservable }) => {
        const socket = createVirtualSocket(testScheduler);
        const custom = createVirtualSocket(testScheduler, {
          decode: (frame) => String(frame).split(','),
        });
        expectObservable(socket.frames$).toBe('-#', undefined, expect.any(SyntaxError));
        expectObservable(custom.frames$).toBe('-a', { a: ['x', 'y'] });
        sendAt(socket, 1, '{not json');
        sendAt(custom, 1, 'x,y');
      });
    });
  });

  describe('send callbacks', () => {
    it('should call back `latency` after each send while the client reads (default 1)', () => {
      testScheduler.run(({ expectObservable }) => {
        const settledDefault = new Subject<string>();
        const settledSlow = new Subject<string>();
        const socket = createVirtualSocket(testScheduler);
        const slow = createVirtualSocket(testScheduler, { latency: 5 });
        expectObservable(settledDefault).toBe('---k-k');
        expectObservable(settledSlow).toBe('-------k-k');
        sendAt(socket, 2, '1', settledDefault);
        sendAt(socket, 4, '2', settledDefault);
        sendAt(slow, 2, '1', settledSlow);
        sendAt(slow, 4, '2', settledSlow);
      });
    });

    it('should withhold callbacks while ready is false and fire them in order when it turns true', () => {
      let socket!: VirtualSocket;
      testScheduler.run(({ hot, expectObservable }) => {
        const settled = new Subject<string>();
        socket = createVirtualSocket(testScheduler, {
          ready: hot('--f------t--f----t', { t: true, f: false }),
        });
        expectObservable(settled.pipe(map(() => socket.bufferedAmount))).toBe(
          '-a-------(bc)----(de)',
          { a: 0, b: 1, c: 0, d: 1, e: 0 },
        );
        sendAt(socket, 0, '1', settled); // settles at 1, still reading
        sendAt(socket, 3, '2', settled); // withheld until 9
        sendAt(socket, 5, '3', settled);
        sendAt(socket, 12, '4', settled); // sent as reading stops: withheld until 17
        sendAt(socket, 15, '5', settled);
      });

      expect(socket.sent.map(({ time, settledAt, outcome }) => [time, settledAt, outcome])).toEqual(
        [
          [0, 1, 'ok'],
          [3, 9, 'ok'],
          [5, 9, 'ok'],
          [12, 17, 'ok'],
          [15, 17, 'ok'],
        ],
      );
    });

    it('should keep the latency of a frame sent while withheld callbacks are released', () => {
      let socket!: VirtualSocket;
      testScheduler.run(({ hot, expectObservable }) => {
        socket = createVirtualSocket(testScheduler, {
          ready: hot('f------t', { t: true, f: false }),
        });
        // Each frame not yet called back stops the buffer, so releasing `a`'s callback at 7
        // sends `b` from inside that callback.
        const sink = socketSink(socket, { highWaterMark: 1 });
        hot('-a-b-c', { a: 1, b: 2, c: 3 })
          .pipe(
            boundedBuffer(10, { ready: sink.ready$ }),
            map((n) => String(n)),
          )
          .subscribe(sink);
        expectObservable(socket.frames$).toBe('-a-----bc', { a: [1], b: [2], c: [3] });
      });

      expect(socket.sent.map(({ time, settledAt }) => [time, settledAt])).toEqual([
        [1, 7],
        [7, 8],
        [8, 9],
      ]);
    });

    it('should settle every frame in order, no earlier than its latency, whenever it is sent', () => {
      // Sends at random times and from inside send callbacks, against random reading flips.
      const scenario = fc.record({
        latency: fc.integer({ min: 0, max: 5 }),
        sends: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 12 }),
        chained: fc.array(fc.boolean(), { maxLength: 12 }),
        flips: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 8 }),
      });
      fc.assert(
        fc.property(scenario, ({ latency, sends, chained, flips }) => {
          const scheduler = new TestScheduler(() => {});
          let socket!: VirtualSocket;
          scheduler.run(() => {
            // The reading flips false, true, false … at the sorted times, then stays true.
            const times = [...flips].sort((a, b) => a - b);
            const ready = new Subject<boolean>();
            socket = createVirtualSocket(scheduler, { ready, latency });
            times.forEach((time, index) =>
              scheduler.schedule(() => ready.next(index % 2 === 1), time),
            );
            scheduler.schedule(() => ready.next(true), 41);
            let index = 0;
            const sendNext = (): void => {
              const n = index++;
              // A chained frame's successor is sent from inside its callback.
              socket.send(String(n), () => {
                if (chained[n]) sendNext();
              });
            };
            for (const time of sends) scheduler.schedule(sendNext, time);
          });
          const sent = socket.sent;
          for (const frame of sent) {
            expect(frame.outcome).toBe('ok');
            expect(frame.settledAt!).toBeGreaterThanOrEqual(frame.time + latency);
          }
          const settledOrder = [...sent].sort((a, b) => a.settledAt! - b.settledAt!);
          expect(settledOrder.map(({ data }) => data)).toEqual(sent.map(({ data }) => data));
          expect(socket.bufferedAmount).toBe(0);
        }),
      );
    });

    it('should make socketSink report not ready while the withheld bytes exceed its highWaterMark', () => {
      testScheduler.run(({ hot, expectObservable }) => {
        const socket = createVirtualSocket(testScheduler, {
          ready: hot('f-------t', { t: true, f: false }),
        });
        const sink = socketSink(socket, { highWaterMark: 4 });
        expectObservable(sink.ready$).toBe('t-f-----t', { t: true, f: false });
        testScheduler.schedule(() => sink.next('"abc"'), 2);
      });
    });
  });

  describe('close', () => {
    it('should fail withheld callbacks, emit close once, and complete its Observables at the close marble', () => {
      let socket!: VirtualSocket;
      const events: Array<[number, string]> = [];
      testScheduler.run(({ hot, expectObservable }) => {
        const settled = new Subject<string>();
        socket = createVirtualSocket(testScheduler, {
          ready: hot('-f', { f: false }),
          close: hot('------x-x'),
        });
        const onClose = () => events.push([testScheduler.now(), `close ${socket.readyState}`]);
        socket.on('close', onClose);
        socket.on('close', () => events.push([testScheduler.now(), 'second listener']));
        expectObservable(socket.frames$).toBe('--a---|', { a: [1] });
        expectObservable(socket.messages$).toBe('--a---|', { a: 1 });
        expectObservable(socket.rawFrames$).toBe('--a---|', { a: '1' });
        expectObservable(settled).toBe('------e--e');
        sendAt(socket, 2, '1', settled);
        sendAt(socket, 9, '2', settled); // after close: fails on the next action, like ws
      });

      expect(events).toEqual([
        [6, 'close 3'],
        [6, 'second listener'],
      ]);
      expect(socket.readyState).toBe(3);
      expect(socket.sent.map(({ time, outcome }) => [time, outcome])).toEqual([
        [2, 'error'],
        [9, 'error'],
      ]);
    });

    it('should close at close() and no longer call a listener removed with off()', () => {
      const events: number[] = [];
      testScheduler.run(({ expectObservable }) => {
        const socket = createVirtualSocket(testScheduler);
        const removed = () => events.push(-1);
        socket.on('close', removed);
        socket.on('close', () => events.push(testScheduler.now()));
        socket.off('close', removed);
        expectObservable(socket.frames$).toBe('---|');
        testScheduler.schedule(() => socket.close(), 3);
        testScheduler.schedule(() => socket.close(), 4);
      });
      expect(events).toEqual([3]);
    });
  });

  describe('open', () => {
    it('should start CONNECTING, throw on send as ws does, and open at the open marble', () => {
      const states: Array<[number, number]> = [];
      testScheduler.run(({ cold, expectObservable }) => {
        const socket = createVirtualSocket(testScheduler, { open: cold('---o-o') });
        socket.on('open', () => states.push([testScheduler.now(), socket.readyState]));
        expect(socket.readyState).toBe(0);
        expect(() => socket.send('1', () => {})).toThrow(/CONNECTING/);
        expectObservable(socketSink(socket).ready$).toBe('f--t', { t: true, f: false });
      });
      expect(states).toEqual([[3, 1]]);
    });
  });

  it('should refuse a negative latency', () => {
    expect(() => createVirtualSocket(testScheduler, { latency: -1 })).toThrow(RangeError);
  });

  it('decodeFrameSync should read text, gzip bytes and the base64 envelope alike', () => {
    const text = '{"a":1}\n"b"';
    const gzip = gzipSync(text);
    const envelope = JSON.stringify({
      compressed: true,
      encoding: 'gzip',
      data: gzip.toString('base64'),
    });
    for (const frame of [text, gzip, envelope])
      expect(decodeFrameSync(frame)).toEqual([{ a: 1 }, 'b']);
  });
});

it('decodeFrameSync should read an application message that only looks like an envelope as text', () => {
  // decodeFrame and the client leave such a message alone; the virtual socket must agree.
  const lookAlike = '{"compressed":true,"encoding":"gzip","data":"not gzip"}';
  expect(decodeFrameSync(lookAlike)).toEqual([
    { compressed: true, encoding: 'gzip', data: 'not gzip' },
  ]);
});
