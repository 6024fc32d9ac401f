import { TestScheduler } from 'rxjs/testing';
import { gzipSyncCompressor, Operations, progress, result, WsOutbox } from '../../src/index.js';
import type { OutboxStats } from '../../src/index.js';
import { SocketDouble } from '../helpers/socketDouble.js';

/** Under the size of any message: one frame in flight stops the outbox's buffer. */
const TINY_HWM = 5;

describe('Operations through a full WsOutbox, in virtual time', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('should deliver terminal events past overflow, while progress, results and refusals may drop', () => {
    let socket!: SocketDouble;
    let stats!: OutboxStats;
    testScheduler.run(() => {
      socket = new SocketDouble(testScheduler);
      const outbox = new WsOutbox(socket, {
        scheduler: testScheduler,
        compressor: gzipSyncCompressor,
        metrics: false,
        capacity: 2,
        highWaterMark: TINY_HWM,
      }).start();
      const operations = new Operations({ scheduler: testScheduler, metrics: false })
        .register('burst', () => [progress(0), ...[1, 2, 3, 4, 5].map((n) => result(n))])
        .register('failing', () => {
          throw new Error('boom');
        });
      const runner = operations.runner(outbox);
      // A client that stopped reading: the first frame (at 25) is never called back.
      socket.stall();
      testScheduler.schedule(() => outbox.send({ type: 'filler' }), 0);
      testScheduler.schedule(() => {
        runner.receive('{"type":"burst","id":"b1"}');
        runner.receive('{"type":"failing","id":"f1"}');
        runner.receive('{"type":"nope","id":"n1"}');
      }, 30);
      testScheduler.schedule(() => socket.flow(), 100);
      testScheduler.schedule(() => (stats = outbox.stats()), 200);
    });

    expect(socket.delivered).toEqual([
      { type: 'filler' },
      // The buffer (capacity 2) took these two; results 2 to 5 and the refusal were dropped.
      { type: 'burst.progress', id: 'b1', data: 0 },
      { type: 'burst.result', id: 'b1', data: 1 },
      { type: 'burst.complete', id: 'b1' },
      { type: 'error', id: 'f1', code: 'failing_error', message: 'The operation failed.' },
    ]);
    expect(stats).toEqual({ accepted: 10, delivered: 5, dropped: 5, failed: 0, pending: 0 });
  });
});
