import type { IncomingMessage } from 'node:http';
import { TopicStoreUnavailableError } from '../../src/redis/index.js';
import type { RedisTopicStoreOptions } from '../../src/redis/index.js';
import { producerKey, topicKeys } from '../../src/redis/keys.js';
import { APPEND_SCRIPT, runScript } from '../../src/redis/scripts.js';
import { connectTestClient, RedisServer } from '../helpers/redisServer.js';
import type { TestRedisClient } from '../helpers/redisServer.js';
import { RawClient } from '../helpers/rawClient.js';
import { gate, range, WatchedClient } from './clusterClient.js';
import { RedisNode } from './redisNode.js';

/** The session a client names in its URL (`?s=`), if any: the server joins it to `session:<s>`. */
const sessionOf = (request: IncomingMessage): string[] => {
  const session = new URL(request.url ?? '/', 'http://x').searchParams.get('s');
  return session === null ? [] : [`session:${session}`];
};

describe('topics across nodes on Redis, over real sockets', () => {
  let redis: RedisServer;
  let admin: TestRedisClient;
  const nodes: RedisNode[] = [];
  const clients: WatchedClient[] = [];
  let topicCount = 0;
  const newTopic = (kind = 'room') => `${kind}:${++topicCount}`;

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = await connectTestClient(redis);
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(nodes.splice(0).map((node) => node.close()));
  });

  afterAll(async () => {
    admin.destroy();
    await redis.stop();
  });

  const node = async (store: Omit<RedisTopicStoreOptions, 'client'> = {}) => {
    const started = await RedisNode.start(redis.url, store, { joins: sessionOf });
    nodes.push(started);
    return started;
  };

  const client = (url: ConstructorParameters<typeof WatchedClient>[0]) => {
    const made = new WatchedClient(url);
    clients.push(made);
    return made;
  };

  /** A URL function: the first node, then (once `opened`, if given) the second for good. */
  const failover = (first: RedisNode, second: RedisNode, opened?: Promise<void>) => {
    let calls = 0;
    return () => (calls++ === 0 ? first.url : (opened ?? Promise.resolve()).then(() => second.url));
  };

  it('delivers a publication made on any node to the subscribers of every node, once each, in order', async () => {
    const [a, b] = [await node(), await node()];
    const topic = newTopic();
    const subscribers = [a, b, a, b].map((at) => client(at.url).follow(topic));
    await Promise.all(
      subscribers.map((s) => s.until(() => s.answersOf(topic).length === 1, 'subscribed')),
    );

    for (let n = 1; n <= 200; n++) void (n % 2 ? a : b).manager.publish(topic, { n });
    await Promise.all(
      subscribers.map((s) => s.until(() => s.of(topic).length >= 200, '200 publications')),
    );

    // Two publishers: each one's publications keep their order, and all share one sequence.
    const [first] = subscribers;
    for (const s of subscribers) expect(s.of(topic)).toEqual(first!.of(topic));
    expect([...first!.of(topic)].sort((x, y) => x - y)).toEqual(range(1, 200));
    const odd = first!.of(topic).filter((n) => n % 2 === 1);
    expect(odd).toEqual([...odd].sort((x, y) => x - y));
  });

  it('resumes a client dropped by its node on another node: every publication once, in order', async () => {
    const [a, b] = [await node({ maxLength: 10_000 }), await node({ maxLength: 10_000 })];
    const topic = newTopic();
    const session = newTopic('session');
    const subscriber = client(failover(a, b)).follow(topic);
    // The session topic on the other node: the server joins it, the client only listens.
    const inbox = client(`${b.url}?s=${session.slice('session:'.length)}`).follow(
      session,
      'listen',
    );
    await subscriber.until(() => subscriber.answersOf(topic).length === 1, 'subscribed');
    await inbox.until(() => inbox.answersOf(session).length === 1, 'joined');

    for (let n = 1; n <= 400; n++) void a.manager.publish(topic, { n });
    await subscriber.until(() => subscriber.of(topic).length >= 200, '200 publications');
    a.server.dropAll();
    for (let n = 401; n <= 1_000; n++) {
      await b.manager.publish(topic, { n });
      if (n % 50 === 0) await b.manager.publish(session, { n: n / 50 });
    }
    await subscriber.until(() => subscriber.of(topic).length >= 1_000, 'every publication');
    await inbox.until(() => inbox.of(session).length >= 12, 'the inbox');

    expect(subscriber.of(topic)).toEqual(range(1, 1_000));
    expect(inbox.of(session)).toEqual(range(9, 20));
    expect(subscriber.recoveries).toEqual([]);
    expect(subscriber.answersOf(topic).at(-1)).toMatchObject({ recovered: true });
    expect(await b.server.metric('ws_outbox_topic_resumes_total', { outcome: 'recovered' })).toBe(
      1,
    );
  });

  it('answers recovered: false, too_old, to a client whose missed publications were trimmed meanwhile', async () => {
    const [a, b] = [await node({ maxLength: 10 }), await node({ maxLength: 10 })];
    const topic = newTopic();
    const away = gate();
    const subscriber = client(failover(a, b, away.opened)).follow(topic);
    await subscriber.until(() => subscriber.answersOf(topic).length === 1, 'subscribed');
    for (let n = 1; n <= 5; n++) await a.manager.publish(topic, { n });
    await subscriber.until(() => subscriber.of(topic).length === 5, 'five publications');
    const [{ epoch }] = subscriber.answersOf(topic) as [{ epoch: string }];

    a.server.dropAll();
    // 30 more while it is away: the stream keeps the last 10 (26..35), not 6.
    for (let n = 6; n <= 35; n++) await b.manager.publish(topic, { n });
    away.open();
    await subscriber.until(() => subscriber.recoveries.length === 1, 'the recovery');
    await b.manager.publish(topic, { n: 36 });
    await subscriber.until(() => subscriber.of(topic).length === 6, 'the next publication');

    expect(subscriber.recoveries).toEqual([
      {
        topic,
        reason: 'too_old',
        previous: { epoch, offset: 5 },
        position: { epoch, offset: 35 },
      },
    ]);
    expect(subscriber.of(topic)).toEqual([1, 2, 3, 4, 5, 36]);
    expect(await b.server.metric('ws_outbox_topic_resumes_total', { outcome: 'too_old' })).toBe(1);
  });

  it("answers recovered: false, epoch, when the topic's keys are deleted: live subscribers and resuming ones", async () => {
    const [a, b] = [await node(), await node()];
    const topic = newTopic();
    const away = gate();
    const live = client(b.url).follow(topic);
    const resuming = client(failover(a, b, away.opened)).follow(topic);
    for (const s of [live, resuming]) {
      await s.until(() => s.answersOf(topic).length === 1, 'subscribed');
    }
    for (let n = 1; n <= 5; n++) await a.manager.publish(topic, { n });
    await Promise.all(
      [live, resuming].map((s) => s.until(() => s.of(topic).length === 5, 'five publications')),
    );
    const [{ epoch }] = live.answersOf(topic) as [{ epoch: string }];
    a.server.dropAll();

    const keys = topicKeys('ws-outbox:', topic);
    expect(await admin.del([keys.meta, keys.log])).toBe(2);
    // The next publication starts a new epoch at offset 1; node b hears it and resets.
    const next = await a.manager.publish(topic, { n: 6 });
    expect(next).toBe(1);
    await live.until(() => live.recoveries.length === 1, 'the live recovery');
    away.open();
    await resuming.until(() => resuming.recoveries.length === 1, 'the resuming recovery');
    await a.manager.publish(topic, { n: 7 });
    await Promise.all(
      [live, resuming].map((s) => s.until(() => s.of(topic).length === 6, 'the next publication')),
    );

    for (const s of [live, resuming]) {
      const [recovery] = s.recoveries;
      expect(recovery).toEqual({
        topic,
        reason: 'epoch',
        previous: { epoch, offset: 5 },
        position: { epoch: expect.any(String), offset: 1 },
      });
      expect(recovery!.position.epoch).not.toBe(epoch);
      // Publication 6 is the new epoch's first: part of the state the application refetches.
      expect(s.of(topic)).toEqual([1, 2, 3, 4, 5, 7]);
    }
  });

  it('after CLIENT KILL TYPE pubsub, the nodes backfill from the stream: no subscriber misses a publication', async () => {
    const [a, b] = [await node(), await node()];
    const topic = newTopic();
    const subscribers = [a, a, a, b, b, b].map((at) => client(at.url).follow(topic));
    await Promise.all(
      subscribers.map((s) => s.until(() => s.answersOf(topic).length === 1, 'subscribed')),
    );

    const total = 900;
    let kills = 0;
    const published: Array<Promise<number>> = [];
    for (let n = 1; n <= total; n++) {
      // Not awaited one by one: publications go on while the nodes' pub/sub connections are gone.
      published.push(a.manager.publish(topic, { n }));
      if (n % 300 === 150) {
        await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
        kills++;
      }
      if (n % 30 === 0) await published.at(-1);
    }
    expect(await Promise.all(published)).toEqual(range(1, total));
    await Promise.all(
      subscribers.map((s) => s.until(() => s.of(topic).length >= total, 'every publication')),
    );

    expect(kills).toBe(3);
    for (const s of subscribers) {
      expect(s.of(topic)).toEqual(range(1, total));
      expect(s.recoveries).toEqual([]);
      // The sockets never had to resume: the nodes caught up by themselves.
      expect(s.answersOf(topic)).toHaveLength(1);
      expect(s.opens).toBe(1);
    }
    for (const at of [a, b]) {
      expect(at.store.counters.reconnects).toBeGreaterThanOrEqual(1);
      expect(at.store.counters.backfills).toBeGreaterThanOrEqual(1);
      expect(at.store.counters.lost + at.store.counters.resets).toBe(0);
    }
  });

  it('loses nothing through a short outage: publications wait, a client moving node resumes', async () => {
    // A command may wait longer than the outage: nothing has to be retried or given up.
    const [a, b] = [
      await node({ commandTimeoutMs: 15_000 }),
      await node({ commandTimeoutMs: 15_000 }),
    ];
    const topic = newTopic();
    const moving = client(failover(a, b)).follow(topic);
    const staying = client(b.url).follow(topic);
    for (const s of [moving, staying]) {
      await s.until(() => s.answersOf(topic).length === 1, 'subscribed');
    }
    for (let n = 1; n <= 5; n++) await a.manager.publish(topic, { n });
    await Promise.all(
      [moving, staying].map((s) => s.until(() => s.of(topic).length === 5, 'five publications')),
    );

    process.kill(redis.pid, 'SIGSTOP');
    const published: Array<Promise<number>> = [];
    try {
      for (let n = 6; n <= 50; n++) published.push(a.manager.publish(topic, { n }));
      a.server.dropAll();
      // Redis stays stopped until the moved client is answered by node b, which needs no Redis
      // for a position it knows.
      await moving.until(() => moving.answersOf(topic).length === 2, 'resumed on node b');
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }
    expect(await Promise.all(published)).toEqual(range(6, 50));
    await Promise.all(
      [moving, staying].map((s) => s.until(() => s.of(topic).length >= 50, 'every publication')),
    );

    expect(moving.answersOf(topic)[1]).toMatchObject({ recovered: true, offset: 5 });
    for (const s of [moving, staying]) {
      expect(s.of(topic)).toEqual(range(1, 50));
      expect(s.recoveries).toEqual([]);
    }
    expect(await a.server.metric('ws_outbox_publish_errors_total')).toBe(0);
  });

  it("resumes a client whose position is ahead of what the node's live feed has announced yet", async () => {
    const [a, b] = [await node(), await node()];
    const topic = newTopic();
    const staying = client(b.url).follow(topic);
    await staying.until(() => staying.answersOf(topic).length === 1, 'subscribed');
    for (let n = 1; n <= 5; n++) await a.manager.publish(topic, { n });
    await staying.until(() => staying.of(topic).length === 5, 'five publications');
    const [{ epoch }] = staying.answersOf(topic) as [{ epoch: string }];
    // Offsets 6..8 appended and never announced: node b's feed knows of 5 only, as a node whose
    // pub/sub lags behind the node the client was on would.
    const keys = topicKeys('ws-outbox:', topic);
    await runScript(
      admin,
      APPEND_SCRIPT,
      [keys.meta, keys.log, producerKey('ws-outbox:', topic, 'test')],
      ['unused', '1000', '60000', 'nobody-listens', '1', '60000', '{"n":6}', '{"n":7}', '{"n":8}'],
      new AbortController().signal,
    );

    const raw = await RawClient.open(b.url);
    try {
      raw.send({ type: 'subscribe', topic, since: { epoch, offset: 8 } });
      await raw.until(() => raw.of('subscribed').length === 1, 'the answer');
      expect(raw.of('subscribed')).toEqual([
        { type: 'subscribed', topic, epoch, offset: 8, recovered: true, replayed: 0 },
      ]);
      // The next announcement shows node b the hole; it backfills, and the client gets only 9.
      await a.manager.publish(topic, { n: 9 });
      await raw.until(() => raw.of('pub').length === 1, 'the next publication');
      await staying.until(() => staying.of(topic).length === 9, 'the backfill');
      expect(raw.of('pub')).toEqual([{ type: 'pub', topic, offset: 9, data: { n: 9 } }]);
      expect(staying.of(topic)).toEqual(range(1, 9));
    } finally {
      raw.close();
    }
  });

  it('through Redis stopped for 2 s and restarted empty: publishes fail clearly and are counted, subscribers learn the epoch, the nodes carry on', async () => {
    const [a, b] = [await node(), await node()];
    const topic = newTopic();
    const session = 'session:restart';
    const onA = client(`${a.url}?s=restart`).follow(topic).follow(session, 'listen');
    const onB = client(b.url).follow(topic);
    for (const s of [onA, onB]) await s.until(() => s.answersOf(topic).length === 1, 'subscribed');
    await onA.until(() => onA.answersOf(session).length === 1, 'joined');
    for (let n = 1; n <= 5; n++) {
      await b.manager.publish(topic, { n });
      await b.manager.publish(session, { n });
    }
    await Promise.all(
      [onA, onB].map((s) => s.until(() => s.of(topic).length === 5, 'five publications')),
    );
    await onA.until(() => onA.of(session).length === 5, 'five in the inbox');
    const [{ epoch }] = onA.answersOf(topic) as [{ epoch: string }];

    await redis.stop();
    let rejected = 0;
    const outageStart = Date.now();
    try {
      // The outage lasts 2 s; each publish on either node fails with a clear error meanwhile.
      while (Date.now() - outageStart < 2_000) {
        const at = rejected % 2 ? a : b;
        const error = await at.manager.publish(topic, { n: 1_000 + rejected }).then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).toBeInstanceOf(TopicStoreUnavailableError);
        expect((error as Error).message).toMatch(/^Redis is unavailable: append to "room:\d+"/);
        rejected++;
      }
    } finally {
      await redis.restart();
    }
    const errors = async () =>
      (await a.server.metric('ws_outbox_publish_errors_total')) +
      (await b.server.metric('ws_outbox_publish_errors_total'));
    expect(rejected).toBeGreaterThanOrEqual(1);
    expect(await errors()).toBe(rejected);

    // Nothing is recreated: each node's store finds Redis again and tells its subscribers.
    await onA.until(() => onA.recoveries.length === 2, 'the recoveries on node a');
    await onB.until(() => onB.recoveries.length === 1, 'the recovery on node b');
    await a.manager.publish(topic, { n: 6 });
    await a.manager.publish(session, { n: 6 });
    await Promise.all(
      [onA, onB].map((s) => s.until(() => s.of(topic).length === 6, 'the next publication')),
    );
    await onA.until(() => onA.of(session).length === 6, 'the next in the inbox');

    for (const recovery of [...onA.recoveries, ...onB.recoveries]) {
      expect(recovery.reason).toBe('epoch');
      expect(recovery.previous.offset).toBe(5);
      expect(recovery.position.offset).toBe(0);
      expect(recovery.position.epoch).not.toBe(recovery.previous.epoch);
    }
    expect(onA.recoveries.map((r) => r.topic).sort()).toEqual([topic, session].sort());
    expect(onA.recoveries.find((r) => r.topic === topic)?.previous.epoch).toBe(epoch);
    for (const s of [onA, onB]) expect(s.of(topic)).toEqual(range(1, 6));
    expect(onA.of(session)).toEqual(range(1, 6));
    // The clients never reconnected: the nodes came back by themselves.
    for (const s of [onA, onB]) expect(s.opens).toBe(1);
    expect(await errors()).toBe(rejected);
  }, 60_000);
});
