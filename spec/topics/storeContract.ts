import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type {
  StoredPublication,
  TopicEvent,
  TopicStore,
  TopicWatch,
} from '../../src/topics/store.js';
import { until } from '../helpers/until.js';

/** What a watch has seen, and a way to wait until it has seen enough. */
export interface Collector {
  readonly watch: TopicWatch;
  readonly events: TopicEvent[];
  /** Every publication announced, in the order announced. */
  publications(): StoredPublication[];
  /** Resolves once `count` publications have been announced (rejects at a safety-net timeout). */
  seen(count: number): Promise<void>;
}

/** Watches `topic` and records every event. */
export function collect(store: TopicStore, topic: string): Collector {
  const events: TopicEvent[] = [];
  const emitter = new EventEmitter();
  const publications = () =>
    events.flatMap((event) => (event.kind === 'publications' ? event.publications : []));
  const watch = store.watch(topic, (event) => {
    events.push(event);
    emitter.emit('event');
  });
  return {
    watch,
    events,
    publications,
    seen: (count) =>
      until(() => publications().length >= count, emitter, 'event', {
        description: `${count} publications announced on ${topic}`,
      }),
  };
}

/** `count` distinct JSON texts, the i-th (from 1) carrying i. */
export function texts(count: number, from = 1, tag = 'p'): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ tag, n: from + i }));
}

function offsets(publications: readonly StoredPublication[]): number[] {
  return publications.map((publication) => publication.offset);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/**
 * Everything any {@link TopicStore} must do, through its interface only: run it for each store
 * with `describeTopicStoreContract('RedisTopicStore', () => new RedisTopicStore(…))`.
 *
 * Each test gets a store from `makeStore`, uses topic names of its own (random, so stores that
 * share a server do not see each other's topics), and closes the store at the end. The store
 * must hold at least 100 publications of a few dozen bytes per topic for a minute, which every
 * store's defaults do. Nothing here uses virtual time: waits are on the store's own events.
 *
 * @param name The store's name, for the test titles.
 * @param makeStore Makes a fresh store (it may be async: connecting to a server).
 */
export function describeTopicStoreContract(
  name: string,
  makeStore: () => TopicStore | Promise<TopicStore>,
): void {
  describe(`${name} (TopicStore contract)`, () => {
    let store: TopicStore;
    let topic: string;
    const fresh = (label = 'topic') => `contract:${label}:${randomUUID()}`;

    beforeEach(async () => {
      store = await makeStore();
      topic = fresh();
    });

    afterEach(async () => {
      await store.close();
    });

    describe('append', () => {
      it('should assign offsets 1, 2, 3 … with no holes across appends, in one epoch', async () => {
        const first = await store.append(topic, texts(1));
        const second = await store.append(topic, texts(2, 2));
        const third = await store.append(topic, texts(1, 4));

        expect(first).toEqual({ epoch: first.epoch, first: 1, last: 1 });
        expect(second).toEqual({ epoch: first.epoch, first: 2, last: 3 });
        expect(third).toEqual({ epoch: first.epoch, first: 4, last: 4 });
        expect(typeof first.epoch).toBe('string');
        expect(first.epoch.length).toBeGreaterThan(0);
      });

      it('should number each topic on its own', async () => {
        const other = fresh('other');
        await store.append(topic, texts(3));
        const otherResult = await store.append(other, texts(1));
        const again = await store.append(topic, texts(1, 4));

        expect([otherResult.first, otherResult.last]).toEqual([1, 1]);
        expect([again.first, again.last]).toEqual([4, 4]);
      });

      it('should give concurrent appends distinct, contiguous offsets', async () => {
        const sizes = [1, 3, 1, 2, 1, 1, 4, 1, 2, 1];
        const results = await Promise.all(
          sizes.map((size, i) => store.append(topic, texts(size, 1, `batch${i}`))),
        );
        const given = results
          .flatMap(({ first, last }) => range(first, last))
          .sort((a, b) => a - b);

        expect(given).toEqual(range(1, 17));
        results.forEach(({ first, last }, i) => expect(last - first + 1).toBe(sizes[i]));
        expect(new Set(results.map((result) => result.epoch)).size).toBe(1);
      });

      it('should keep data exactly as given', async () => {
        const data = [
          JSON.stringify({ text: 'héllo wörld 👋', quote: '"\\', separators: '\u2028\u2029' }),
          '{"raw":"\\n is escaped, not a newline"}',
          '42',
        ];
        await store.append(topic, data);
        const page = await store.read(topic, 0, 10);
        expect(page.publications).toEqual(data.map((text, i) => ({ offset: i + 1, data: text })));
      });
    });

    describe('read', () => {
      it('should return the publications after an offset, oldest first, at most limit', async () => {
        const data = texts(5);
        const { epoch } = await store.append(topic, data);

        const all = await store.read(topic, 0, 10);
        expect(all).toEqual({
          epoch,
          top: 5,
          oldest: 1,
          publications: data.map((text, i) => ({ offset: i + 1, data: text })),
        });
        expect(offsets((await store.read(topic, 2, 2)).publications)).toEqual([3, 4]);
        expect(offsets((await store.read(topic, 4, 10)).publications)).toEqual([5]);
      });

      it('should return no publication after the top, with the position', async () => {
        const { epoch } = await store.append(topic, texts(3));
        expect(await store.read(topic, 3, 10)).toEqual({
          epoch,
          top: 3,
          oldest: 1,
          publications: [],
        });
        expect(await store.read(topic, 9, 10)).toEqual({
          epoch,
          top: 3,
          oldest: 1,
          publications: [],
        });
      });

      it('should return only the position with limit 0', async () => {
        const { epoch } = await store.append(topic, texts(4));
        expect(await store.read(topic, 0, 0)).toEqual({
          epoch,
          top: 4,
          oldest: 1,
          publications: [],
        });
      });

      it('should page through a history with no hole', async () => {
        for (let i = 0; i < 10; i++) await store.append(topic, texts(10, i * 10 + 1));
        const read: StoredPublication[] = [];
        let after = 0;
        for (let pages = 0; pages < 20; pages++) {
          const page = await store.read(topic, after, 7);
          if (page.publications.length === 0) break;
          read.push(...page.publications);
          after = page.publications[page.publications.length - 1].offset;
        }
        expect(offsets(read)).toEqual(range(1, 100));
        expect(read.map((publication) => publication.data)).toEqual(texts(100));
      });

      it('should give a topic never published a position, and keep its epoch for the first publication', async () => {
        const empty = await store.read(topic, 0, 10);
        expect(empty).toEqual({ epoch: empty.epoch, top: 0, oldest: 1, publications: [] });
        expect(empty.epoch.length).toBeGreaterThan(0);
        expect((await store.read(topic, 0, 0)).epoch).toBe(empty.epoch);

        const appended = await store.append(topic, texts(1));
        expect(appended).toEqual({ epoch: empty.epoch, first: 1, last: 1 });
      });

      it('should give different topics different epochs', async () => {
        const a = await store.append(topic, texts(1));
        const b = await store.append(fresh('other'), texts(1));
        expect(a.epoch).not.toBe(b.epoch);
      });
    });

    describe('watch', () => {
      it('should announce every publication appended after ready, in order, with the epoch', async () => {
        const watcher = collect(store, topic);
        await watcher.watch.ready;
        const { epoch } = await store.append(topic, texts(1));
        await store.append(topic, texts(2, 2));
        await store.append(topic, texts(1, 4));
        await watcher.seen(4);

        expect(offsets(watcher.publications())).toEqual([1, 2, 3, 4]);
        expect(watcher.publications().map((p) => p.data)).toEqual(texts(4));
        for (const event of watcher.events) {
          expect(event).toMatchObject({ kind: 'publications', epoch });
        }
        watcher.watch.close();
      });

      it('should announce concurrent appends in offset order', async () => {
        const watcher = collect(store, topic);
        await watcher.watch.ready;
        await Promise.all(
          range(1, 20).map((i) => store.append(topic, texts(i % 3 === 0 ? 2 : 1, i))),
        );
        await watcher.seen(26);

        expect(offsets(watcher.publications())).toEqual(range(1, 26));
        watcher.watch.close();
      });

      it('should announce to every watcher of the topic, and only of that topic', async () => {
        const first = collect(store, topic);
        const second = collect(store, topic);
        const elsewhere = collect(store, fresh('elsewhere'));
        await Promise.all([first.watch.ready, second.watch.ready, elsewhere.watch.ready]);
        await store.append(topic, texts(3));
        await Promise.all([first.seen(3), second.seen(3)]);

        expect(offsets(first.publications())).toEqual([1, 2, 3]);
        expect(offsets(second.publications())).toEqual([1, 2, 3]);
        expect(elsewhere.events).toEqual([]);
        for (const watcher of [first, second, elsewhere]) watcher.watch.close();
      });

      it('should not announce what was appended before the watch', async () => {
        await store.append(topic, texts(2));
        const watcher = collect(store, topic);
        await watcher.watch.ready;
        await store.append(topic, texts(1, 3));
        await watcher.seen(1);

        expect(offsets(watcher.publications())).toEqual([3]);
        watcher.watch.close();
      });

      it('should stop announcing once closed, and take close twice', async () => {
        const closed = collect(store, topic);
        const open = collect(store, topic);
        await Promise.all([closed.watch.ready, open.watch.ready]);
        await store.append(topic, texts(1));
        await Promise.all([closed.seen(1), open.seen(1)]);

        closed.watch.close();
        closed.watch.close();
        await store.append(topic, texts(2, 2));
        await open.seen(3);

        expect(offsets(closed.publications())).toEqual([1]);
        expect(offsets(open.publications())).toEqual([1, 2, 3]);
        open.watch.close();
      });

      it('should keep announcing to a watch of a topic read while empty', async () => {
        const watcher = collect(store, topic);
        await watcher.watch.ready;
        const position = await store.read(topic, 0, 0);
        const appended = await store.append(topic, texts(1));
        await watcher.seen(1);

        expect(appended.epoch).toBe(position.epoch);
        expect(watcher.events).toEqual([
          {
            kind: 'publications',
            epoch: position.epoch,
            publications: [{ offset: 1, data: texts(1)[0] }],
          },
        ]);
        watcher.watch.close();
      });
    });

    describe('invalid input', () => {
      const listener = () => undefined;

      it('should refuse a topic name that is empty, too long or not a string', async () => {
        await expect(store.append('', texts(1))).rejects.toThrow(TypeError);
        await expect(store.append('x'.repeat(257), texts(1))).rejects.toThrow(TypeError);
        await expect(store.append(42 as unknown as string, texts(1))).rejects.toThrow(TypeError);
        await expect(store.read('', 0, 1)).rejects.toThrow(TypeError);
        expect(() => store.watch('', listener)).toThrow(TypeError);

        const longest = `${topic}:`.padEnd(256, 'x');
        await expect(store.append(longest, texts(1))).resolves.toMatchObject({ first: 1 });
      });

      it('should refuse data that is not a non-empty array of one-line strings, and keep nothing', async () => {
        const bad: unknown[] = [
          [],
          ['{"a":\n1}'],
          [''],
          [42],
          'not an array',
          [texts(1)[0], 'two\nlines'],
        ];
        for (const data of bad) {
          await expect(store.append(topic, data as string[])).rejects.toThrow(TypeError);
        }
        expect(await store.read(topic, 0, 10)).toMatchObject({ top: 0, publications: [] });
      });

      it('should refuse an after or limit that is not a non-negative integer', async () => {
        await expect(store.read(topic, -1, 1)).rejects.toThrow(RangeError);
        await expect(store.read(topic, 1.5, 1)).rejects.toThrow(RangeError);
        await expect(store.read(topic, 0, -1)).rejects.toThrow(RangeError);
        await expect(store.read(topic, 0, Infinity)).rejects.toThrow(RangeError);
        await expect(store.read(topic, '0' as unknown as number, 1)).rejects.toThrow(TypeError);
      });
    });

    describe('close', () => {
      it('should be idempotent, and refuse work after it', async () => {
        await store.close();
        await store.close();
        await expect(store.append(topic, texts(1))).rejects.toThrow();
        await expect(store.read(topic, 0, 1)).rejects.toThrow();
        expect(() => store.watch(topic, () => undefined)).toThrow();
      });
    });
  });
}
