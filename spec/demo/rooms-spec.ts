import { filter, firstValueFrom, take, toArray } from 'rxjs';
import WebSocket from 'ws';
import { createDemoServer, DEMO_HIGH_WATER_MARK } from '../../examples/demo/app.js';
import type { DemoServer, DemoServerOptions } from '../../examples/demo/app.js';
import { BURST_SIZE } from '../../examples/demo/burst.js';
import type { ConnectionFigures } from '../../examples/demo/connectionStats.js';
import { MAX_ROOM_DATA_BYTES, ROOM_HISTORY } from '../../examples/demo/rooms.js';
import { OutboxClient } from '../../src/client/index.js';
import type { ServerMessage } from '../../src/client/index.js';
import { DemoTestClient } from '../helpers/demoClient.js';
import { sample } from '../helpers/metricsText.js';
import { RawClient } from '../helpers/rawClient.js';
import { nextTurn } from '../helpers/until.js';
import { closed } from '../helpers/wsServer.js';

/**
 * The demo's topics end to end: rooms, the session topic that carries chat replies across a
 * dropped connection, the stats topic, and the page's controls (burst, slow reader, drop). A real
 * demo server on 127.0.0.1, real ws clients and the library's own client.
 */

const servers = new Set<DemoServer>();
const sockets = new Set<WebSocket>();
const clients = new Set<OutboxClient<DemoLine>>();

afterEach(async () => {
  for (const client of clients) client.close();
  clients.clear();
  for (const ws of sockets) ws.terminate();
  await Promise.all([...sockets].map(closed));
  sockets.clear();
  await Promise.all([...servers].map((server) => server.close()));
  servers.clear();
});

async function startDemo(options: Partial<DemoServerOptions> = {}): Promise<DemoServer> {
  const server = await createDemoServer({
    port: 0,
    host: '127.0.0.1',
    tokenDelayMs: 1,
    memory: { corpusSize: 1_000 },
    ...options,
  });
  servers.add(server);
  return server;
}

interface DemoLine extends ServerMessage {
  readonly topic?: string;
  readonly code?: string;
  readonly recovered?: boolean;
  readonly node?: string;
  readonly reason?: string;
}

interface ChatEvent {
  readonly type: string;
  readonly message_id: string;
  readonly index?: number;
  readonly delta?: string;
  readonly text?: string;
}

let sessions = 0;
const newSession = () => `test-session-${String(++sessions).padStart(6, '0')}`;

/** The library's client on a session, as the page is; reconnects within a few ms. */
function pageClient(server: DemoServer, session = newSession()) {
  const client = new OutboxClient<DemoLine>(`${server.wsUrl}?session=${session}`, {
    WebSocket: WebSocket as never,
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
  });
  clients.add(client);
  return { client, session };
}

const opened = (client: OutboxClient<DemoLine>) =>
  firstValueFrom(client.status$.pipe(filter((status) => status === 'open')));

const line = (client: OutboxClient<DemoLine>, match: (line: DemoLine) => boolean) =>
  firstValueFrom(client.messages$.pipe(filter(match)));

const subscribedTo = (client: OutboxClient<DemoLine>, topic: string) =>
  line(client, (l) => l.type === 'subscribed' && l.topic === topic);

/** Resolves once `predicate` holds, checking after each event-loop turn (bounded). */
async function until(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let turn = 0; !(await predicate()); turn++) {
    if (turn > 200_000) throw new Error(`until: ${what} did not hold within 200,000 turns`);
    await nextTurn();
  }
}

describe('rooms', () => {
  it('a publication reaches every client in the room, the publisher acked with its offset', async () => {
    const server = await startDemo();
    const [ana, bo] = [pageClient(server).client, pageClient(server).client];
    const ready = Promise.all([subscribedTo(ana, 'room:lobby'), subscribedTo(bo, 'room:lobby')]);
    const anaSees = firstValueFrom(ana.subscribe('room:lobby').pipe(take(2), toArray()));
    const boSees = firstValueFrom(bo.subscribe('room:lobby').pipe(take(2), toArray()));
    await ready;

    const acked = line(ana, (l) => l.type === 'publish.ack' && l.id === 'p1');
    ana.send({ type: 'publish', id: 'p1', topic: 'room:lobby', data: { from: 'ana', text: 'hi' } });
    expect(await acked).toEqual({ type: 'publish.ack', id: 'p1', topic: 'room:lobby', offset: 1 });
    bo.send({ type: 'publish', topic: 'room:lobby', data: { from: 'bo', text: 'hello' } });

    const conversation = [
      { from: 'ana', text: 'hi' },
      { from: 'bo', text: 'hello' },
    ];
    expect(await anaSees).toEqual(conversation);
    expect(await boSees).toEqual(conversation);
    expect(sample(await server.registry.metrics(), 'demo_room_publications_total')).toBe(2);
  });

  it('refuses every other topic with forbidden, to subscribe or to publish, and goes on', async () => {
    const server = await startDemo();
    const { client, session } = pageClient(server);
    await opened(client);
    for (const topic of [`session:${session}x`, 'stats:someone', 'lobby', 'room:', 'room:a b']) {
      const refused = line(client, (l) => l.type === 'error' && l.topic === topic);
      client.send({ type: 'subscribe', topic });
      expect(await refused).toMatchObject({ type: 'error', topic, code: 'forbidden' });
    }
    const refused = line(client, (l) => l.type === 'error' && l.id === 'p');
    client.send({ type: 'publish', id: 'p', topic: `session:${session}`, data: { fake: 'reply' } });
    expect(await refused).toMatchObject({ code: 'forbidden' });
    const acked = line(client, (l) => l.type === 'publish.ack');
    client.send({ type: 'publish', topic: 'room:ok', data: 1 });
    expect(await acked).toMatchObject({ topic: 'room:ok', offset: 1 });
  });

  it('refuses data over 16 KiB with too_large and data missing with bad_request; nothing is published', async () => {
    const server = await startDemo();
    const client = await DemoTestClient.open(server.wsUrl, sockets);
    // 16 KiB of JSON exactly is taken: the string's quotes count.
    const fits = 'x'.repeat(MAX_ROOM_DATA_BYTES - 2);
    client.send({ type: 'publish', id: 'big', topic: 'room:r', data: `${fits}y` });
    client.send({ type: 'publish', id: 'none', topic: 'room:r' });
    client.send({ type: 'publish', id: 'fits', topic: 'room:r', data: fits });
    expect(await client.reply('big', 'error')).toEqual({
      type: 'error',
      id: 'big',
      code: 'too_large',
      message: expect.stringMatching(/at most 16384 bytes/),
    });
    expect(await client.reply('none', 'error')).toMatchObject({ code: 'bad_request' });
    // The one that fits is the room's first publication: the refused ones took no offset.
    expect(await client.reply('fits', 'publish.ack')).toMatchObject({ offset: 1 });
    const metrics = await server.registry.metrics();
    expect(sample(metrics, 'demo_room_refused_total', { code: 'too_large' })).toBe(1);
    expect(sample(metrics, 'demo_room_refused_total', { code: 'bad_request' })).toBe(1);
  });
});

describe('the session topic', () => {
  it('a reply cut by an abrupt drop completes after the reconnect: every token once, in order', async () => {
    const server = await startDemo({ tokenDelayMs: 15 });
    const { client, session } = pageClient(server);
    const hello = line(client, (l) => l.type === 'hello');
    const joined = subscribedTo(client, `session:${session}`);
    const replies = client.listen<ChatEvent>(`session:${session}`);
    const events: ChatEvent[] = [];
    replies.subscribe((event) => events.push(event));
    expect(await hello).toMatchObject({ node: server.nodeName, session });
    await joined;

    const text = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const done = firstValueFrom(replies.pipe(filter((event) => event.type === 'chat.done')));
    client.send({ type: 'chat.message', id: 'c1', payload: { text } });
    await firstValueFrom(replies.pipe(filter((event) => event.type === 'chat.delta')));
    const resumed = line(
      client,
      (l) => l.type === 'subscribed' && l.topic === `session:${session}` && l.recovered === true,
    );
    const reconnecting = firstValueFrom(client.status$.pipe(filter((s) => s === 'reconnecting')));
    client.send({ type: 'drop' });
    await reconnecting;
    const deltasAtDrop = events.filter((event) => event.type === 'chat.delta').length;
    await resumed;
    await done;

    const deltas = events.filter((event) => event.type === 'chat.delta');
    // The drop came mid-stream: some tokens before it, some after.
    expect(deltasAtDrop).toBeGreaterThan(0);
    expect(deltasAtDrop).toBeLessThan(60);
    expect(deltas.map((event) => event.index)).toEqual(deltas.map((_, i) => i));
    expect(deltas.map((event) => event.delta).join('')).toBe(text);
    expect(events[0]).toMatchObject({ type: 'chat.ack', message_id: 'c1' });
    expect(events.at(-1)).toMatchObject({ type: 'chat.done', text });
    expect(events).toHaveLength(62);
  });

  it('publishes the connection figures about once a second on the stats topic', async () => {
    const server = await startDemo({ statsIntervalMs: 100 });
    const { client, session } = pageClient(server);
    const figures = firstValueFrom(
      client.listen<ConnectionFigures>(`stats:${session}`).pipe(take(3), toArray()),
    );
    const [, , third] = await figures;
    expect(third).toMatchObject({
      type: 'stats',
      node: server.nodeName,
      queue: expect.any(Number),
      drops: 0,
      totalDrops: 0,
    });
    // What went out: the hello, the subscribed lines, the figures themselves.
    expect(third.totalMessagesIn).toBeGreaterThanOrEqual(4);
    expect(third.totalFramesOut).toBeGreaterThan(0);
  });
});

describe('bounds', () => {
  it('a session whose connections are all gone stops its replies after the grace period', async () => {
    const server = await startDemo({ tokenDelayMs: 60_000, sessionGraceMs: 50 });
    const { client, session } = pageClient(server);
    const acked = firstValueFrom(
      client.listen<ChatEvent>(`session:${session}`).pipe(filter((e) => e.type === 'chat.ack')),
    );
    await subscribedTo(client, `session:${session}`);
    client.send({ type: 'chat.message', id: 'long', payload: { text: 'never finished here' } });
    await acked;
    expect(server.agent.streaming.replies).toBe(1);
    client.close();
    await until(() => server.sessions.size === 0, 'the session ended');
    expect(server.agent.streaming).toEqual({ replies: 0, tokens: 0, chars: 0 });
  });

  it('a slow reader is released by itself after slowReaderMaxMs, and told so', async () => {
    const server = await startDemo({ slowReaderMaxMs: 100 });
    const { client } = pageClient(server);
    await opened(client);
    const released = line(client, (l) => l.type === 'slow_reader');
    client.send({ type: 'slow_reader', on: true });
    expect(await released).toMatchObject({ paused: false, reason: 'timeout' });
    expect([...server.connections].map((c) => c.link.isPaused)).toEqual([false]);
  });
});

describe('controls', () => {
  it("burst: refuses a count over 20,000 with bad_request, and a burst past the node's limit with busy", async () => {
    const server = await startDemo({ burstLimit: { maxConcurrent: 1, maxQueued: 0 } });
    const client = await DemoTestClient.open(server.wsUrl, sockets);
    client.send({ type: 'burst', id: 'huge', data: { count: BURST_SIZE + 1 } });
    expect(await client.reply('huge', 'error')).toMatchObject({ code: 'bad_request' });
    // The first runs 40 event-loop turns; the second finds the one slot taken and no queue.
    client.send({ type: 'burst', id: 'first' });
    client.send({ type: 'burst', id: 'second' });
    expect(await client.reply('second', 'error', 'burst.complete')).toMatchObject({
      type: 'error',
      code: 'busy',
    });
    const first = await client.reply('first', 'burst.result');
    expect(first.data).toEqual({ sent: BURST_SIZE, dropped: 0, total: BURST_SIZE });
  });

  it("keeps a room's last 5,000 publications: a position before them is too_old, one within them is replayed", async () => {
    const server = await startDemo();
    const topic = 'room:history';
    const count = ROOM_HISTORY.maxPublications + 1;
    for (let n = 1; n <= count; n++) await server.manager.publish(topic, { n });
    const raw = await RawClient.open(server.wsUrl);
    const answers = () => raw.of('subscribed', topic);
    raw.send({ type: 'subscribe', topic });
    await raw.until(() => answers().length === 1, 'the first answer');
    const { epoch } = answers()[0] as { epoch: string };

    raw.send({ type: 'subscribe', topic, since: { epoch, offset: 0 } });
    raw.send({ type: 'subscribe', topic, since: { epoch, offset: 1 } });
    await raw.until(() => answers().length === 3, 'both resumes answered');
    raw.close();

    expect(answers()[1]).toMatchObject({ recovered: false, reason: 'too_old', offset: count });
    expect(answers()[2]).toMatchObject({ recovered: true, offset: 1, replayed: count - 1 });
  });

  it('burst: 20,000 messages reach the client in far fewer frames, none dropped', async () => {
    const server = await startDemo();
    const client = await DemoTestClient.open(server.wsUrl, sockets);
    client.send({ type: 'burst', id: 'b' });
    const report = await client.reply('b', 'burst.result');
    await client.reply('b', 'burst.complete');
    expect(report.data).toEqual({ sent: BURST_SIZE, dropped: 0, total: BURST_SIZE });
    const frames = client.replies.frames.filter((frame) =>
      frame.values.some((value) => (value as { type: string }).type === 'tick'),
    );
    const ticks = client.replies.values.filter(
      (value) => (value as { type: string }).type === 'tick',
    );
    expect(ticks.map((tick) => (tick as { n: number }).n)).toEqual(
      Array.from({ length: BURST_SIZE }, (_, i) => i + 1),
    );
    // At most 512 messages a frame: some 40 frames, not 20,000.
    expect(frames.length).toBeLessThan(BURST_SIZE / 100);
    expect(frames.some((frame) => frame.isBinary)).toBe(true);
  });

  it('slow reader: the queue fills and drops, the room sends a gap, and on release the missed messages are replayed', async () => {
    const server = await startDemo({ statsIntervalMs: 100 });
    const slow = pageClient(server);
    const room = 'room:slow';
    const seen: Array<{ n: number }> = [];
    const ready = subscribedTo(slow.client, room);
    slow.client.subscribe<{ n: number }>(room).subscribe((data) => seen.push(data));
    await ready;
    const [connection] = server.connections;

    slow.client.send({ type: 'slow_reader', on: true });
    await until(() => connection.link.isPaused, 'the link paused');
    // The burst fills what the link may hold, then the outbox's buffer: the rest is dropped.
    slow.client.send({ type: 'burst', id: 'b' });
    await until(() => connection.outbox.stats().dropped > 0, 'drops');
    // What the paused connection holds is bounded by its outbox: 16 KiB past the buffer (plus
    // the frame that crossed it), of frames of at most 512 messages, and 512 messages in the
    // buffer, beside the few lines never dropped (the burst's end, the topics' answers).
    await until(
      async () =>
        sample(await server.registry.metrics(), 'ws_outbox_operations_total', {
          operation: 'burst',
          outcome: 'complete',
        }) === 1,
      'the burst done',
    );
    expect(connection.link.heldBytes).toBeLessThanOrEqual(DEMO_HIGH_WATER_MARK + 16 * 1024);
    expect(connection.outbox.stats().pending).toBeLessThanOrEqual(
      512 + connection.link.heldFrames * 512 + 8,
    );

    // Another client talks in the room meanwhile: its publications cannot reach the slow one.
    const talker = await DemoTestClient.open(server.wsUrl, sockets);
    for (let n = 1; n <= 50; n++)
      talker.send({ type: 'publish', id: `t${n}`, topic: room, data: { n } });
    await talker.reply('t50', 'publish.ack');
    await until(async () => (await gaps(server)) > 0, 'a gap for the slow reader');
    expect(seen).toEqual([]);

    const gap = line(slow.client, (l) => l.type === 'gap' && l.topic === room);
    const released = line(slow.client, (l) => l.type === 'slow_reader');
    slow.client.send({ type: 'slow_reader', on: false });
    expect(await released).toMatchObject({ paused: false, reason: 'asked' });
    await gap;
    await firstValueFrom(
      slow.client.subscribe<{ n: number }>(room).pipe(filter((d) => d.n === 50)),
    );
    expect(seen.map((data) => data.n)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));

    // The figures of the paused seconds were replayed too, and they counted the drops.
    const figures = await firstValueFrom(
      slow.client
        .listen<ConnectionFigures>(`stats:${slow.session}`)
        .pipe(filter((f) => f.totalDrops > 0)),
    );
    expect(figures.totalDrops).toBeGreaterThan(0);
  });
});

/** `gap`s the server sent, from its metrics. */
async function gaps(server: DemoServer): Promise<number> {
  return sample(await server.registry.metrics(), 'ws_outbox_topic_gaps_total');
}
