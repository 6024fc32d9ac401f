import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { filter, firstValueFrom, Observable, take, toArray } from 'rxjs';
import WebSocket, { WebSocketServer } from 'ws';
import {
  ConnectionManager,
  OperationAbortedError,
  OperationError,
  Operations,
  progress,
  result,
} from '../../src/index.js';
import type { OperationEvent, WsOutbox, WsOutboxOptions } from '../../src/index.js';
import {
  COMPRESSED_ENVELOPE_PREFIX,
  ConnectionLostError,
  OperationFailedError,
  OutboxClient,
} from '../../src/client/index.js';
import type { ConnectionStatus, RequestEvent, ServerMessage } from '../../src/client/index.js';
import { until } from '../helpers/until.js';

/** ws's WebSocket, recording what kind of frame each one it receives is. */
function recordingWebSocket(kinds: string[]) {
  return class Recording extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener('message', ({ data }) =>
        kinds.push(
          typeof data !== 'string'
            ? 'binary'
            : data.startsWith(COMPRESSED_ENVELOPE_PREFIX)
              ? 'envelope'
              : 'text',
        ),
      );
    }
  };
}

describe('OutboxClient against a real server', () => {
  let wss: WebSocketServer;
  let manager: ConnectionManager;
  let outboxes: WsOutbox[];
  let signals: Map<string, AbortSignal>;
  let changes: EventEmitter;
  let clients: OutboxClient[];
  let url: string;

  async function start(outbox: WsOutboxOptions<unknown> = {}): Promise<void> {
    const registry = new Registry();
    manager = new ConnectionManager({ heartbeat: false, outbox: { ...outbox, metrics: registry } });
    const operations = new Operations({ metrics: registry, progressIntervalMs: 0 })
      .register('countdown', () => [progress(3), progress(2), progress(1), result('liftoff')])
      .register('hang', (_, { id, signal }) => {
        signals.set(id, signal);
        signal.addEventListener('abort', () => changes.emit('change'));
        changes.emit('change');
        return new Observable<OperationEvent>((subscriber) => subscriber.next(progress('started')));
      })
      .register('refuse', () => {
        throw new OperationError('data.query must be a string', { code: 'bad_request' });
      });
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket) => {
      const box = manager.connect(socket);
      outboxes.push(box);
      operations.attach(socket, box);
      changes.emit('change');
    });
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  }

  function client(kinds: string[] = []): OutboxClient {
    const c = new OutboxClient(url, { WebSocket: recordingWebSocket(kinds) });
    clients.push(c);
    return c;
  }

  function opened(c: OutboxClient): Promise<ConnectionStatus> {
    return firstValueFrom(c.status$.pipe(filter((status) => status === 'open')));
  }

  beforeEach(() => {
    outboxes = [];
    signals = new Map();
    changes = new EventEmitter();
    clients = [];
  });

  afterEach(async () => {
    for (const c of clients) c.close();
    await manager.closeAll();
    for (const socket of wss.clients) socket.terminate();
    await new Promise<void>((resolve, reject) =>
      wss.close((error) => (error ? reject(error) : resolve())),
    );
  });

  it('should stream progress, result and complete of a request', async () => {
    await start();
    const events = await firstValueFrom(client().request('countdown').pipe(toArray()));
    expect(events).toEqual([
      { type: 'countdown.progress', id: 'r1', data: 3 },
      { type: 'countdown.progress', id: 'r1', data: 2 },
      { type: 'countdown.progress', id: 'r1', data: 1 },
      { type: 'countdown.result', id: 'r1', data: 'liftoff' },
      { type: 'countdown.complete', id: 'r1' },
    ]);
  });

  it('should cancel the operation on the server when unsubscribed', async () => {
    await start();
    const c = client();
    const cancelled = firstValueFrom(
      c.messages$.pipe(filter((message) => message.type === 'hang.cancelled')),
    );
    const first = new Promise<RequestEvent>((resolve) => {
      const subscription = c.request('hang').subscribe((event) => {
        resolve(event);
        subscription.unsubscribe();
      });
    });
    expect(await first).toEqual({ type: 'hang.progress', id: 'r1', data: 'started' });
    await until(() => signals.get('r1')?.aborted === true, changes, 'change', {
      description: 'the handler signal aborted',
    });
    const reason = signals.get('r1')!.reason as unknown;
    expect(reason).toBeInstanceOf(OperationAbortedError);
    expect((reason as OperationAbortedError).outcome).toBe('cancelled');
    expect(await cancelled).toEqual({ type: 'hang.cancelled', id: 'r1' });
  });

  it('should error with OperationFailedError for an error reply', async () => {
    await start();
    const c = client();
    const refused = firstValueFrom(c.request('refuse', { query: 1 })).catch((e: unknown) => e);
    const unknown = firstValueFrom(c.request('nope')).catch((e: unknown) => e);
    expect(await refused).toBeInstanceOf(OperationFailedError);
    expect(await refused).toMatchObject({
      code: 'bad_request',
      message: 'data.query must be a string',
      operation: 'refuse',
    });
    expect(await unknown).toBeInstanceOf(OperationFailedError);
    expect(await unknown).toMatchObject({ code: 'unknown_operation', operation: 'nope' });
  });

  it.each(['binary', 'base64'] as const)(
    'should decode a large message sent as a gzip frame (%s)',
    async (encoding) => {
      await start({ compressAbove: 10_000, compressionEncoding: encoding });
      const kinds: string[] = [];
      const c = client(kinds);
      await opened(c);
      const big = { type: 'big', text: 'x'.repeat(20_000) };
      const received = firstValueFrom(c.messages$.pipe(take(3), toArray()));
      outboxes[0].send({ type: 'small', n: 1 });
      outboxes[0].send(big);
      outboxes[0].send({ type: 'small', n: 2 });
      // A batch may hold several messages; what matters is the order and the compressed frame.
      expect(await received).toEqual([{ type: 'small', n: 1 }, big, { type: 'small', n: 2 }]);
      expect(kinds).toContain(encoding === 'binary' ? 'binary' : 'envelope');
    },
  );

  it('should fail a request in flight when the server drops, then reconnect by itself', async () => {
    await start();
    const c = new OutboxClient(url, {
      WebSocket,
      reconnect: { initialDelayMs: 5, maxDelayMs: 5 },
    });
    clients.push(c);
    const statuses: ConnectionStatus[] = [];
    c.status$.subscribe((status) => statuses.push(status));
    const lost = firstValueFrom(c.request('hang')).catch((e: unknown) => e);
    await until(() => signals.has('r1'), changes, 'change', { description: 'hang started' });
    for (const socket of wss.clients) socket.terminate();
    expect(await lost).toBeInstanceOf(ConnectionLostError);
    expect(await lost).toMatchObject({ operation: 'hang', id: 'r1' });
    await opened(c);
    expect(statuses).toEqual(['connecting', 'open', 'reconnecting', 'open']);
    const events = await firstValueFrom(c.request('countdown').pipe(toArray()));
    expect(events.at(-1)).toEqual({ type: 'countdown.complete', id: 'r2' });
  });
});

describe('OutboxClient when a real server closes for good', () => {
  let wss: WebSocketServer;

  afterEach(async () => {
    for (const socket of wss.clients) socket.terminate();
    await new Promise<void>((resolve, reject) =>
      wss.close((error) => (error ? reject(error) : resolve())),
    );
  });

  /** Text that gzip cannot shrink much, so that the frame itself is large. */
  function noise(length: number): string {
    let state = 7;
    let text = '';
    while (text.length < length) {
      state = (state * 48_271) % 2_147_483_647;
      text += state.toString(36);
    }
    return text.slice(0, length);
  }

  it('should deliver a large gzip frame sent just before the close, then end', async () => {
    const big = { type: 'big', text: noise(30_000) };
    let frameBytes = 0;
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    // Answers the first request with one gzip frame (a big message and the request's progress),
    // then closes at once: the client receives the frame and the close back to back.
    wss.on('connection', (socket) =>
      socket.once('message', (raw) => {
        const { id } = JSON.parse(String(raw)) as { id: string };
        const frame = gzipSync(
          [big, { type: 'op.progress', id, data: 1 }].map((m) => JSON.stringify(m)).join('\n'),
        );
        frameBytes = frame.length;
        socket.send(frame, () => socket.close(1000, 'done'));
      }),
    );
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    const c = new OutboxClient(url, { WebSocket, reconnect: false });
    const order: string[] = [];
    const seen: ServerMessage[] = [];
    const ended = new Promise<void>((resolve) =>
      c.messages$.subscribe({
        next: (message) => seen.push(message),
        complete: () => {
          order.push('messages complete');
          resolve();
        },
      }),
    );
    const events: RequestEvent[] = [];
    let failure: unknown;
    c.request('op').subscribe({
      next: (event) => events.push(event),
      error: (error: unknown) => {
        order.push('request error');
        failure = error;
      },
    });
    await ended;
    expect(frameBytes).toBeGreaterThan(10_000);
    expect(seen.map((message) => message.type)).toEqual(['big', 'op.progress']);
    expect(seen[0]).toEqual(big);
    expect(events).toEqual([{ type: 'op.progress', id: 'r1', data: 1 }]);
    expect(failure).toBeInstanceOf(ConnectionLostError);
    expect(order).toEqual(['request error', 'messages complete']);
    expect(c.status).toBe('closed');
  });
});
