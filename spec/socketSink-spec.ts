import { concat, of, throwError } from 'rxjs';
import WebSocket from 'ws';
import { BufferOverflowError, socketSink } from '../src/index.js';
import type { SendResult } from '../src/index.js';
import { until } from './helpers/until.js';
import { closed, TestServer } from './helpers/wsServer.js';

interface Received {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

/** Records every message a client receives, raw. */
function record(client: WebSocket): Received[] {
  const received: Received[] = [];
  client.on('message', (data: Buffer, isBinary: boolean) => received.push({ data, isBinary }));
  return received;
}

describe('socketSink on a real ws socket', () => {
  let server: TestServer;

  beforeEach(async () => {
    server = await TestServer.start();
  });

  afterEach(async () => {
    await server.close();
  });

  it('should report not ready while the bytes in flight reach highWaterMark, and ready once they drain', async () => {
    const { server: socket } = await server.pair();
    const sink = socketSink(socket, { highWaterMark: 1024 });
    const readiness: boolean[] = [];
    sink.ready$.subscribe((ready) => readiness.push(ready));

    sink.send('a'.repeat(2048));

    expect(sink.ready).toBe(false);
    expect(sink.pendingBytes).toBe(2048);
    expect(sink.pendingFrames).toBe(1);
    await sink.flushed();
    expect(sink.ready).toBe(true);
    expect(sink.pendingBytes).toBe(0);
    expect(sink.pendingFrames).toBe(0);
    expect(readiness).toEqual([true, false, true]);
  });

  it('should stay ready while the bytes in flight are under highWaterMark', async () => {
    const { server: socket } = await server.pair();
    const sink = socketSink(socket, { highWaterMark: 1024 });

    sink.send('a'.repeat(600));
    expect(sink.ready).toBe(true);
    sink.send('b'.repeat(600));
    expect(sink.ready).toBe(false);
    await sink.flushed();
    expect(sink.ready).toBe(true);
  });

  it('should default highWaterMark to 1 MiB', async () => {
    const { server: socket } = await server.pair();
    const sink = socketSink(socket);

    sink.send(Buffer.alloc(1024 * 1024 - 1));
    expect(sink.ready).toBe(true);
    sink.send(Buffer.alloc(1));
    expect(sink.ready).toBe(false);
    await sink.flushed();
  });

  it('should count UTF-8 bytes for text and byte length for binary frames', async () => {
    const { client, server: socket } = await server.pair();
    const received = record(client);
    const sink = socketSink(socket);
    const results: SendResult[] = [];

    sink.send('é€😀', (result) => results.push(result));
    sink.send(new Uint8Array([1, 2, 3]), (result) => results.push(result));
    expect(sink.pendingBytes).toBe(2 + 3 + 4 + 3);
    await sink.flushed();
    await until(() => received.length === 2, client, 'message');

    expect(results).toEqual([
      { bytes: 9, error: undefined },
      { bytes: 3, error: undefined },
    ]);
    expect(received[0]).toEqual({ data: Buffer.from('é€😀'), isBinary: false });
    expect(received[1]).toEqual({ data: Buffer.from([1, 2, 3]), isBinary: true });
  });

  it('should send what an Observable emits when subscribed as its Observer', async () => {
    const { client, server: socket } = await server.pair();
    const received = record(client);
    const sink = socketSink(socket);

    of('one', 'two', 'three').subscribe(sink);
    await sink.flushed();
    await until(() => received.length === 3, client, 'message');

    expect(received.map(({ data }) => data.toString())).toEqual(['one', 'two', 'three']);
  });

  it('should hand an error that ends the pipeline to onError', async () => {
    const { server: socket } = await server.pair();
    const errors: unknown[] = [];
    const sink = socketSink(socket, { onError: (error) => errors.push(error) });
    const overflow = new BufferOverflowError(1);

    concat(
      of('one'),
      throwError(() => overflow),
    ).subscribe(sink);
    await sink.flushed();

    expect(errors).toEqual([overflow]);
  });

  it('should rethrow an error that ends the pipeline out of band when there is no onError', async () => {
    const { server: socket } = await server.pair();
    const reported: Array<() => void> = [];
    const queueMicrotask = jest
      .spyOn(globalThis, 'queueMicrotask')
      .mockImplementation((callback) => void reported.push(callback));
    const failure = new Error('gzip failed');
    try {
      throwError(() => failure).subscribe(socketSink(socket));
    } finally {
      queueMicrotask.mockRestore();
    }

    expect(reported).toHaveLength(1);
    expect(reported[0]).toThrow(failure);
  });

  it('should count the bytes reported upstream against highWaterMark', async () => {
    const { server: socket } = await server.pair();
    const sink = socketSink(socket, { highWaterMark: 1_000 });
    const readiness: boolean[] = [];
    sink.ready$.subscribe((ready) => readiness.push(ready));

    sink.setUpstreamBytes(600);
    sink.send('x'.repeat(300));
    expect(sink.ready).toBe(true);
    sink.setUpstreamBytes(700);
    expect(sink.ready).toBe(false);
    expect(sink.upstreamBytes).toBe(700);
    sink.setUpstreamBytes(0);
    expect(sink.ready).toBe(true);
    await sink.flushed();

    expect(readiness).toEqual([true, false, true]);
  });

  it('should emit closed once when the socket closes, and at once to a late subscriber', async () => {
    const { client, server: socket } = await server.pair();
    const sink = socketSink(socket);
    const events: string[] = [];
    sink.closed.subscribe({ next: () => events.push('closed'), complete: () => events.push('|') });

    client.close();
    await closed(socket);

    expect(events).toEqual(['closed', '|']);
    const late: string[] = [];
    sink.closed.subscribe({ next: () => late.push('closed'), complete: () => late.push('|') });
    expect(late).toEqual(['closed', '|']);
  });

  it('should emit closed at once for a socket that is closed already', async () => {
    const { client, server: socket } = await server.pair();
    client.terminate();
    await closed(socket);
    const listenersBefore = socket.listenerCount('close');

    const sink = socketSink(socket);
    let emitted = false;
    sink.closed.subscribe(() => (emitted = true));

    expect(emitted).toBe(true);
    expect(socket.listenerCount('close')).toBe(listenersBefore);
  });

  it('should settle a frame sent after the socket closed with an error, without throwing', async () => {
    const { client, server: socket } = await server.pair();
    const sink = socketSink(socket, { highWaterMark: 10 });
    client.terminate();
    await closed(socket);
    const results: SendResult[] = [];

    sink.send('late', (result) => results.push(result));
    await sink.flushed();

    expect(results).toHaveLength(1);
    expect(results[0].bytes).toBe(4);
    expect(results[0].error).toBeInstanceOf(Error);
    expect(sink.pendingBytes).toBe(0);
    // A closed socket has no demand, whatever its bytes in flight.
    expect(sink.ready).toBe(false);
  });

  it('should report not ready until a connecting socket opens', async () => {
    const { client } = server.connect();
    const sink = socketSink(client);
    const readiness: boolean[] = [];
    sink.ready$.subscribe((ready) => readiness.push(ready));

    expect(sink.ready).toBe(false);
    await until(() => client.readyState === WebSocket.OPEN, client, 'open');

    expect(readiness).toEqual([false, true]);
    client.close();
    await closed(client);
    expect(readiness).toEqual([false, true, false]);
  });

  it('should report not ready once a send finds the socket closing', async () => {
    const { server: socket } = await server.pair();
    const sink = socketSink(socket);

    expect(sink.ready).toBe(true);
    socket.close();
    sink.send('x', () => {});
    await sink.flushed();

    expect(socket.readyState).toBe(WebSocket.CLOSING);
    expect(sink.ready).toBe(false);
    await closed(socket);
    expect(sink.ready).toBe(false);
  });

  it('should settle a frame with an error when ws throws (socket still connecting)', async () => {
    const { client: connecting } = server.connect();
    const sink = socketSink(connecting);
    const results: SendResult[] = [];

    expect(() => sink.send('early', (result) => results.push(result))).not.toThrow();

    expect(results).toHaveLength(1);
    expect(results[0].error?.message).toMatch(/CONNECTING/);
    expect(sink.pendingFrames).toBe(0);
    // Aborting the handshake makes ws report an error, which TestServer's listener takes.
    connecting.terminate();
    await closed(connecting);
  });

  it('should settle a frame sent while the socket is closing with an error', async () => {
    const { server: socket } = await server.pair();
    const sink = socketSink(socket);
    let emitted = false;
    sink.closed.subscribe(() => (emitted = true));
    const results: SendResult[] = [];

    socket.close();
    sink.send('closing', (result) => results.push(result));
    await sink.flushed();

    expect(results[0].error).toBeInstanceOf(Error);
    expect(emitted).toBe(false);
    await closed(socket);
    expect(emitted).toBe(true);
  });

  it('should stop listening to the socket on release', async () => {
    const { server: socket } = await server.pair();
    const before = socket.listenerCount('close');

    const sink = socketSink(socket);
    expect(socket.listenerCount('close')).toBe(before + 1);
    sink.release();

    expect(socket.listenerCount('close')).toBe(before);
  });

  it('should remove its close listener once the socket has closed', async () => {
    const { client, server: socket } = await server.pair();
    const before = socket.listeners('close');
    const sink = socketSink(socket);
    let emitted = false;
    sink.closed.subscribe(() => (emitted = true));
    expect(socket.listenerCount('close')).toBe(before.length + 1);

    client.terminate();
    await closed(socket);

    expect(emitted).toBe(true);
    expect(socket.listeners('close').filter((listener) => !before.includes(listener))).toEqual([]);
  });

  it.each([0, -1, Number.NaN])('should refuse a highWaterMark of %p', async (highWaterMark) => {
    const { server: socket } = await server.pair();

    expect(() => socketSink(socket, { highWaterMark })).toThrow(RangeError);
  });

  it('should resolve flushed() at once when nothing is in flight', async () => {
    const { server: socket } = await server.pair();
    const sink = socketSink(socket);

    await expect(sink.flushed()).resolves.toBeUndefined();
  });
});
