import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { RedisTopicStore, TopicStoreUnavailableError } from '../../src/redis/index.js';
import type { RedisTopicStoreOptions } from '../../src/redis/index.js';
import { producerKey, topicKeys } from '../../src/redis/keys.js';
import { APPEND_SCRIPT, runScript } from '../../src/redis/scripts.js';
import { connectTestClient, RedisServer } from '../helpers/redisServer.js';
import type { TestRedisClient } from '../helpers/redisServer.js';
import { EventLog } from './events.js';

const json = (value: unknown) => JSON.stringify(value);
const offsets = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe('RedisTopicStore recovery', () => {
  let server: RedisServer;
  let admin: TestRedisClient;
  const clients: TestRedisClient[] = [];
  const stores: RedisTopicStore[] = [];
  let topicCount = 0;
  const newTopic = () => `feed:${++topicCount}`;

  const makeStore = async (options: Partial<RedisTopicStoreOptions> = {}) => {
    const client = await connectTestClient(server);
    clients.push(client);
    const store = new RedisTopicStore({ client, ...options });
    stores.push(store);
    return store;
  };

  /**
   * Appends publications that are stored but never announced on the topic's channel: what a
   * watcher sees when pub/sub messages are lost.
   */
  const appendUnannounced = async (topic: string, count: number) => {
    const keys = topicKeys('ws-outbox:', topic);
    const data = Array.from({ length: count }, (_, index) => json({ unannounced: index }));
    const producer = producerKey('ws-outbox:', topic, 'test');
    const args = ['e', '1000', '60000', 'nobody-listens', randomBytes(6).toString('hex'), '60000'];
    await runScript(
      admin,
      APPEND_SCRIPT,
      [keys.meta, keys.log, producer],
      [...args, ...data],
      new AbortController().signal,
    );
  };

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = await connectTestClient(server);
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    for (const client of clients.splice(0)) client.destroy();
  });

  afterAll(async () => {
    admin.destroy();
    await server.stop();
  });

  it('catches up from the stream when an announcement skips ahead', async () => {
    const store = await makeStore();
    const topic = newTopic();
    await store.append(topic, ['1']);
    const log = new EventLog();
    const watch = store.watch(topic, log.listener);
    await watch.ready;
    await appendUnannounced(topic, 3);
    await store.append(topic, ['"announced"']);
    await log.until((l) => l.publications.length === 4, 'four publications');
    expect(log.publications.map((entry) => Number(entry.split(':')[0]))).toEqual([2, 3, 4, 5]);
    expect(log.publications.at(-1)).toBe('5:"announced"');
    expect(log.others).toEqual([]);
    expect(store.counters.backfills).toBe(1);
    watch.close();
  });

  it('tells watchers `lost` when the history no longer holds what they missed, then goes on', async () => {
    const store = await makeStore({ maxLength: 5 });
    const topic = newTopic();
    const { epoch } = await store.append(topic, ['1', '2']);
    const log = new EventLog();
    const watch = store.watch(topic, log.listener);
    await watch.ready;
    await appendUnannounced(topic, 10); // offsets 3..12, trimmed by the next append to 5 entries
    await store.append(topic, ['13']);
    await log.until((l) => l.publications.length > 0, 'publications after the loss');
    expect(log.events[0]).toEqual({ kind: 'lost', epoch, after: 2 });
    expect(log.publications.map((entry) => Number(entry.split(':')[0]))).toEqual(offsets(9, 13));
    expect(store.counters.lost).toBe(1);
    await store.append(topic, ['14']);
    await log.until((l) => l.publications.length === 6, 'the next publication');
    watch.close();
  });

  it('resubscribes after CLIENT KILL TYPE pubsub and delivers every publication once, in order', async () => {
    const store = await makeStore();
    const publisher = await makeStore();
    const topic = newTopic();
    const log = new EventLog();
    const watch = store.watch(topic, log.listener);
    await watch.ready;
    const total = 300;
    let kills = 0;
    for (let index = 1; index <= total; index++) {
      // Not awaited one by one: publications go on while the subscriber is gone.
      const appended = publisher.append(topic, [json(index)]);
      if (index % 100 === 50) {
        await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
        kills++;
      }
      if (index % 10 === 0) await appended;
    }
    await log.until((l) => l.publications.length >= total, 'every publication');
    expect(log.publications).toEqual(offsets(1, total).map((offset) => `${offset}:${offset}`));
    expect(log.others).toEqual([]);
    expect(kills).toBe(3);
    expect(store.counters.reconnects).toBeGreaterThanOrEqual(1);
    watch.close();
  });

  it('while Redis is down, rejects appends at once; once it is back empty, resets watchers and carries on', async () => {
    // A long command timeout: the prompt rejections below come from not queueing for a
    // connection that is down, not from timing out.
    const commandTimeoutMs = 10_000;
    const store = await makeStore({ commandTimeoutMs });
    const topic = newTopic();
    const { epoch } = await store.append(topic, ['1', '2']);
    const log = new EventLog();
    const watch = store.watch(topic, log.listener);
    await watch.ready;

    await server.stop();
    const outageStart = Date.now();
    let rejected = 0;
    while (Date.now() - outageStart < 2_000) {
      const attemptStart = Date.now();
      await expect(store.append(topic, [json(rejected)])).rejects.toBeInstanceOf(
        TopicStoreUnavailableError,
      );
      expect(Date.now() - attemptStart).toBeLessThan(commandTimeoutMs);
      rejected++;
    }
    await expect(store.read(topic, 0, 0)).rejects.toBeInstanceOf(TopicStoreUnavailableError);
    expect(log.events).toEqual([]);
    await server.restart();

    await log.until((l) => l.events.length > 0, 'a reset after the restart');
    const [reset] = log.events;
    expect(reset).toEqual({ kind: 'reset', epoch: expect.any(String), top: 0 });
    expect(reset?.epoch).not.toBe(epoch);
    const next = await store.append(topic, ['"back"']);
    expect(next).toEqual({ epoch: reset?.epoch, first: 1, last: 1 });
    await log.until((l) => l.publications.length === 1, 'the first publication of the new epoch');
    expect(log.publications).toEqual(['1:"back"']);
    expect(store.counters.appendFailures).toBe(rejected);
    watch.close();
  });

  it('rejects the ready of a watch made while Redis is down, and watches again once it is back', async () => {
    const store = await makeStore({ commandTimeoutMs: 300 });
    const topic = newTopic();
    await server.stop();
    try {
      const log = new EventLog();
      const watch = store.watch(topic, log.listener);
      await expect(watch.ready).rejects.toBeInstanceOf(TopicStoreUnavailableError);
      watch.close();
    } finally {
      await server.restart();
    }
    const log = new EventLog();
    const watch = store.watch(topic, log.listener);
    await watch.ready;
    await store.append(topic, ['1']);
    await log.until((l) => l.publications.length === 1, 'the publication');
    expect(log.publications).toEqual(['1:1']);
    watch.close();
  });

  it('gives watchers each publication once, in order, whatever announcements and connections are lost', async () => {
    type Step = { kind: 'announced' | 'unannounced'; count: number } | { kind: 'kill' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('announced' as const), count: fc.integer({ min: 1, max: 4 }) }),
      fc.record({
        kind: fc.constant('unannounced' as const),
        count: fc.integer({ min: 1, max: 6 }),
      }),
      fc.record({ kind: fc.constant('kill' as const) }),
    );
    const maxLength = 8;
    const store = await makeStore({ maxLength });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 8 }), async (steps) => {
        const topic = newTopic();
        const { epoch } = await store.append(topic, ['0']);
        const log = new EventLog();
        const watch = store.watch(topic, log.listener);
        await watch.ready;
        const data = new Map<number, string>([[1, '0']]);
        let top = 1;
        const record = (count: number, offsetsData: (index: number) => string) => {
          for (let index = 0; index < count; index++) data.set(++top, offsetsData(index));
        };
        for (const current of [...steps, { kind: 'announced' as const, count: 1 }]) {
          if (current.kind === 'kill') {
            await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
          } else if (current.kind === 'unannounced') {
            await appendUnannounced(topic, current.count);
            record(current.count, (index) => json({ unannounced: index }));
          } else {
            const batch = Array.from({ length: current.count }, (_, index) => json([top, index]));
            await store.append(topic, batch);
            record(current.count, (index) => batch[index]!);
          }
        }
        await log.until(
          (l) => l.publications.at(-1)?.startsWith(`${top}:`) ?? false,
          `offset ${top}`,
        );
        watch.close();
        let last = 1;
        let lostAfter: number | undefined;
        for (const event of log.events) {
          expect(event.epoch).toBe(epoch);
          if (event.kind === 'lost') {
            expect(event.after).toBe(last);
            lostAfter = last;
            continue;
          }
          expect(event.kind).toBe('publications');
          if (event.kind !== 'publications') continue;
          const [first] = event.publications;
          if (lostAfter === undefined) {
            expect(first?.offset).toBe(last + 1);
          } else {
            // What was lost was trimmed: the feed goes on from the oldest offset held.
            expect(first!.offset).toBeGreaterThan(lostAfter + 1);
            expect(first!.offset).toBeLessThanOrEqual(top - maxLength + 1);
            lostAfter = undefined;
          }
          const got = event.publications.map(({ offset }) => offset);
          expect(got).toEqual(offsets(first!.offset, first!.offset + got.length - 1));
          for (const { offset, data: text } of event.publications) {
            expect(text).toBe(data.get(offset));
          }
          last = event.publications.at(-1)!.offset;
        }
      }),
      { numRuns: 30 },
    );
  });

  it('applies a batch once when Redis answers after the store gave up on it', async () => {
    const store = await makeStore({ commandTimeoutMs: 200, retries: 1 });
    const topic = newTopic();
    await store.append(topic, ['"first"']);
    const scriptCalls = store.counters.scriptCalls;
    process.kill(server.pid, 'SIGSTOP');
    try {
      await expect(store.append(topic, ['"unanswered"'])).rejects.toBeInstanceOf(
        TopicStoreUnavailableError,
      );
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    // Both attempts reached Redis's socket and run now; the second finds the first's result.
    expect(store.counters.scriptCalls - scriptCalls).toBe(2);
    expect(await store.append(topic, ['"next"'])).toMatchObject({ first: 3 });
    const page = await store.read(topic, 0, 10);
    expect(page.publications.map(({ data }) => data)).toEqual([
      '"first"',
      '"unanswered"',
      '"next"',
    ]);
  });
});
