import fc from 'fast-check';
import { gunzipSync } from 'node:zlib';
import { TestScheduler } from 'rxjs/testing';
import { gzipSyncCompressor, WsOutbox } from '../src/index.js';
import type { FrameReport, OutboxStats, WsOutboxOptions } from '../src/index.js';
import { countingScheduler } from './helpers/countingScheduler.js';
import { SocketDouble } from './helpers/socketDouble.js';

interface Msg {
  seq: number;
  pad?: string;
}

/** Under the 9 bytes of `{"seq":0}`: any frame in flight stops the buffer. */
const TINY_HWM = 5;

function seqs(values: readonly unknown[]): number[] {
  return values.map((value) => (value as Msg).seq);
}

/** Frames as [virtual time, seqs in the frame]. */
function timeline(socket: SocketDouble): Array<[number, number[]]> {
  return socket.frames.map((frame) => [frame.time, seqs(frame.values)]);
}

describe('WsOutbox in virtual time', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  /** An outbox on a socket double, both on the test scheduler, compressing synchronously. */
  function setup(options: WsOutboxOptions<Msg> = {}, latency = 1) {
    const socket = new SocketDouble(testScheduler, latency);
    const outbox = new WsOutbox<Msg>(socket, {
      scheduler: testScheduler,
      compressor: gzipSyncCompressor,
      metrics: false,
      ...options,
    }).start();
    return { socket, outbox };
  }

  /** Runs `work` at virtual time `time`. */
  function at(time: number, work: () => void): void {
    testScheduler.schedule(work, time);
  }

  it('should send one frame 25 ms after the first message of a burst, then open a new window', () => {
    let socket!: SocketDouble;
    testScheduler.run(() => {
      let outbox: WsOutbox<Msg>;
      ({ socket, outbox } = setup());
      at(0, () => outbox.send({ seq: 0 }));
      at(10, () => outbox.send({ seq: 1 }));
      at(24, () => outbox.send({ seq: 2 }));
      at(30, () => outbox.send({ seq: 3 }));
      at(56, () => outbox.send({ seq: 4 }));
    });

    expect(timeline(socket)).toEqual([
      [25, [0, 1, 2]],
      [55, [3]],
      [81, [4]],
    ]);
  });

  describe('flush()', () => {
    it('should send what the window holds at once, then open a new window for what follows', () => {
      let socket!: SocketDouble;
      let outbox!: WsOutbox<Msg>;
      testScheduler.run(() => {
        ({ socket, outbox } = setup());
        at(0, () => outbox.send({ seq: 0 }));
        at(5, () => {
          outbox.send({ seq: 1 });
          outbox.flush();
        });
        at(8, () => outbox.send({ seq: 2 }));
      });

      expect(timeline(socket)).toEqual([
        [5, [0, 1]],
        [33, [2]],
      ]);
      expect(outbox.stats()).toMatchObject({ accepted: 3, delivered: 3, dropped: 0, failed: 0 });
    });

    it('should send nothing and count nothing when nothing waits, or when the outbox is idle', () => {
      let socket!: SocketDouble;
      let outbox!: WsOutbox<Msg>;
      testScheduler.run(() => {
        ({ socket, outbox } = setup());
        at(0, () => outbox.flush());
        at(1, () => outbox.send({ seq: 0 }));
        at(26, () => outbox.flush());
        at(26, () => outbox.flush());
      });

      expect(timeline(socket)).toEqual([[26, [0]]]);
      expect(outbox.stats()).toMatchObject({ accepted: 1, delivered: 1, dropped: 0, pending: 0 });
    });

    it("should leave held messages to the socket's pace while it is not ready", () => {
      let socket!: SocketDouble;
      let outbox!: WsOutbox<Msg>;
      testScheduler.run(() => {
        ({ socket, outbox } = setup({ highWaterMark: TINY_HWM }, 10));
        at(0, () => outbox.send({ seq: 0 }));
        // The first frame is in flight until 35: these are held by the buffer.
        at(30, () => {
          outbox.send({ seq: 1 });
          outbox.send({ seq: 2 });
          outbox.flush();
        });
      });

      expect(timeline(socket)).toEqual([
        [25, [0]],
        [60, [1, 2]],
      ]);
      expect(outbox.stats()).toMatchObject({ accepted: 3, delivered: 3, dropped: 0 });
    });

    it('should do nothing once the outbox is stopping', () => {
      let socket!: SocketDouble;
      let outbox!: WsOutbox<Msg>;
      testScheduler.run(() => {
        ({ socket, outbox } = setup());
        at(0, () => {
          outbox.send({ seq: 0 });
          void outbox.stop();
          outbox.flush();
        });
      });

      expect(timeline(socket)).toEqual([[0, [0]]]);
      expect(outbox.stats()).toMatchObject({ accepted: 1, delivered: 1, dropped: 0 });
    });
  });

  it('should send a full batch at once, without waiting for the window', () => {
    let socket!: SocketDouble;
    testScheduler.run(() => {
      let outbox: WsOutbox<Msg>;
      ({ socket, outbox } = setup({ maxBatch: 3 }));
      at(5, () => [0, 1, 2, 3].forEach((seq) => outbox.send({ seq })));
    });

    expect(timeline(socket)).toEqual([
      [5, [0, 1, 2]],
      [30, [3]],
    ]);
  });

  it('should gzip a frame over compressAbove into a binary frame at the same virtual time', () => {
    let socket!: SocketDouble;
    const large = { seq: 1, pad: 'q'.repeat(200) };
    testScheduler.run(() => {
      let outbox: WsOutbox<Msg>;
      ({ socket, outbox } = setup({ compressAbove: 100 }));
      at(0, () => outbox.send({ seq: 0 }));
      at(40, () => outbox.send(large));
    });

    expect(timeline(socket)).toEqual([
      [25, [0]],
      [65, [1]],
    ]);
    expect(typeof socket.frames[0].data).toBe('string');
    const gzip = socket.frames[1].data as Uint8Array;
    expect(gzip).toBeInstanceOf(Uint8Array);
    expect(gunzipSync(gzip).toString()).toBe(JSON.stringify(large));
  });

  it('should hold messages while the socket withholds its callbacks past highWaterMark, and release them when it drains', () => {
    let socket!: SocketDouble;
    const results: boolean[] = [];
    testScheduler.run(({ expectObservable }) => {
      let outbox: WsOutbox<Msg>;
      ({ socket, outbox } = setup({ highWaterMark: TINY_HWM, capacity: 2 }));
      socket.stall();
      expectObservable(outbox.ready$, '^ 99ms !').toBe('t 24ms f 14ms t 24ms ft', {
        t: true,
        f: false,
      });
      at(0, () => results.push(outbox.send({ seq: 0 })));
      // The first frame (at 25) is over highWaterMark and not called back: hold, then drop.
      at(30, () => [1, 2, 3].forEach((seq) => results.push(outbox.send({ seq }))));
      at(40, () => socket.flow());
    });

    expect(results).toEqual([true, true, true, false]);
    expect(timeline(socket)).toEqual([
      [25, [0]],
      [65, [1, 2]],
    ]);
  });

  it('should send the pending batch at once on stop() and resolve once it is called back', async () => {
    let socket!: SocketDouble;
    let stopping!: Promise<OutboxStats>;
    const pendingAt: Record<number, number> = {};
    testScheduler.run(() => {
      let outbox: WsOutbox<Msg>;
      ({ socket, outbox } = setup({}, 3));
      at(0, () => outbox.send({ seq: 0 }));
      at(5, () => {
        stopping = outbox.stop();
        testScheduler.schedule(() => (pendingAt[7] = outbox.stats().pending), 2);
        testScheduler.schedule(() => (pendingAt[8] = outbox.stats().pending), 3);
      });
    });

    expect(timeline(socket)).toEqual([[5, [0]]]);
    expect(pendingAt).toEqual({ 7: 1, 8: 0 });
    expect(await stopping).toEqual({
      accepted: 1,
      delivered: 1,
      dropped: 0,
      failed: 0,
      pending: 0,
    });
  });

  it('should count what is still pending as dropped at exactly stop({ timeoutMs })', async () => {
    let stopping!: Promise<OutboxStats>;
    const statsAt: Record<number, OutboxStats> = {};
    testScheduler.run(() => {
      const { socket, outbox } = setup({ highWaterMark: TINY_HWM });
      socket.stall();
      at(0, () => outbox.send({ seq: 0 }));
      at(30, () => [1, 2].forEach((seq) => outbox.send({ seq })));
      at(50, () => {
        stopping = outbox.stop({ timeoutMs: 100 });
        // Scheduled after stop()'s own timeout action, so these run after it at equal times.
        testScheduler.schedule(() => (statsAt[149] = outbox.stats()), 99);
        testScheduler.schedule(() => (statsAt[150] = outbox.stats()), 100);
      });
    });

    expect(statsAt[149]).toEqual({ accepted: 3, delivered: 0, dropped: 0, failed: 0, pending: 3 });
    const final = { accepted: 3, delivered: 0, dropped: 3, failed: 0, pending: 0 };
    expect(statsAt[150]).toEqual(final);
    expect(await stopping).toEqual(final);
  });

  it('should count held messages as dropped, and send none of them, when the socket closes', () => {
    let socket!: SocketDouble;
    let outbox!: WsOutbox<Msg>;
    testScheduler.run(() => {
      // maxBatch 2: messages released by the failing callback would make a frame at once.
      ({ socket, outbox } = setup({ highWaterMark: TINY_HWM, maxBatch: 2 }));
      socket.stall();
      at(0, () => outbox.send({ seq: 0 }));
      at(30, () => [1, 2, 3].forEach((seq) => outbox.send({ seq })));
      at(40, () => socket.close());
    });

    // Frame 0 was inside the socket when it closed: failed. 1–3 never left the buffer.
    expect(timeline(socket)).toEqual([[25, [0]]]);
    expect(outbox.stats()).toEqual({
      accepted: 4,
      delivered: 0,
      dropped: 3,
      failed: 1,
      pending: 0,
    });
  });

  it("should return true from send() when 'drop-oldest' makes room for the message", () => {
    let socket!: SocketDouble;
    const results: boolean[] = [];
    testScheduler.run(() => {
      let outbox: WsOutbox<Msg>;
      ({ socket, outbox } = setup({
        highWaterMark: TINY_HWM,
        capacity: 2,
        overflow: 'drop-oldest',
      }));
      socket.stall();
      at(0, () => results.push(outbox.send({ seq: 0 })));
      at(30, () => [1, 2, 3].forEach((seq) => results.push(outbox.send({ seq }))));
      at(40, () => socket.flow());
    });

    // 1 is dropped to make room for 3; 3 itself is held and delivered.
    expect(timeline(socket)).toEqual([
      [25, [0]],
      [65, [2, 3]],
    ]);
    expect(results).toEqual([true, true, true, true]);
  });

  it('should send every batch in order, and count it right, when a held batch with a serialization failure drains after stop()', async () => {
    let socket!: SocketDouble;
    let stopping!: Promise<OutboxStats>;
    testScheduler.run(() => {
      let outbox: WsOutbox<Msg>;
      ({ socket, outbox } = setup({ highWaterMark: TINY_HWM }));
      socket.stall();
      at(0, () => outbox.send({ seq: 0 }));
      // The frame of 0 (at 25) is over highWaterMark and not called back: these are held.
      at(30, () => {
        outbox.send({ seq: -1, pad: 1n } as unknown as Msg);
        [1, 2].forEach((seq) => outbox.send({ seq }));
      });
      at(40, () => (stopping = outbox.stop()));
      at(50, () => socket.flow());
    });

    expect(timeline(socket)).toEqual([
      [25, [0]],
      [50, [1, 2]],
    ]);
    expect(await stopping).toEqual({
      accepted: 4,
      delivered: 3,
      dropped: 0,
      failed: 1,
      pending: 0,
    });
  });

  it('should keep its pipeline for releaseAfterMs once idle, then hold no listener and no timer, and subscribe again on the next send', () => {
    let socket!: SocketDouble;
    const listeners: Array<[number, number]> = [];
    const live: Array<[number, number]> = [];
    testScheduler.run(() => {
      const scheduler = countingScheduler(testScheduler);
      socket = new SocketDouble(testScheduler, 1);
      const count = () =>
        listeners.push([
          testScheduler.now(),
          socket.listenerCount('close') + socket.listenerCount('open'),
        ]);
      const outbox = new WsOutbox<Msg>(socket, {
        scheduler,
        compressor: gzipSyncCompressor,
        metrics: false,
      }).start();
      count();
      at(0, () => {
        outbox.send({ seq: 0 });
        count();
      });
      // The frame leaves at 25 and is called back at 26: idle from then on, the pipeline kept
      // (one timer: its release at 1026), and reused by the next message.
      at(27, () => {
        count();
        live.push([27, scheduler.live]);
      });
      at(40, () => {
        outbox.send({ seq: 1 });
        count();
      });
      // Idle again at 1026: released.
      at(1027, () => {
        count();
        live.push([1027, scheduler.live]);
      });
      at(1040, () => {
        outbox.send({ seq: 2 });
        count();
      });
    });

    expect(listeners).toEqual([
      [0, 0],
      [0, 1],
      [27, 1],
      [40, 1],
      [1027, 0],
      [1040, 1],
    ]);
    expect(live).toEqual([
      [27, 1],
      [1027, 0],
    ]);
    expect(timeline(socket)).toEqual([
      [25, [0]],
      [65, [1]],
      [1065, [2]],
    ]);
  });

  it('should refuse a releaseAfterMs that is not a finite number >= 0, at construction', () => {
    const socket = new SocketDouble(testScheduler, 1);
    for (const releaseAfterMs of [-1, Number.NaN, Infinity]) {
      expect(() => new WsOutbox<Msg>(socket, { releaseAfterMs, metrics: false })).toThrow(
        /releaseAfterMs must be a finite number >= 0/,
      );
    }
  });

  it('should hold no listener on its socket and no timer once idle with releaseAfterMs 0, and subscribe again on the next send', () => {
    let socket!: SocketDouble;
    const listeners: Array<[number, number]> = [];
    const live: number[] = [];
    testScheduler.run(() => {
      const scheduler = countingScheduler(testScheduler);
      socket = new SocketDouble(testScheduler, 1);
      const count = () =>
        listeners.push([
          testScheduler.now(),
          socket.listenerCount('close') + socket.listenerCount('open'),
        ]);
      const outbox = new WsOutbox<Msg>(socket, {
        scheduler,
        compressor: gzipSyncCompressor,
        metrics: false,
        releaseAfterMs: 0,
      }).start();
      count();
      at(0, () => {
        outbox.send({ seq: 0 });
        count();
      });
      // The frame leaves at 25 and is called back at 26: nothing is pending from then on.
      at(27, () => {
        count();
        live.push(scheduler.live);
      });
      at(40, () => {
        outbox.send({ seq: 1 });
        count();
      });
      at(67, () => {
        count();
        live.push(scheduler.live);
      });
    });

    expect(listeners).toEqual([
      [0, 0],
      [0, 1],
      [27, 0],
      [40, 1],
      [67, 0],
    ]);
    expect(live).toEqual([0, 0]);
    expect(timeline(socket)).toEqual([
      [25, [0]],
      [65, [1]],
    ]);
  });

  it('should stay subscribed for a window once idle when leading, so the next message is coalesced', () => {
    let socket!: SocketDouble;
    testScheduler.run(() => {
      let outbox: WsOutbox<Msg>;
      ({ socket, outbox } = setup({ leading: true, coalesceMs: 10 }));
      // 0 leaves alone at once and is called back at 1; 1 and 2 fall in the window it opened.
      at(0, () => outbox.send({ seq: 0 }));
      at(5, () => outbox.send({ seq: 1 }));
      at(8, () => outbox.send({ seq: 2 }));
      // Idle from 11 for a whole window: 3 is the first after idle again, and leaves alone.
      at(40, () => outbox.send({ seq: 3 }));
    });

    expect(timeline(socket)).toEqual([
      [0, [0]],
      [10, [1, 2]],
      [40, [3]],
    ]);
  });

  it('should report every settled frame to onFrameSent, with its sizes before and after gzip', () => {
    let socket!: SocketDouble;
    const reports: FrameReport[] = [];
    testScheduler.run(() => {
      let outbox: WsOutbox<Msg>;
      ({ socket, outbox } = setup({ compressAbove: 40, onFrameSent: (r) => reports.push(r) }));
      at(0, () => [0, 1].forEach((seq) => outbox.send({ seq })));
      at(30, () => [2, 3, 4, 5, 6].forEach((seq) => outbox.send({ seq, pad: 'x'.repeat(20) })));
      at(60, () => outbox.send({ seq: 7 }));
      at(86, () => socket.fail());
    });

    const [small, large, failed] = reports;
    expect(reports).toHaveLength(3);
    expect(small).toMatchObject({ socket, messages: 2, compressed: false, error: undefined });
    expect(small.textBytes).toBe(small.bytes);
    expect(large).toMatchObject({ messages: 5, compressed: true, error: undefined });
    expect(large.bytes).toBe((socket.frames[1].data as Uint8Array).byteLength);
    expect(large.textBytes).toBe(
      Buffer.byteLength(
        [2, 3, 4, 5, 6].map((seq) => JSON.stringify({ seq, pad: 'x'.repeat(20) })).join('\n'),
      ),
    );
    expect(failed.error).toBeInstanceOf(Error);
    expect(reports.every((r) => r.latencyMs >= 0)).toBe(true);
  });

  describe('property: random sends, stalls, failures and closes', () => {
    type Command =
      | { kind: 'send'; count: number }
      | { kind: 'unserializable' }
      | { kind: 'stall' }
      | { kind: 'flow' }
      | { kind: 'fail' }
      | { kind: 'close' };

    const command: fc.Arbitrary<Command> = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          kind: fc.constant('send' as const),
          count: fc.integer({ min: 1, max: 6 }),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ kind: 'unserializable' as const }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'stall' as const }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'flow' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'fail' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
    );

    const options: fc.Arbitrary<WsOutboxOptions<Msg>> = fc.record({
      capacity: fc.integer({ min: 1, max: 8 }),
      maxBatch: fc.integer({ min: 1, max: 8 }),
      highWaterMark: fc.integer({ min: 1, max: 200 }),
      coalesceMs: fc.integer({ min: 0, max: 30 }),
      leading: fc.boolean(),
      overflow: fc.constantFrom('drop-newest' as const, 'drop-oldest' as const),
      compressAbove: fc.constantFrom(false as const, 40),
    });

    it('should account for every message exactly and deliver in order without duplicates', () => {
      fc.assert(
        fc.property(
          options,
          fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), command), { maxLength: 40 }),
          fc.integer({ min: 0, max: 5 }),
          fc.integer({ min: 0, max: 200 }),
          (outboxOptions, script, latency, timeoutMs) => {
            testScheduler = new TestScheduler((actual, expected) =>
              expect(actual).toEqual(expected),
            );
            let socket!: SocketDouble;
            let outbox!: WsOutbox<Msg>;
            let sends = 0;
            const refused: number[] = [];
            testScheduler.run(() => {
              ({ socket, outbox } = setup(outboxOptions, latency));
              let time = 0;
              let seq = 0;
              for (const [gap, step] of script) {
                time += gap;
                at(time, () => {
                  switch (step.kind) {
                    case 'send':
                      for (let i = 0; i < step.count; i++, seq++, sends++) {
                        if (!outbox.send({ seq, pad: 'p'.repeat(seq % 7) })) refused.push(seq);
                      }
                      break;
                    case 'unserializable':
                      sends++;
                      outbox.send({ seq: -1, pad: 1n } as unknown as Msg);
                      break;
                    case 'stall':
                      socket.stall();
                      break;
                    case 'flow':
                      socket.flow();
                      break;
                    case 'fail':
                      socket.fail();
                      break;
                    case 'close':
                      socket.close();
                      break;
                  }
                });
              }
              at(time + 1, () => void outbox.stop({ timeoutMs }));
            });

            const stats = outbox.stats();
            expect(stats.pending).toBe(0);
            expect(stats.accepted).toBe(sends);
            expect(stats.accepted).toBe(stats.delivered + stats.dropped + stats.failed);
            const sent = seqs(socket.sent);
            // Strictly increasing: in order, no duplicates, no unserializable message (-1).
            for (let i = 1; i < sent.length; i++) expect(sent[i]).toBeGreaterThan(sent[i - 1]);
            expect(sent.every((s) => s >= 0)).toBe(true);
            // What the socket acknowledged while the outbox listened is what it counts delivered.
            expect(seqs(socket.delivered)).toHaveLength(stats.delivered);
            if (outboxOptions.overflow === 'drop-newest') {
              expect(sent.filter((s) => refused.includes(s))).toEqual([]);
            }
          },
        ),
        { numRuns: 2000 },
      );
    });
  });
});
