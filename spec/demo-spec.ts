import { EventEmitter, once } from 'node:events';
import { runInNewContext } from 'node:vm';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { createDemoServer } from '../examples/demo/app.js';
import type { DemoServer } from '../examples/demo/app.js';
import type { DemoEvent } from '../examples/demo/chatAgent.js';
import { bundlePage } from '../examples/demo/bundle.js';
import { PAGE_SCRIPT_PATH } from '../examples/demo/page.js';
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

  it('/ is the HTML page, /app.js its script bundled with the client; other paths are 404, other methods 405', async () => {
    const server = await startDemo();
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toMatch(/^<!doctype html>/);
    // Served by the demo itself: no CDN, no inline script.
    expect(html).toContain(`<script src="${PAGE_SCRIPT_PATH}"></script>`);
    expect(html).not.toMatch(/<script>|https?:\/\//);

    const script = await fetch(`${server.url}${PAGE_SCRIPT_PATH}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const body = await script.text();
    expect(body).toBe(await bundlePage());
    // The bundle stands alone: no import or require left for a browser to resolve.
    expect(body).not.toMatch(/\brequire\(|^import\b/m);

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

describe('the page script (the /app.js bundle), run against the server', () => {
  /** Just enough DOM for the page: elements that keep text, class, children and listeners. */
  class FakeElement {
    value: string | number = '';
    max = 1;
    scrollTop = 0;
    scrollHeight = 0;
    readonly dataset: Record<string, string> = {};
    readonly children: FakeElement[] = [];
    readonly listeners = new Map<string, (event: { preventDefault(): void }) => void>();
    private parent: FakeElement | undefined;
    private classes = '';
    private text = '';
    constructor(private readonly changes: NodeJS.EventEmitter) {}
    get className(): string {
      return this.classes;
    }
    set className(value: string) {
      this.classes = value;
      this.changes.emit('change');
    }
    get textContent(): string {
      return this.text + this.children.map((child) => child.textContent).join('');
    }
    /** As in the DOM: setting the text replaces the children. */
    set textContent(value: string) {
      this.text = value;
      this.children.length = 0;
      this.changes.emit('change');
    }
    get childElementCount(): number {
      return this.children.length;
    }
    get firstElementChild(): FakeElement | null {
      return this.children[0] ?? null;
    }
    append(child: FakeElement): void {
      child.parent = this;
      this.children.push(child);
      this.changes.emit('change');
    }
    remove(): void {
      this.parent?.children.splice(this.parent.children.indexOf(this), 1);
      this.parent = undefined;
    }
    addEventListener(type: string, listener: (event: { preventDefault(): void }) => void): void {
      this.listeners.set(type, listener);
    }
  }

  // The page's client reconnects for as long as the page lives: its timers go through these,
  // so that closing the page after each test leaves nothing running.
  const timers = new Set<NodeJS.Timeout>();
  let pageClosed = false;
  const pageTimers = {
    setTimeout: (work: () => void, ms?: number) => track(setTimeout(work, ms)),
    setInterval: (work: () => void, ms?: number) => track(setInterval(work, ms)),
    clearTimeout: (timer: NodeJS.Timeout) => (timers.delete(timer), clearTimeout(timer)),
    clearInterval: (timer: NodeJS.Timeout) => (timers.delete(timer), clearInterval(timer)),
  };
  function track(timer: NodeJS.Timeout): NodeJS.Timeout {
    if (pageClosed) clearTimeout(timer);
    else timers.add(timer);
    return timer;
  }
  beforeEach(() => (pageClosed = false));
  afterEach(() => {
    pageClosed = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  });

  /** Runs the bundled page script against `server`, on fake elements and the real ws client. */
  async function openPage(server: DemoServer) {
    const changes = new EventEmitter();
    const elements = new Map<string, FakeElement>();
    const sockets: WebSocket[] = [];
    const counts = { binaryFrames: 0 };
    // The real ws client, which has the browser's onopen/onmessage/addEventListener surface.
    class PageWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
        clients.add(this);
        this.on('message', (_data, isBinary) => void (counts.binaryFrames += isBinary ? 1 : 0));
      }
    }
    const script = await (await fetch(`${server.url}${PAGE_SCRIPT_PATH}`)).text();
    runInNewContext(script, {
      document: {
        querySelector: (selector: string) => {
          if (!elements.has(selector)) elements.set(selector, new FakeElement(changes));
          return elements.get(selector);
        },
        createElement: () => new FakeElement(changes),
      },
      location: { href: `${server.url}/` },
      WebSocket: PageWebSocket,
      ...{ URL, Blob, Response, DecompressionStream, TextDecoder, atob, console },
      ...pageTimers,
      queueMicrotask,
    });
    const element = (id: string) => elements.get(id)!;
    const submit = (id: string) =>
      element(id).listeners.get('submit')!({ preventDefault: () => {} });
    const click = (id: string) => element(id).listeners.get('click')!({ preventDefault: () => {} });
    const waitFor = (predicate: () => boolean, description: string) =>
      until(predicate, changes, 'change', { description });
    await waitFor(() => element('#status').textContent === 'open', 'status open');
    expect(sockets).toHaveLength(1);
    return { element, submit, click, waitFor, counts, close: () => sockets[0].terminate() };
  }

  it('decodes NDJSON and gzip frames in order, shows the reply token by token, and counts the frames', async () => {
    const server = await startDemo({ tokenDelayMs: [1, 5] });
    const { element, submit, waitFor, counts } = await openPage(server);

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
    // The batch view saw the same frames: every one counted, the gzip ones apart.
    await waitFor(
      () => element('#compressed').textContent === String(counts.binaryFrames),
      'the gzip frames counted',
    );
    const batches = element('#batches').children;
    expect(batches.some((row) => row.className === 'gzip')).toBe(true);
    expect(Number(element('#messages').textContent)).toBe(
      batches.reduce((sum, row) => sum + Number(row.dataset.messages), 0),
    );
  });

  it('searches the memories and lists the hits, best first; summarises the chat', async () => {
    const server = await startDemo({ tokenDelayMs: 1 });
    const { element, submit, click, waitFor } = await openPage(server);
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
    expect(element('#search-state').textContent).toBe('1 found');
    expect(element('#progress').value).toBe(element('#progress').max);

    click('#summarise');
    await waitFor(() => log.children.some((row) => row.className === 'summary'), 'the summary');
    expect(log.children.at(-1)!.textContent).toMatch(
      /^summary \(100% of the thread\): The zanzibar flamingo sings\. We said hello\.$/,
    );
  });

  it('shows the connection dropping and coming back', async () => {
    const server = await startDemo();
    const { element, waitFor, close } = await openPage(server);
    close();
    await waitFor(() => element('#reconnects').textContent === 'reconnects: 1', 'a reconnect');
    await waitFor(() => element('#status').textContent === 'open', 'open again');
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
