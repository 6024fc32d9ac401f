import { Registry } from 'prom-client';
import { VirtualAction, VirtualTimeScheduler } from 'rxjs';
import WebSocket from 'ws';
import { ConnectionManager } from '../src/index.js';
import type { ConnectionManagerOptions } from '../src/index.js';
import { FrameCollector } from './helpers/frameCollector.js';
import { sample } from './helpers/metricsText.js';
import { nextEvent } from './helpers/until.js';
import { closed, TestServer } from './helpers/wsServer.js';

interface Msg {
  seq: number;
}

const INTERVAL_MS = 25_000;

describe('Heartbeat over real ws sockets', () => {
  let server: TestServer;
  let registry: Registry;
  let scheduler: VirtualTimeScheduler;
  let manager: ConnectionManager<Msg>;

  beforeEach(async () => {
    server = await TestServer.start();
    registry = new Registry();
    // The heartbeat's clock only: pings, pongs and closes are real traffic on 127.0.0.1.
    scheduler = new VirtualTimeScheduler(VirtualAction, 0);
    manager = create();
  });

  afterEach(async () => {
    await manager.closeAll();
    await server.close();
  });

  function create(options: ConnectionManagerOptions<Msg> = {}): ConnectionManager<Msg> {
    return new ConnectionManager<Msg>({
      outbox: { metrics: registry },
      heartbeat: { scheduler, intervalMs: INTERVAL_MS },
      ...options,
    });
  }

  /** Moves the heartbeat's clock forward by `ms`, running every tick due on the way. */
  function advance(ms: number): void {
    const target = scheduler.frame + ms;
    scheduler.maxFrames = target;
    scheduler.flush();
    scheduler.frame = target;
  }

  async function terminations(): Promise<number> {
    return sample(await registry.metrics(), 'ws_outbox_heartbeat_terminations_total');
  }

  it('should terminate a peer that never answers a ping at the second tick, and only that one', async () => {
    const dead = await server.pair({ autoPong: false });
    const healthy = await server.pair();
    manager.connect(dead.server);
    manager.connect(healthy.server);

    const pinged = nextEvent(dead.client, 'ping', { description: 'first ping at the dead peer' });
    let ponged = nextEvent(healthy.server, 'pong', { description: 'pong from the healthy peer' });
    advance(INTERVAL_MS);
    await Promise.all([pinged, ponged]);

    expect(dead.client.readyState).toBe(WebSocket.OPEN);
    expect(await terminations()).toBe(0);

    ponged = nextEvent(healthy.server, 'pong', { description: 'second pong' });
    advance(INTERVAL_MS);

    // Terminated in the tick itself; the client sees the connection drop.
    expect(await terminations()).toBe(1);
    await Promise.all([closed(dead.client), closed(dead.server), ponged]);
    expect(manager.size).toBe(1);
    expect(manager.sockets()).toEqual([healthy.server]);
    expect(dead.server.listenerCount('pong')).toBe(0);

    for (let tick = 0; tick < 3; tick++) {
      ponged = nextEvent(healthy.server, 'pong', { description: `pong after tick ${tick + 3}` });
      advance(INTERVAL_MS);
      await ponged;
    }
    expect(healthy.client.readyState).toBe(WebSocket.OPEN);
    expect(await terminations()).toBe(1);
  });

  it('should terminate a peer that answered and then stopped, within two intervals of its last answer', async () => {
    const peer = await server.pair({ autoPong: false });
    manager.connect(peer.server);
    const answered = nextEvent(peer.server, 'pong', { description: 'the one answer' });
    peer.client.once('ping', () => peer.client.pong());
    advance(INTERVAL_MS);
    await answered;

    const pingedAgain = nextEvent(peer.client, 'ping', { description: 'the unanswered ping' });
    advance(INTERVAL_MS);
    await pingedAgain;
    expect(peer.client.readyState).toBe(WebSocket.OPEN);

    advance(INTERVAL_MS);
    await closed(peer.client);
    expect(await terminations()).toBe(1);
    expect(manager.size).toBe(0);
  });

  it('should never terminate a healthy peer under load', async () => {
    const { client, server: socket } = await server.pair();
    const received = new FrameCollector(client);
    manager.connect(socket);
    let producing = true;
    let seq = 0;
    const produce = (): void => {
      if (!producing) return;
      for (let i = 0; i < 200; i++) manager.sendMessage(socket, { seq: seq++ });
      setImmediate(produce);
    };
    produce();
    const ticks = 8;
    try {
      for (let tick = 1; tick <= ticks; tick++) {
        // Each tick happens while frames are streaming: at least one more since the last tick.
        const before = received.frames.length;
        await received.until((c) => c.frames.length > before, {
          description: `a frame before tick ${tick}`,
        });
        const ponged = nextEvent(socket, 'pong', { description: `pong after tick ${tick}` });
        advance(INTERVAL_MS);
        await ponged;
      }
    } finally {
      producing = false;
    }

    expect(client.readyState).toBe(WebSocket.OPEN);
    expect(manager.size).toBe(1);
    expect(await terminations()).toBe(0);
    expect(received.errors).toEqual([]);
  });

  it('should send the application-level message through each outbox, whatever its schema', async () => {
    manager = create({
      outbox: {
        metrics: registry,
        // A schema for Msg alone: it would turn the heartbeat message into {}.
        schema: { type: 'object', properties: { seq: { type: 'integer' } } },
      },
      heartbeat: {
        scheduler,
        intervalMs: INTERVAL_MS,
        message: () => ({ type: 'heartbeat', ts: scheduler.now() }),
      },
    });
    const a = await server.pair();
    const b = await server.pair();
    const receivedA = new FrameCollector(a.client);
    const receivedB = new FrameCollector(b.client);
    manager.connect(a.server);
    manager.connect(b.server);

    manager.sendMessage(a.server, { seq: 1 });
    await receivedA.untilValues(1);
    for (let tick = 1; tick <= 2; tick++) {
      const pongs = [a, b].map(({ server: s }) => nextEvent(s, 'pong'));
      advance(INTERVAL_MS);
      await Promise.all(pongs);
    }
    await Promise.all([receivedA.untilValues(3), receivedB.untilValues(2)]);

    expect(receivedA.values).toEqual([
      { seq: 1 },
      { type: 'heartbeat', ts: 25_000 },
      { type: 'heartbeat', ts: 50_000 },
    ]);
    expect(receivedB.values).toEqual([
      { type: 'heartbeat', ts: 25_000 },
      { type: 'heartbeat', ts: 50_000 },
    ]);
  });

  it('should hold one interval for all connections, and none while it has no connection', async () => {
    expect(scheduler.actions).toHaveLength(0);
    const pairs = await Promise.all([server.pair(), server.pair(), server.pair()]);
    for (const { server: socket } of pairs) manager.connect(socket);
    expect(scheduler.actions).toHaveLength(1);

    const pongs = pairs.map(({ server: socket }) => nextEvent(socket, 'pong'));
    advance(INTERVAL_MS);
    await Promise.all(pongs);
    expect(scheduler.actions).toHaveLength(1);

    await manager.disconnect(pairs[0].server);
    pairs[1].client.close();
    await closed(pairs[1].server);
    expect(scheduler.actions).toHaveLength(1);
    await manager.closeAll();
    expect(scheduler.actions).toHaveLength(0);

    manager.connect(pairs[2].server);
    expect(scheduler.actions).toHaveLength(1);
  });

  it('should attach one pong listener per connection by default and none with heartbeat: false', async () => {
    const withDefault = new ConnectionManager<Msg>({ outbox: { metrics: registry } });
    const without = create({ heartbeat: false });
    const a = await server.pair();
    const b = await server.pair();
    const baseline = a.server.listenerCount('pong');

    withDefault.connect(a.server);
    without.connect(b.server);
    expect(a.server.listenerCount('pong')).toBe(baseline + 1);
    expect(b.server.listenerCount('pong')).toBe(baseline);

    await withDefault.disconnect(a.server);
    await without.disconnect(b.server);
    expect(a.server.listenerCount('pong')).toBe(baseline);
  });
});
