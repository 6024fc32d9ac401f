import { EventEmitter } from 'node:events';
import { createServer, get } from 'node:http';
import type { ClientRequest, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Subject } from 'rxjs';
import { parseNdjson } from '../../operators/index.js';
import { sseOutbox } from '../../examples/sse.js';
import type { SseOutbox, SseOutboxOptions } from '../../examples/sse.js';
import { nextEvent, nextTurn, until } from '../helpers/until.js';

interface Message {
  i: number;
  pad?: string;
}

/**
 * A client reading a text/event-stream as the SSE spec says: lines end with "\n", a blank line
 * dispatches the event, the `data:` lines of one event are joined with "\n".
 */
class SseReader extends EventEmitter {
  readonly events: string[] = [];
  private pending = '';
  private data: string[] = [];

  constructor(readonly response: IncomingMessage) {
    super();
    response.setEncoding('utf8');
  }

  /** Starts reading (until then the response stays paused and the socket fills up). */
  read(): void {
    this.response.on('data', (chunk: string) => {
      this.pending += chunk;
      let end: number;
      while ((end = this.pending.indexOf('\n')) >= 0) {
        this.line(this.pending.slice(0, end));
        this.pending = this.pending.slice(end + 1);
      }
      this.emit('progress');
    });
  }

  get messages(): Message[] {
    return this.events.flatMap((data) => parseNdjson(data) as Message[]);
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.events.push(this.data.join('\n'));
      this.data = [];
    } else if (line.startsWith('data:')) {
      const value = line.slice(5);
      this.data.push(value.startsWith(' ') ? value.slice(1) : value);
    } else {
      throw new Error(`unexpected SSE line: ${JSON.stringify(line)}`);
    }
  }
}

describe('examples/sse: sseOutbox over a real HTTP server', () => {
  let server: Server;
  let source: Subject<Message>;
  let requests: ClientRequest[];
  let serverSide: EventEmitter;
  let outbox: SseOutbox | undefined;
  let response: ServerResponse | undefined;

  async function start(options: SseOutboxOptions<Message>): Promise<string> {
    server = createServer((_req, res) => {
      response = res;
      outbox = sseOutbox(res, source, options);
      serverSide.emit('connected');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  async function open(url: string): Promise<SseReader> {
    const connected = nextEvent(serverSide, 'connected');
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = get(url, resolve);
      req.on('error', reject);
      requests.push(req);
    });
    await connected;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    return new SseReader(res);
  }

  beforeEach(() => {
    source = new Subject<Message>();
    requests = [];
    serverSide = new EventEmitter();
    outbox = undefined;
    response = undefined;
  });

  afterEach(async () => {
    for (const req of requests) req.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('delivers 1,000 messages whole and in order, in far fewer events than messages', async () => {
    let dropped = 0;
    const url = await start({ windowMs: 5, onDrop: () => dropped++ });
    const reader = await open(url);
    reader.read();

    const sent = Array.from({ length: 1000 }, (_, i) => ({ i }));
    for (const message of sent) source.next(message);
    await until(() => reader.messages.length >= sent.length, reader, 'progress', {
      description: '1,000 messages',
    });

    expect(reader.messages).toEqual(sent);
    expect(dropped).toBe(0);
    // 1,000 synchronous messages: two batches of at most 512 (maxBatch), whatever the drains do.
    expect(reader.events.length).toBeLessThanOrEqual(10);
    // Several JSON values in one event: the data lines of one event, joined with "\n".
    expect(reader.events[0].split('\n').length).toBeGreaterThan(1);
  });

  it('holds and drops while the client does not read, then delivers exactly what it kept', async () => {
    const capacity = 50;
    const dropped: Message[] = [];
    let maxHeld = 0;
    const url = await start({
      capacity,
      windowMs: 5,
      maxBatch: 16,
      onDrop: (message) => dropped.push(message),
      onSize: (size) => (maxHeld = Math.max(maxHeld, size)),
    });
    const reader = await open(url); // not reading: the response and then the socket fill up
    let ready = true;
    let sawNotReady = false;
    outbox!.ready.subscribe((value) => {
      ready = value;
      if (!value) sawNotReady = true;
    });

    // Fill the client's buffers and both kernel socket buffers with 4 KiB messages, until a
    // write() has returned false and no 'drain' follows within a turn of the event loop.
    const pad = 'x'.repeat(4096);
    let i = 0;
    for (;;) {
      if (ready) {
        source.next({ i: i++, pad });
        if (i > 50_000) throw new Error('the response never stopped taking data');
        continue;
      }
      await nextTurn();
      if (!ready) break;
    }
    const filler = i;
    expect(sawNotReady).toBe(true);
    expect(response!.writableNeedDrain).toBe(true);

    // In one synchronous burst no 'drain' can come: `capacity` are held, the rest dropped.
    const burst = capacity + 30;
    for (let k = 0; k < burst; k++) source.next({ i: i++ });
    expect(maxHeld).toBe(capacity);
    expect(dropped.map((m) => m.i)).toEqual(
      Array.from({ length: burst - capacity }, (_, k) => filler + capacity + k),
    );

    reader.read();
    const kept = filler + capacity;
    await until(() => reader.messages.length >= kept, reader, 'progress', {
      description: 'the kept messages',
    });
    expect(reader.messages.map((m) => m.i)).toEqual(Array.from({ length: kept }, (_, k) => k));
    // Nothing more is on its way: the buffer is empty and every dropped message was reported.
    expect(dropped).toHaveLength(burst - capacity);
  });

  it('ends the subscription when the client goes away', async () => {
    const url = await start({ windowMs: 1 });
    const reader = await open(url);
    reader.read();
    source.next({ i: 1 });
    await until(() => reader.messages.length === 1, reader, 'progress');
    expect(source.observed).toBe(true);

    const closedOnServer = nextEvent(response!, 'close');
    requests[0].destroy();
    await closedOnServer;
    await outbox!.closed;
    expect(source.observed).toBe(false);
  });

  it('ends the response when the messages complete', async () => {
    const url = await start({ windowMs: 1 });
    const reader = await open(url);
    reader.read();
    const ended = nextEvent(reader.response, 'end');
    source.next({ i: 1 });
    source.next({ i: 2 });
    source.complete();
    await ended;
    expect(reader.messages).toEqual([{ i: 1 }, { i: 2 }]);
    await outbox!.closed;
  });
});
