import { TestScheduler } from 'rxjs/testing';
import {
  MAX_RESUME_TOPICS,
  OutboxClient,
  REMEMBERED_POSITIONS,
  TopicError,
} from '../../src/client/index.js';
import type { OutboxClientOptions, TopicRecovery } from '../../src/client/index.js';
import { fakeWebSocket } from './fakeSocket.js';
import { at as atTime, soon as soonIn } from './virtualTime.js';
import type { FakeSocket } from './fakeSocket.js';

const pub = (topic: string, offset: number, data: unknown = offset) => ({
  type: 'pub',
  topic,
  offset,
  data,
});
const subscribed = (topic: string, epoch: string, offset: number, more: object = {}) => ({
  type: 'subscribed',
  topic,
  epoch,
  offset,
  ...more,
});
const subscribe = (topic: string, since?: [string, number]) =>
  since === undefined
    ? { type: 'subscribe', topic }
    : { type: 'subscribe', topic, since: { epoch: since[0], offset: since[1] } };
const unsubscribe = (topic: string) => ({ type: 'unsubscribe', topic });

/** The `resume` parameter of a URL, decoded, or undefined. */
function resumeOf(url: string): unknown {
  const value = new URL(url).searchParams.get('resume');
  return value === null ? undefined : JSON.parse(value);
}

describe('OutboxClient topics in virtual time', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  /** A client on the test scheduler; `onCreate` scripts each socket it opens. */
  function setup(
    onCreate: (socket: FakeSocket, index: number) => void = (socket) => soon(() => socket.open()),
    options: OutboxClientOptions = {},
    url: OutboxClient['url'] = 'ws://test/ws?token=a%2Bb',
  ) {
    const fake = fakeWebSocket(onCreate);
    const client = new OutboxClient(url, {
      WebSocket: fake.WebSocket,
      scheduler: testScheduler,
      reconnect: { initialDelayMs: 100, maxDelayMs: 100, random: () => 0 },
      subscribeRetry: { initialDelayMs: 50, maxDelayMs: 50, maxAttempts: 2, random: () => 0 },
      ...options,
    });
    const messages: unknown[] = [];
    client.messages$.subscribe((message) => messages.push(message));
    const recoveries: TopicRecovery[] = [];
    client.recoveries$.subscribe((recovery) => recoveries.push(recovery));
    return { client, sockets: fake.sockets, messages, recoveries };
  }

  const at = (time: number, work: () => void) => atTime(testScheduler, time, work);
  const soon = (work: () => void) => soonIn(testScheduler, work);

  describe('subscribe', () => {
    it('should send subscribe, then emit the data of each publication in order', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets, messages } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 40)));
        at(2, () => sockets[0].receiveJson(pub('room:a', 41, 'x'), pub('room:a', 42, 'y')));
        at(7, () => sockets[0].receiveJson(pub('room:a', 43, 'z')));
        at(9, () => client.close());
        expectObservable(client.subscribe('room:a')).toBe('--(xy)-z-|', {
          x: 'x',
          y: 'y',
          z: 'z',
        });
        at(8, () => {
          expect(sockets[0].sent).toEqual([subscribe('room:a')]);
          // The raw lines stay on messages$ too.
          expect(messages).toEqual([
            subscribed('room:a', 'e1', 40),
            pub('room:a', 41, 'x'),
            pub('room:a', 42, 'y'),
            pub('room:a', 43, 'z'),
          ]);
          expect(client.positions()).toEqual(new Map([['room:a', { epoch: 'e1', offset: 43 }]]));
        });
      });
    });

    it('should emit nothing for a topic that never publishes, and nothing for other topics', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 0)));
        at(2, () => sockets[0].receiveJson(subscribed('room:b', 'e1', 0), pub('room:b', 1)));
        at(50, () => client.close());
        expectObservable(client.subscribe('room:a')).toBe('50ms |');
      });
    });

    it('should share one membership between subscribers: one subscribe, one unsubscribe', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        const lobby = client.subscribe('room:a');
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 0)));
        at(2, () => sockets[0].receiveJson(pub('room:a', 1)));
        at(4, () => sockets[0].receiveJson(pub('room:a', 2)));
        expectObservable(lobby, '^----!').toBe('--a-b', { a: 1, b: 2 });
        expectObservable(lobby, '---^--!').toBe('----b', { b: 2 });
        at(5, () => expect(sockets[0].sent).toEqual([subscribe('room:a')]));
        at(6, () => {
          expect(sockets[0].sent).toEqual([subscribe('room:a'), unsubscribe('room:a')]);
          sockets[0].receiveJson({ type: 'unsubscribed', topic: 'room:a' });
        });
        // Publications after the unsubscribe are dropped.
        at(7, () => sockets[0].receiveJson(pub('room:a', 3)));
        // The position is kept: a later subscribe resumes from it.
        expectObservable(lobby, '10ms ^').toBe('12ms c', { c: 4 });
        at(11, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 2, { recovered: true })));
        at(12, () => sockets[0].receiveJson(pub('room:a', 3, 4)));
        at(13, () =>
          expect(sockets[0].sent).toEqual([
            subscribe('room:a'),
            unsubscribe('room:a'),
            subscribe('room:a', ['e1', 2]),
          ]),
        );
      });
    });

    it('should send nothing for a subscription that ends before the connection opens', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup((socket) => at(10, () => socket.open()));
        expectObservable(client.subscribe('room:a'), '^--!').toBe('');
        at(11, () => expect(sockets[0].sent).toEqual([]));
      });
    });

    it('should subscribe at open, before the requests waiting for a connection', () => {
      testScheduler.run(() => {
        const { client, sockets } = setup((socket) => at(10, () => socket.open()));
        const sentWhenOpen: unknown[] = [];
        client.status$.subscribe((status) => {
          if (status === 'open') sentWhenOpen.push(...sockets[0].sent);
        });
        client.request('op').subscribe();
        client.subscribe('room:a').subscribe();
        client.subscribe('room:b').subscribe();
        at(11, () => {
          expect(sockets[0].sent).toEqual([
            subscribe('room:a'),
            subscribe('room:b'),
            { type: 'op', id: 'r1' },
          ]);
          // An application reacting to 'open' sends after all of them.
          expect(sentWhenOpen).toEqual(sockets[0].sent);
        });
      });
    });

    it('should error with TopicError on forbidden and bad_request, and send no unsubscribe', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(2, () =>
          sockets[0].receiveJson(
            { type: 'error', topic: 'room:staff', code: 'forbidden', message: 'Not for you.' },
            { type: 'error', topic: 'bad name', code: 'bad_request', message: 'Bad topic.' },
          ),
        );
        expectObservable(client.subscribe('room:staff')).toBe(
          '--#',
          undefined,
          new TopicError('forbidden', 'Not for you.', 'room:staff'),
        );
        expectObservable(client.subscribe('bad name')).toBe(
          '--#',
          undefined,
          new TopicError('bad_request', 'Bad topic.', 'bad name'),
        );
        at(3, () =>
          expect(sockets[0].sent).toEqual([subscribe('room:staff'), subscribe('bad name')]),
        );
      });
    });

    it('should retry a rate_limited subscribe after a backoff, and give up after maxAttempts', () => {
      let failure: unknown;
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        const limited = { type: 'error', topic: 'room:a', code: 'rate_limited', message: 'Slow.' };
        at(1, () => sockets[0].receiveJson(limited));
        // Retried 50 ms later; answered at 60.
        at(60, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 5), pub('room:a', 6)));
        at(99, () => client.close());
        expectObservable(client.subscribe('room:a')).toBe('60ms a 38ms |', { a: 6 });
        at(55, () => expect(sockets[0].sent).toEqual([subscribe('room:a'), subscribe('room:a')]));

        // Rate limited three times in a row: two retries, then the error.
        const other = setup();
        at(200, () =>
          other.client.subscribe('room:b').subscribe({ error: (error) => (failure = error) }),
        );
        // Answered at 201, retried at 251, answered at 252, retried at 302, answered at 303.
        at(201, () => other.sockets[0].receiveJson({ ...limited, topic: 'room:b' }));
        at(252, () => other.sockets[0].receiveJson({ ...limited, topic: 'room:b' }));
        at(303, () => other.sockets[0].receiveJson({ ...limited, topic: 'room:b' }));
        at(400, () => {
          expect(other.sockets[0].sent).toEqual([
            subscribe('room:b'),
            subscribe('room:b'),
            subscribe('room:b'),
          ]);
          other.client.close();
        });
      });
      expect(failure).toBeInstanceOf(TopicError);
      expect(failure).toMatchObject({ code: 'rate_limited', topic: 'room:b', message: 'Slow.' });
    });

    it('should retry a subscribe answered unavailable, as the server asks', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        const down = { type: 'error', topic: 'room:a', code: 'unavailable', message: 'Later.' };
        at(1, () => sockets[0].receiveJson(down));
        at(60, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 5), pub('room:a', 6)));
        at(99, () => client.close());
        expectObservable(client.subscribe('room:a')).toBe('60ms a 38ms |', { a: 6 });
        at(55, () => expect(sockets[0].sent).toEqual([subscribe('room:a'), subscribe('room:a')]));
      });
    });

    it('should complete when the server takes the client out of the topic', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 0), pub('room:a', 1)));
        at(3, () => sockets[0].receiveJson({ type: 'unsubscribed', topic: 'room:a' }));
        at(4, () => sockets[0].receiveJson(pub('room:a', 2)));
        expectObservable(client.subscribe('room:a')).toBe('-a-|', { a: 1 });
        at(5, () => expect(sockets[0].sent).toEqual([subscribe('room:a')]));
      });
    });

    it('should take only the answer to the last of a quick subscribe, unsubscribe, subscribe', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        const lobby = client.subscribe('room:a');
        expectObservable(lobby, '^!').toBe('');
        expectObservable(lobby, '-^').toBe('----b', { b: 'new' });
        at(2, () => {
          expect(sockets[0].sent).toEqual([
            subscribe('room:a'),
            unsubscribe('room:a'),
            subscribe('room:a'),
          ]);
          // The server answers the three in order; what comes before the last answer is not
          // this subscription's.
          sockets[0].receiveJson(subscribed('room:a', 'e1', 7), pub('room:a', 8, 'old'));
        });
        at(3, () =>
          sockets[0].receiveJson(
            { type: 'unsubscribed', topic: 'room:a' },
            subscribed('room:a', 'e1', 9),
          ),
        );
        at(4, () => sockets[0].receiveJson(pub('room:a', 9, 'dup'), pub('room:a', 10, 'new')));
      });
    });

    it('should allow unsubscribing from inside next (reentrancy)', () => {
      testScheduler.run(() => {
        const { client, sockets } = setup();
        const seen: unknown[] = [];
        const subscription = client.subscribe('room:a').subscribe((data) => {
          seen.push(data);
          subscription.unsubscribe();
        });
        at(1, () =>
          sockets[0].receiveJson(subscribed('room:a', 'e1', 0), pub('room:a', 1), pub('room:a', 2)),
        );
        at(2, () => {
          expect(seen).toEqual([1]);
          expect(sockets[0].sent).toEqual([subscribe('room:a'), unsubscribe('room:a')]);
        });
      });
    });

    it('should complete topic Observables and recoveries$ when the client closes', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client } = setup();
        at(5, () => client.close());
        expectObservable(client.subscribe('room:a')).toBe('5ms |');
        expectObservable(client.listen('session:s')).toBe('5ms |');
        expectObservable(client.recoveries$).toBe('5ms |');
        expectObservable(client.subscribe('room:a'), '6ms ^').toBe('6ms |');
      });
    });

    it('should refuse a topic that is not a non-empty string', () => {
      testScheduler.run(() => {
        const { client } = setup();
        expect(() => client.subscribe('')).toThrow(TypeError);
        expect(() => client.listen(42 as unknown as string)).toThrow(TypeError);
        client.close();
      });
    });
  });

  describe('publication rules', () => {
    it('should drop duplicates, from the topic and from messages$', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets, messages } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 10)));
        at(2, () =>
          sockets[0].receiveJson(pub('room:a', 11), pub('room:a', 10), pub('room:a', 11)),
        );
        at(3, () => sockets[0].receiveJson(pub('room:a', 12), pub('room:a', 12)));
        expectObservable(client.subscribe('room:a')).toBe('--ab', { a: 11, b: 12 });
        at(4, () =>
          expect(messages).toEqual([
            subscribed('room:a', 'e1', 10),
            pub('room:a', 11),
            pub('room:a', 12),
          ]),
        );
      });
    });

    it('should answer a hole with subscribe since the position, and take nothing until answered', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 10), pub('room:a', 11)));
        at(2, () =>
          sockets[0].receiveJson(pub('room:a', 13), pub('room:a', 12), pub('room:a', 14)),
        );
        at(3, () => {
          expect(sockets[0].sent).toEqual([subscribe('room:a'), subscribe('room:a', ['e1', 11])]);
          sockets[0].receiveJson(
            subscribed('room:a', 'e1', 11, { recovered: true, replayed: 3 }),
            pub('room:a', 12),
            pub('room:a', 13),
            pub('room:a', 14),
          );
        });
        expectObservable(client.subscribe('room:a')).toBe('-a-(bcd)', {
          a: 11,
          b: 12,
          c: 13,
          d: 14,
        });
      });
    });

    it('should answer a gap with subscribe since the position, and take nothing until answered', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets, messages } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 56), pub('room:a', 57)));
        at(2, () => sockets[0].receiveJson({ type: 'gap', topic: 'room:a', after: 57 }));
        // Even the next offset is not taken before the answer: it may be followed by older ones.
        at(3, () => sockets[0].receiveJson(pub('room:a', 58), pub('room:a', 61)));
        at(4, () =>
          sockets[0].receiveJson(
            subscribed('room:a', 'e1', 57, { recovered: true, replayed: 4 }),
            pub('room:a', 58),
            pub('room:a', 59),
          ),
        );
        expectObservable(client.subscribe('room:a')).toBe('-a--(bc)', { a: 57, b: 58, c: 59 });
        at(5, () => {
          expect(sockets[0].sent).toEqual([subscribe('room:a'), subscribe('room:a', ['e1', 57])]);
          expect(messages.filter((m) => (m as { type: string }).type === 'pub')).toEqual([
            pub('room:a', 57),
            pub('room:a', 58),
            pub('room:a', 59),
          ]);
        });
      });
    });

    it('should drop what a recovering replay repeats', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 0), pub('room:a', 1)));
        at(2, () => sockets[0].receiveJson({ type: 'gap', topic: 'room:a', after: 1 }));
        // The server replays from further back than asked: 1 is a duplicate.
        at(3, () =>
          sockets[0].receiveJson(
            subscribed('room:a', 'e1', 0, { recovered: true }),
            pub('room:a', 1),
            pub('room:a', 2),
          ),
        );
        expectObservable(client.subscribe('room:a')).toBe('-a-b', { a: 1, b: 2 });
      });
    });

    it('should report recovered: false on recoveries$, then continue from the new position', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets, recoveries } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 0), pub('room:a', 1)));
        at(2, () => sockets[0].drop());
        // Reconnected at 102 (open at once), answered at 103.
        at(103, () =>
          sockets[1].receiveJson(
            subscribed('room:a', 'e2', 1050, { recovered: false, reason: 'epoch' }),
            pub('room:a', 1051),
          ),
        );
        expectObservable(client.subscribe('room:a')).toBe('-a 101ms b', { a: 1, b: 1051 });
        expectObservable(client.recoveries$).toBe('103ms r', {
          r: {
            topic: 'room:a',
            reason: 'epoch',
            previous: { epoch: 'e1', offset: 1 },
            position: { epoch: 'e2', offset: 1050 },
          },
        });
        at(104, () => {
          expect(sockets[1].sent).toEqual([subscribe('room:a', ['e1', 1])]);
          expect(recoveries).toHaveLength(1);
          expect(client.positions().get('room:a')).toEqual({ epoch: 'e2', offset: 1051 });
        });
      });
    });

    it('should not report a recovered: false that misses nothing the client lacks', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets, recoveries } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 0), pub('room:a', 1)));
        at(2, () => sockets[0].receiveJson({ type: 'gap', topic: 'room:a', after: 1 }));
        // The topic changes epoch while the client's resubscribe is on its way: the server
        // tells the client at once, then answers the resubscribe (since e1) with recovered: false
        // at the position the client has already reached.
        at(3, () =>
          sockets[0].receiveJson(
            subscribed('room:a', 'e2', 0, { recovered: false, reason: 'epoch' }),
            pub('room:a', 1, 'e2:1'),
          ),
        );
        at(4, () =>
          sockets[0].receiveJson(
            subscribed('room:a', 'e2', 1, { recovered: false, reason: 'epoch' }),
            pub('room:a', 2, 'e2:2'),
          ),
        );
        expectObservable(client.subscribe('room:a')).toBe('-a-bc', { a: 1, b: 'e2:1', c: 'e2:2' });
        at(5, () =>
          expect(recoveries.map((r) => r.position)).toEqual([{ epoch: 'e2', offset: 0 }]),
        );
      });
    });

    it.each(['too_old', 'too_many'])('should report reason %s as the server gives it', (reason) => {
      testScheduler.run(() => {
        const { client, sockets, recoveries } = setup();
        client.subscribe('room:a').subscribe();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 3)));
        at(2, () => sockets[0].receiveJson({ type: 'gap', topic: 'room:a', after: 3 }));
        at(3, () =>
          sockets[0].receiveJson(subscribed('room:a', 'e1', 900, { recovered: false, reason })),
        );
        at(4, () =>
          expect(recoveries).toEqual([
            {
              topic: 'room:a',
              reason,
              previous: { epoch: 'e1', offset: 3 },
              position: { epoch: 'e1', offset: 900 },
            },
          ]),
        );
      });
    });
  });

  describe('lines that are not the protocol', () => {
    it('should pass malformed topic lines on to messages$ and leave the topics alone', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets, messages } = setup();
        const odd = [
          { type: 'pub', topic: 'room:a', offset: '3', data: 'text offset' },
          { type: 'pub', topic: 'room:a', offset: 2.5 },
          { type: 'subscribed', topic: 'room:a', epoch: 7, offset: 0 },
          { type: 'pub', offset: 2 },
        ];
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 1)));
        at(2, () => sockets[0].receiveJson(...odd, pub('room:a', 2)));
        expectObservable(client.subscribe('room:a')).toBe('--a', { a: 2 });
        at(3, () => {
          expect(messages).toEqual([subscribed('room:a', 'e1', 1), ...odd, pub('room:a', 2)]);
          expect(sockets[0].sent).toEqual([subscribe('room:a')]);
        });
      });
    });

    it('should route an error with an id to its request even if it names a topic', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 0)));
        at(2, () =>
          sockets[0].receiveJson({ type: 'error', id: 'r1', topic: 'room:a', code: 'forbidden' }),
        );
        at(3, () => sockets[0].receiveJson(pub('room:a', 1)));
        expectObservable(client.subscribe('room:a')).toBe('---a', { a: 1 });
        client.request('op').subscribe({ error: () => undefined });
      });
    });
  });

  describe('reconnect', () => {
    it('should resubscribe every topic with since before anything else, then flush requests', () => {
      testScheduler.run(() => {
        const { client, sockets } = setup((socket, index) =>
          index === 0 ? soon(() => socket.open()) : at(200, () => socket.open()),
        );
        client.subscribe('room:a').subscribe();
        client.subscribe('room:b').subscribe();
        client.subscribe('room:c').subscribe();
        at(1, () =>
          sockets[0].receiveJson(
            subscribed('room:a', 'e1', 4),
            pub('room:a', 5),
            subscribed('room:b', 'e9', 0),
          ),
        );
        at(2, () => sockets[0].drop());
        // Sent while disconnected: goes out once the new connection has resubscribed.
        at(50, () => client.request('op').subscribe({ error: () => undefined }));
        at(201, () =>
          expect(sockets[1].sent).toEqual([
            subscribe('room:a', ['e1', 5]),
            subscribe('room:b', ['e9', 0]),
            // Never answered: no position yet, so from now on.
            subscribe('room:c'),
            { type: 'op', id: 'r1' },
          ]),
        );
        at(202, () => client.close());
      });
    });

    it('should take nothing of a topic on a new connection before its subscribed', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('room:a', 'e1', 0), pub('room:a', 1)));
        at(2, () => sockets[0].drop());
        at(103, () => sockets[1].receiveJson(pub('room:a', 2, 'early')));
        at(104, () =>
          sockets[1].receiveJson(
            subscribed('room:a', 'e1', 1, { recovered: true }),
            pub('room:a', 2),
          ),
        );
        expectObservable(client.subscribe('room:a')).toBe('-a 102ms b', { a: 1, b: 2 });
      });
    });
  });

  describe('server-joined topics', () => {
    it('should track a joined topic, deliver it through listen(), and keep its position', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets, messages } = setup();
        const inbox = client.listen('session:s1');
        // Nobody listens yet: the position still moves.
        at(1, () =>
          sockets[0].receiveJson(subscribed('session:s1', 'e1', 7), pub('session:s1', 8)),
        );
        expectObservable(inbox, '2ms ^').toBe('3ms a', { a: 'hi' });
        at(3, () => sockets[0].receiveJson(pub('session:s1', 9, 'hi')));
        at(4, () => {
          expect(client.positions().get('session:s1')).toEqual({ epoch: 'e1', offset: 9 });
          expect(messages).toHaveLength(3);
          expect(sockets[0].sent).toEqual([]);
        });
      });
    });

    it('should let listen() attach before the server joins', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(5, () =>
          sockets[0].receiveJson(subscribed('session:s1', 'e1', 0), pub('session:s1', 1)),
        );
        expectObservable(client.listen('session:s1')).toBe('5ms a', { a: 1 });
        at(6, () => expect(sockets[0].sent).toEqual([]));
      });
    });

    it('should attach subscribe() to a joined topic without sending subscribe or unsubscribe', () => {
      testScheduler.run(({ expectObservable }) => {
        const { client, sockets } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('session:s1', 'e1', 0)));
        at(3, () => sockets[0].receiveJson(pub('session:s1', 1)));
        expectObservable(client.subscribe('session:s1'), '2ms ^ 2ms !').toBe('3ms a', { a: 1 });
        at(6, () => sockets[0].receiveJson(pub('session:s1', 2)));
        at(7, () => {
          expect(sockets[0].sent).toEqual([]);
          // Still tracked after the last local subscriber left.
          expect(client.positions().get('session:s1')).toEqual({ epoch: 'e1', offset: 2 });
        });
      });
    });

    it('should hand joined topics to the server in the resume parameter, not resubscribe them', () => {
      testScheduler.run(() => {
        const { client, sockets } = setup();
        client.subscribe('room:a').subscribe();
        at(1, () =>
          sockets[0].receiveJson(
            subscribed('room:a', 'e1', 3),
            subscribed('session:s1', 'e1', 7),
            subscribed('feed:x', 'f', 1),
            pub('session:s1', 8),
          ),
        );
        at(2, () => sockets[0].drop());
        at(103, () => {
          expect(sockets[0].url).toBe('ws://test/ws?token=a%2Bb');
          const url = sockets[1].url;
          // The URL's own parameters are kept byte for byte.
          expect(url.startsWith('ws://test/ws?token=a%2Bb&resume=')).toBe(true);
          expect(resumeOf(url)).toEqual({ 'session:s1': ['e1', 8], 'feed:x': ['f', 1] });
          // Most recently active first.
          expect(Object.keys(resumeOf(url) as object)).toEqual(['session:s1', 'feed:x']);
          expect(sockets[1].sent).toEqual([subscribe('room:a', ['e1', 3])]);
        });
        // The server rejoins on the new connection, having resumed from the parameter.
        at(104, () =>
          sockets[1].receiveJson(
            subscribed('session:s1', 'e1', 8, { recovered: true }),
            pub('session:s1', 9),
          ),
        );
        at(105, () =>
          expect(client.positions().get('session:s1')).toEqual({ epoch: 'e1', offset: 9 }),
        );
      });
    });

    it('should report not_resumed when the server joins afresh past the position', () => {
      testScheduler.run(() => {
        const { sockets, recoveries } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('session:s1', 'e1', 7)));
        at(2, () => sockets[0].drop());
        // A fresh join (no `recovered`): the server did not resume it.
        at(103, () => sockets[1].receiveJson(subscribed('session:s1', 'e1', 20)));
        at(104, () =>
          expect(recoveries).toEqual([
            {
              topic: 'session:s1',
              reason: 'not_resumed',
              previous: { epoch: 'e1', offset: 7 },
              position: { epoch: 'e1', offset: 20 },
            },
          ]),
        );
      });
    });

    it('should keep at most 32 topics in the resume parameter, the most recently active', () => {
      testScheduler.run(() => {
        const { sockets } = setup();
        at(1, () => {
          const joins = Array.from({ length: 40 }, (_, i) => subscribed(`t:${i}`, 'e', i));
          sockets[0].receiveJson(...joins);
          // t:0 becomes the most recently active.
          sockets[0].receiveJson(pub('t:0', 1));
        });
        at(2, () => sockets[0].drop());
        at(103, () => {
          const resume = resumeOf(sockets[1].url) as Record<string, unknown>;
          expect(Object.keys(resume)).toHaveLength(MAX_RESUME_TOPICS);
          expect(Object.keys(resume)).toEqual([
            't:0',
            ...Array.from({ length: 31 }, (_, i) => `t:${39 - i}`),
          ]);
        });
      });
    });

    it('should keep the resume parameter within 4 KiB once URL-encoded', () => {
      testScheduler.run(() => {
        const { sockets } = setup();
        // Each t: entry takes about 930 characters once encoded, so four fit. The most recent
        // topic is over 5,000 alone: it is left out, and the next ones still go in.
        at(1, () =>
          sockets[0].receiveJson(
            ...Array.from({ length: 6 }, (_, i) => subscribed(`t:${i}:${'x'.repeat(900)}`, 'e', 1)),
            subscribed(`huge:${'é'.repeat(900)}`, 'e', 1),
          ),
        );
        at(2, () => sockets[0].drop());
        at(103, () => {
          const encoded = new URL(sockets[1].url).search.split('resume=')[1];
          expect(encoded.length).toBeGreaterThan(3000);
          expect(encoded.length).toBeLessThanOrEqual(4096);
          const topics = Object.keys(resumeOf(sockets[1].url) as object);
          expect(topics.map((topic) => topic.slice(0, 4))).toEqual([
            't:5:',
            't:4:',
            't:3:',
            't:2:',
          ]);
        });
      });
    });

    it('should forget a joined topic the server took the client out of', () => {
      testScheduler.run(() => {
        const { sockets } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('session:s1', 'e1', 7)));
        at(2, () => sockets[0].receiveJson({ type: 'unsubscribed', topic: 'session:s1' }));
        at(3, () => sockets[0].drop());
        at(104, () => expect(resumeOf(sockets[1].url)).toBeUndefined());
      });
    });
  });

  describe('url', () => {
    it('should call a url function at each connect, and add the resume parameter to its result', () => {
      testScheduler.run(() => {
        let calls = 0;
        const { sockets } = setup(undefined, {}, () => `ws://test/ws?token=t${++calls}`);
        at(1, () => sockets[0].receiveJson(subscribed('session:s1', 'e1', 7)));
        at(2, () => sockets[0].drop());
        at(103, () => sockets[1].drop());
        at(300, () => {
          expect(sockets.map((socket) => socket.url.split('&')[0])).toEqual([
            'ws://test/ws?token=t1',
            'ws://test/ws?token=t2',
            'ws://test/ws?token=t3',
          ]);
          expect(resumeOf(sockets[2].url)).toEqual({ 'session:s1': ['e1', 7] });
        });
      });
    });

    it('should count a url function that throws as a failed attempt, and back off', () => {
      testScheduler.run(({ expectObservable }) => {
        let calls = 0;
        const created: number[] = [];
        const { client } = setup(
          (socket) => {
            created.push(testScheduler.now());
            soon(() => socket.open());
          },
          { reconnect: { initialDelayMs: 100, maxDelayMs: 1000, random: () => 0 } },
          () => {
            if (++calls <= 2) throw new Error('token service down');
            return 'ws://test/ws';
          },
        );
        at(500, () => client.close());
        // Fails at 0 and 100, connects at 300.
        expectObservable(client.status$).toBe('r 299ms o 199ms (x|)', {
          r: 'reconnecting',
          o: 'open',
          x: 'closed',
        });
        at(400, () => expect(created).toEqual([300]));
      });
    });
  });

  describe('positions', () => {
    it('should remember positions of topics left, up to REMEMBERED_POSITIONS', () => {
      testScheduler.run(() => {
        const { client, sockets } = setup();
        const count = REMEMBERED_POSITIONS + 10;
        at(1, () => {
          for (let i = 0; i < count; i++) {
            sockets[0].receiveJson(subscribed(`t:${i}`, 'e', i), {
              type: 'unsubscribed',
              topic: `t:${i}`,
            });
          }
        });
        at(2, () => {
          const positions = client.positions();
          expect(positions.size).toBe(REMEMBERED_POSITIONS);
          expect(positions.has('t:9')).toBe(false);
          expect(positions.get('t:10')).toEqual({ epoch: 'e', offset: 10 });
        });
      });
    });

    it('should return a snapshot', () => {
      testScheduler.run(() => {
        const { client, sockets } = setup();
        at(1, () => sockets[0].receiveJson(subscribed('session:s1', 'e1', 7)));
        at(2, () => {
          const before = client.positions();
          sockets[0].receiveJson(pub('session:s1', 8));
          expect(before.get('session:s1')).toEqual({ epoch: 'e1', offset: 7 });
          expect(client.positions().get('session:s1')).toEqual({ epoch: 'e1', offset: 8 });
        });
      });
    });
  });
});

describe('OutboxClient with an asynchronous url function', () => {
  /** Lets promise callbacks run. */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('should wait for the URL, and count a rejection as a failed attempt', async () => {
    // Outside run(): actions run when flushed, between the awaits that let promises settle.
    const scheduler = new TestScheduler(() => undefined);
    const fake = fakeWebSocket();
    const tokens = ['reject', 'reject', 'ok-1'];
    const delays: number[] = [];
    const client = new OutboxClient(
      () => {
        const token = tokens.shift()!;
        return token === 'reject'
          ? Promise.reject(new Error('token service down'))
          : Promise.resolve(`ws://test/ws?token=${token}`);
      },
      {
        WebSocket: fake.WebSocket,
        scheduler,
        reconnect: { initialDelayMs: 100, maxDelayMs: 1000, random: () => 0 },
      },
    );
    const statuses: string[] = [];
    client.status$.subscribe((status) => statuses.push(status));
    for (let round = 0; round < 3 && fake.sockets.length === 0; round++) {
      await settle();
      const before = scheduler.now();
      scheduler.flush();
      delays.push(scheduler.now() - before);
    }
    await settle();
    expect(fake.sockets.map((socket) => socket.url)).toEqual(['ws://test/ws?token=ok-1']);
    // Two failed attempts: waited 100 ms, then 200 ms.
    expect(delays.slice(0, 2)).toEqual([100, 200]);
    expect(statuses).toEqual(['connecting', 'reconnecting']);
    client.close();
  });

  it('should not connect when closed while the URL is on its way', async () => {
    const fake = fakeWebSocket();
    let resolveUrl!: (url: string) => void;
    const client = new OutboxClient(
      () => new Promise<string>((resolve) => (resolveUrl = resolve)),
      {
        WebSocket: fake.WebSocket,
      },
    );
    client.close();
    resolveUrl('ws://test/ws');
    await settle();
    expect(fake.sockets).toEqual([]);
    expect(client.status).toBe('closed');
  });
});
