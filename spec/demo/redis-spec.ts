import { filter, firstValueFrom, take, toArray } from 'rxjs';
import WebSocket from 'ws';
import { startDemo } from '../../bench/lib/demoProcess.js';
import type { DemoProcess } from '../../bench/lib/demoProcess.js';
import { OutboxClient } from '../../src/client/index.js';
import type { ServerMessage } from '../../src/client/index.js';
import { RedisServer } from '../helpers/redisServer.js';

/**
 * `REDIS_URL=… npm start` twice: two demo processes on one real redis-server share their rooms
 * and their sessions, and each tells the page its name.
 */

jest.setTimeout(120_000);

let redis: RedisServer;
const nodes: DemoProcess[] = [];
const clients: OutboxClient<Line>[] = [];

interface Line extends ServerMessage {
  readonly topic?: string;
  readonly node?: string;
  readonly recovered?: boolean;
}

beforeAll(async () => {
  redis = await RedisServer.start();
  const env = (name: string) => ({
    REDIS_URL: redis.url,
    NODE_NAME: name,
    MEMORY_CORPUS_SIZE: '1000',
    SHUTDOWN_TIMEOUT_MS: '3000',
  });
  nodes.push(...(await Promise.all([startDemo(env('node-a')), startDemo(env('node-b'))])));
});

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(nodes.map((node) => node.stop()));
  await redis?.stop();
});

function client(url: string | (() => string)): OutboxClient<Line> {
  const made = new OutboxClient<Line>(url, {
    WebSocket: WebSocket as never,
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
  });
  clients.push(made);
  return made;
}

const line = (of: OutboxClient<Line>, match: (line: Line) => boolean) =>
  firstValueFrom(of.messages$.pipe(filter(match)));

it('a room is shared: what is published on one node reaches the subscribers of the other', async () => {
  const session = (n: number) => `redis-spec-session-${n}`;
  const [a, b] = [
    client(`${nodes[0].wsUrl}?session=${session(1)}`),
    client(`${nodes[1].wsUrl}?session=${session(2)}`),
  ];
  const hellos = Promise.all([a, b].map((c) => line(c, (l) => l.type === 'hello')));
  const ready = Promise.all(
    [a, b].map((c) => line(c, (l) => l.type === 'subscribed' && l.topic === 'room:shared')),
  );
  const aSees = firstValueFrom(a.subscribe('room:shared').pipe(take(2), toArray()));
  const bSees = firstValueFrom(b.subscribe('room:shared').pipe(take(2), toArray()));
  expect((await hellos).map((hello) => hello.node)).toEqual(['node-a', 'node-b']);
  await ready;

  a.send({ type: 'publish', topic: 'room:shared', data: { from: 'a' } });
  await firstValueFrom(b.subscribe('room:shared'));
  b.send({ type: 'publish', topic: 'room:shared', data: { from: 'b' } });
  expect(await aSees).toEqual([{ from: 'a' }, { from: 'b' }]);
  expect(await bSees).toEqual([{ from: 'a' }, { from: 'b' }]);
});

it('a session is shared: a reply cut on one node completes on the other after the reconnect', async () => {
  const session = 'redis-spec-moving-session';
  let attempt = 0;
  // The first connection goes to node a, every later one to node b.
  const moving = client(() => `${nodes[attempt++ === 0 ? 0 : 1].wsUrl}?session=${session}`);
  const replies = moving.listen<{ type: string; index?: number; delta?: string; text?: string }>(
    `session:${session}`,
  );
  const events: Array<{ type: string; index?: number; delta?: string }> = [];
  replies.subscribe((event) => events.push(event));
  const nodesSeen: string[] = [];
  moving.messages$.subscribe((l) => {
    if (l.type === 'hello') nodesSeen.push(l.node!);
  });
  await line(moving, (l) => l.type === 'subscribed' && l.topic === `session:${session}`);

  const text = Array.from({ length: 40 }, (_, i) => `token${i}`).join(' ');
  const done = firstValueFrom(replies.pipe(filter((event) => event.type === 'chat.done')));
  moving.send({ type: 'chat.message', id: 'm1', payload: { text } });
  await firstValueFrom(replies.pipe(filter((event) => event.type === 'chat.delta')));
  const resumed = line(
    moving,
    (l) => l.type === 'subscribed' && l.topic === `session:${session}` && l.recovered === true,
  );
  moving.send({ type: 'drop' });
  await resumed;
  await done;

  expect(nodesSeen).toEqual(['node-a', 'node-b']);
  const deltas = events.filter((event) => event.type === 'chat.delta');
  expect(deltas.map((event) => event.index)).toEqual(deltas.map((_, i) => i));
  expect(deltas.map((event) => event.delta).join('')).toBe(text);
  expect(events.at(-1)).toMatchObject({ type: 'chat.done', text });
});
