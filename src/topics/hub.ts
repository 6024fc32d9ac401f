import { isRawJson } from '../../operators/rawJson.js';
import type { OutboxMetrics } from '../metrics.js';
import type { OutboxConfig } from '../outboxConfig.js';
import { reportUnhandledError } from '../reportError.js';
import type { SendableSocket } from '../socketSink.js';
import type { WsOutbox } from '../wsOutbox.js';
import { LocalTopic } from './localTopic.js';
import { MemoryTopicStore } from './memoryStore.js';
import { answer, topicError, unsubscribedMessage } from './messages.js';
import type { TopicErrorCode } from './messages.js';
import type { TopicPosition, TopicStore } from './store.js';
import { TopicSubscription } from './subscription.js';
import type { SubscriptionLimits } from './subscription.js';
import { isOffset, isTopicName } from './validate.js';

/** Options of a `ConnectionManager`'s topics. Every bound has a default; see each. */
export interface TopicsOptions<S = SendableSocket> {
  /**
   * Where topics live: their offsets, epochs and history, and the live feed. Default: a
   * `MemoryTopicStore` with its default bounds (1,000 publications, 1 MiB and 5 minutes per
   * topic), closed with the manager. `ws-outbox/redis` shares topics across processes.
   */
  store?: TopicStore;
  /**
   * Whether a socket may subscribe to a topic at its own request (`{"type":"subscribe"}`).
   * Default: never; topics the server joins a socket to need no authorization. A throw or a
   * rejection counts as a refusal.
   */
  authorize?: (socket: S, topic: string) => boolean | PromiseLike<boolean>;
  /** Topics one connection may follow at once; one more is refused `rate_limited`. Default 100. */
  maxSubscriptions?: number;
  /**
   * Topic requests of one connection (subscribes, unsubscribes) waiting for their answer, which
   * come in order; one more is refused `rate_limited`. Default 32.
   */
  maxPendingRequests?: number;
  /**
   * Most publications replayed for one position; a client further behind is answered
   * `recovered: false` with reason `too_many`. Default 10,000.
   */
  maxReplay?: number;
  /**
   * Live publications held for a subscription while it catches up (its socket reading the
   * history slowly); one more sends it a `gap`, and it resumes from where it got. So one
   * connection holds at most `maxSubscriptions × maxReplayBuffer` of them. Default 1,000.
   */
  maxReplayBuffer?: number;
  /** Publications read from the history at a time, the next page once the socket took the last. Default 256. */
  replayPageSize?: number;
  /** The largest publication, in UTF-8 bytes of its data's JSON. Default 65,536. */
  maxPublicationBytes?: number;
}

/** A request a client sent about a topic, as `Operations` parsed it. */
export interface TopicRequest {
  readonly type: string;
  readonly topic?: unknown;
  readonly since?: unknown;
}

/** What one connection has to do with topics; only connections that use topics have one. */
class ConnectionTopics {
  readonly subscriptions = new Map<string, TopicSubscription>();
  /** Positions the client handed over on connecting, for the topics the server joins it to. */
  resume: Map<string, TopicPosition> | undefined;
  /** Its requests and joins, answered one after the other, in order. */
  queue: Promise<void> = Promise.resolve();
  pending = 0;
  closed = false;

  constructor(readonly outbox: WsOutbox<unknown>) {}
}

/**
 * The topics of one node: publications fanned out to local subscribers as frames built once,
 * subscriptions answered and resumed as the protocol says, at each socket's pace.
 *
 * <span class="informal">`ConnectionManager` creates one on first use and delegates `join`,
 * `leave`, `publish` and the clients' `subscribe`/`unsubscribe` to it.</span>
 */
export class TopicHub<S extends SendableSocket = SendableSocket> {
  private readonly topics = new Map<string, LocalTopic>();
  private readonly connections = new Map<WsOutbox<unknown>, ConnectionTopics>();
  private readonly store: TopicStore;
  private readonly ownsStore: boolean;
  private readonly maxSubscriptions: number;
  private readonly maxPendingRequests: number;
  private readonly maxPublicationBytes: number;
  private readonly limits: SubscriptionLimits;
  private closed = false;

  /**
   * @param options See {@link TopicsOptions}.
   * @param config The outboxes' config: frames are built as the outboxes build theirs.
   * @param metrics Where topic metrics go, if anywhere.
   */
  constructor(
    private readonly options: TopicsOptions<S>,
    private readonly config: OutboxConfig<unknown>,
    private readonly metrics: OutboxMetrics | undefined,
  ) {
    // History ages in wall-clock time, whatever scheduler the outboxes' windows run on.
    this.store = options.store ?? new MemoryTopicStore();
    this.ownsStore = options.store === undefined;
    this.maxSubscriptions = positive('maxSubscriptions', options.maxSubscriptions ?? 100);
    this.maxPendingRequests = positive('maxPendingRequests', options.maxPendingRequests ?? 32);
    this.maxPublicationBytes = positive(
      'maxPublicationBytes',
      options.maxPublicationBytes ?? 65_536,
    );
    this.limits = {
      maxReplay: positive('maxReplay', options.maxReplay ?? 10_000),
      maxBuffered: positive('maxReplayBuffer', options.maxReplayBuffer ?? 1_000),
      pageSize: positive('replayPageSize', options.replayPageSize ?? 256),
      metrics,
    };
  }

  /**
   * Publishes to a topic: appended to its history with the next offset, then sent to every
   * subscriber, on every node sharing the store.
   * @param topic The topic.
   * @param data The publication's data: any JSON value, or a `RawJson`.
   * @returns The offset it was given.
   */
  async publish(topic: string, data: unknown): Promise<number> {
    try {
      if (this.closed) throw new Error('publish: the topics are closed');
      const json = isRawJson(data) ? data.json : JSON.stringify(data);
      if (typeof json !== 'string') {
        throw new TypeError('publish: the data is not JSON-serializable');
      }
      if (Buffer.byteLength(json) > this.maxPublicationBytes) {
        throw new RangeError(
          `publish: the data is over the ${this.maxPublicationBytes} bytes a publication may take`,
        );
      }
      return (await this.store.append(topic, [json])).first;
    } catch (error) {
      this.metrics?.publishErrors.inc();
      throw error;
    }
  }

  /**
   * Hands over the positions a reconnecting client gave for the topics the server joins it to.
   * @param outbox The connection's outbox.
   * @param positions By topic.
   */
  setResume(outbox: WsOutbox<unknown>, positions: Map<string, TopicPosition>): void {
    if (!this.closed) this.connection(outbox).resume = positions;
  }

  /**
   * Joins a connection to a topic, resuming from the position its client handed over, if any.
   * @returns Resolves once its `subscribed` is queued: true, or false when the store could not
   * be reached (its client got `unavailable`) or the connection is gone.
   */
  join(outbox: WsOutbox<unknown>, topic: string): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const connection = this.connection(outbox);
    let joined = false;
    return this.enqueue(connection, async () => {
      const since = connection.resume?.get(topic);
      connection.resume?.delete(topic);
      joined = await this.subscribe(connection, topic, since, false);
    }).then(() => joined);
  }

  /**
   * Takes a connection out of a topic, with an `unsubscribed`.
   * @returns Resolves with whether it was in it.
   */
  leave(outbox: WsOutbox<unknown>, topic: string): Promise<boolean> {
    const connection = this.connections.get(outbox);
    if (connection === undefined) return Promise.resolve(false);
    let was = false;
    return this.enqueue(connection, async () => {
      was = this.unsubscribe(connection, topic);
    }).then(() => was);
  }

  /**
   * Answers a client's `subscribe` or `unsubscribe`; a refusal is an `error` with the topic, and
   * leaves the socket out of that topic, as the client then takes it to be.
   * @param outbox The connection's outbox.
   * @param request The client's message.
   * @param refused Refuse it with this code (the connection is over its rate).
   */
  request(outbox: WsOutbox<unknown>, request: TopicRequest, refused?: TopicErrorCode): void {
    if (this.closed) return;
    const { topic } = request;
    const named = typeof topic === 'string' ? topic : undefined;
    const since = request.since === undefined ? undefined : position(request.since);
    const connection = this.connection(outbox);
    const refusal =
      refused ?? (connection.pending >= this.maxPendingRequests ? 'rate_limited' : undefined);
    if (refusal !== undefined) {
      if (named !== undefined) this.drop(connection, named);
      return refuse(outbox, named, refusal);
    }
    void this.enqueue(connection, async () => {
      // In the queue too: every answer, a refusal included, comes in the order asked.
      if (!isTopicName(topic) || since === null) {
        if (named !== undefined) this.drop(connection, named);
        refuse(outbox, named, 'bad_request');
      } else if (request.type === 'unsubscribe') {
        this.unsubscribe(connection, topic);
      } else {
        await this.subscribe(connection, topic, since, true);
      }
    });
  }

  /** The connection is gone: its subscriptions end, silently. */
  disconnect(outbox: WsOutbox<unknown>): void {
    const connection = this.connections.get(outbox);
    if (connection === undefined) return;
    this.connections.delete(outbox);
    connection.closed = true;
    for (const subscription of connection.subscriptions.values()) this.detach(subscription);
    connection.subscriptions.clear();
  }

  /** Ends every subscription and live feed; closes the store if the hub made it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const outbox of [...this.connections.keys()]) this.disconnect(outbox);
    for (const topic of this.topics.values()) topic.close();
    this.topics.clear();
    if (this.ownsStore) await this.store.close();
  }

  /** @returns Whether the socket follows the topic now. */
  private async subscribe(
    connection: ConnectionTopics,
    topic: string,
    since: TopicPosition | undefined,
    asked: boolean,
  ): Promise<boolean> {
    if (connection.closed) return false;
    let subscription = connection.subscriptions.get(topic);
    if (subscription === undefined) {
      if (asked) {
        if (connection.subscriptions.size >= this.maxSubscriptions) {
          refuse(connection.outbox, topic, 'rate_limited');
          return false;
        }
        if (!(await this.authorized(connection.outbox.socket as S, topic))) {
          refuse(connection.outbox, topic, 'forbidden');
          return false;
        }
        if (connection.closed) return false;
      }
      subscription = connection.subscriptions.get(topic) ?? this.attach(connection, topic);
    }
    try {
      await subscription.start(since);
      return !subscription.ended;
    } catch {
      // The store cannot be reached: the socket is not subscribed.
      this.drop(connection, topic);
      refuse(connection.outbox, topic, 'unavailable');
      return false;
    }
  }

  /** Takes the socket out of a topic without a word (a refusal says it). */
  private drop(connection: ConnectionTopics, topic: string): void {
    const subscription = connection.subscriptions.get(topic);
    if (subscription === undefined) return;
    connection.subscriptions.delete(topic);
    this.detach(subscription);
  }

  private unsubscribe(connection: ConnectionTopics, topic: string): boolean {
    const was = connection.subscriptions.has(topic);
    this.drop(connection, topic);
    answer(connection.outbox, unsubscribedMessage(topic));
    return was;
  }

  private attach(connection: ConnectionTopics, name: string): TopicSubscription {
    let topic = this.topics.get(name);
    if (topic === undefined) {
      topic = new LocalTopic(
        name,
        this.store,
        this.config,
        () => this.metrics?.topicFrames.inc(),
        (count) => this.metrics?.topicPublications.inc(count),
      );
      this.topics.set(name, topic);
    }
    const subscription = new TopicSubscription(topic, connection.outbox, this.limits);
    topic.subscribers.add(subscription);
    connection.subscriptions.set(name, subscription);
    this.metrics?.topicSubscriptions.inc();
    return subscription;
  }

  private detach(subscription: TopicSubscription): void {
    subscription.end();
    const { topic } = subscription;
    if (!topic.subscribers.delete(subscription)) return;
    this.metrics?.topicSubscriptions.dec();
    // The last local subscriber gone: the node stops following the topic.
    if (topic.subscribers.size === 0) {
      topic.close();
      this.topics.delete(topic.name);
    }
  }

  private async authorized(socket: S, topic: string): Promise<boolean> {
    const { authorize } = this.options;
    if (authorize === undefined) return false;
    try {
      return (await authorize(socket, topic)) === true;
    } catch {
      return false;
    }
  }

  private connection(outbox: WsOutbox<unknown>): ConnectionTopics {
    let connection = this.connections.get(outbox);
    if (connection === undefined) {
      connection = new ConnectionTopics(outbox);
      this.connections.set(outbox, connection);
    }
    return connection;
  }

  /** Runs `work` after the connection's earlier requests, so answers go out in order. */
  private enqueue(connection: ConnectionTopics, work: () => Promise<void>): Promise<void> {
    connection.pending++;
    const done = connection.queue.then(work).finally(() => connection.pending--);
    // A failure of one request must not stop the ones after it.
    connection.queue = done.catch(reportUnhandledError);
    return done;
  }
}

function refuse(outbox: WsOutbox<unknown>, topic: string | undefined, code: TopicErrorCode): void {
  answer(outbox, topicError(topic, code));
}

/** A client's `since`, or `null` when it is not `{epoch: string, offset: integer >= 0}`. */
function position(since: unknown): TopicPosition | null {
  if (typeof since !== 'object' || since === null) return null;
  const { epoch, offset } = since as { epoch?: unknown; offset?: unknown };
  if (typeof epoch !== 'string' || !isOffset(offset)) return null;
  return { epoch, offset };
}

function positive(name: string, value: number): number {
  if (!(Number.isSafeInteger(value) && value >= 1)) {
    throw new RangeError(`topics: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}
