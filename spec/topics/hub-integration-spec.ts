import { EventEmitter } from 'node:events';
import { filter, firstValueFrom } from 'rxjs';
import { OutboxClient } from '../../src/client/index.js';
import { MemoryTopicStore } from '../../src/index.js';
import { RawClient } from '../helpers/rawClient.js';
import { until } from '../helpers/until.js';
import { TopicServer, WebSocket } from './topicServer.js';

interface Item {
  n: number;
}

/** What one client saw of one topic, and an emitter to wait on. */
function follow(client: OutboxClient, topic: string, how: 'subscribe' | 'listen' = 'subscribe') {
  const seen: number[] = [];
  const events = new EventEmitter();
  const subscription = client[how]<Item>(topic).subscribe((item) => {
    seen.push(item.n);
    events.emit('item');
  });
  return {
    seen,
    subscription,
    until: (count: number, description = `${count} items of ${topic}`) =>
      until(() => seen.length >= count, events, 'item', { description, timeoutMs: 20_000 }),
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** A client that reconnects at once, so tests wait on events, not on backoff. */
function connect(url: string | (() => string)): OutboxClient {
  return new OutboxClient(url, {
    WebSocket: WebSocket as never,
    reconnect: { initialDelayMs: 1, maxDelayMs: 5, jitter: 0 },
  });
}

describe('topics over real sockets', () => {
  let server: TopicServer;
  const clients: OutboxClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server.close();
  });

  function client(url = server.url): OutboxClient {
    const made = connect(url);
    clients.push(made);
    return made;
  }

  it('should deliver every publication to every subscriber, in order, once each', async () => {
    server = await new TopicServer().start();
    const first = client();
    const second = client();
    const answers = Promise.all([answered(first, 'room:a'), answered(second, 'room:a')]);
    const a = follow(first, 'room:a');
    const b = follow(second, 'room:a');
    await answers;

    for (let n = 1; n <= 300; n++) void server.manager.publish('room:a', { n });
    await Promise.all([a.until(300), b.until(300)]);

    expect(a.seen).toEqual(range(1, 300));
    expect(b.seen).toEqual(range(1, 300));
  });

  it('should resume after an abrupt close mid-stream: every publication once, in order', async () => {
    // History for the whole stream: what this test checks is the splice, not the trimming.
    server = await new TopicServer({
      store: new MemoryTopicStore({ maxPublications: 10_000 }),
    }).start();
    const subscriber = client();
    const answer = answered(subscriber, 'room:a');
    const a = follow(subscriber, 'room:a');
    await answer;

    const total = 3_000;
    for (let n = 1; n <= 1_000; n++) void server.manager.publish('room:a', { n });
    // Cut the connection once the client is into the stream; publishing goes on meanwhile.
    await a.until(500);
    server.dropAll();
    for (let n = 1_001; n <= total; n++) {
      await server.manager.publish('room:a', { n });
      if (n % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await a.until(total);

    expect(a.seen).toEqual(range(1, total));
    expect(await server.metric('ws_outbox_topic_resumes_total', { outcome: 'recovered' })).toBe(1);
  });

  it('should send a gap to a socket that falls behind, then replay everything at its pace', async () => {
    // The outbox holds 8 entries and stops at the first frame in the socket: a burst overflows.
    server = await new TopicServer({
      store: new MemoryTopicStore({ maxPublications: 50_000, maxBytes: 64 * 1024 * 1024 }),
      topics: { maxReplay: 50_000 },
      outbox: { capacity: 8, highWaterMark: 1, coalesceMs: 1, maxBatch: 16 },
    }).start();
    const subscriber = client();
    const answer = answered(subscriber, 'room:a');
    const a = follow(subscriber, 'room:a');
    await answer;

    const total = 20_000;
    for (let n = 1; n <= total; n++) void server.manager.publish('room:a', { n });
    await a.until(total);

    expect(a.seen).toEqual(range(1, total));
    expect(await server.metric('ws_outbox_topic_gaps_total')).toBeGreaterThan(0);
    expect(await server.metric('ws_outbox_dropped_messages_total')).toBeGreaterThan(0);
  });

  describe('resuming a position', () => {
    let raw: RawClient;

    afterEach(() => raw.close());

    /** Publishes 1..count to room:a and returns its epoch, read from a fresh subscribe. */
    async function published(count: number): Promise<string> {
      for (let n = 1; n <= count; n++) await server.manager.publish('room:a', { n });
      raw = await RawClient.open(server.url);
      raw.send({ type: 'subscribe', topic: 'room:a' });
      await raw.until(() => raw.of('subscribed', 'room:a').length === 1, 'the first answer');
      const [fresh] = raw.of('subscribed', 'room:a');
      expect(fresh).toEqual({
        type: 'subscribed',
        topic: 'room:a',
        epoch: fresh.epoch,
        offset: count,
      });
      return fresh.epoch as string;
    }

    async function resume(since: { epoch: string; offset: number }, answers: number) {
      raw.send({ type: 'subscribe', topic: 'room:a', since });
      await raw.until(() => raw.of('subscribed', 'room:a').length === answers, 'the answer');
      return raw.of('subscribed', 'room:a')[answers - 1];
    }

    const offsets = () => raw.of('pub', 'room:a').map((line) => line.offset);

    it('should answer recovered: false with reason epoch for a position of another epoch', async () => {
      server = await new TopicServer().start();
      const epoch = await published(5);

      const answer = await resume({ epoch: 'another', offset: 3 }, 2);

      expect(answer).toEqual({
        type: 'subscribed',
        topic: 'room:a',
        epoch,
        offset: 5,
        recovered: false,
        reason: 'epoch',
      });
      await server.manager.publish('room:a', { n: 6 });
      await raw.until(() => offsets().length === 1, 'the next publication');
      expect(offsets()).toEqual([6]);
    });

    it('should answer too_old when the history no longer holds what was missed', async () => {
      server = await new TopicServer({
        store: new MemoryTopicStore({ maxPublications: 10 }),
      }).start();
      const epoch = await published(50);

      const answer = await resume({ epoch, offset: 5 }, 2);

      expect(answer).toMatchObject({ offset: 50, recovered: false, reason: 'too_old' });
      expect(offsets()).toEqual([]);
    });

    it('should answer too_many when more was missed than a replay may send', async () => {
      server = await new TopicServer({ topics: { maxReplay: 10 } }).start();
      const epoch = await published(50);

      expect(await resume({ epoch, offset: 20 }, 2)).toMatchObject({
        offset: 50,
        recovered: false,
        reason: 'too_many',
      });
    });

    it('should replay the whole history for offset 0', async () => {
      server = await new TopicServer().start();
      const epoch = await published(5);

      const answer = await resume({ epoch, offset: 0 }, 2);
      await raw.until(() => offsets().length === 5, 'the replay');

      expect(answer).toEqual({
        type: 'subscribed',
        topic: 'room:a',
        epoch,
        offset: 0,
        recovered: true,
        replayed: 5,
      });
      expect(offsets()).toEqual([1, 2, 3, 4, 5]);
      expect(raw.of('pub', 'room:a').map((line) => line.data)).toEqual(
        range(1, 5).map((n) => ({ n })),
      );
    });

    it('should resume a quiet subscriber at the top with nothing to replay, and again after that', async () => {
      server = await new TopicServer().start();
      const epoch = await published(5);

      expect(await resume({ epoch, offset: 5 }, 2)).toMatchObject({ recovered: true, replayed: 0 });
      expect(await resume({ epoch, offset: 5 }, 3)).toMatchObject({ recovered: true, replayed: 0 });
      await server.manager.publish('room:a', { n: 6 });
      await raw.until(() => offsets().length === 1, 'the next publication');

      expect(offsets()).toEqual([6]);
    });

    it('should replay nothing on a second resume from where the first one ended', async () => {
      server = await new TopicServer().start();
      const epoch = await published(8);

      await resume({ epoch, offset: 3 }, 2);
      await raw.until(() => offsets().length === 5, 'the first replay');
      await resume({ epoch, offset: 8 }, 3);
      await server.manager.publish('room:a', { n: 9 });
      await raw.until(() => offsets().length === 6, 'the next publication');

      expect(offsets()).toEqual([4, 5, 6, 7, 8, 9]);
    });

    it('should answer a topic request over the connection rate naming its topic, and not follow it', async () => {
      server = await new TopicServer({
        operations: { rateLimit: { burst: 1, perSecond: 0.001 } },
      }).start();
      raw = await RawClient.open(server.url);
      raw.send({ type: 'subscribe', topic: 'room:a' });
      raw.send({ type: 'subscribe', topic: 'room:b' });
      await raw.until(() => raw.lines.length === 2, 'two answers');

      expect(raw.lines).toEqual([
        expect.objectContaining({ type: 'error', topic: 'room:b', code: 'rate_limited' }),
        expect.objectContaining({ type: 'subscribed', topic: 'room:a' }),
      ]);
    });

    it('should refuse a subscribe the application does not authorize, and a malformed one', async () => {
      server = await new TopicServer({
        topics: { authorize: (_socket, topic) => topic.startsWith('room:') },
      }).start();
      raw = await RawClient.open(server.url);
      raw.send({ type: 'subscribe', topic: 'secret' });
      raw.send({ type: 'subscribe', topic: 'room:a', since: { epoch: 1 } });
      raw.send({ type: 'subscribe' });
      await raw.until(() => raw.lines.length === 3, 'three answers');

      expect(raw.lines).toEqual([
        expect.objectContaining({ type: 'error', topic: 'secret', code: 'forbidden' }),
        expect.objectContaining({ type: 'error', topic: 'room:a', code: 'bad_request' }),
        expect.objectContaining({ type: 'error', code: 'bad_request' }),
      ]);
      expect(raw.lines.every((line) => typeof line.message === 'string')).toBe(true);
    });
  });

  it('should resume a server-joined topic across a reconnect, from the resume parameter', async () => {
    server = await new TopicServer({
      topics: { authorize: () => false },
      joins: (request) => [`session:${new URL(request.url!, 'http://x').searchParams.get('s')}`],
    }).start();
    const subscriber = client(`${server.url}?s=abc`);
    const answer = answered(subscriber, 'session:abc');
    const inbox = follow(subscriber, 'session:abc', 'listen');
    await answer;

    const total = 1_000;
    for (let n = 1; n <= 400; n++) void server.manager.publish('session:abc', { n });
    await inbox.until(200);
    server.dropAll();
    for (let n = 401; n <= total; n++) {
      await server.manager.publish('session:abc', { n });
      if (n % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await inbox.until(total);

    expect(inbox.seen).toEqual(range(1, total));
    expect(await server.metric('ws_outbox_topic_resumes_total', { outcome: 'recovered' })).toBe(1);
  });

  it('should resume a reconnect storm of 1,000 clients', async () => {
    server = await new TopicServer().start();
    const count = 1_000;
    const followers = Array.from({ length: count }, () => {
      const made = client();
      return { answer: answered(made, 'room:storm'), topic: follow(made, 'room:storm') };
    });
    await Promise.all(followers.map(({ answer }) => answer));

    for (let n = 1; n <= 20; n++) await server.manager.publish('room:storm', { n });
    server.dropAll();
    for (let n = 21; n <= 40; n++) await server.manager.publish('room:storm', { n });
    await Promise.all(followers.map(({ topic }) => topic.until(40)));

    for (const { topic } of followers) expect(topic.seen).toEqual(range(1, 40));
  }, 60_000);
});

/** Resolves with the next `subscribed` of `topic` the client receives. */
function answered(client: OutboxClient, topic: string): Promise<Record<string, unknown>> {
  return firstValueFrom(
    client.messages$.pipe(
      filter(
        (message): message is Record<string, unknown> & { type: string } =>
          (message as { type?: string }).type === 'subscribed' &&
          (message as { topic?: string }).topic === topic,
      ),
    ),
  );
}
