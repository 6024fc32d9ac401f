import {
  RedisTopicStore,
  TopicStoreClosedError,
  TopicStoreOverloadedError,
} from '../../src/redis/index.js';
import type { RedisTopicStoreOptions } from '../../src/redis/index.js';
import { commandCalls, connectTestClient, RedisServer } from '../helpers/redisServer.js';
import type { TestRedisClient } from '../helpers/redisServer.js';
import { EventLog, numbered } from './events.js';

const json = (value: unknown) => JSON.stringify(value);
const messages = (count: number, tag = 'm') =>
  Array.from({ length: count }, (_, index) => json({ [tag]: index }));

describe('RedisTopicStore', () => {
  let server: RedisServer;
  let client: TestRedisClient;
  let admin: TestRedisClient;
  const stores: RedisTopicStore[] = [];
  let topicCount = 0;
  const newTopic = () => `room:${++topicCount}`;

  const makeStore = (options: Partial<RedisTopicStoreOptions> = {}) => {
    const store = new RedisTopicStore({ client, ...options });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    server = await RedisServer.start();
    client = await connectTestClient(server);
    admin = await connectTestClient(server);
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  afterAll(async () => {
    client.destroy();
    admin.destroy();
    await server.stop();
  });

  describe('append', () => {
    it('gives offsets 1, 2, 3… with no hole, in the order of the appends', async () => {
      const store = makeStore();
      const topic = newTopic();
      const first = await store.append(topic, ['"a"']);
      const next = await store.append(topic, ['"b"', '"c"']);
      expect(first).toEqual({ epoch: expect.any(String), first: 1, last: 1 });
      expect(next).toEqual({ epoch: first.epoch, first: 2, last: 3 });
      const page = await store.read(topic, 0, 10);
      expect(page.publications).toEqual([
        { offset: 1, data: '"a"' },
        { offset: 2, data: '"b"' },
        { offset: 3, data: '"c"' },
      ]);
    });

    it('gives each of many concurrent appends its own offsets, in call order', async () => {
      const store = makeStore({ maxBatch: 7 });
      const topic = newTopic();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, index) => store.append(topic, [json(index), json(-index)])),
      );
      expect(results.map(({ first, last }) => [first, last])).toEqual(
        Array.from({ length: 50 }, (_, index) => [2 * index + 1, 2 * index + 2]),
      );
      const page = await store.read(topic, 0, 1000);
      expect(page.publications.map(({ data }) => data)).toEqual(
        Array.from({ length: 50 }, (_, index) => [json(index), json(-index)]).flat(),
      );
    });

    it('sends the appends of one turn to one topic in one script call', async () => {
      const store = makeStore();
      const topic = newTopic();
      await store.append(topic, ['0']); // loads the script, so the count below is EVALSHA alone
      const before = (await commandCalls(admin, 'evalsha')) + (await commandCalls(admin, 'eval'));
      const counted = store.counters.scriptCalls;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, index) => store.append(topic, [json(index)])),
      );
      const after = (await commandCalls(admin, 'evalsha')) + (await commandCalls(admin, 'eval'));
      expect(after - before).toBe(1);
      expect(store.counters.scriptCalls - counted).toBe(1);
      expect(results.map(({ first }) => first)).toEqual(
        Array.from({ length: 20 }, (_, index) => index + 2),
      );
    });

    it('gathers appends for coalesceMs when given', async () => {
      const store = makeStore({ coalesceMs: 250 });
      const topic = newTopic();
      await store.append(topic, ['0']);
      const counted = store.counters.scriptCalls;
      const first = store.append(topic, ['1']);
      // A later turn of the event loop, well within the window even on a busy machine.
      await new Promise((resolve) => setImmediate(resolve));
      const second = store.append(topic, ['2']);
      expect(await Promise.all([first, second])).toMatchObject([{ first: 2 }, { first: 3 }]);
      expect(store.counters.scriptCalls - counted).toBe(1);
    });

    it('refuses appends beyond maxPendingPublications at once, and takes them again later', async () => {
      const store = makeStore({ maxPendingPublications: 3 });
      const topic = newTopic();
      const accepted = store.append(topic, ['1', '2']);
      await expect(store.append(topic, ['3', '4'])).rejects.toBeInstanceOf(
        TopicStoreOverloadedError,
      );
      expect(await accepted).toMatchObject({ first: 1, last: 2 });
      expect(await store.append(topic, ['3', '4'])).toMatchObject({ first: 3, last: 4 });
      expect(store.counters.appendsOverloaded).toBe(2);
    });

    it('refuses appends beyond maxPendingBytes', async () => {
      const store = makeStore({ maxPendingBytes: 10 });
      await expect(store.append(newTopic(), ['"12345678901"'])).rejects.toThrow(
        /maxPendingBytes \(10\)/,
      );
    });

    it('answers an empty append with the position and appends nothing', async () => {
      const store = makeStore();
      const topic = newTopic();
      const { epoch } = await store.append(topic, ['1', '2']);
      expect(await store.append(topic, [])).toEqual({ epoch, first: 3, last: 2 });
      expect((await store.read(topic, 0, 0)).top).toBe(2);
    });

    it('rejects data that is not one line of text, and appends none of the batch', async () => {
      const store = makeStore();
      const topic = newTopic();
      await expect(store.append(topic, ['1', '"a"\n"b"'])).rejects.toThrow(TypeError);
      await expect(store.append(topic, [1 as unknown as string])).rejects.toThrow(TypeError);
      expect((await store.read(topic, 0, 0)).top).toBe(0);
    });

    it('keeps topics apart', async () => {
      const store = makeStore();
      const [a, b] = [newTopic(), newTopic()];
      await Promise.all([store.append(a, ['1', '2']), store.append(b, ['3'])]);
      expect(await store.append(b, ['4'])).toMatchObject({ first: 2 });
      expect((await store.read(a, 0, 10)).publications.map(({ data }) => data)).toEqual(['1', '2']);
    });
  });

  describe('read', () => {
    it('returns the publications after `after`, at most `limit`, with the position', async () => {
      const store = makeStore();
      const topic = newTopic();
      const { epoch } = await store.append(topic, messages(10));
      const page = await store.read(topic, 4, 3);
      expect(page).toEqual({
        epoch,
        top: 10,
        oldest: 1,
        publications: [5, 6, 7].map((offset) => ({ offset, data: json({ m: offset - 1 }) })),
      });
      expect((await store.read(topic, 10, 5)).publications).toEqual([]);
      expect((await store.read(topic, 99, 5)).publications).toEqual([]);
    });

    it('gives the position alone with limit 0', async () => {
      const store = makeStore();
      const topic = newTopic();
      const { epoch } = await store.append(topic, messages(3));
      expect(await store.read(topic, 0, 0)).toEqual({ epoch, top: 3, oldest: 1, publications: [] });
    });

    it('gives a never-published topic an epoch that its first publication continues', async () => {
      const store = makeStore();
      const topic = newTopic();
      const empty = await store.read(topic, 0, 10);
      expect(empty).toEqual({ epoch: expect.any(String), top: 0, oldest: 1, publications: [] });
      expect(await store.read(topic, 0, 0)).toEqual(empty);
      expect(await makeStore().append(topic, ['1'])).toEqual({
        epoch: empty.epoch,
        first: 1,
        last: 1,
      });
    });

    it('reports the oldest offset held once maxLength trimmed the history', async () => {
      const store = makeStore({ maxLength: 5 });
      const topic = newTopic();
      await store.append(topic, messages(8));
      await store.append(topic, messages(4));
      const page = await store.read(topic, 2, 100);
      expect(page.top).toBe(12);
      expect(page.oldest).toBe(8);
      expect(page.oldest).toBeGreaterThan(2 + 1);
      expect(page.publications.map(({ offset }) => offset)).toEqual([8, 9, 10, 11, 12]);
      expect(await admin.xLen(`ws-outbox:{${topic}}:log`)).toBe(5);
    });

    it('rejects offsets and limits that are not integers >= 0', async () => {
      const store = makeStore();
      await expect(store.read(newTopic(), -1, 1)).rejects.toThrow(RangeError);
      await expect(store.read(newTopic(), 0, 1.5)).rejects.toThrow(RangeError);
    });
  });

  describe('epochs', () => {
    it('starts a new epoch at offset 1 once the keys are deleted, and tells watchers', async () => {
      const store = makeStore();
      const topic = newTopic();
      const { epoch } = await store.append(topic, messages(3));
      const log = new EventLog();
      const watch = store.watch(topic, log.listener);
      await watch.ready;
      await admin.del([`ws-outbox:{${topic}}:meta`, `ws-outbox:{${topic}}:log`]);
      const next = await store.append(topic, ['"new"']);
      expect(next.epoch).not.toBe(epoch);
      expect(next).toMatchObject({ first: 1, last: 1 });
      await log.until((l) => l.events.length > 0, 'a reset');
      expect(log.events).toEqual([{ kind: 'reset', epoch: next.epoch, top: 1 }]);
      await store.append(topic, ['"after"']);
      await log.until((l) => l.publications.length > 0, 'the next publication');
      expect(log.publications).toEqual(['2:"after"']);
      watch.close();
    });

    it('expires a topic after idleExpiryMs', async () => {
      const store = makeStore({ idleExpiryMs: 60_000 });
      const topic = newTopic();
      await store.append(topic, ['1']);
      for (const key of ['meta', 'log']) {
        const ttl = await admin.pTTL(`ws-outbox:{${topic}}:${key}`);
        expect(ttl).toBeGreaterThan(50_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
    });

    it('uses the key prefix for every key', async () => {
      const store = makeStore({ keyPrefix: 'app:' });
      const topic = newTopic();
      await store.append(topic, ['1']);
      expect((await admin.keys(`app:{${topic}}:*`)).sort()).toEqual([
        `app:{${topic}}:log`,
        `app:{${topic}}:meta`,
        expect.stringMatching(new RegExp(`^app:\\{${topic}\\}:producer:`)),
      ]);
    });
  });

  describe('watch', () => {
    it('delivers every publication after ready, in order, from any store', async () => {
      const store = makeStore();
      const other = makeStore();
      const topic = newTopic();
      await store.append(topic, ['"before"']);
      const log = new EventLog();
      const watch = store.watch(topic, log.listener);
      await watch.ready;
      for (let index = 0; index < 5; index++) await other.append(topic, [json(index)]);
      await store.append(topic, ['"x"', '"y"']);
      await log.until((l) => l.publications.length === 7, 'seven publications');
      expect(log.publications).toEqual(
        numbered(2, [...messages(5).map((_, i) => json(i)), '"x"', '"y"']),
      );
      expect(log.others).toEqual([]);
      watch.close();
    });

    it('subscribes once per topic whatever the number of watchers, until the last closes', async () => {
      const store = makeStore();
      const topic = newTopic();
      const channel = `ws-outbox:{${topic}}:pub`;
      const logs = [new EventLog(), new EventLog(), new EventLog()];
      const watches = logs.map((log) => store.watch(topic, log.listener));
      await Promise.all(watches.map(({ ready }) => ready));
      expect(await admin.pubSubNumSub(channel)).toEqual({ [channel]: 1 });
      await store.append(topic, ['1', '2']);
      for (const log of logs)
        await log.until((l) => l.publications.length === 2, 'two publications');
      watches[0]!.close();
      watches[0]!.close();
      watches[1]!.close();
      await store.append(topic, ['3']);
      await logs[2]!.until((l) => l.publications.length === 3, 'the third publication');
      expect(logs[0]!.publications).toEqual(['1:1', '2:2']);
      expect(logs[2]!.publications).toEqual(['1:1', '2:2', '3:3']);
      watches[2]!.close();
      await expectNumSub(channel, 0);
    });

    it('hands one listener given to two watches each event twice', async () => {
      const store = makeStore();
      const topic = newTopic();
      const log = new EventLog();
      const watches = [store.watch(topic, log.listener), store.watch(topic, log.listener)];
      await Promise.all(watches.map(({ ready }) => ready));
      await store.append(topic, ['1']);
      await log.until((l) => l.publications.length === 2, 'both deliveries');
      expect(log.publications).toEqual(['1:1', '1:1']);
      for (const watch of watches) watch.close();
    });

    it('has history and live feed overlap, with nothing missing, when publishing goes on', async () => {
      const store = makeStore();
      const publisher = makeStore();
      const topic = newTopic();
      let published = 0;
      let publishing = true;
      let someDone!: () => void;
      const some = new Promise<void>((resolve) => (someDone = resolve));
      const publishingDone = (async () => {
        while (publishing && published < 400) {
          await publisher.append(topic, [json(++published)]);
          if (published === 20) someDone();
        }
      })();
      await some;
      const log = new EventLog();
      const watch = store.watch(topic, log.listener);
      await watch.ready;
      const history = await store.read(topic, 0, 1000);
      await log.until((l) => l.publications.length >= 10, 'live publications');
      publishing = false;
      await publishingDone;
      const top = (await store.read(topic, 0, 0)).top;
      await log.until(
        (l) => l.publications.at(-1)?.startsWith(`${top}:`) ?? false,
        'the last publication',
      );
      const merged = new Map<number, string>();
      for (const { offset, data } of history.publications) merged.set(offset, data);
      for (const event of log.events) {
        if (event.kind === 'publications') {
          for (const { offset, data } of event.publications) merged.set(offset, data);
        }
      }
      expect([...merged.keys()]).toEqual(Array.from({ length: top }, (_, index) => index + 1));
      const liveOffsets = log.publications.map((entry) => Number(entry.split(':')[0]));
      expect(liveOffsets).toEqual(
        Array.from({ length: liveOffsets.length }, (_, index) => liveOffsets[0]! + index),
      );
      watch.close();
    });

    it('rejects ready and closes the watch when the store is closed', async () => {
      const store = makeStore();
      await store.close();
      await expect(store.watch(newTopic(), () => {}).ready).rejects.toBeInstanceOf(
        TopicStoreClosedError,
      );
    });

    it('reports an error thrown by a listener to onError, and other watchers still get the event', async () => {
      const errors: unknown[] = [];
      const store = makeStore({ onError: (error) => errors.push(error) });
      const topic = newTopic();
      const boom = new Error('listener failed');
      const throwing = store.watch(topic, () => {
        throw boom;
      });
      const log = new EventLog();
      const watch = store.watch(topic, log.listener);
      await Promise.all([throwing.ready, watch.ready]);
      await store.append(topic, ['1']);
      await log.until((l) => l.publications.length === 1, 'the publication');
      expect(errors).toEqual([boom]);
      throwing.close();
      watch.close();
    });
  });

  describe('close', () => {
    it('answers the appends accepted before it, then refuses more; is idempotent', async () => {
      const store = makeStore();
      const topic = newTopic();
      const accepted = store.append(topic, ['1']);
      const closing = store.close();
      expect(store.close()).toBe(closing);
      await closing;
      expect(await accepted).toMatchObject({ first: 1 });
      await expect(store.append(topic, ['2'])).rejects.toBeInstanceOf(TopicStoreClosedError);
      await expect(store.read(topic, 0, 0)).rejects.toBeInstanceOf(TopicStoreClosedError);
      expect(client.isReady).toBe(true);
    });

    it('unsubscribes every watched topic', async () => {
      const store = makeStore();
      const topic = newTopic();
      await store.watch(topic, () => {}).ready;
      await store.close();
      await expectNumSub(`ws-outbox:{${topic}}:pub`, 0);
    });
  });

  describe('options', () => {
    it('rejects bad values with a clear error', () => {
      expect(() => new RedisTopicStore({ client, keyPrefix: 'a{b}' })).toThrow(/keyPrefix/);
      expect(() => new RedisTopicStore({ client, maxLength: 0 })).toThrow(/maxLength/);
      expect(() => new RedisTopicStore({ client, commandTimeoutMs: 0 })).toThrow(
        /commandTimeoutMs/,
      );
      expect(() => new RedisTopicStore({ client: {} as never })).toThrow(/client/);
    });
  });

  async function expectNumSub(channel: string, count: number): Promise<void> {
    // UNSUBSCRIBE is sent without waiting for its reply; a PING on the same server after it
    // returns is not ordered with it, so poll the count a bounded number of times.
    for (let attempt = 0; attempt < 100; attempt++) {
      if ((await admin.pubSubNumSub(channel))[channel] === count) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await admin.pubSubNumSub(channel)).toEqual({ [channel]: count });
  }
});
