import { VirtualTimeScheduler } from 'rxjs';
import WebSocket from 'ws';
import { createDemoServer } from '../examples/demo/app.js';
import { isOperationError } from '../src/index.js';
import type { DemoServer, DemoServerOptions } from '../examples/demo/app.js';
import type { ChunkEvent } from '../examples/demo/memory/operations.js';
import { DemoTestClient } from './helpers/demoClient.js';
import { sample } from './helpers/metricsText.js';
import { nextTurn } from './helpers/until.js';
import { closed } from './helpers/wsServer.js';
import { LEAK_PATTERN } from './operations/support.js';

/**
 * The demo's memory operations end to end: a real demo server on 127.0.0.1, real ws clients,
 * a small generated corpus so that a search takes milliseconds.
 */

const CORPUS_SIZE = 20_000;
/** Small chunks: a search is 200 macrotasks, time enough for a cancel to land mid-way. */
const CHUNK_SIZE = 100;
const PLANTED = 'The zanzibar flamingo quartet rehearses saffron risotto recipes at dawn.';

const servers = new Set<DemoServer>();
const clients = new Set<WebSocket>();
/** Handler failures other than refused requests: bugs, which no test expects. */
const unexpectedFailures: unknown[] = [];

afterEach(async () => {
  for (const ws of clients) ws.terminate();
  await Promise.all([...clients].map(closed));
  clients.clear();
  await Promise.all([...servers].map((server) => server.close()));
  servers.clear();
  expect(unexpectedFailures.splice(0)).toEqual([]);
});

/** Every chunk each operation ran, by id. */
class ChunkLog {
  private readonly byId = new Map<string, ChunkEvent[]>();
  /** Runs after each chunk is logged: a test's way to act in the middle of an operation. */
  onChunk: (chunk: ChunkEvent) => void = () => undefined;

  readonly hook = (chunk: ChunkEvent): void => {
    const chunks = this.byId.get(chunk.id) ?? [];
    chunks.push(chunk);
    this.byId.set(chunk.id, chunks);
    this.onChunk(chunk);
  };

  of(id: string): readonly ChunkEvent[] {
    return this.byId.get(id) ?? [];
  }
}

async function startDemo(chunks: ChunkLog, options: Partial<DemoServerOptions> = {}) {
  const server = await createDemoServer({
    port: 0,
    host: '127.0.0.1',
    tokenDelayMs: 1,
    memory: { corpusSize: CORPUS_SIZE, chunkSize: CHUNK_SIZE, onChunk: chunks.hook },
    onHandlerError: (error) => {
      if (!isOperationError(error)) unexpectedFailures.push(error);
    },
    ...options,
  });
  servers.add(server);
  return server;
}

/** One client connection and what it received. */
const Client = {
  open: (server: DemoServer, query = '') => DemoTestClient.open(server.wsUrl + query, clients),
};

interface SearchItem {
  id: string;
  text: string;
  score: number;
}

describe('memory_search', () => {
  it('streams progress, then the top `limit` memories by score, the planted one first, then complete', async () => {
    const chunks = new ChunkLog();
    const server = await startDemo(chunks);
    const client = await Client.open(server);
    await client.chat(PLANTED, 'plant');

    // With a typo: "flamingo" spelled "flamnigo". "saffron risotto" is common in the corpus.
    client.send({
      type: 'memory_search',
      id: 's1',
      data: { query: 'zanzibar flamnigo saffron risotto', limit: 5 },
    });
    await client.reply('s1', 'memory_search.complete');

    const replies = client.of('s1');
    const types = replies.map((r) => r.type);
    const progress = replies.filter((r) => r.type === 'memory_search.progress');
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(types.slice(progress.length)).toEqual([
      'memory_search.result',
      'memory_search.complete',
    ]);
    const total = CORPUS_SIZE + 1; // the corpus and the chat message
    const scanned = progress.map((r) => (r.data as { scanned: number; total: number }).scanned);
    for (const r of progress) expect(r.data).toEqual({ scanned: expect.any(Number), total });
    expect(scanned).toEqual([...scanned].sort((a, b) => a - b));
    expect(scanned[0]).toBe(CHUNK_SIZE); // the first progress goes out at once

    const { items } = replies.find((r) => r.type === 'memory_search.result')!.data as {
      items: SearchItem[];
    };
    expect(items).toHaveLength(5);
    expect(items[0]).toEqual({ id: 'chat-1', text: PLANTED, score: expect.any(Number) });
    expect(items[0].score).toBeGreaterThan(items[1].score);
    const scores = items.map((item) => item.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    for (const item of items.slice(1)) {
      expect(item.id).toMatch(/^mem-\d+$/);
      expect(item.text.toLowerCase()).toMatch(/saffron|risotto/);
      expect(item.score).toBeGreaterThan(0);
      expect(item.score).toBeLessThanOrEqual(1);
    }
    // Every memory was scanned, once.
    expect(chunks.of('s1').at(-1)).toMatchObject({ scanned: total, total });
    expect(chunks.of('s1')).toHaveLength(Math.ceil(total / CHUNK_SIZE));

    const metrics = await server.registry.metrics();
    expect(
      sample(metrics, 'ws_outbox_operations_total', {
        operation: 'memory_search',
        outcome: 'complete',
      }),
    ).toBe(1);
    expect(sample(metrics, 'demo_chat_messages_total')).toBe(1);
    expect(sample(metrics, 'demo_memory_documents')).toBe(total);
  });

  it('cancel: memory_search.cancelled, and the search runs no more chunks', async () => {
    const chunks = new ChunkLog();
    const server = await startDemo(chunks);
    const client = await Client.open(server);
    // Sent from inside the first chunk, so it reaches the server while the search runs.
    chunks.onChunk = (chunk) => {
      if (chunk.id === 'c1' && chunk.scanned === CHUNK_SIZE)
        client.send({ type: 'cancel', id: 'c1' });
    };
    client.send({ type: 'memory_search', id: 'c1', data: { query: 'saffron risotto tuesday' } });
    await client.reply('c1', 'memory_search.cancelled');

    const ran = chunks.of('c1').length;
    expect(ran).toBeGreaterThanOrEqual(1);
    expect(ran).toBeLessThan(CORPUS_SIZE / CHUNK_SIZE); // stopped part-way
    // A live loop runs a chunk every turn: two turns would show one.
    await nextTurn();
    await nextTurn();
    expect(chunks.of('c1')).toHaveLength(ran);
    const types = client.of('c1').map((r) => r.type);
    expect(types.at(-1)).toBe('memory_search.cancelled');
    expect(types).not.toContain('memory_search.result');
    expect(types).not.toContain('memory_search.complete');

    // The connection goes on: the same id can run again, to the end.
    chunks.onChunk = () => undefined;
    client.send({ type: 'memory_search', id: 'c1', data: { query: 'saffron', limit: 1 } });
    await client.reply('c1', 'memory_search.complete');
  });

  it('a client that disconnects stops its search', async () => {
    const chunks = new ChunkLog();
    const server = await startDemo(chunks);
    const client = await Client.open(server);
    chunks.onChunk = (chunk) => {
      if (chunk.id === 'd1' && chunk.scanned === CHUNK_SIZE) client.ws.terminate();
    };
    client.send({ type: 'memory_search', id: 'd1', data: { query: 'saffron risotto tuesday' } });
    await closed(client.ws);
    // The server sees the close in its own time: wait for the manager to let go of the socket.
    await until(() => server.manager.size === 0);
    const ran = chunks.of('d1').length;
    expect(ran).toBeLessThan(CORPUS_SIZE / CHUNK_SIZE);
    await nextTurn();
    await nextTurn();
    expect(chunks.of('d1')).toHaveLength(ran);
  });

  it('a server shutting down ends its running searches', async () => {
    const chunks = new ChunkLog();
    const server = await startDemo(chunks);
    const client = await Client.open(server);
    let closing: Promise<void> | undefined;
    chunks.onChunk = (chunk) => {
      if (chunk.id === 'x1' && chunk.scanned === CHUNK_SIZE) closing = server.close();
    };
    client.send({ type: 'memory_search', id: 'x1', data: { query: 'saffron risotto tuesday' } });
    await until(() => closing !== undefined);
    await closing;
    const ran = chunks.of('x1').length;
    expect(ran).toBe(1); // ended in its first chunk: close() detaches the operations at once
    await nextTurn();
    await nextTurn();
    expect(chunks.of('x1')).toHaveLength(ran);
  });

  it('times out after OPERATION_TIMEOUT_MS with memory_search_timeout, and stops', async () => {
    const chunks = new ChunkLog();
    // The operations' clock is virtual: the deadline passes when the test says so.
    const clock = new VirtualTimeScheduler();
    const server = await startDemo(chunks, {
      operationScheduler: clock,
      operationTimeoutMs: 5_000,
    });
    const client = await Client.open(server);
    chunks.onChunk = (chunk) => {
      if (chunk.id === 't1' && chunk.scanned === 3 * CHUNK_SIZE) advanceTo(clock, 4_999);
      if (chunk.id === 't1' && chunk.scanned === 4 * CHUNK_SIZE) advanceTo(clock, 5_000);
    };
    client.send({ type: 'memory_search', id: 't1', data: { query: 'saffron risotto' } });
    const error = await client.reply('t1', 'error');

    expect(error).toEqual({
      type: 'error',
      id: 't1',
      code: 'memory_search_timeout',
      message: expect.stringContaining('5000 ms'),
    });
    // 4,999 ms in, the search went on; at 5,000 it stopped within the chunk it was in.
    expect(chunks.of('t1')).toHaveLength(4);
    await nextTurn();
    await nextTurn();
    expect(chunks.of('t1')).toHaveLength(4);
    expect(client.of('t1').map((r) => r.type)).not.toContain('memory_search.result');
  });

  it.each([
    ['no data', undefined, /data must be an object/],
    ['an empty query', { query: '' }, /query must be a non-empty string/],
    ['a query over 256 characters', { query: 'x'.repeat(257) }, /at most 256/],
    ['a query with no word of two letters', { query: 'a b c' }, /word of two characters/],
    ['limit 0', { query: 'saffron', limit: 0 }, /limit must be an integer from 1 to 100/],
    ['limit 101', { query: 'saffron', limit: 101 }, /limit must be an integer from 1 to 100/],
  ])(
    'answers %s with bad_request, no stack, and the connection stays usable',
    async (_, data, message) => {
      const chunks = new ChunkLog();
      const server = await startDemo(chunks);
      const client = await Client.open(server);
      client.send({ type: 'memory_search', id: 'b1', data });
      const error = await client.reply('b1', 'error');
      expect(error).toEqual({
        type: 'error',
        id: 'b1',
        code: 'bad_request',
        message: expect.any(String),
      });
      expect(error.message).toMatch(message);
      expect(error.message).not.toMatch(LEAK_PATTERN);
      expect(chunks.of('b1')).toHaveLength(0); // refused before any work

      client.send({ type: 'memory_search', id: 'ok', data: { query: 'saffron', limit: 1 } });
      await client.reply('ok', 'memory_search.complete');
      expect(client.ws.readyState).toBe(WebSocket.OPEN);
    },
  );

  it('answers an unknown type with unknown_operation', async () => {
    const server = await startDemo(new ChunkLog());
    const client = await Client.open(server);
    client.send({ type: 'memory_delete', id: 'u1', data: {} });
    expect(await client.reply('u1', 'error')).toEqual({
      type: 'error',
      id: 'u1',
      code: 'unknown_operation',
      message: expect.any(String),
    });
  });
});

describe('memory_compress_preview', () => {
  it("summarises the connection's own chat thread: progress, then { summary, sentences, ratio }, then complete", async () => {
    const chunks = new ChunkLog();
    const server = await startDemo(chunks);
    const client = await Client.open(server);
    const thread = [
      'We said hello.',
      'The billing migration failed on the replica. The rollback took an hour.',
      'We said thanks.',
      'The billing database needs a new replica before the migration.',
    ];
    for (const [i, text] of thread.entries()) await client.chat(text, `m${i}`);

    client.send({ type: 'memory_compress_preview', id: 'p1', data: { max_sentences: 2 } });
    await client.reply('p1', 'memory_compress_preview.complete');

    const types = client.of('p1').map((r) => r.type);
    expect(types).toEqual([
      'memory_compress_preview.progress',
      'memory_compress_preview.result',
      'memory_compress_preview.complete',
    ]);
    expect(client.of('p1')[0].data).toEqual({ scanned: 5, total: 5 });
    const result = client.of('p1')[1].data as {
      summary: string;
      sentences: Array<{ index: number; text: string; score: number }>;
      ratio: number;
    };
    // The billing failure, then the rollback (new words) rather than a second sentence about
    // billing and replicas; the chit-chat, made of the corpus's commonest words, left out.
    expect(result.sentences.map((s) => s.text)).toEqual([
      'The billing migration failed on the replica.',
      'The rollback took an hour.',
    ]);
    expect(result.sentences.map((s) => s.index)).toEqual([1, 2]);
    expect(result.summary).toBe(result.sentences.map((s) => s.text).join(' '));
    const threadLength =
      'We said hello. The billing migration failed on the replica. The rollback took an hour. We said thanks. The billing database needs a new replica before the migration.'
        .length;
    expect(result.ratio).toBeCloseTo(result.summary.length / threadLength, 4);
  });

  it('reads the thread named by ?thread_id= from another connection, or a generated gen-<k> thread', async () => {
    const server = await startDemo(new ChunkLog());
    const writer = await Client.open(server, '?thread_id=team');
    await writer.chat('Kestrel launch moved to friday.', 'w1');
    const reader = await Client.open(server);

    reader.send({
      type: 'memory_compress_preview',
      id: 'p2',
      data: { thread_id: 'team', max_sentences: 1 },
    });
    const shared = await reader.reply('p2', 'memory_compress_preview.result');
    expect(shared.data).toMatchObject({ summary: 'Kestrel launch moved to friday.', ratio: 1 });

    reader.send({
      type: 'memory_compress_preview',
      id: 'p3',
      data: { thread_id: 'gen-0', max_sentences: 3 },
    });
    const generated = await reader.reply('p3', 'memory_compress_preview.result');
    const expected = server.memory.thread('gen-0')!.join(' ');
    const { sentences } = generated.data as { sentences: Array<{ text: string }> };
    expect(sentences).toHaveLength(3);
    for (const { text } of sentences) expect(expected).toContain(text);
  });

  it('refuses an empty thread and an unknown one with bad_request', async () => {
    const server = await startDemo(new ChunkLog());
    const client = await Client.open(server);
    client.send({ type: 'memory_compress_preview', id: 'e1' });
    client.send({ type: 'memory_compress_preview', id: 'e2', data: { thread_id: 'nobody' } });
    client.send({ type: 'memory_compress_preview', id: 'e3', data: { max_sentences: 0 } });
    for (const [id, message] of [
      ['e1', /no chat messages yet/],
      ['e2', /names no thread/],
      ['e3', /max_sentences/],
    ] as const) {
      const error = await client.reply(id, 'error');
      expect(error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(message) });
    }
  });
});

/** Runs every action of a virtual scheduler due up to `time`, and leaves its clock there. */
function advanceTo(scheduler: VirtualTimeScheduler, time: number): void {
  scheduler.schedule(() => undefined, time - scheduler.now());
  scheduler.maxFrames = time;
  scheduler.flush();
}

/** Resolves once `predicate` holds, checking after each event-loop turn. */
async function until(predicate: () => boolean): Promise<void> {
  for (let turn = 0; !predicate(); turn++) {
    if (turn > 10_000) throw new Error('until: condition did not hold within 10,000 turns');
    await nextTurn();
  }
}
