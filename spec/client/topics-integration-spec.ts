import { filter, firstValueFrom, take, toArray } from 'rxjs';
import WebSocket from 'ws';
import { OutboxClient } from '../../src/client/index.js';
import type { ConnectionStatus, TopicRecovery } from '../../src/client/index.js';
import { until } from '../helpers/until.js';
import { ScriptedTopicServer } from './topicServer.js';

describe('OutboxClient topics against a real ws server', () => {
  let server: ScriptedTopicServer;
  let clients: OutboxClient[];

  beforeEach(() => {
    clients = [];
  });

  afterEach(async () => {
    for (const client of clients) client.close();
    await server.close();
  });

  function client(url: OutboxClient['url']): OutboxClient {
    const c = new OutboxClient(url, { WebSocket, reconnect: { initialDelayMs: 5, maxDelayMs: 5 } });
    clients.push(c);
    return c;
  }

  function status(c: OutboxClient, wanted: ConnectionStatus): Promise<ConnectionStatus> {
    return firstValueFrom(c.status$.pipe(filter((s) => s === wanted)));
  }

  /** A publication big enough that a replay of a few of them goes as a gzip frame. */
  const line = (n: number) => ({ n, text: `${n}:`.padEnd(4_000, '.') });

  it('should resume a subscribed topic after the server drops, with no duplicate and no hole', async () => {
    server = await ScriptedTopicServer.start();
    const c = client(server.url);
    const recoveries: TopicRecovery[] = [];
    c.recoveries$.subscribe((recovery) => recoveries.push(recovery));
    const received = firstValueFrom(
      c.subscribe<{ n: number }>('room:lobby').pipe(take(12), toArray()),
    );
    await until(() => server.connections[0]?.topics.has('room:lobby') === true, server, 'change', {
      description: 'the subscribe reached the server',
    });
    const reachedFive = firstValueFrom(
      c.messages$.pipe(filter((m) => m.type === 'pub' && m.offset === 5)),
    );
    for (let n = 1; n <= 5; n++) server.publish('room:lobby', line(n));
    await reachedFive;
    // Dropped, and published to while the client is away: it cannot reconnect within this tick.
    server.dropAll();
    for (let n = 6; n <= 9; n++) server.publish('room:lobby', line(n));
    await status(c, 'reconnecting');
    await until(() => server.connections[1]?.topics.has('room:lobby') === true, server, 'change', {
      description: 'the client resubscribed',
    });
    for (let n = 10; n <= 12; n++) server.publish('room:lobby', line(n));

    expect((await received).map(({ n }) => n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(server.connections[1].received[0]).toEqual({
      type: 'subscribe',
      topic: 'room:lobby',
      since: { epoch: 'e1', offset: 5 },
    });
    expect(recoveries).toEqual([]);
    // The replay (6 to 9, 16 kB) went as one gzip frame, decoded in order with the rest.
    expect(server.gzipFrames).toBe(1);
    expect(c.positions().get('room:lobby')).toEqual({ epoch: 'e1', offset: 12 });
  });

  it('should resume a server-joined topic through the resume parameter of a fresh URL', async () => {
    server = await ScriptedTopicServer.start({ joinOnConnect: ['session:u1'] });
    let tokens = 0;
    // An asynchronous URL, as a token fetch is.
    const c = client(async () => `${server.url}?token=t${++tokens}`);
    const received = firstValueFrom(c.listen<{ n: number }>('session:u1').pipe(take(8), toArray()));
    const reachedThree = firstValueFrom(
      c.messages$.pipe(filter((m) => m.type === 'pub' && m.offset === 3)),
    );
    await status(c, 'open');
    for (let n = 1; n <= 3; n++) server.publish('session:u1', line(n));
    await reachedThree;
    server.dropAll();
    for (let n = 4; n <= 6; n++) server.publish('session:u1', line(n));
    await status(c, 'reconnecting');
    await until(() => server.connections[1]?.topics.has('session:u1') === true, server, 'change', {
      description: 'the client reconnected',
    });
    for (let n = 7; n <= 8; n++) server.publish('session:u1', line(n));

    expect((await received).map(({ n }) => n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const [first, second] = server.connections.map(({ url }) => new URL(url, 'http://x'));
    expect(first.searchParams.get('token')).toBe('t1');
    expect(first.searchParams.get('resume')).toBeNull();
    expect(second.searchParams.get('token')).toBe('t2');
    expect(JSON.parse(second.searchParams.get('resume')!)).toEqual({ 'session:u1': ['e1', 3] });
    expect(server.gzipFrames).toBe(1);
    // The client never asked for the topic: the server's join and the URL did it all.
    expect(server.connections.flatMap(({ received: sent }) => sent)).toEqual([]);
  });
});
