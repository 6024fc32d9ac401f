import { register as globalRegistry, Registry } from 'prom-client';
import { VirtualTimeScheduler } from 'rxjs';
import { WsOutbox } from '../src/index.js';
import type { WsOutboxOptions } from '../src/index.js';
import { outboxMetrics } from '../src/metrics.js';
import { FrameCollector } from './helpers/frameCollector.js';
import { expectSeedMetrics, sample } from './helpers/metricsText.js';
import { SocketDouble } from './helpers/socketDouble.js';
import { TestServer } from './helpers/wsServer.js';

interface Msg {
  seq: number;
}

describe('outbox metrics', () => {
  let server: TestServer;
  let registry: Registry;

  beforeEach(async () => {
    server = await TestServer.start();
    registry = new Registry();
  });

  afterEach(async () => {
    await server.close();
  });

  async function text(): Promise<string> {
    return registry.metrics();
  }

  async function outboxOnPair(options: WsOutboxOptions<Msg> = {}) {
    const pair = await server.pair();
    const outbox = new WsOutbox<Msg>(pair.server, { metrics: registry, ...options }).start();
    return { ...pair, outbox };
  }

  it("should expose the original design's metrics with their names, types and buckets exactly", async () => {
    await outboxOnPair();
    const metrics = await text();

    expectSeedMetrics(metrics);
    expect(sample(metrics, 'ws_outbox_queue_size')).toBe(0);
    expect(sample(metrics, 'ws_outbox_dropped_messages_total')).toBe(0);
    expect(sample(metrics, 'ws_outbox_send_errors_total')).toBe(0);
  });

  it('should expose bytes, frames and compressed frames sent', async () => {
    await outboxOnPair();
    const metrics = await text();

    expect(metrics).toContain('# TYPE ws_outbox_bytes_sent_total counter');
    expect(metrics).toContain('# TYPE ws_outbox_frames_sent_total counter');
    expect(metrics).toContain('# TYPE ws_outbox_compressed_frames_total counter');
  });

  it('should observe one batch size, one latency and the bytes of each frame delivered', async () => {
    const { client, outbox } = await outboxOnPair({ compressAbove: 100 });
    const received = new FrameCollector(client);

    for (let seq = 0; seq < 7; seq++) outbox.send({ seq });
    await outbox.stop();
    outbox.send({ seq: 7 });
    await received.untilValues(7);
    const metrics = await text();

    expect(received.frames).toHaveLength(1);
    expect(sample(metrics, 'ws_outbox_batch_size_bucket', { le: '5' })).toBe(0);
    expect(sample(metrics, 'ws_outbox_batch_size_bucket', { le: '10' })).toBe(1);
    expect(sample(metrics, 'ws_outbox_batch_size_count')).toBe(1);
    expect(sample(metrics, 'ws_outbox_batch_size_sum')).toBe(7);
    expect(sample(metrics, 'ws_outbox_send_latency_seconds_count')).toBe(1);
    expect(sample(metrics, 'ws_outbox_send_latency_seconds_sum')).toBeGreaterThan(0);
    expect(sample(metrics, 'ws_outbox_frames_sent_total')).toBe(1);
    expect(sample(metrics, 'ws_outbox_compressed_frames_total')).toBe(0);
    expect(sample(metrics, 'ws_outbox_bytes_sent_total')).toBe(received.frames[0].wireBytes);
    expect(sample(metrics, 'ws_outbox_messages_sent_total')).toBe(7);
    // The message sent after stop() is refused and counted.
    expect(sample(metrics, 'ws_outbox_dropped_messages_total')).toBe(1);
  });

  it('should count a compressed frame and its compressed bytes', async () => {
    const { client, outbox } = await outboxOnPair();
    const received = new FrameCollector(client);

    outbox.send({ seq: 0, pad: 'p'.repeat(20_000) } as Msg);
    await outbox.stop();
    await received.untilValues(1);
    const metrics = await text();

    expect(received.frames[0].isBinary).toBe(true);
    expect(sample(metrics, 'ws_outbox_compressed_frames_total')).toBe(1);
    expect(sample(metrics, 'ws_outbox_bytes_sent_total')).toBe(received.frames[0].wireBytes);
    expect(sample(metrics, 'ws_outbox_bytes_sent_total')).toBeLessThan(20_000);
  });

  /** An outbox on a socket whose client has stopped reading: no send is ever called back. */
  function stalledOutbox(options: WsOutboxOptions<Msg>) {
    const socket = new SocketDouble(new VirtualTimeScheduler());
    socket.stall();
    const outbox = new WsOutbox<Msg>(socket, { metrics: registry, ...options }).start();
    return { socket, outbox };
  }

  // The first message leaves at once (maxBatch 1) and its frame alone is over highWaterMark,
  // which keeps the buffer closed: what follows is held.
  const holding: WsOutboxOptions<Msg> = { maxBatch: 1, highWaterMark: 5 };

  it('should sum the messages held across all live outboxes in the queue-size gauge', async () => {
    const a = stalledOutbox(holding);
    const b = stalledOutbox(holding);

    for (let seq = 0; seq < 4; seq++) a.outbox.send({ seq });
    for (let seq = 0; seq < 6; seq++) b.outbox.send({ seq });

    expect(sample(await text(), 'ws_outbox_queue_size')).toBe(3 + 5);
    a.socket.close();
    expect(sample(await text(), 'ws_outbox_queue_size')).toBe(5);
    // The frame in flight fails with the socket; the held messages are dropped.
    expect(a.outbox.stats()).toEqual({
      accepted: 4,
      delivered: 0,
      dropped: 3,
      failed: 1,
      pending: 0,
    });
    b.socket.close();
    const metrics = await text();
    expect(sample(metrics, 'ws_outbox_queue_size')).toBe(0);
    expect(sample(metrics, 'ws_outbox_dropped_messages_total')).toBe(3 + 5);
  });

  it('should count overflow drops across outboxes', async () => {
    const options: WsOutboxOptions<Msg> = { ...holding, capacity: 2 };
    const a = stalledOutbox(options);
    const b = stalledOutbox(options);

    // 1 in flight, 2 held, the rest dropped.
    const sentA = [0, 1, 2, 3, 4].map((seq) => a.outbox.send({ seq }));
    const sentB = [0, 1, 2, 3].map((seq) => b.outbox.send({ seq }));

    expect(sentA).toEqual([true, true, true, false, false]);
    expect(sentB).toEqual([true, true, true, false]);
    const metrics = await text();
    expect(sample(metrics, 'ws_outbox_dropped_messages_total')).toBe(3);
    expect(sample(metrics, 'ws_outbox_queue_size')).toBe(4);
  });

  it('should share one set of metrics per registry and keep registries apart', async () => {
    const other = new Registry();
    const a = await outboxOnPair();
    const pair = await server.pair();
    const b = new WsOutbox<Msg>(pair.server, { metrics: other }).start();

    expect(outboxMetrics(registry)).toBe(outboxMetrics(registry));
    expect(outboxMetrics(registry)).not.toBe(outboxMetrics(other));
    a.outbox.send({ seq: 0 });
    b.send({ seq: 0 });
    await Promise.all([a.outbox.stop(), b.stop()]);
    expect(b.send({ seq: 1 })).toBe(false);

    expect(sample(await text(), 'ws_outbox_dropped_messages_total')).toBe(0);
    expect(sample(await other.metrics(), 'ws_outbox_dropped_messages_total')).toBe(1);
    expect(sample(await text(), 'ws_outbox_batch_size_count')).toBe(1);
    expect(sample(await other.metrics(), 'ws_outbox_batch_size_count')).toBe(1);
  });

  it('should accept a shared metrics set in place of a registry', async () => {
    const pair = await server.pair();
    const outbox = new WsOutbox<Msg>(pair.server, { metrics: outboxMetrics(registry) }).start();

    outbox.send({ seq: 0 });
    await outbox.stop();

    expect(sample(await text(), 'ws_outbox_messages_sent_total')).toBe(1);
  });

  it('should register in the global registry by default', async () => {
    const pair = await server.pair();
    const outbox = new WsOutbox<Msg>(pair.server).start();

    outbox.send({ seq: 0 });
    await outbox.stop();

    // jest gives each spec file its own module registry, so this global is this file's alone.
    expect(sample(await globalRegistry.metrics(), 'ws_outbox_messages_sent_total')).toBe(1);
  });
});
