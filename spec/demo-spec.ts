import { EventEmitter, once } from 'node:events';
import { runInNewContext } from 'node:vm';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { createDemoServer } from '../examples/demo/app.js';
import type { DemoServer } from '../examples/demo/app.js';
import type { DemoEvent } from '../examples/demo/chatAgent.js';
import { PAGE_SCRIPT } from '../examples/demo/page.js';
import { FrameCollector } from './helpers/frameCollector.js';
import { countingScheduler } from './helpers/countingScheduler.js';
import { expectSeedMetrics, sample } from './helpers/metricsText.js';
import { until } from './helpers/until.js';
import { closed } from './helpers/wsServer.js';

/** The demo end to end: a real HTTP + ws server on 127.0.0.1, real clients. */

const servers = new Set<DemoServer>();
const clients = new Set<WebSocket>();

async function startDemo(options: Partial<Parameters<typeof createDemoServer>[0]> = {}) {
  // A small corpus: these tests are about the chat and the routes, not the memory operations.
  const memory = { corpusSize: 2_000 };
  const server = await createDemoServer({ port: 0, host: '127.0.0.1', memory, ...options });
  servers.add(server);
  return server;
}

async function connect(server: DemoServer): Promise<{ ws: WebSocket; frames: FrameCollector }> {
  const ws = new WebSocket(server.wsUrl);
  clients.add(ws);
  ws.on('error', () => {});
  const frames = new FrameCollector(ws);
  await once(ws, 'open');
  return { ws, frames };
}

function chatMessage(text: string, id?: string): string {
  return JSON.stringify({
    type: 'chat.message',
    ...(id && { id }),
    payload: { text, agent_id: 'anima' },
  });
}

type Event = DemoEvent & { message_id?: string };

/** The events of one chat, each with the index of the frame it came in. */
function chatEvents(frames: FrameCollector, id: string): Array<{ event: Event; frame: number }> {
  return frames.frames.flatMap((frame, index) =>
    (frame.values as Event[])
      .filter((e) => e.message_id === id)
      .map((event) => ({ event, frame: index })),
  );
}

function untilDone(frames: FrameCollector, ...ids: string[]): Promise<void> {
  return frames.until(
    () => ids.every((id) => chatEvents(frames, id).some(({ event }) => event.type === 'chat.done')),
    { description: `chat.done for ${ids.join(', ')}` },
  );
}

afterEach(async () => {
  for (const ws of clients) ws.terminate();
  await Promise.all([...clients].map(closed));
  clients.clear();
  await Promise.all([...servers].map((server) => server.close()));
  servers.clear();
});

describe('chat echo agent over /ws', () => {
  it('acks at once, streams the text back as deltas in order, then says done', async () => {
    const server = await startDemo();
    const { ws, frames } = await connect(server);
    const texts = { a: 'the quick brown fox jumps over', b: '  spaced   out\ttext ' };
    ws.send(chatMessage(texts.a, 'a'));
    ws.send(chatMessage(texts.b, 'b'));
    await untilDone(frames, 'a', 'b');

    for (const [id, text] of Object.entries(texts)) {
      const events = chatEvents(frames, id).map(({ event }) => event);
      expect(events[0]).toEqual({ type: 'chat.ack', message_id: id, agent_id: 'anima' });
      const deltas = events.filter((e) => e.type === 'chat.delta');
      expect(deltas.length).toBeGreaterThan(1);
      expect(deltas.map((d) => d.index)).toEqual(deltas.map((_, i) => i));
      expect(deltas.map((d) => d.delta).join('')).toBe(text);
      expect(events.at(-1)).toEqual({
        type: 'chat.done',
        message_id: id,
        agent_id: 'anima',
        text,
        tokens: deltas.length,
      });
      expect(events).toHaveLength(deltas.length + 2);
    }
  });

  it('spreads the deltas over time, in several frames after the ack', async () => {
    // A fixed delay longer than the 25 ms window: each window closes before the next token.
    const server = await startDemo({ tokenDelayMs: 30 });
    const { ws, frames } = await connect(server);
    ws.send(chatMessage('one two three four five six', 'c1'));
    await untilDone(frames, 'c1');

    const events = chatEvents(frames, 'c1');
    const ackFrame = events[0].frame;
    const deltaFrames = events
      .filter(({ event }) => event.type === 'chat.delta')
      .map((e) => e.frame);
    expect(deltaFrames).toHaveLength(6);
    expect(Math.min(...deltaFrames)).toBeGreaterThan(ackFrame);
    expect(new Set(deltaFrames).size).toBeGreaterThanOrEqual(3);
  });

  it('numbers chats that come without an id, and every event of a chat carries its number', async () => {
    const server = await startDemo();
    const { ws, frames } = await connect(server);
    ws.send(chatMessage('first chat'));
    ws.send(chatMessage('second chat'));
    await frames.until(
      (c) => c.values.filter((v) => (v as Event).type === 'chat.done').length === 2,
    );

    const events = frames.values as Event[];
    const ids = [...new Set(events.map((e) => e.message_id))];
    expect(ids).toHaveLength(2);
    for (const [index, id] of ids.entries()) {
      const text = index === 0 ? 'first chat' : 'second chat';
      const chat = events.filter((e) => e.message_id === id);
      expect(chat.map((e) => e.type)).toEqual([
        'chat.ack',
        'chat.delta',
        'chat.delta',
        'chat.done',
      ]);
      expect(chat.at(-1)).toMatchObject({ text });
    }
  });

  it('answers a malformed frame with a bad_request error, no stack, and keeps the connection', async () => {
    const server = await startDemo();
    const { ws, frames } = await connect(server);
    ws.send('{not json');
    ws.send(JSON.stringify({ type: 'chat.message', payload: {} }));
    ws.send(Buffer.from('binary'), { binary: true });
    ws.send(chatMessage('still here', 'ok'));
    await untilDone(frames, 'ok');

    const errors = (frames.values as Event[]).filter((e) => e.type === 'error');
    expect(errors).toHaveLength(3);
    for (const error of errors) {
      expect(error).toEqual({ type: 'error', code: 'bad_request', message: expect.any(String) });
      if (error.type === 'error') expect(error.message).not.toMatch(/\n\s+at /);
    }
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });
});

describe('HTTP routes', () => {
  it('/metrics is Prometheus text with the seed metrics, fed by the outboxes, and default metrics', async () => {
    const registry = new Registry();
    const server = await startDemo({ registry });
    const { ws, frames } = await connect(server);
    ws.send(chatMessage('count these words', 'm'));
    await untilDone(frames, 'm');

    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    const text = await response.text();
    expectSeedMetrics(text);
    expect(sample(text, 'ws_outbox_batch_size_count')).toBe(frames.frames.length);
    expect(sample(text, 'ws_outbox_batch_size_sum')).toBe(frames.values.length);
    expect(sample(text, 'ws_outbox_dropped_messages_total')).toBe(0);
    expect(sample(text, 'ws_outbox_queue_size')).toBe(0);
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
  });

  it('/ is the HTML page with its script; other paths are 404, other methods 405', async () => {
    const server = await startDemo();
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain(`<script>${PAGE_SCRIPT}</script>`);
    expect(html).not.toMatch(/<script[^>]+src=/);

    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses a WebSocket upgrade on a path other than /ws', async () => {
    const server = await startDemo();
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/other`);
    clients.add(ws);
    const [error] = (await once(ws, 'error')) as [Error];
    expect(error.message).toMatch(/404/);
  });
});

describe('the page script, run against the server', () => {
  /** Just enough DOM for the page: elements that keep text, class and listeners. */
  class FakeElement {
    textContent = '';
    value = '';
    scrollTop = 0;
    scrollHeight = 0;
    readonly children: FakeElement[] = [];
    readonly listeners = new Map<string, (event: { preventDefault(): void }) => void>();
    private classes = '';
    constructor(private readonly changes: NodeJS.EventEmitter) {}
    get className(): string {
      return this.classes;
    }
    set className(value: string) {
      this.classes = value;
      this.changes.emit('change');
    }
    append(child: FakeElement): void {
      this.children.push(child);
      this.changes.emit('change');
    }
    addEventListener(type: string, listener: (event: { preventDefault(): void }) => void): void {
      this.listeners.set(type, listener);
    }
  }

  /** Runs the page's script against `server`, on fake elements and the real ws client. */
  async function openPage(server: DemoServer) {
    const changes = new EventEmitter();
    const ids = ['#log', '#status', '#chat', '#text', '#summarise'];
    ids.push('#search', '#query', '#cancel', '#found');
    const elements = new Map(ids.map((id) => [id, new FakeElement(changes)]));
    const sockets: WebSocket[] = [];
    const counts = { binaryFrames: 0 };
    // The real ws client, which has the browser's onopen/onmessage/binaryType surface.
    class PageWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
        clients.add(this);
        this.on('message', (_data, isBinary) => void (counts.binaryFrames += isBinary ? 1 : 0));
      }
    }
    runInNewContext(PAGE_SCRIPT, {
      document: {
        querySelector: (selector: string) => elements.get(selector),
        createElement: () => new FakeElement(changes),
      },
      location: { href: `${server.url}/` },
      WebSocket: PageWebSocket,
      URL,
      Blob,
      Response,
      DecompressionStream,
    });
    const [socket] = sockets;
    if (socket.readyState !== WebSocket.OPEN) await once(socket, 'open');
    const element = (id: string) => elements.get(id)!;
    const submit = (id: string) =>
      element(id).listeners.get('submit')!({ preventDefault: () => {} });
    const waitFor = (predicate: () => boolean, description: string) =>
      until(predicate, changes, 'change', { description });
    return { element, submit, waitFor, counts };
  }

  it('decodes NDJSON and gzip frames in order and shows the reply token by token', async () => {
    const server = await startDemo({ tokenDelayMs: [1, 5] });
    const { element, submit, waitFor, counts } = await openPage(server);
    expect(element('#status').textContent).toBe('connected');

    // Three long words: few tokens, but the chat.done carrying the whole text is over 10 kB.
    const text = ['a'.repeat(4000), 'b'.repeat(4000), 'c'.repeat(4000)].join(' ');
    element('#text').value = text;
    submit('#chat');
    const log = element('#log');
    await waitFor(
      () => log.children.some((row) => row.className === 'agent done'),
      'the reply row marked done',
    );

    expect(log.children.map((row) => row.className)).toEqual(['you', 'agent done']);
    expect(log.children[1].textContent).toBe(`anima: ${text}`);
    expect(counts.binaryFrames).toBeGreaterThan(0);
  });

  it('searches the memories and lists the hits, best first; summarises the chat', async () => {
    const server = await startDemo({ tokenDelayMs: 1 });
    const { element, submit, waitFor } = await openPage(server);
    element('#text').value = 'The zanzibar flamingo sings. We said hello.';
    submit('#chat');
    const log = element('#log');
    await waitFor(() => log.children.some((row) => row.className === 'agent done'), 'the reply');

    element('#query').value = 'zanzibar flamingo';
    submit('#search');
    const found = element('#found');
    await waitFor(() => found.children.length > 0, 'search hits listed');
    // The chat message, the only memory with either word; its other words keep it under 1.
    expect(found.children.map((row) => row.textContent)).toEqual([
      expect.stringMatching(/^0\.\d{3} {2}The zanzibar flamingo sings\. We said hello\.$/),
    ]);

    element('#summarise').listeners.get('click')!({ preventDefault: () => {} });
    await waitFor(() => log.children.some((row) => row.className === 'summary'), 'the summary');
    expect(log.children.at(-1)!.textContent).toMatch(
      /^summary \(100% of the thread\): The zanzibar flamingo sings\. We said hello\.$/,
    );
  });
});

describe('close()', () => {
  it('sends what is queued, closes sockets with 1001, then stops listening', async () => {
    const server = await startDemo();
    const { ws, frames } = await connect(server);
    const [socket] = server.manager.sockets();
    // Held in the 25 ms window: without a graceful stop they would be lost with the socket.
    for (let i = 0; i < 100; i++) {
      server.manager.sendMessage(socket, { type: 'error', code: 'bad_request', message: `m${i}` });
    }
    const closeEvent = once(ws, 'close') as Promise<[number, Buffer]>;
    await server.close();

    const [code] = await closeEvent;
    expect(code).toBe(1001);
    await frames.untilValues(100);
    expect((frames.values as Event[]).map((e) => e.type === 'error' && e.message)).toEqual(
      Array.from({ length: 100 }, (_, i) => `m${i}`),
    );
    expect(server.manager.size).toBe(0);
    await expect(fetch(`${server.url}/metrics`)).rejects.toThrow();
  });

  it('cancels the token streams of chats still running and leaves no timer behind', async () => {
    const scheduler = countingScheduler();
    const server = await startDemo({ tokenDelayMs: 10_000, scheduler });
    const { ws, frames } = await connect(server);
    ws.send(chatMessage('never finished', 'x'));
    await frames.until(() => chatEvents(frames, 'x').length === 1, { description: 'the ack' });
    expect(scheduler.live).toBeGreaterThan(0);
    await server.close();
    expect(scheduler.live).toBe(0);
    expect(chatEvents(frames, 'x').map(({ event }) => event.type)).toEqual(['chat.ack']);
  });
});
