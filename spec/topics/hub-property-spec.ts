import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { filter, firstValueFrom } from 'rxjs';
import { OutboxClient } from '../../src/client/index.js';
import { MemoryTopicStore } from '../../src/index.js';
import { until } from '../helpers/until.js';
import { TopicServer, WebSocket } from './topicServer.js';

type Step =
  | { readonly kind: 'publish'; readonly count: number }
  | { readonly kind: 'drop' }
  | { readonly kind: 'turns'; readonly count: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('publish' as const),
      count: fc.integer({ min: 1, max: 120 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'drop' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('turns' as const),
      count: fc.integer({ min: 1, max: 20 }),
    }),
  },
);

/** What the application saw of the topic: publications, and recoveries between them. */
type Seen = { readonly n: number } | { readonly recovered: number };

describe('topics, end to end (property)', () => {
  it('should give the application the exact sequence, or a prefix, a recovered:false and an exact continuation; never a duplicate or a hole', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          history: fc.integer({ min: 10, max: 400 }),
          capacity: fc.integer({ min: 2, max: 64 }),
          highWaterMark: fc.integer({ min: 1, max: 20_000 }),
          maxReplay: fc.integer({ min: 5, max: 500 }),
          coalesceMs: fc.integer({ min: 0, max: 5 }),
        }),
        fc.array(step, { minLength: 1, maxLength: 12 }),
        async (settings, steps) => {
          const store = new MemoryTopicStore({ maxPublications: settings.history });
          const server = await new TopicServer({
            store,
            topics: { maxReplay: settings.maxReplay },
            outbox: {
              capacity: settings.capacity,
              highWaterMark: settings.highWaterMark,
              coalesceMs: settings.coalesceMs,
              maxBatch: 32,
            },
          }).start();
          const client = new OutboxClient(server.url, {
            WebSocket: WebSocket as never,
            reconnect: { initialDelayMs: 1, maxDelayMs: 5, jitter: 0 },
          });
          const seen: Seen[] = [];
          const events = new EventEmitter();
          try {
            const answered = firstValueFrom(
              client.messages$.pipe(filter((m) => (m as { type?: string }).type === 'subscribed')),
            );
            client.recoveries$.subscribe(({ position }) => {
              seen.push({ recovered: position.offset });
              events.emit('seen');
            });
            client.subscribe<{ n: number }>('room:p').subscribe(({ n }) => {
              seen.push({ n });
              events.emit('seen');
            });
            await answered;

            let published = 0;
            for (const { kind, ...rest } of steps) {
              if (kind === 'publish') {
                const { count } = rest as { count: number };
                for (let i = 0; i < count; i++)
                  void server.manager.publish('room:p', { n: ++published });
              } else if (kind === 'drop') {
                server.dropAll();
              } else {
                for (let i = 0; i < (rest as { count: number }).count; i++) {
                  await new Promise((resolve) => setImmediate(resolve));
                }
              }
            }
            // The last publication marks the end: the application gets it, or a recovery past it.
            const last = ++published;
            void server.manager.publish('room:p', { n: last });
            await until(
              () => seen.some((item) => ('n' in item ? item.n : item.recovered) >= last),
              events,
              'seen',
              { description: `publication ${last}, or a recovery past it`, timeoutMs: 20_000 },
            );

            // Segments of consecutive publications, each after its start: 0, or a recovery's.
            let expected = 1;
            for (const item of seen) {
              if ('recovered' in item) {
                expect(item.recovered).toBeGreaterThanOrEqual(expected - 1);
                expected = item.recovered + 1;
              } else {
                expect(item.n).toBe(expected);
                expected++;
              }
            }
          } finally {
            client.close();
            await server.close();
            await store.close();
          }
        },
      ),
      { numRuns: 100 },
    );
  }, 180_000);
});
