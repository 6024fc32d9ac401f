import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { concat, interval, map, Observable, of, take, VirtualTimeScheduler } from 'rxjs';
import WebSocket, { WebSocketServer } from 'ws';
import {
  CLOSE_MESSAGE_TOO_BIG,
  DEFAULT_MAX_PAYLOAD,
  OperationAbortedError,
  Operations,
  progress,
  recommendedServerOptions,
  result,
  WsOutbox,
} from '../../src/index.js';
import type { OperationEvent, OperationsOptions } from '../../src/index.js';
import { FrameCollector } from '../helpers/frameCollector.js';
import { sample } from '../helpers/metricsText.js';
import { nextTurn, until } from '../helpers/until.js';
import { closed, TestServer } from '../helpers/wsServer.js';
import { LEAK_PATTERN } from './support.js';
import type { Reply } from './support.js';

const MAX_SLICES = 100_000;

/** Runs every action due up to `time` on a virtual scheduler, and leaves its clock there. */
function advanceTo(scheduler: VirtualTimeScheduler, time: number): void {
  // flush() only moves the clock to actions it runs: an action at `time` takes it there.
  scheduler.schedule(() => undefined, time - scheduler.now());
  scheduler.maxFrames = time;
  scheduler.flush();
}

/** What the handlers report, for the test to wait on. */
class Probe extends EventEmitter {
  readonly started = new Set<string>();
  readonly signals = new Map<string, AbortSignal>();
  readonly tornDown = new Set<string>();

  track(id: string, signal: AbortSignal): void {
    this.started.add(id);
    this.signals.set(id, signal);
    signal.addEventListener('abort', () => this.emit('change'));
    this.emit('change');
  }

  tearDown(id: string): void {
    this.tornDown.add(id);
    this.emit('change');
  }

  until(predicate: () => boolean, description: string): Promise<void> {
    return until(predicate, this, 'change', { description });
  }
}

/** One client connection and what the server made of it. */
interface Connection {
  readonly client: WebSocket;
  readonly replies: FrameCollector;
  send(message: object | string): void;
  /** Resolves with the first reply of `id` whose type is `type`. */
  reply(id: string | undefined, type: string): Promise<Reply>;
  /** Replies of `id`, in order. */
  repliesOf(id: string): Reply[];
}

function connection(client: WebSocket): Connection {
  const replies = new FrameCollector(client);
  const values = () => replies.values as Reply[];
  return {
    client,
    replies,
    send: (message) => client.send(typeof message === 'string' ? message : JSON.stringify(message)),
    repliesOf: (id) => values().filter((value) => value.id === id),
    async reply(id, type) {
      const find = () => values().find((value) => value.id === id && value.type === type);
      await replies.until(() => find() !== undefined, { description: `${type} of ${id}` });
      return find()!;
    },
  };
}

describe('Operations over a real ws socket', () => {
  let server: TestServer;
  let registry: Registry;
  let scheduler: VirtualTimeScheduler;
  let probe: Probe;
  let outboxes: WsOutbox[];

  beforeEach(async () => {
    server = await TestServer.start();
    registry = new Registry();
    scheduler = new VirtualTimeScheduler();
    probe = new Probe();
    outboxes = [];
  });

  afterEach(async () => {
    await Promise.all(outboxes.map((outbox) => outbox.stop({ timeoutMs: 1_000 })));
    await server.close();
  });

  /**
   * Operations on the virtual scheduler (deadlines, progress windows, rate limit), replying
   * through a real WsOutbox on real time.
   */
  function operations(options: OperationsOptions = {}): Operations {
    return new Operations({ scheduler, metrics: registry, ...options })
      .register('echo', (data) => [result(data)])
      .register('hang', (_, { id, signal }) => {
        probe.track(id, signal);
        return new Observable<OperationEvent>((subscriber) => {
          subscriber.next(progress('started'));
          return () => probe.tearDown(id);
        });
      })
      .register('countdown', (_, { id, signal }) => {
        probe.track(id, signal);
        return concat(
          interval(70, scheduler).pipe(
            take(6),
            map((i) => progress(i)),
          ),
          of(result('liftoff')),
        );
      });
  }

  async function connect(ops: Operations): Promise<Connection> {
    const { client, server: socket } = await server.pair();
    const outbox = new WsOutbox(socket, { metrics: registry }).start();
    outboxes.push(outbox);
    ops.attach(socket, outbox);
    return connection(client);
  }

  /** The connection still works: an operation sent now gets its result and its complete. */
  async function expectAlive(conn: Connection, id: string): Promise<void> {
    conn.send({ type: 'echo', id, data: { alive: id } });
    await conn.reply(id, 'echo.complete');
    expect(conn.repliesOf(id)).toEqual([
      { type: 'echo.result', id, data: { alive: id } },
      { type: 'echo.complete', id },
    ]);
  }

  it('should stream progress, then the result, then complete', async () => {
    const conn = await connect(operations());
    conn.send({ type: 'countdown', id: 'c1' });
    await probe.until(() => probe.started.has('c1'), 'countdown started');
    // Ticks at 70, 140, …, 420 virtual ms against 100 ms windows: 0 at once, 1 at 170, 2 at
    // 270, 4 at 370 (3 superseded), 5 superseded by the result at 420.
    advanceTo(scheduler, 1_000);
    await conn.reply('c1', 'countdown.complete');
    expect(conn.repliesOf('c1')).toEqual([
      { type: 'countdown.progress', id: 'c1', data: 0 },
      { type: 'countdown.progress', id: 'c1', data: 1 },
      { type: 'countdown.progress', id: 'c1', data: 2 },
      { type: 'countdown.progress', id: 'c1', data: 4 },
      { type: 'countdown.result', id: 'c1', data: 'liftoff' },
      { type: 'countdown.complete', id: 'c1' },
    ]);
    const text = await registry.metrics();
    expect(
      sample(text, 'ws_outbox_operations_total', { operation: 'countdown', outcome: 'complete' }),
    ).toBe(1);
  });

  it('should cancel: .cancelled, the signal aborted, and a work loop that checks it stops', async () => {
    let loop: Promise<number> | undefined;
    const ops = operations().register('crunch', (_, { id, signal }) => {
      probe.track(id, signal);
      return new Observable<OperationEvent>((subscriber) => {
        // CPU-bound work in slices, yielding to the event loop between them.
        loop = (async () => {
          let slices = 0;
          // Bounded, so that a signal that never aborts fails the test rather than spinning.
          while (!signal.aborted && slices < MAX_SLICES) {
            slices++;
            if (slices === 1) subscriber.next(progress('running'));
            await nextTurn();
          }
          return slices;
        })();
        return () => probe.tearDown(id);
      });
    });
    const conn = await connect(ops);
    conn.send({ type: 'crunch', id: 'k1' });
    await conn.reply('k1', 'crunch.progress');
    conn.send({ type: 'cancel', id: 'k1' });
    await conn.reply('k1', 'crunch.cancelled');

    expect(probe.tornDown.has('k1')).toBe(true);
    const reason = probe.signals.get('k1')!.reason as OperationAbortedError;
    expect(reason.outcome).toBe('cancelled');
    // The loop ends: the promise settles only because it saw the signal.
    const slices = await loop!;
    expect(slices).toBeGreaterThan(0);
    expect(slices).toBeLessThan(MAX_SLICES);
    expect(conn.repliesOf('k1')).toEqual([
      { type: 'crunch.progress', id: 'k1', data: 'running' },
      { type: 'crunch.cancelled', id: 'k1' },
    ]);
    await expectAlive(conn, 'after-cancel');
  });

  it('should time out with <type>_timeout at the deadline, not a millisecond before', async () => {
    const conn = await connect(operations());
    conn.send({ type: 'hang', id: 'h1' });
    await conn.reply('h1', 'hang.progress');

    advanceTo(scheduler, 119_999);
    // The echo's reply comes after anything the server sent before it: no timeout yet.
    await expectAlive(conn, 'at-119999');
    expect(conn.repliesOf('h1')).toHaveLength(1);

    advanceTo(scheduler, 120_000);
    const error = await conn.reply('h1', 'error');
    expect(error).toEqual({
      type: 'error',
      id: 'h1',
      code: 'hang_timeout',
      message: 'The operation did not finish within 120000 ms.',
    });
    expect(probe.tornDown.has('h1')).toBe(true);
    expect((probe.signals.get('h1')!.reason as OperationAbortedError).outcome).toBe('timeout');
    await expectAlive(conn, 'after-timeout');
  });

  describe('limits: each answered with its code, the connection alive after it', () => {
    it('bad_request: not JSON', async () => {
      const conn = await connect(operations());
      conn.send('{"type":"echo", oops');
      expect(await conn.reply(undefined, 'error')).toMatchObject({ code: 'bad_request' });
      await expectAlive(conn, 'a1');
    });

    it('bad_request: a binary frame', async () => {
      const conn = await connect(operations());
      conn.client.send(Buffer.from('{"type":"echo","id":"b1"}'), { binary: true });
      expect(await conn.reply(undefined, 'error')).toMatchObject({ code: 'bad_request' });
      await expectAlive(conn, 'a1');
    });

    it('bad_request: no string type', async () => {
      const conn = await connect(operations());
      conn.send({ type: 42, id: 'n1' });
      expect(await conn.reply('n1', 'error')).toMatchObject({ code: 'bad_request' });
      await expectAlive(conn, 'a1');
    });

    it('bad_request: an id already running', async () => {
      const conn = await connect(operations());
      conn.send({ type: 'hang', id: 'd1' });
      conn.send({ type: 'hang', id: 'd1' });
      expect(await conn.reply('d1', 'error')).toMatchObject({ code: 'bad_request' });
      expect(probe.signals.get('d1')!.aborted).toBe(false);
      await expectAlive(conn, 'a1');
    });

    it('unknown_operation', async () => {
      const conn = await connect(operations());
      conn.send({ type: 'memory_drop_all', id: 'u1' });
      expect(await conn.reply('u1', 'error')).toMatchObject({ code: 'unknown_operation' });
      await expectAlive(conn, 'a1');
    });

    it('too_many_operations', async () => {
      const conn = await connect(operations({ maxConcurrent: 2 }));
      conn.send({ type: 'hang', id: 'h1' });
      conn.send({ type: 'hang', id: 'h2' });
      conn.send({ type: 'hang', id: 'h3' });
      expect(await conn.reply('h3', 'error')).toMatchObject({ code: 'too_many_operations' });
      conn.send({ type: 'cancel', id: 'h1' });
      await conn.reply('h1', 'hang.cancelled');
      await expectAlive(conn, 'a1');
    });

    it('rate_limited', async () => {
      const conn = await connect(operations({ rateLimit: { burst: 3, perSecond: 1 } }));
      for (const id of ['r1', 'r2', 'r3', 'r4']) conn.send({ type: 'echo', id, data: id });
      expect(await conn.reply('r4', 'error')).toMatchObject({ code: 'rate_limited' });
      expect(conn.repliesOf('r3')).toEqual([
        { type: 'echo.result', id: 'r3', data: 'r3' },
        { type: 'echo.complete', id: 'r3' },
      ]);
      advanceTo(scheduler, 1_000); // one token back
      await expectAlive(conn, 'a1');
    });

    it('sends no stack trace in any of them', async () => {
      const conn = await connect(operations({ maxConcurrent: 1 }));
      const ops = ['{', '[]', '{"type":1}', '{"type":"x","id":""}', '{"type":"nope"}'];
      for (const frame of ops) conn.send(frame);
      await conn.replies.untilValues(ops.length);
      for (const reply of conn.replies.values) {
        expect(JSON.stringify(reply)).not.toMatch(LEAK_PATTERN);
      }
    });
  });

  it('should end every operation of a client that disconnects, sending nothing', async () => {
    const conn = await connect(operations());
    conn.send({ type: 'hang', id: 'h1' });
    conn.send({ type: 'hang', id: 'h2' });
    await conn.replies.untilValues(2);
    conn.client.close();
    await probe.until(
      () => ['h1', 'h2'].every((id) => probe.signals.get(id)?.aborted === true),
      'both signals aborted',
    );
    for (const id of ['h1', 'h2']) {
      expect(probe.tornDown.has(id)).toBe(true);
      expect((probe.signals.get(id)!.reason as OperationAbortedError).outcome).toBe('disconnected');
    }
    const text = await registry.metrics();
    expect(
      sample(text, 'ws_outbox_operations_total', { operation: 'hang', outcome: 'disconnected' }),
    ).toBe(2);
  });
});

describe('recommendedServerOptions on a real ws server', () => {
  let wss: WebSocketServer;
  let url: string;
  const clients: WebSocket[] = [];
  const outboxes: WsOutbox[] = [];

  beforeEach(async () => {
    wss = new WebSocketServer({ ...recommendedServerOptions(), host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    const ops = new Operations({ metrics: false }).register('echo', (data) => [
      result((data as string).length),
    ]);
    wss.on('connection', (socket) => {
      socket.on('error', () => undefined);
      const outbox = new WsOutbox(socket, { metrics: false }).start();
      outboxes.push(outbox);
      ops.attach(socket, outbox);
    });
  });

  afterEach(async () => {
    for (const client of clients) client.terminate();
    await Promise.all(clients.map(closed));
    for (const client of wss.clients) client.terminate();
    await Promise.all(outboxes.map((outbox) => outbox.stop({ timeoutMs: 1_000 })));
    await new Promise<void>((resolve, reject) =>
      wss.close((error) => (error ? reject(error) : resolve())),
    );
    clients.length = 0;
    outboxes.length = 0;
  });

  /** An echo request padded to exactly `bytes` bytes of JSON. */
  function frameOf(bytes: number): string {
    const empty = JSON.stringify({ type: 'echo', id: 'big', data: '' });
    return JSON.stringify({ type: 'echo', id: 'big', data: 'x'.repeat(bytes - empty.length) });
  }

  it('should accept a frame of exactly 64 KiB and close with 1009 on one byte more', async () => {
    const client = new WebSocket(url);
    clients.push(client);
    client.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const conn = connection(client);
    const closeCode = new Promise<number>((resolve) => client.once('close', resolve));

    const fits = frameOf(DEFAULT_MAX_PAYLOAD);
    expect(Buffer.byteLength(fits)).toBe(65_536);
    conn.send(fits);
    const reply = await conn.reply('big', 'echo.result');
    expect(reply.data).toBe(65_536 - JSON.stringify({ type: 'echo', id: 'big', data: '' }).length);

    conn.send(frameOf(DEFAULT_MAX_PAYLOAD + 1));
    expect(await closeCode).toBe(CLOSE_MESSAGE_TOO_BIG);
    expect(CLOSE_MESSAGE_TOO_BIG).toBe(1009);
  });

  it('should let the limit be overridden', () => {
    expect(recommendedServerOptions()).toEqual({ maxPayload: 65_536 });
    expect(recommendedServerOptions({ maxPayload: 1_024 })).toEqual({ maxPayload: 1_024 });
  });
});
