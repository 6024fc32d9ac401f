import fc from 'fast-check';
import { TestScheduler } from 'rxjs/testing';
import { OutboxClient } from '../../src/client/index.js';
import type { TopicPosition, TopicRecovery } from '../../src/client/index.js';
import { fakeWebSocket } from './fakeSocket.js';
import type { FakeSocket } from './fakeSocket.js';

/** What a publication carries here: where it is, so the application can check the sequence. */
interface Stamp {
  readonly epoch: string;
  readonly offset: number;
}

type Fault = 'none' | 'duplicate' | 'gap' | 'silent';

type Action =
  | {
      readonly kind: 'publish';
      readonly topic: string;
      readonly count: number;
      readonly fault: Fault;
    }
  | { readonly kind: 'reconnect' }
  /** The topic's history is lost: a new epoch, starting again from `top`. */
  | { readonly kind: 'reset'; readonly topic: string; readonly top: number }
  /** The history keeps only the last `keep` publications. */
  | { readonly kind: 'trim'; readonly topic: string; readonly keep: number };

const SUBSCRIBED = ['room:a', 'room:b'];
const JOINED = 'session:s';
const TOPICS = [...SUBSCRIBED, JOINED];
const STEP_MS = 10;
const REPLY_MS = 1;

/** A small deterministic generator, so that the server's choices replay with the seed. */
function generator(seed: number): (below: number) => number {
  let state = seed >>> 0 || 1;
  return (below) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}

interface ServerTopic {
  epoch: string;
  top: number;
  /** The oldest offset still in history; `top + 1` when it is empty. */
  oldest: number;
}

/**
 * A model of a correct server, but for the faults the actions inject: offsets without holes per
 * epoch, bounded history, `since` answered from history (replays may reach further back than
 * asked), a `gap` when a socket overflows (then nothing live until the client resubscribes),
 * `recovered: false` on an epoch change, `session:s` joined on every connection and resumed from
 * the URL's `resume` parameter.
 */
class ModelServer {
  readonly topics = new Map<string, ServerTopic>();
  /** Every `recovered: false` sent, per topic: the position it announced. */
  readonly notRecovered = new Map<string, Stamp[]>(TOPICS.map((topic) => [topic, []]));
  /**
   * Topics whose last publications were lost without a word and nothing sent since: the client
   * cannot know yet (it will at the next publication or reconnect).
   */
  readonly unnoticed = new Set<string>();
  private socket: FakeSocket | undefined;
  /** Topics the current socket is in, and whether publications go to it live. */
  private readonly live = new Map<string, boolean>();
  private epochs = 0;
  private processAt = 0;

  constructor(
    private readonly scheduler: TestScheduler,
    private readonly random: (below: number) => number,
  ) {
    for (const topic of TOPICS) this.topics.set(topic, { epoch: `${topic}#0`, top: 0, oldest: 1 });
  }

  connected(socket: FakeSocket): void {
    this.socket = socket;
    this.live.clear();
    socket.onSend = (message) =>
      this.received(message as { type: string; topic: string; since?: Stamp });
    const resume = new URL(socket.url).searchParams.get('resume');
    const positions =
      resume === null ? {} : (JSON.parse(resume) as Record<string, [string, number]>);
    const since = positions[JOINED];
    this.answer(JOINED, since === undefined ? undefined : { epoch: since[0], offset: since[1] });
  }

  act(action: Action): void {
    switch (action.kind) {
      case 'publish':
        for (let i = 0; i < action.count; i++) this.publish(action.topic, action.fault);
        break;
      case 'reconnect':
        // The new connection's subscribe (or join) tells the client where the topic stands.
        this.unnoticed.clear();
        this.socket?.drop();
        this.socket = undefined;
        break;
      case 'reset': {
        const topic = this.topics.get(action.topic)!;
        topic.epoch = `${action.topic}#${++this.epochs}`;
        topic.top = action.top;
        topic.oldest = action.top + 1;
        if (this.live.get(action.topic) === true) {
          this.send(this.subscribed(action.topic, { recovered: false, reason: 'epoch' }));
        }
        break;
      }
      case 'trim': {
        const topic = this.topics.get(action.topic)!;
        topic.oldest = Math.max(topic.oldest, topic.top - action.keep + 1);
        break;
      }
    }
  }

  private publish(name: string, fault: Fault): void {
    const topic = this.topics.get(name)!;
    topic.top++;
    if (this.live.get(name) !== true) return;
    if (fault === 'silent') {
      this.unnoticed.add(name); // lost without a word: the client sees a hole at the next one
      return;
    }
    if (fault === 'gap') {
      this.live.set(name, false);
      this.send({ type: 'gap', topic: name, after: topic.top - 1 });
      return;
    }
    this.send(this.pub(name, topic.top));
    if (fault === 'duplicate') {
      const again = topic.top - this.random(3);
      if (again >= topic.oldest) this.send(this.pub(name, again));
    }
  }

  /**
   * Takes the client's messages in order, each after a random while (a slow history read), so
   * that publications, epoch changes and gaps land while the client waits for an answer.
   */
  private received(message: { type: string; topic: string; since?: Stamp }): void {
    const socket = this.socket;
    const now = this.scheduler.now();
    this.processAt = Math.max(this.processAt, now) + this.random(15);
    this.scheduler.schedule(() => {
      if (socket !== this.socket) return;
      if (message.type === 'subscribe') this.answer(message.topic, message.since);
    }, this.processAt - now);
  }

  private answer(name: string, since: Stamp | undefined): void {
    const topic = this.topics.get(name)!;
    this.live.set(name, true);
    if (since === undefined) {
      this.send(this.subscribed(name));
      return;
    }
    if (since.epoch !== topic.epoch) {
      this.send(this.subscribed(name, { recovered: false, reason: 'epoch' }));
      return;
    }
    if (since.offset < topic.oldest - 1) {
      this.send(this.subscribed(name, { recovered: false, reason: 'too_old' }));
      return;
    }
    // Replays may start further back than asked, announced so (`offset` is then the last one
    // before them) or not; the client drops what it has.
    const from = Math.max(topic.oldest, since.offset + 1 - this.random(3));
    const announced = this.random(2) === 0 ? from - 1 : since.offset;
    const replay = [];
    for (let offset = from; offset <= topic.top; offset++) replay.push(this.pub(name, offset));
    this.send(
      {
        type: 'subscribed',
        topic: name,
        epoch: topic.epoch,
        offset: announced,
        recovered: true,
      },
      ...replay,
    );
  }

  private subscribed(name: string, more: object = {}): object {
    const { epoch, top } = this.topics.get(name)!;
    return { type: 'subscribed', topic: name, epoch, offset: top, ...more };
  }

  private pub(name: string, offset: number): object {
    const { epoch } = this.topics.get(name)!;
    return { type: 'pub', topic: name, offset, data: { epoch, offset } };
  }

  /** One frame, delivered a moment later, in order with every other frame of the socket. */
  private send(...lines: object[]): void {
    for (const line of lines as {
      topic: string;
      recovered?: boolean;
      epoch: string;
      offset: number;
    }[]) {
      this.unnoticed.delete(line.topic);
      if (line.recovered === false) {
        this.notRecovered.get(line.topic)!.push({ epoch: line.epoch, offset: line.offset });
      }
    }
    const socket = this.socket;
    this.scheduler.schedule(() => {
      if (socket === this.socket && socket?.readyState === 1) socket.receiveJson(...lines);
    }, REPLY_MS);
  }
}

type Seen = { readonly data: Stamp } | { readonly recovery: TopicRecovery };

/**
 * Checks one topic's log: each publication follows the one before it (or the start, or the last
 * recovery's position) by exactly one offset in the same epoch; each recovery starts from where
 * the application stood. Returns where it ends.
 */
function checkSequence(topic: string, start: Stamp, log: readonly Seen[]): TopicPosition {
  let at: TopicPosition = start;
  for (const seen of log) {
    if ('data' in seen) {
      expect({ topic, data: seen.data }).toEqual({
        topic,
        data: { epoch: at.epoch, offset: at.offset + 1 },
      });
      at = seen.data;
    } else {
      expect(seen.recovery.previous).toEqual(at);
      at = seen.recovery.position;
    }
  }
  return at;
}

describe('OutboxClient topics under random server behaviour (property)', () => {
  const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
    {
      weight: 10,
      arbitrary: fc.record({
        kind: fc.constant('publish' as const),
        topic: fc.constantFrom(...TOPICS),
        count: fc.integer({ min: 1, max: 3 }),
        fault: fc.constantFrom<Fault>('none', 'none', 'none', 'duplicate', 'gap', 'silent'),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'reconnect' as const }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('reset' as const),
        topic: fc.constantFrom(...TOPICS),
        top: fc.integer({ min: 0, max: 3 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('trim' as const),
        topic: fc.constantFrom(...TOPICS),
        keep: fc.integer({ min: 1, max: 8 }),
      }),
    },
  );

  it('should deliver each topic exactly: a sequence, or a prefix, a recovery, a continuation', () => {
    const stats = { recoveries: 0, delivered: 0 };
    fc.assert(
      fc.property(
        fc.array(actionArbitrary, { maxLength: 40, size: 'max' }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (actions, seed) => {
          const scheduler = new TestScheduler((actual, expected) =>
            expect(actual).toEqual(expected),
          );
          const logs = new Map<string, Seen[]>(TOPICS.map((topic) => [topic, []]));
          const starts = new Map<string, Stamp>();
          const published = new Map<string, Stamp[]>(TOPICS.map((topic) => [topic, []]));
          let server!: ModelServer;
          let client!: OutboxClient;
          scheduler.run(() => {
            server = new ModelServer(scheduler, generator(seed));
            const fake = fakeWebSocket((socket) =>
              scheduler.schedule(() => {
                server.connected(socket);
                socket.open();
              }),
            );
            client = new OutboxClient('ws://model/', {
              WebSocket: fake.WebSocket,
              scheduler,
              reconnect: { initialDelayMs: 100, maxDelayMs: 100, random: () => 0 },
            });
            client.messages$.subscribe((message) => {
              const line = message as {
                type: string;
                topic: string;
                data?: Stamp;
                epoch: string;
                offset: number;
              };
              if (line.type === 'subscribed' && !starts.has(line.topic)) {
                starts.set(line.topic, { epoch: line.epoch, offset: line.offset });
              }
              if (line.type === 'pub') published.get(line.topic)!.push(line.data!);
            });
            for (const topic of SUBSCRIBED) {
              client.subscribe<Stamp>(topic).subscribe((data) => logs.get(topic)!.push({ data }));
            }
            client.listen<Stamp>(JOINED).subscribe((data) => logs.get(JOINED)!.push({ data }));
            client.recoveries$.subscribe((recovery) =>
              logs.get(recovery.topic)!.push({ recovery }),
            );
            actions.forEach((action, i) =>
              scheduler.schedule(() => server.act(action), (i + 1) * STEP_MS),
            );
            // Then a last reconnect with a well-behaved server: everything must come through.
            const end = (actions.length + 1) * STEP_MS + 200;
            // Live, not only eventually right: the client has caught up on every topic it can
            // know about, without waiting for a reconnect.
            scheduler.schedule(() => {
              for (const topic of TOPICS) {
                if (server.unnoticed.has(topic)) continue;
                const { epoch, top } = server.topics.get(topic)!;
                expect({ topic, at: client.positions().get(topic) }).toEqual({
                  topic,
                  at: { epoch, offset: top },
                });
              }
            }, end - 1);
            scheduler.schedule(() => server.act({ kind: 'reconnect' }), end);
            scheduler.schedule(() => client.close(), end + 300);
          });
          for (const topic of TOPICS) {
            const log = logs.get(topic)!;
            const last = checkSequence(topic, starts.get(topic)!, log);
            const { epoch, top } = server.topics.get(topic)!;
            expect({ topic, last }).toEqual({ topic, last: { epoch, offset: top } });
            // Each recovery answers a recovered: false that did miss publications.
            const recoveries = log.flatMap((seen) => ('recovery' in seen ? [seen.recovery] : []));
            for (const recovery of recoveries) {
              expect(['epoch', 'too_old']).toContain(recovery.reason);
              expect(server.notRecovered.get(topic)).toContainEqual(recovery.position);
              expect(recovery.previous).not.toEqual(recovery.position);
            }
            stats.recoveries += recoveries.length;
            stats.delivered += log.length - recoveries.length;
            // messages$ shows exactly the publications delivered.
            expect(published.get(topic)).toEqual(
              log.flatMap((seen) => ('data' in seen ? [seen.data] : [])),
            );
          }
        },
      ),
      { numRuns: 200 },
    );
    // The runs did exercise both paths.
    expect(stats.delivered).toBeGreaterThan(0);
    expect(stats.recoveries).toBeGreaterThan(0);
  });
});
