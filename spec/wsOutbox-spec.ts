import { EventEmitter } from 'node:events';
import type WebSocket from 'ws';
import { Registry } from 'prom-client';
import { VirtualTimeScheduler } from 'rxjs';
import { COMPRESSED_ENVELOPE_PREFIX, OutboxEndedError, WsOutbox } from '../src/index.js';
import type { OutboxStats } from '../src/index.js';
import { FrameCollector } from './helpers/frameCollector.js';
import { MeteredSocket } from './helpers/meteredSocket.js';
import { sample } from './helpers/metricsText.js';
import { nextTurn, until } from './helpers/until.js';
import { closed, TestServer } from './helpers/wsServer.js';

interface Msg {
  seq: number;
  pad?: string;
}

/** ~1 KiB per message, so a few thousand fill the loopback socket buffers. */
const PAD = 'x'.repeat(1000);
const KIB = 1024;
/** A ws frame header is at most 14 bytes (server frames are unmasked: 10). */
const MAX_FRAME_HEADER = 14;
/** Upper bound on producer turns: the loops stop by themselves even if backpressure never bites. */
const MAX_TURNS = 400;
const PER_TURN = 250;

function expectBalanced(stats: OutboxStats): void {
  expect(stats.accepted).toBe(stats.delivered + stats.dropped + stats.failed + stats.pending);
}

function seqs(values: readonly unknown[]): number[] {
  return values.map((value) => (value as Msg).seq);
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
}

describe('WsOutbox on a real ws socket', () => {
  let server: TestServer;
  let registry: Registry;

  beforeEach(async () => {
    server = await TestServer.start();
    registry = new Registry();
  });

  afterEach(async () => {
    await server.close();
  });

  async function metric(name: string, labels?: Record<string, string>): Promise<number> {
    return sample(await registry.metrics(), name, labels);
  }

  it('should deliver 1000 messages sent at once whole, in order, in far fewer frames', async () => {
    const { client, server: socket } = await server.pair();
    const received = new FrameCollector(client);
    const outbox = new WsOutbox<Msg>(socket, { metrics: registry }).start();
    const input = Array.from({ length: 1000 }, (_, seq) => ({ seq, pad: `message ${seq}` }));

    const results = input.map((message) => outbox.send(message));

    expect(results.every(Boolean)).toBe(true);
    await received.untilValues(1000);
    expect(received.values).toEqual(input);
    expect(received.frames.length).toBeLessThanOrEqual(20);
    expect(await outbox.stop()).toEqual({
      accepted: 1000,
      delivered: 1000,
      dropped: 0,
      failed: 0,
      pending: 0,
    });
    expect(await metric('ws_outbox_batch_size_count')).toBe(received.frames.length);
    expect(await metric('ws_outbox_batch_size_sum')).toBe(1000);
  });

  it('should send a message over 10,000 bytes as a binary gzip frame that decodes to it', async () => {
    const { client, server: socket } = await server.pair();
    const received = new FrameCollector(client);
    const outbox = new WsOutbox<Msg>(socket, { metrics: registry }).start();
    const small = { seq: 0, pad: 'small' };
    const large = { seq: 1, pad: 'y'.repeat(12_000) };

    outbox.send(small);
    await received.untilValues(1);
    outbox.send(large);
    await received.untilValues(2);

    expect(received.frames.map((frame) => frame.isBinary)).toEqual([false, true]);
    const gzip = received.frames[1].raw as Buffer;
    expect([gzip[0], gzip[1]]).toEqual([0x1f, 0x8b]);
    expect(gzip.byteLength).toBeLessThan(10_000);
    expect(received.values).toEqual([small, large]);
    expect(await outbox.stop()).toMatchObject({ accepted: 2, delivered: 2, pending: 0 });
    expect(await metric('ws_outbox_compressed_frames_total')).toBe(1);
  });

  it('should send a large frame as a base64 gzip envelope in a text frame when asked', async () => {
    const { client, server: socket } = await server.pair();
    const received = new FrameCollector(client);
    const outbox = new WsOutbox<Msg>(socket, {
      metrics: registry,
      compressionEncoding: 'base64',
    }).start();
    const large = { seq: 0, pad: 'z'.repeat(20_000) };

    outbox.send(large);
    await received.untilValues(1);

    expect(received.frames[0].isBinary).toBe(false);
    expect(received.frames[0].raw).toMatch(
      new RegExp(`^${escape(COMPRESSED_ENVELOPE_PREFIX)}H4sI`),
    );
    expect(received.values).toEqual([large]);
    await outbox.stop();
  });

  it('should keep the bytes in the socket under highWaterMark + one frame while the client stops reading, count drops, and deliver exactly the accepted messages once it resumes', async () => {
    const { client, server: socket } = await server.pair();
    const received = new FrameCollector(client);
    client.pause();
    const meter = new MeteredSocket(socket);
    const highWaterMark = 64 * KIB;
    const capacity = 512;
    const maxBatch = 16;
    const outbox = new WsOutbox<Msg>(meter, {
      highWaterMark,
      maxBatch,
      capacity,
      compressAbove: false,
      metrics: registry,
    }).start();
    const accepted: number[] = [];
    let refused = 0;
    let maxPending = 0;
    let seq = 0;

    // Past the first 20,000 messages (~20 MB, more than loopback buffers hold), keep going
    // until drops show, within MAX_TURNS.
    for (let turn = 0; turn < MAX_TURNS && (seq < 20_000 || refused === 0); turn++) {
      for (let i = 0; i < PER_TURN; i++, seq++) {
        if (outbox.send({ seq, pad: PAD })) accepted.push(seq);
        else refused++;
      }
      meter.sample();
      maxPending = Math.max(maxPending, outbox.stats().pending);
      await nextTurn();
    }

    const live = outbox.stats();
    expectBalanced(live);
    expect(live.dropped).toBeGreaterThan(0);
    // With 'drop-newest' a message is dropped exactly when send returns false.
    expect(live.dropped).toBe(refused);
    expect(await metric('ws_outbox_dropped_messages_total')).toBe(refused);
    // The bound was reached, so the assertions below are not vacuous.
    expect(meter.peakInFlightBytes).toBeGreaterThanOrEqual(highWaterMark);
    expect(meter.largestFrame).toBeLessThanOrEqual(maxBatch * (PAD.length + 32));
    expect(meter.peakInFlightBytes).toBeLessThanOrEqual(highWaterMark + meter.largestFrame);
    // ws counts frame headers in bufferedAmount too.
    expect(meter.peakBufferedAmount).toBeLessThanOrEqual(
      highWaterMark + meter.largestFrame + MAX_FRAME_HEADER * meter.peakInFlightFrames,
    );
    // Messages held or in flight: capacity, one batch filling, and what highWaterMark + one
    // frame of bytes can hold inside the socket.
    expect(maxPending).toBeLessThanOrEqual(
      capacity + maxBatch + Math.ceil((highWaterMark + meter.largestFrame) / PAD.length),
    );

    client.resume();
    const stats = await outbox.stop({ timeoutMs: 60_000 });

    expect(stats).toEqual({
      accepted: seq,
      delivered: accepted.length,
      dropped: refused,
      failed: 0,
      pending: 0,
    });
    await received.untilValues(accepted.length);
    expect(seqs(received.values)).toEqual(accepted);
  });

  it('should lose nothing for a producer that waits on whenReady() while the client stops reading', async () => {
    const { client, server: socket } = await server.pair();
    const received = new FrameCollector(client);
    client.pause();
    const outbox = new WsOutbox<Msg>(socket, {
      highWaterMark: 64 * KIB,
      metrics: registry,
    }).start();
    const progress = new EventEmitter();
    const total = 20_000;
    let waits = 0;
    let refused = 0;

    const producer = (async () => {
      for (let seq = 0; seq < total; seq++) {
        if (!outbox.ready) {
          waits++;
          progress.emit('wait');
          await outbox.whenReady();
        }
        if (!outbox.send({ seq, pad: PAD })) refused++;
      }
    })();
    await until(() => waits > 0, progress, 'wait', { description: 'the producer waiting' });
    client.resume();
    await producer;
    const stats = await outbox.stop({ timeoutMs: 60_000 });

    expect(refused).toBe(0);
    expect(stats).toEqual({ accepted: total, delivered: total, dropped: 0, failed: 0, pending: 0 });
    await received.untilValues(total);
    expect(seqs(received.values)).toEqual(Array.from({ length: total }, (_, seq) => seq));
  });

  it('should end a producer loop awaiting whenReady() with OutboxEndedError when the client goes away', async () => {
    const { client, server: socket } = await server.pair();
    client.pause();
    const outbox = new WsOutbox<Msg>(socket, {
      highWaterMark: 64 * KIB,
      metrics: registry,
    }).start();
    const progress = new EventEmitter();
    let waits = 0;

    // The loop of docs/outbox.md: it must end, not hang, once the outbox has ended.
    const producer = (async () => {
      for (let seq = 0; ; seq++) {
        if (!outbox.ready) {
          waits++;
          progress.emit('wait');
        }
        await outbox.whenReady();
        outbox.send({ seq, pad: PAD });
      }
    })();
    await until(() => waits > 0, progress, 'wait', { description: 'the producer waiting' });
    client.terminate();

    await expect(producer).rejects.toBeInstanceOf(OutboxEndedError);
    await expect(outbox.whenReady()).rejects.toThrow('The outbox has ended');
    const stats = outbox.stats();
    expect(stats.pending).toBe(0);
    expect(stats.accepted).toBe(stats.delivered + stats.dropped + stats.failed);
  });

  it('should count a message sent to an idle outbox whose socket has closed as dropped', async () => {
    const { client, server: socket } = await server.pair();
    const outbox = new WsOutbox<Msg>(socket, { metrics: registry }).start();
    client.close();
    await closed(socket);

    expect(outbox.ready).toBe(false);
    expect(outbox.send({ seq: 0 })).toBe(false);
    expect(outbox.stats()).toEqual({
      accepted: 1,
      delivered: 0,
      dropped: 1,
      failed: 0,
      pending: 0,
    });
    await expect(outbox.whenReady()).rejects.toBeInstanceOf(OutboxEndedError);
  });

  it('should deliver everything queued, held messages included, when stopped', async () => {
    const { client, server: socket } = await server.pair();
    const received = new FrameCollector(client);
    const outbox = new WsOutbox<Msg>(socket, {
      maxBatch: 8,
      // The first full batch alone is over it: everything after is held.
      highWaterMark: 1,
      metrics: registry,
    }).start();
    const input = Array.from({ length: 500 }, (_, seq) => ({ seq }));

    for (const message of input) outbox.send(message);
    // 8 are past the buffer (one full batch, in the socket), the other 492 are held.
    expect(outbox.ready).toBe(false);
    expect(await metric('ws_outbox_queue_size')).toBe(492);
    const stats = await outbox.stop();

    expect(stats).toEqual({ accepted: 500, delivered: 500, dropped: 0, failed: 0, pending: 0 });
    expect(await metric('ws_outbox_queue_size')).toBe(0);
    await received.untilValues(500);
    expect(received.values).toEqual(input);
    expect(Math.max(...received.frames.map((frame) => frame.values.length))).toBeLessThanOrEqual(8);
  });

  /** Fills the socket of a paused client until the outbox holds at least `held` messages. */
  async function fillUntilHeld(outbox: WsOutbox<Msg>, held: number) {
    let sent = 0;
    let refused = 0;
    let holding = 0;
    for (let turn = 0; turn < MAX_TURNS && holding < held; turn++) {
      for (let i = 0; i < PER_TURN; i++, sent++) {
        if (!outbox.send({ seq: sent, pad: PAD })) refused++;
      }
      await nextTurn();
      holding = await metric('ws_outbox_queue_size');
    }
    expect(holding).toBeGreaterThanOrEqual(held);
    return { sent, refused, held: holding };
  }

  function slowClientOutbox(socket: WebSocket): WsOutbox<Msg> {
    return new WsOutbox<Msg>(socket, {
      highWaterMark: 64 * KIB,
      maxBatch: 16,
      compressAbove: false,
      metrics: registry,
    }).start();
  }

  it('should account for every message, and hold none, once the client resets the connection mid-stream', async () => {
    const { client, server: socket } = await server.pair();
    client.pause();
    const outbox = slowClientOutbox(socket);
    const { sent } = await fillUntilHeld(outbox, 256);

    client.terminate();
    await closed(socket);

    const stats = outbox.stats();
    expect(stats.pending).toBe(0);
    expect(stats.accepted).toBe(sent);
    expect(stats.accepted).toBe(stats.delivered + stats.dropped + stats.failed);
    expect(await metric('ws_outbox_queue_size')).toBe(0);
    expect(await metric('ws_outbox_dropped_messages_total')).toBe(stats.dropped);
    expect(await outbox.stop()).toEqual(stats);
  });

  it.each(['client', 'server'] as const)(
    'should count the messages held when the %s aborts the connection as dropped, without sending them into the dead socket',
    async (side) => {
      const { client, server: socket } = await server.pair();
      client.pause();
      const outbox = slowClientOutbox(socket);
      const { refused, held } = await fillUntilHeld(outbox, 256);
      const errorsBefore = await metric('ws_outbox_send_errors_total');

      (side === 'client' ? client : socket).terminate();
      await closed(socket);

      const stats = outbox.stats();
      expect(stats.accepted).toBe(stats.delivered + stats.dropped + stats.failed);
      // Held messages never reached the socket: nothing was sent of them, so nothing failed.
      expect(stats.dropped).toBeGreaterThanOrEqual(refused + held);
      // Only frames already inside ws can have failed: at most highWaterMark + one frame of them.
      expect((await metric('ws_outbox_send_errors_total')) - errorsBefore).toBeLessThanOrEqual(
        Math.ceil((64 * KIB) / (16 * PAD.length)) + 1,
      );
    },
  );

  it('should count a batch waiting in its coalescing window as dropped, and release the window timer, when the socket closes', async () => {
    const { client, server: socket } = await server.pair();
    const outbox = new WsOutbox<Msg>(socket, { coalesceMs: 60_000, metrics: registry }).start();
    const before = timers();

    for (let seq = 0; seq < 10; seq++) outbox.send({ seq });
    expect(timers()).toBe(before + 1);
    client.terminate();
    await closed(socket);

    expect(outbox.stats()).toEqual({
      accepted: 10,
      delivered: 0,
      dropped: 10,
      failed: 0,
      pending: 0,
    });
    expect(timers()).toBe(before);
  });

  it('should count unserializable messages as failed and deliver the rest of their batch in order', async () => {
    const { client, server: socket } = await server.pair();
    const received = new FrameCollector(client);
    const rejected: unknown[] = [];
    const outbox = new WsOutbox<unknown>(socket, {
      metrics: registry,
      onSerializeError: (_error, message) => rejected.push(message),
    }).start();
    const circular: Record<string, unknown> = { seq: 'circular' };
    circular.self = circular;
    const big = { seq: 'big', n: 10n };

    for (const message of [{ seq: 0 }, big, { seq: 1 }, circular, undefined, { seq: 2 }]) {
      expect(outbox.send(message)).toBe(true);
    }
    const stats = await outbox.stop();

    expect(stats).toEqual({ accepted: 6, delivered: 3, failed: 3, dropped: 0, pending: 0 });
    expect(rejected).toEqual([big, circular, undefined]);
    await received.untilValues(3);
    expect(received.values).toEqual([{ seq: 0 }, { seq: 1 }, { seq: 2 }]);
    expect(received.frames).toHaveLength(1);
    expect(await metric('ws_outbox_serialize_errors_total')).toBe(3);
  });

  it('should keep frames paired with their batches when a whole batch fails to serialize', async () => {
    const { client, server: socket } = await server.pair();
    const received = new FrameCollector(client);
    // maxBatch 1: every message is its own batch, so the BigInt ones yield no frame at all.
    const outbox = new WsOutbox<unknown>(socket, { maxBatch: 1, metrics: registry }).start();

    for (const message of [{ n: 1n }, { seq: 0 }, { n: 2n }, { n: 3n }, { seq: 1 }]) {
      outbox.send(message);
    }
    const stats = await outbox.stop();

    expect(stats).toEqual({ accepted: 5, delivered: 2, failed: 3, dropped: 0, pending: 0 });
    await received.untilValues(2);
    expect(received.values).toEqual([{ seq: 0 }, { seq: 1 }]);
    expect(await metric('ws_outbox_batch_size_sum')).toBe(2);
  });

  it('should count a frame the socket refuses as failed and as a send error', async () => {
    const { server: socket } = await server.pair();
    // The coalescing deadline on a scheduler the test flushes by hand.
    const scheduler = new VirtualTimeScheduler();
    const outbox = new WsOutbox<Msg>(socket, { scheduler, metrics: registry }).start();

    expect(outbox.send({ seq: 0 })).toBe(true);
    // CLOSING at once; the 'close' event waits for the peer, so the frame reaches ws.send first.
    socket.close();
    scheduler.flush();
    // ws refuses a send on a closing socket on the next tick.
    await nextTurn();

    expect(outbox.stats()).toEqual({
      accepted: 1,
      delivered: 0,
      dropped: 0,
      failed: 1,
      pending: 0,
    });
    expect(await metric('ws_outbox_send_errors_total')).toBe(1);
  });

  it('should refuse and count as dropped what is sent after stop()', async () => {
    const { client, server: socket } = await server.pair();
    const received = new FrameCollector(client);
    const outbox = new WsOutbox<Msg>(socket, { metrics: registry }).start();

    outbox.send({ seq: 0 });
    const stopping = outbox.stop();
    expect(outbox.send({ seq: 1 })).toBe(false);
    const stats = await stopping;
    expect(outbox.send({ seq: 2 })).toBe(false);

    expect(stats).toEqual({ accepted: 2, delivered: 1, dropped: 1, failed: 0, pending: 0 });
    expect(outbox.stats()).toEqual({ ...stats, accepted: 3, dropped: 2 });
    await received.untilValues(1);
    expect(received.values).toEqual([{ seq: 0 }]);
  });

  it('should end at once, refusing every message, on a socket that is already closed', async () => {
    const { client, server: socket } = await server.pair();
    client.terminate();
    await closed(socket);
    const before = timers();

    const outbox = new WsOutbox<Msg>(socket, { metrics: registry }).start();

    expect(outbox.send({ seq: 0 })).toBe(false);
    expect(outbox.ready).toBe(false);
    expect(await outbox.stop()).toEqual({
      accepted: 1,
      delivered: 0,
      dropped: 1,
      failed: 0,
      pending: 0,
    });
    expect(timers()).toBe(before);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
