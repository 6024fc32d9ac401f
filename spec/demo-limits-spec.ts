import { once } from 'node:events';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { createDemoServer } from '../examples/demo/app.js';
import type { DemoServer, DemoServerOptions } from '../examples/demo/app.js';
import { MAX_CHAT_MEMORY_LENGTH } from '../examples/demo/memory/store.js';
import { MAX_PREVIEW_SENTENCES } from '../examples/demo/memory/operations.js';
import type { ChunkEvent } from '../examples/demo/memory/operations.js';
import { isOperationError } from '../src/index.js';
import { DemoTestClient } from './helpers/demoClient.js';
import { sample } from './helpers/metricsText.js';
import { nextTurn } from './helpers/until.js';
import { closed } from './helpers/wsServer.js';

/**
 * The demo under a hostile client that stays within every stated limit (rate limit, 64 KiB
 * frames, 8 operations per connection): what each frame may start is bounded, per connection
 * and in total, and shutdown is bounded. A real demo server on 127.0.0.1, real clients.
 */

const servers = new Set<DemoServer>();
const clients = new Set<WebSocket>();
const sockets = new Set<Socket>();
const unexpectedFailures: unknown[] = [];

afterEach(async () => {
  for (const ws of clients) ws.terminate();
  await Promise.all([...clients].map(closed));
  clients.clear();
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all([...servers].map((server) => server.close()));
  servers.clear();
  expect(unexpectedFailures.splice(0)).toEqual([]);
});

async function startDemo(options: Partial<DemoServerOptions> = {}): Promise<DemoServer> {
  const server = await createDemoServer({
    port: 0,
    host: '127.0.0.1',
    tokenDelayMs: 1,
    memory: { corpusSize: 5_000, chunkSize: 100 },
    onHandlerError: (error) => {
      if (!isOperationError(error)) unexpectedFailures.push(error);
    },
    ...options,
  });
  servers.add(server);
  return server;
}

const Client = {
  open: (server: DemoServer, query = '') => DemoTestClient.open(server.wsUrl + query, clients),
};

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');

describe('chat.message', () => {
  it('refuses a 64 KiB text with too_large at once: no ack, no stream, nothing kept; the connection goes on', async () => {
    const server = await startDemo();
    const client = await Client.open(server);
    // Just under the 64 KiB frame limit: 32,700 one-letter words.
    client.sendChat('big', 'a '.repeat(32_700));
    const refusal = await client.reply('big', 'error', 'chat.ack');
    expect(refusal).toEqual({
      type: 'error',
      id: 'big',
      code: 'too_large',
      message: expect.stringMatching(/at most 16384 characters/),
    });
    expect(server.agent.streaming).toEqual({ replies: 0, tokens: 0, chars: 0 });
    expect(server.memory.chatCount).toBe(0);
    client.sendChat('ok', 'still here');
    await client.reply('ok', 'chat.done');
    const metrics = await server.registry.metrics();
    expect(sample(metrics, 'demo_chat_refused_total', { code: 'too_large' })).toBe(1);
    expect(sample(metrics, 'demo_chat_messages_total')).toBe(1);
  });

  it('refuses with busy a chat past what one connection may stream at once, and not another connection', async () => {
    const server = await startDemo({
      tokenDelayMs: 60_000, // nothing ends during the test
      chat: { perConnection: { replies: 4, tokens: 100, chars: 10_000 } },
    });
    const greedy = await Client.open(server);
    greedy.sendChat('a', words(60));
    greedy.sendChat('b', words(40)); // 100 tokens held
    greedy.sendChat('c', 'one more');
    expect(await greedy.reply('c', 'error', 'chat.ack')).toMatchObject({
      type: 'error',
      code: 'busy',
    });
    await greedy.reply('b', 'chat.ack');
    const fresh = await Client.open(server);
    fresh.sendChat('f', 'hello');
    await fresh.reply('f', 'chat.ack');
    expect(server.agent.streaming).toMatchObject({ replies: 3, tokens: 101 });
    // Leaving gives it all back.
    greedy.ws.terminate();
    await closed(greedy.ws);
    await until(() => server.agent.streaming.replies === 1);
    expect(
      sample(await server.registry.metrics(), 'demo_chat_refused_total', { code: 'busy' }),
    ).toBe(1);
  });

  it('charges a long chat against the rate limit by the words it starts, not as one frame', async () => {
    const server = await startDemo({
      tokenDelayMs: 60_000,
      chat: { perConnection: { replies: 100, tokens: 100_000, chars: 1_000_000 } },
    });
    const client = await Client.open(server);
    // 1,000 words cost 251 tokens of the 2,000 burst: the eighth is over the limit.
    for (let i = 0; i < 8; i++) client.sendChat(`c${i}`, words(1_000));
    expect(await client.reply('c7', 'error', 'chat.ack')).toMatchObject({ code: 'rate_limited' });
  });
});

describe('memory operations', () => {
  it('run a few at a time across connections; past the queue a request is refused with busy before any work', async () => {
    const chunks: ChunkEvent[] = [];
    let release: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const server = await startDemo({
      memoryLimit: { maxConcurrent: 1, maxQueued: 1 },
      memory: {
        corpusSize: 5_000,
        chunkSize: 100,
        onChunk: (chunk) => chunks.push(chunk),
        // Each chunk waits for the test once the first one has run: the search holds its slot.
        defer: (work) => {
          let cancelled = false;
          void (chunks.length === 0 ? Promise.resolve() : held).then(
            () => !cancelled && setImmediate(work),
          );
          return () => (cancelled = true);
        },
      },
    });
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => Client.open(server)));
    a.send({ type: 'memory_search', id: 'a1', data: { query: 'saffron' } });
    await a.reply('a1', 'memory_search.progress');
    b.send({ type: 'memory_search', id: 'b1', data: { query: 'saffron' } }); // queued
    await until(() => server.memoryLimiter.queued === 1);
    c.send({ type: 'memory_search', id: 'c1', data: { query: 'saffron' } });
    expect(await c.reply('c1', 'error')).toEqual({
      type: 'error',
      id: 'c1',
      code: 'busy',
      message: expect.any(String),
    });
    expect(chunks.every((chunk) => chunk.id === 'a1')).toBe(true);
    release!();
    await a.reply('a1', 'memory_search.complete');
    await b.reply('b1', 'memory_search.complete');
    const metrics = await server.registry.metrics();
    expect(sample(metrics, 'ws_outbox_rejected_messages_total', { code: 'busy' })).toBe(1);
    expect(
      sample(metrics, 'ws_outbox_operations_total', {
        operation: 'memory_search',
        outcome: 'complete',
      }),
    ).toBe(2);
  });

  it('count a request the handler refuses as rejected, not as an error', async () => {
    const server = await startDemo();
    const client = await Client.open(server);
    client.send({ type: 'memory_search', id: 'bad', data: { query: '' } });
    client.send({ type: 'memory_compress_preview', id: 'empty' });
    await client.reply('bad', 'error');
    await client.reply('empty', 'error');
    const metrics = await server.registry.metrics();
    const count = (operation: string, outcome: string) =>
      sample(metrics, 'ws_outbox_operations_total', { operation, outcome });
    expect(count('memory_search', 'rejected')).toBe(1);
    expect(count('memory_compress_preview', 'rejected')).toBe(1);
    expect(count('memory_search', 'error')).toBe(0);
    expect(count('memory_compress_preview', 'error')).toBe(0);
  });

  it('a compress preview of a thread a client filled reads its latest part only, in chunks', async () => {
    const chunks: ChunkEvent[] = [];
    const server = await startDemo({
      memory: { corpusSize: 5_000, chunkSize: 100, onChunk: (chunk) => chunks.push(chunk) },
    });
    // 10,000 messages of 1,000 characters, 500 sentences each: what main kept whole.
    const message = 'Ok. '.repeat(MAX_CHAT_MEMORY_LENGTH / 4);
    for (let i = 0; i < 10_000; i++) server.memory.remember('filled', message);
    const client = await Client.open(server, '?thread_id=filled');
    client.send({ type: 'memory_compress_preview', id: 'p', data: { max_sentences: 50 } });
    await client.reply('p', 'memory_compress_preview.complete');
    expect(chunks.length).toBeGreaterThan(1);
    // The latest 16,000 characters hold 4,000 sentences: the sentence cap applies.
    for (const chunk of chunks) expect(chunk.total).toBe(MAX_PREVIEW_SENTENCES);
  });
});

describe('close()', () => {
  it('ends within shutdownTimeoutMs with a half-sent HTTP request open, and cuts it off', async () => {
    const server = await startDemo({ shutdownTimeoutMs: 2_000 });
    const received = new Promise<Socket>((resolve) => server.http.once('connection', resolve));
    const socket = connectTcp(Number(new URL(server.url).port), '127.0.0.1');
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '); // never finished
    const serverSide = await received;
    // The server has read the bytes: the request is in progress, not an idle connection.
    await until(() => serverSide.bytesRead > 0);
    const socketClosed = once(socket, 'close');
    await server.close();
    await socketClosed;
  });
});

describe('close() with a client that stops reading', () => {
  it('cuts it off once the close handshake has had its share of shutdownTimeoutMs', async () => {
    const server = await startDemo({ shutdownTimeoutMs: 1_000 });
    const client = await Client.open(server);
    // Its socket no longer reads: the server's close frame is never answered.
    (client.ws as unknown as { _socket: Socket })._socket.pause();
    await server.close(); // resolves: the client was terminated, not waited for
    expect(server.manager.size).toBe(0);
  });
});

/** Resolves once `predicate` holds, checking after each event-loop turn (bounded). */
async function until(predicate: () => boolean): Promise<void> {
  for (let turn = 0; !predicate(); turn++) {
    if (turn > 100_000) throw new Error('until: condition did not hold within 100,000 turns');
    await nextTurn();
  }
}
