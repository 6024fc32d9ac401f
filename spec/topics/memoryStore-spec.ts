import fc from 'fast-check';
import {
  defer,
  EMPTY,
  expand,
  mergeMap,
  Observable,
  Subscription,
  VirtualAction,
  VirtualTimeScheduler,
} from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import { catchUp, OffsetGapError } from '../../operators/catchUp.js';
import { MemoryTopicStore, PUBLICATION_OVERHEAD_BYTES } from '../../src/topics/index.js';
import type { StoredPublication, TopicEvent, TopicStore } from '../../src/topics/index.js';
import { collect, describeTopicStoreContract, texts } from './storeContract.js';

describeTopicStoreContract('MemoryTopicStore', () => new MemoryTopicStore());

/** A scheduler whose clock moves only when told to, running what falls due on the way. */
function virtualClock() {
  const scheduler = new VirtualTimeScheduler(VirtualAction, 0);
  return {
    scheduler,
    advance(ms: number): void {
      const target = scheduler.frame + ms;
      scheduler.maxFrames = target;
      scheduler.flush();
      scheduler.frame = target;
    },
    /** Actions waiting to run: the store's timer, if it is set. */
    pending: () => scheduler.actions.length,
  };
}

/** A clock that only tells the time: its timers never fire, so only lazy trimming can act. */
function manualClock() {
  let time = 0;
  const scheduler: SchedulerLike = {
    now: () => time,
    schedule: () => new Subscription(),
  };
  return { scheduler, advance: (ms: number) => (time += ms) };
}

describe('MemoryTopicStore', () => {
  const stores: MemoryTopicStore[] = [];
  function makeStore(options: ConstructorParameters<typeof MemoryTopicStore>[0] = {}) {
    const store = new MemoryTopicStore(options);
    stores.push(store);
    return store;
  }

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  describe('options', () => {
    it.each([
      ['maxPublications', -1],
      ['maxPublications', 1.5],
      ['maxBytes', -1],
      ['maxTopics', 0],
      ['maxTotalBytes', NaN],
      ['maxAgeMs', 0],
      ['maxAgeMs', Infinity],
      ['maxAgeMs', 2 ** 31],
      ['maxTopicLength', 0],
    ])('should throw a RangeError for %s %p', (name, value) => {
      expect(() => new MemoryTopicStore({ [name]: value })).toThrow(RangeError);
    });

    it('should accept no history at all, and Infinity for the counts', () => {
      expect(() => new MemoryTopicStore({ maxPublications: 0, maxBytes: 0 })).not.toThrow();
      expect(
        () => new MemoryTopicStore({ maxPublications: Infinity, maxTotalBytes: Infinity }),
      ).not.toThrow();
    });

    it('should take topic names up to maxTopicLength', async () => {
      const store = makeStore({ maxTopicLength: 8 });
      await expect(store.append('12345678', texts(1))).resolves.toMatchObject({ first: 1 });
      await expect(store.append('123456789', texts(1))).rejects.toThrow(TypeError);
    });
  });

  describe('epochs', () => {
    it('should differ between two stores, as between two processes', async () => {
      const a = await makeStore().append('room:lobby', texts(1));
      const b = await makeStore().append('room:lobby', texts(1));
      expect(a.epoch).not.toBe(b.epoch);
    });

    it('should give a topic forgotten and published to again a new epoch, from offset 1', async () => {
      const clock = virtualClock();
      const store = makeStore({ maxAgeMs: 1_000, scheduler: clock.scheduler });
      const old = await store.append('session:42', texts(500));
      clock.advance(1_000);

      const reborn = await store.append('session:42', texts(3));
      expect(reborn.epoch).not.toBe(old.epoch);
      expect([reborn.first, reborn.last]).toEqual([1, 3]);
      // A client holding (old.epoch, 500) compares epochs: its offset means nothing here.
      expect(await store.read('session:42', 0, 0)).toMatchObject({ epoch: reborn.epoch, top: 3 });
    });
  });

  describe('announcements', () => {
    it('should announce synchronously, before the append resolves', () => {
      const store = makeStore();
      const seen: number[] = [];
      store.watch('t', (event) => {
        if (event.kind === 'publications') seen.push(...event.publications.map((p) => p.offset));
      });
      void store.append('t', texts(2));
      expect(seen).toEqual([1, 2]);
    });

    it('should resolve ready at once', async () => {
      const store = makeStore();
      let ready = false;
      void store.watch('t', () => undefined).ready.then(() => (ready = true));
      await Promise.resolve();
      expect(ready).toBe(true);
    });

    it('should announce an append made from inside a listener after every watcher saw the current one', () => {
      const store = makeStore();
      const log: string[] = [];
      const record = (who: string) => (event: TopicEvent) => {
        if (event.kind !== 'publications') return;
        for (const { offset } of event.publications) log.push(`${who}:${offset}`);
      };
      store.watch('t', (event) => {
        record('echo')(event);
        if (event.kind === 'publications' && event.publications[0].offset === 1) {
          void store.append('t', texts(1, 2));
        }
      });
      store.watch('t', record('other'));

      void store.append('t', texts(1));
      expect(log).toEqual(['echo:1', 'other:1', 'echo:2', 'other:2']);
    });

    it('should not announce to a watcher added from inside a listener what was appended before it', () => {
      const store = makeStore();
      const late: number[] = [];
      store.watch('t', (event) => {
        if (event.kind === 'publications' && event.publications[0].offset === 1) {
          store.watch('t', (e) => {
            if (e.kind === 'publications') late.push(...e.publications.map((p) => p.offset));
          });
        }
      });
      void store.append('t', texts(1));
      void store.append('t', texts(1, 2));
      expect(late).toEqual([2]);
    });

    it('should stop a watch closed from inside a listener before its next event', () => {
      const store = makeStore();
      const seen: number[] = [];
      const watch = store.watch('t', (event) => {
        if (event.kind !== 'publications') return;
        seen.push(event.publications[0].offset);
        watch.close();
      });
      void store.append('t', texts(1));
      void store.append('t', texts(1, 2));
      expect(seen).toEqual([1]);
    });

    it('should report a throwing listener and still announce to the others and resolve', async () => {
      const errors: Array<[unknown, string]> = [];
      const store = makeStore({ onListenerError: (error, topic) => errors.push([error, topic]) });
      const failure = new Error('listener bug');
      const seen: number[] = [];
      store.watch('t', () => {
        throw failure;
      });
      store.watch('t', (event) => {
        if (event.kind === 'publications') seen.push(event.publications[0].offset);
      });

      await expect(store.append('t', texts(1))).resolves.toMatchObject({ first: 1 });
      expect(seen).toEqual([1]);
      expect(errors).toEqual([[failure, 't']]);
    });

    it('should rethrow a listener error out of band when there is no onListenerError', async () => {
      const queued: Array<() => void> = [];
      const spy = jest.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
        queued.push(task);
      });
      try {
        const store = makeStore();
        const failure = new Error('listener bug');
        store.watch('t', () => {
          throw failure;
        });
        await expect(store.append('t', texts(1))).resolves.toMatchObject({ first: 1 });
        expect(queued).toHaveLength(1);
        expect(() => queued[0]()).toThrow(failure);
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe('history bounds', () => {
    it('should keep the newest maxPublications', async () => {
      const store = makeStore({ maxPublications: 3 });
      await store.append('t', texts(2));
      await store.append('t', texts(3, 3));
      const page = await store.read('t', 0, 10);
      expect(page).toMatchObject({ top: 5, oldest: 3 });
      expect(page.publications).toEqual([
        { offset: 3, data: texts(1, 3)[0] },
        { offset: 4, data: texts(1, 4)[0] },
        { offset: 5, data: texts(1, 5)[0] },
      ]);
    });

    it('should keep at most maxBytes of data, counted in UTF-8', async () => {
      // "é" is two bytes in UTF-8: each of these is 6 bytes, though 4 characters.
      const store = makeStore({ maxBytes: 12 });
      await store.append('t', ['"éé"', '"éé"', '"éé"']);
      expect(await store.read('t', 0, 10)).toMatchObject({ top: 3, oldest: 2 });
      await store.append('t', ['"a"']);
      // 6 + 6 + 3 = 15 > 12: the oldest goes; 6 + 3 = 9 fits.
      expect(await store.read('t', 0, 10)).toMatchObject({ top: 4, oldest: 3 });
    });

    it('should announce a publication larger than maxBytes but not keep it', async () => {
      const store = makeStore({ maxBytes: 4 });
      const watcher = collect(store, 't');
      await store.append('t', ['"too long"']);
      expect(watcher.publications()).toEqual([{ offset: 1, data: '"too long"' }]);
      expect(await store.read('t', 0, 10)).toMatchObject({ top: 1, oldest: 2, publications: [] });
    });

    it('should keep a publication for maxAgeMs, trimmed when read', async () => {
      const clock = manualClock();
      const store = makeStore({ maxAgeMs: 1_000, scheduler: clock.scheduler });
      const watch = store.watch('t', () => undefined);
      await store.append('t', ['"a"']);
      clock.advance(600);
      await store.append('t', ['"b"']);

      clock.advance(399); // 999: a is 999 ms old
      expect(await store.read('t', 0, 10)).toMatchObject({ top: 2, oldest: 1 });
      clock.advance(1); // 1,000: a has had its time
      expect(await store.read('t', 0, 10)).toMatchObject({
        top: 2,
        oldest: 2,
        publications: [{ offset: 2, data: '"b"' }],
      });
      clock.advance(600);
      expect(await store.read('t', 0, 10)).toMatchObject({ top: 2, oldest: 3, publications: [] });
      watch.close();
    });

    it('should trim by age when appending too', async () => {
      const clock = manualClock();
      const store = makeStore({ maxAgeMs: 1_000, scheduler: clock.scheduler });
      const watch = store.watch('t', () => undefined);
      await store.append('t', texts(3));
      clock.advance(1_000);
      await store.append('t', texts(1, 4));
      // What the histories hold shows the trim without a read.
      expect(store.bytes).toBe(Buffer.byteLength(texts(1, 4)[0]) + PUBLICATION_OVERHEAD_BYTES);
      watch.close();
    });
  });

  describe('topic lifetime', () => {
    it('should forget a topic nobody watches maxAgeMs after its last publication', async () => {
      const clock = virtualClock();
      const store = makeStore({ maxAgeMs: 1_000, scheduler: clock.scheduler });
      const { epoch } = await store.append('t', texts(2));
      clock.advance(500);
      await store.append('t', texts(1, 3));

      clock.advance(999);
      // Reading does not make it younger.
      // Offsets 1 and 2 have had their time; 3, appended at 500, is 999 ms old.
      expect(await store.read('t', 0, 0)).toEqual({ epoch, top: 3, oldest: 3, publications: [] });
      clock.advance(1);
      const reborn = await store.read('t', 0, 0);
      expect(reborn.epoch).not.toBe(epoch);
      expect(reborn).toMatchObject({ top: 0, oldest: 1 });
    });

    it('should never forget a watched topic, and count its idle time from the last watcher leaving', async () => {
      const clock = virtualClock();
      const store = makeStore({ maxAgeMs: 1_000, scheduler: clock.scheduler });
      const first = store.watch('t', () => undefined);
      const second = store.watch('t', () => undefined);
      const { epoch } = await store.append('t', texts(1));

      clock.advance(10_000);
      expect(await store.read('t', 0, 0)).toEqual({ epoch, top: 1, oldest: 2, publications: [] });
      first.close();
      clock.advance(10_000);
      expect((await store.read('t', 0, 0)).epoch).toBe(epoch);
      second.close();
      clock.advance(999);
      expect((await store.read('t', 0, 0)).epoch).toBe(epoch);
      clock.advance(1);
      expect((await store.read('t', 0, 0)).epoch).not.toBe(epoch);
    });

    it('should forget expired topics with its one timer, and stop it when nothing can expire', async () => {
      const clock = virtualClock();
      const store = makeStore({ maxAgeMs: 1_000, scheduler: clock.scheduler });
      expect(clock.pending()).toBe(0);
      await store.append('a', texts(3));
      await store.append('b', texts(3));
      await store.read('never-published', 0, 0);
      expect(clock.pending()).toBe(1);
      expect(store.size).toBe(3);
      expect(store.bytes).toBeGreaterThan(0);

      clock.advance(2_000);
      expect(store.size).toBe(0);
      expect(store.bytes).toBe(0);
      expect(clock.pending()).toBe(0);
    });

    it('should keep no timer for watched topics with no history', () => {
      const clock = virtualClock();
      const store = makeStore({ scheduler: clock.scheduler });
      store.watch('t', () => undefined);
      expect(clock.pending()).toBe(0);
    });

    it('should age in virtual time as its documentation shows', async () => {
      const scheduler = new VirtualTimeScheduler(VirtualAction, 0);
      const store = makeStore({ maxAgeMs: 1_000, scheduler });

      await store.append('room:lobby', ['{"text":"hi"}']);
      scheduler.maxFrames = 1_000;
      scheduler.flush();
      scheduler.frame = 1_000;
      expect((await store.read('room:lobby', 0, 10)).publications).toEqual([]);
      expect(store.bytes).toBe(0);
    });

    it('should cancel its timer on close', async () => {
      const clock = virtualClock();
      const store = makeStore({ maxAgeMs: 1_000, scheduler: clock.scheduler });
      await store.append('t', texts(1));
      expect(clock.pending()).toBe(1);
      await store.close();
      expect(clock.pending()).toBe(0);
      expect(store.size).toBe(0);
    });
  });

  describe('total bounds', () => {
    it('should hold at most maxTopics topics nobody watches, forgetting the one idle longest', async () => {
      const store = makeStore({ maxTopics: 2 });
      const a = await store.append('a', texts(1));
      const b = await store.append('b', texts(1));
      await store.append('a', texts(1, 2)); // a is now the more recent
      await store.append('c', texts(1));

      expect(store.size).toBe(2);
      expect((await store.read('a', 0, 0)).epoch).toBe(a.epoch);
      // Reading b created a new, empty incarnation.
      expect(await store.read('b', 0, 0)).toMatchObject({ top: 0 });
      expect((await store.read('b', 0, 0)).epoch).not.toBe(b.epoch);
    });

    it('should forget topics only read (never published) before published ones', async () => {
      const store = makeStore({ maxTopics: 3 });
      const published = await store.append('inbox', texts(1));
      for (let i = 0; i < 100; i++) await store.read(`random:${i}`, 0, 0);

      expect(store.size).toBe(3);
      expect(await store.read('inbox', 0, 10)).toMatchObject({ epoch: published.epoch, top: 1 });
    });

    it('should not count watched topics against maxTopics', async () => {
      const store = makeStore({ maxTopics: 1 });
      const watches = ['w1', 'w2', 'w3'].map((topic) => store.watch(topic, () => undefined));
      const epochs = await Promise.all(
        ['w1', 'w2', 'w3'].map(async (topic) => (await store.append(topic, texts(1))).epoch),
      );
      await store.append('idle1', texts(1));
      await store.append('idle2', texts(1));

      expect(store.size).toBe(4);
      for (const [i, topic] of ['w1', 'w2', 'w3'].entries()) {
        expect((await store.read(topic, 0, 0)).epoch).toBe(epochs[i]);
      }
      watches.forEach((watch) => watch.close());
      // Now idle, they are held to maxTopics too.
      expect(store.size).toBe(1);
    });

    it('should stay within maxTotalBytes, forgetting idle topics first', async () => {
      const cost = Buffer.byteLength(texts(1)[0]) + PUBLICATION_OVERHEAD_BYTES;
      const store = makeStore({ maxTotalBytes: 3 * cost });
      const a = await store.append('a', texts(1));
      const b = await store.append('b', texts(1));
      await store.append('c', texts(2));

      expect(store.bytes).toBe(3 * cost);
      expect((await store.read('a', 0, 0)).epoch).not.toBe(a.epoch);
      expect(await store.read('b', 0, 10)).toMatchObject({ epoch: b.epoch, top: 1, oldest: 1 });
    });

    it('should trim the appended topic itself when every other topic is watched', async () => {
      const cost = Buffer.byteLength(texts(1)[0]) + PUBLICATION_OVERHEAD_BYTES;
      const store = makeStore({ maxTotalBytes: 4 * cost });
      store.watch('a', () => undefined);
      store.watch('b', () => undefined);
      await store.append('a', texts(2));
      await store.append('b', texts(3));

      expect(store.bytes).toBe(4 * cost);
      expect(await store.read('a', 0, 0)).toMatchObject({ top: 2, oldest: 1 });
      expect(await store.read('b', 0, 0)).toMatchObject({ top: 3, oldest: 2 });
    });
  });

  describe('with catchUp', () => {
    /** The docs' example: a watch as the live source, and a paging history reader. */
    function live(store: TopicStore, topic: string): Observable<StoredPublication> {
      return new Observable<StoredPublication>((subscriber) => {
        const watch = store.watch(topic, (event) => {
          if (event.kind === 'publications') event.publications.forEach((p) => subscriber.next(p));
          else subscriber.error(new Error(`topic ${topic}: ${event.kind}`));
        });
        return () => watch.close();
      });
    }

    function history(store: TopicStore, topic: string, after: number) {
      const read = (from: number) => defer(() => store.read(topic, from, 500));
      return read(after).pipe(
        expand((page) => {
          const last = page.publications.at(-1)?.offset;
          return last !== undefined && last < page.top ? read(last) : EMPTY;
        }),
        mergeMap((page) => page.publications),
      );
    }

    it('should resume after an offset with no hole and no duplicate while publications go on', async () => {
      const store = makeStore({ maxPublications: 5_000 });
      for (let i = 0; i < 12; i++) await store.append('room', texts(100, i * 100 + 1));
      const seen: number[] = [];
      let subscription: Subscription | undefined;
      const caughtUp = new Promise<number>((resolve, reject) => {
        subscription = live(store, 'room')
          .pipe(
            catchUp(41, (after) => history(store, 'room', after), {
              offsetOf: (publication) => publication.offset,
              onCaughtUp: resolve,
            }),
          )
          .subscribe({ next: (publication) => seen.push(publication.offset), error: reject });
      });

      // Published while the pages are read: held live, and read again by the later pages.
      for (let i = 0; i < 30; i++) {
        await store.append('room', texts(10, 1201 + i * 10));
      }
      expect(await caughtUp).toBeGreaterThan(1200);
      await store.append('room', texts(1, 1501));
      subscription?.unsubscribe();

      expect(seen).toEqual(Array.from({ length: 1501 - 41 }, (_, i) => 42 + i));
    });

    it('should report a resume from a position the history no longer holds as a gap', async () => {
      const store = makeStore({ maxPublications: 10 });
      await store.append('room', texts(50));
      const error = await new Promise<unknown>((resolve) => {
        live(store, 'room')
          .pipe(
            catchUp(3, (after) => history(store, 'room', after), {
              offsetOf: (publication) => publication.offset,
            }),
          )
          .subscribe({ error: resolve, complete: () => resolve('completed') });
      });

      expect(error).toBeInstanceOf(OffsetGapError);
      expect(error).toMatchObject({ after: 3, next: 41 });
    });
  });

  describe('properties', () => {
    type Step =
      | { kind: 'append'; topic: number; count: number; size: number }
      | { kind: 'read'; topic: number; after: number; limit: number }
      | { kind: 'advance'; ms: number }
      | { kind: 'watch'; topic: number }
      | { kind: 'unwatch'; topic: number };

    const topicArb = fc.integer({ min: 0, max: 3 });
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('append' as const),
          topic: topicArb,
          count: fc.integer({ min: 1, max: 4 }),
          size: fc.integer({ min: 0, max: 12 }),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('read' as const),
          topic: topicArb,
          after: fc.integer({ min: 0, max: 20 }),
          limit: fc.integer({ min: 0, max: 6 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('advance' as const),
          ms: fc.integer({ min: 0, max: 150 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('watch' as const), topic: topicArb }) },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('unwatch' as const), topic: topicArb }),
      },
    );

    it('should read contiguous publications and never reuse an offset within an epoch', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { maxLength: 60 }), async (steps) => {
          const clock = virtualClock();
          const maxPublications = 5;
          const listenerErrors: unknown[] = [];
          const store = new MemoryTopicStore({
            onListenerError: (error) => listenerErrors.push(error),
            maxPublications,
            maxBytes: 60,
            maxAgeMs: 100,
            maxTopics: 2,
            maxTotalBytes: 8 * (10 + PUBLICATION_OVERHEAD_BYTES),
            scheduler: clock.scheduler,
          });
          // What every (epoch, offset) was given, whoever reports it.
          const published = new Map<string, Map<number, string>>();
          const epochsOf = new Map<string, string[]>();
          const watches = new Map<string, { close(): void }>();
          const announced: Array<{ epoch: string; publication: StoredPublication }> = [];
          let serial = 0;

          const check = (epoch: string, publication: StoredPublication) => {
            const known = published.get(epoch)?.get(publication.offset);
            expect(known).toBe(publication.data);
          };
          const noteEpoch = (topic: string, epoch: string) => {
            const seen = epochsOf.get(topic) ?? [];
            if (seen.at(-1) !== epoch) {
              // A new incarnation: its epoch was never used before, by any topic.
              for (const list of epochsOf.values()) expect(list).not.toContain(epoch);
              seen.push(epoch);
              epochsOf.set(topic, seen);
            }
          };

          for (const step of steps) {
            const topic = 'topic' in step ? `t${step.topic}` : '';
            if (step.kind === 'append') {
              const data = Array.from({ length: step.count }, () =>
                JSON.stringify(`${++serial}`.padEnd(step.size, '.')),
              );
              const result = await store.append(topic, data);
              noteEpoch(topic, result.epoch);
              const byOffset = published.get(result.epoch) ?? new Map<number, string>();
              const previousTop = Math.max(0, ...byOffset.keys());
              expect(result.first).toBe(previousTop + 1);
              expect(result.last).toBe(result.first + data.length - 1);
              data.forEach((text, i) => {
                expect(byOffset.has(result.first + i)).toBe(false);
                byOffset.set(result.first + i, text);
              });
              published.set(result.epoch, byOffset);
            } else if (step.kind === 'read') {
              const page = await store.read(topic, step.after, step.limit);
              noteEpoch(topic, page.epoch);
              const byOffset = published.get(page.epoch) ?? new Map<number, string>();
              expect(page.top).toBe(Math.max(0, ...byOffset.keys()));
              expect(page.oldest).toBeGreaterThanOrEqual(1);
              expect(page.oldest).toBeLessThanOrEqual(page.top + 1);
              expect(page.top - page.oldest + 1).toBeLessThanOrEqual(maxPublications);
              // Everything held after `after`, up to `limit`, contiguous.
              const from = Math.max(step.after + 1, page.oldest);
              const expected = Math.max(0, Math.min(step.limit, page.top - from + 1));
              expect(page.publications.map((p) => p.offset)).toEqual(
                Array.from({ length: expected }, (_, i) => from + i),
              );
              for (const publication of page.publications) check(page.epoch, publication);
            } else if (step.kind === 'advance') {
              clock.advance(step.ms);
            } else if (step.kind === 'watch' && !watches.has(topic)) {
              const watched: Array<{ epoch: string; publication: StoredPublication }> = [];
              watches.set(
                topic,
                store.watch(topic, (event) => {
                  if (event.kind !== 'publications') throw new Error(`unexpected ${event.kind}`);
                  const { epoch } = event;
                  for (const publication of event.publications) {
                    const last = watched.at(-1);
                    // A watched topic is never forgotten: one epoch, offsets one apart.
                    if (last)
                      expect(last).toMatchObject({
                        epoch,
                        publication: { offset: publication.offset - 1 },
                      });
                    watched.push({ epoch, publication });
                    announced.push({ epoch, publication });
                  }
                }),
              );
            } else if (step.kind === 'unwatch') {
              watches.get(topic)?.close();
              watches.delete(topic);
            }
            // Announced during the step, checked once the step has recorded what it appended.
            for (const { epoch, publication } of announced.splice(0)) check(epoch, publication);
            expect(store.bytes).toBeLessThanOrEqual(8 * (10 + PUBLICATION_OVERHEAD_BYTES));
          }
          await store.close();
          expect(listenerErrors).toEqual([]);
          expect(clock.pending()).toBe(0);
        }),
        { numRuns: 300 },
      );
    });
  });
});
