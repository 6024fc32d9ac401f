import { randomBytes } from 'node:crypto';
import type {
  AppendResult,
  HistoryPage,
  StoredPublication,
  TopicEvent,
  TopicStore,
  TopicWatch,
} from '../topics/store.js';
import { Appender } from './appender.js';
import { createCounters, snapshot } from './counters.js';
import type { RedisTopicStoreCounters } from './counters.js';
import { TopicStoreClosedError } from './errors.js';
import { producerKey, topicKeys } from './keys.js';
import { resolveOptions } from './options.js';
import type { RedisTopicStoreOptions, ResolvedRedisTopicStoreOptions } from './options.js';
import { retryDelay, withRetries } from './retry.js';
import { APPEND_SCRIPT, READ_SCRIPT, runScript } from './scripts.js';
import { Subscriber } from './subscriber.js';
import { TopicFeed } from './topicFeed.js';
import type { FeedContext } from './topicFeed.js';
import { isOffset } from '../topics/validate.js';

/**
 * Topics on Redis, shared by every process that uses the same Redis: offsets, epochs, bounded
 * history and the live feed of each topic.
 *
 * <span class="informal">Each topic is a Redis Stream of its publications (entry id
 * `<offset>-0`) with its epoch beside it; one Lua script appends a batch and announces it on the
 * topic's pub/sub channel, so offsets have no holes and announcements come in offset order.
 * </span>
 *
 * Appends to one topic made in the same event-loop turn (or `coalesceMs`) go in one script call.
 * Each node subscribes once per watched topic, whatever the number of watchers, and turns the
 * announcements into events that are contiguous: a missed announcement or a reconnect makes it
 * catch up from the stream first. Commands time out and are retried; while Redis is down,
 * appends and reads reject with {@link TopicStoreUnavailableError} within about
 * `retryDelayMs * (2 ** retries - 1)` ms, and once it is back the store carries on by itself.
 *
 * ## Example
 *
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisTopicStore } from 'ws-outbox/redis';
 *
 * const client = createClient({ url: 'redis://127.0.0.1:6379' });
 * client.on('error', (error) => log.warn(error));
 * await client.connect();
 * const store = new RedisTopicStore({ client, maxLength: 5_000 });
 * ```
 */
export class RedisTopicStore implements TopicStore {
  private readonly options: ResolvedRedisTopicStoreOptions;
  private readonly live = createCounters();
  private readonly appender: Appender;
  private readonly subscriber: Subscriber;
  private readonly feeds = new Map<string, TopicFeed>();
  private readonly feedContext: FeedContext;
  /** This store's id as a producer: its batches are told apart from other stores' by it. */
  private readonly producer = randomBytes(12).toString('base64url');
  private readonly producerExpiryMs: number;
  private batches = 0;
  private closing: Promise<void> | undefined;

  /** @param options The client and the store's bounds. */
  constructor(options: RedisTopicStoreOptions) {
    this.options = resolveOptions(options);
    const { client, retries, commandTimeoutMs, maxRetryDelayMs } = this.options;
    // Long enough to outlast every retry of a batch, so that a retry finds its first attempt.
    this.producerExpiryMs = Math.max(
      60_000,
      2 * (retries + 1) * (commandTimeoutMs + maxRetryDelayMs),
    );
    this.appender = new Appender(
      this.options,
      (topic, data) => this.sendBatch(topic, data),
      this.live,
    );
    this.subscriber = new Subscriber(
      client,
      () => this.reconnected(),
      (error) => this.report(error),
    );
    this.feedContext = {
      subscriber: this.subscriber,
      read: (topic, after, limit) => this.readHistory(topic, after, limit),
      counters: this.live,
      readBatch: this.options.readBatch,
      subscribeTimeoutMs: commandTimeoutMs,
      retryDelay: (attempt) => retryDelay(this.options, attempt),
      report: (error) => this.report(error),
      reportListenerError: (error) => this.reportListenerError(error),
    };
  }

  /** What the store has done so far (a frozen copy). */
  get counters(): RedisTopicStoreCounters {
    return snapshot(this.live);
  }

  /**
   * Appends publications to a topic. Appends to one topic from this store keep their order.
   * @param topic The topic's name.
   * @param data Each publication's data as one line of JSON (no raw newline).
   * @returns The epoch and the offsets given.
   * @throws {TopicStoreUnavailableError} Redis could not be reached in time.
   * @throws {TopicStoreOverloadedError} Too many appends are waiting for Redis.
   */
  async append(topic: string, data: readonly string[]): Promise<AppendResult> {
    this.checkOpen();
    checkTopic(topic);
    if (!Array.isArray(data) || !data.every(isOneLine)) {
      throw new TypeError('append: data must be an array of strings without a newline');
    }
    if (data.length === 0) {
      const { epoch, top } = await this.read(topic, 0, 0);
      return { epoch, first: top + 1, last: top };
    }
    return this.appender.append(topic, data);
  }

  /**
   * Reads the publications after `after`, oldest first, with the topic's position. A topic that
   * has no epoch yet (never published, or its history lost) gets one here, which its next
   * publication continues: a reader of an empty topic can resume at offset 0 of that epoch.
   * @param topic The topic's name.
   * @param after The last offset the reader has; 0 for the start.
   * @param limit The most publications returned; 0 for the position only.
   * @returns The epoch, top and oldest offsets, and the publications.
   * @throws {TopicStoreUnavailableError} Redis could not be reached in time.
   */
  async read(topic: string, after: number, limit: number): Promise<HistoryPage> {
    this.checkOpen();
    checkTopic(topic);
    if (!isOffset(after) || !isOffset(limit)) {
      throw new RangeError('read: after and limit must be integers >= 0');
    }
    return this.readHistory(topic, after, limit);
  }

  /**
   * Follows a topic. The first watch of a topic subscribes to its channel; the others share it.
   * `ready` rejects with {@link TopicStoreUnavailableError} if the subscription is not confirmed
   * within `commandTimeoutMs` (the watch is then closed).
   * @param topic The topic's name.
   * @param listener Sees the topic's events, in order.
   * @returns The watch.
   */
  watch(topic: string, listener: (event: TopicEvent) => void): TopicWatch {
    if (this.closing) {
      return { ready: Promise.reject(new TopicStoreClosedError()), close: () => {} };
    }
    checkTopic(topic);
    const feed = this.feeds.get(topic) ?? this.openFeed(topic);
    const entry = { listener };
    feed.add(entry);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      feed.remove(entry);
      if (feed.idle) this.closeFeed(feed);
    };
    feed.ready.catch(close);
    return { ready: feed.ready, close };
  }

  /**
   * Stops taking appends, waits for those accepted to be answered, ends every watch and closes
   * the store's subscriber connection. The client given to the store stays open. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.appender.drained();
      for (const feed of this.feeds.values()) feed.close();
      this.feeds.clear();
      this.subscriber.close();
    })();
    return this.closing;
  }

  private openFeed(topic: string): TopicFeed {
    const feed = new TopicFeed(
      topic,
      topicKeys(this.options.keyPrefix, topic).channel,
      this.feedContext,
    );
    this.feeds.set(topic, feed);
    return feed;
  }

  private closeFeed(feed: TopicFeed): void {
    feed.close();
    if (this.feeds.get(feed.topic) === feed) this.feeds.delete(feed.topic);
  }

  private reconnected(): void {
    this.live.reconnects++;
    for (const feed of this.feeds.values()) feed.reconnected();
  }

  private sendBatch(topic: string, data: readonly string[]): Promise<AppendResult> {
    const { client, keyPrefix, maxLength, idleExpiryMs } = this.options;
    const keys = topicKeys(keyPrefix, topic);
    const batch = String(++this.batches);
    const args = [
      newEpoch(),
      String(maxLength),
      String(idleExpiryMs),
      keys.channel,
      batch,
      String(this.producerExpiryMs),
      ...data,
    ];
    const scriptKeys = [keys.meta, keys.log, producerKey(keyPrefix, topic, this.producer)];
    return withRetries(
      client,
      this.options,
      `append to "${topic}"`,
      async (signal) => {
        this.live.scriptCalls++;
        const [epoch, first, last] = await runScript<[string, string, string]>(
          client,
          APPEND_SCRIPT,
          scriptKeys,
          args,
          signal,
        );
        return { epoch: String(epoch), first: Number(first), last: Number(last) };
      },
      () => this.live.retries++,
    );
  }

  private readHistory(topic: string, after: number, limit: number): Promise<HistoryPage> {
    const { client, keyPrefix, idleExpiryMs } = this.options;
    const keys = topicKeys(keyPrefix, topic);
    const args = [newEpoch(), String(idleExpiryMs), String(after), String(limit)];
    return withRetries(
      client,
      this.options,
      `read "${topic}"`,
      async (signal) =>
        toPage(
          await runScript<unknown[]>(client, READ_SCRIPT, [keys.meta, keys.log], args, signal),
        ),
      () => this.live.retries++,
    );
  }

  private checkOpen(): void {
    if (this.closing) throw new TopicStoreClosedError();
  }

  private report(error: unknown): void {
    this.options.onError?.(error);
  }

  private reportListenerError(error: unknown): void {
    const { onError } = this.options;
    if (onError) onError(error);
    else
      queueMicrotask(() => {
        throw error;
      });
  }
}

function toPage(reply: readonly unknown[]): HistoryPage {
  const publications: StoredPublication[] = [];
  for (let index = 3; index + 1 < reply.length; index += 2) {
    publications.push({ offset: Number(reply[index]), data: String(reply[index + 1]) });
  }
  return {
    epoch: String(reply[0]),
    top: Number(reply[1]),
    oldest: Number(reply[2]),
    publications,
  };
}

const EPOCH_BYTES = 12;
/** Random bytes for candidate epochs, drawn 256 epochs at a time. */
let epochPool = Buffer.alloc(0);
let epochPoolOffset = 0;

/**
 * A candidate epoch, used by a script only when the topic has none. Every script call sends one,
 * so they are sliced from a pool of random bytes rather than drawn one by one (a draw of 12
 * bytes cost a third of an append's CPU time on the node).
 */
function newEpoch(): string {
  if (epochPoolOffset + EPOCH_BYTES > epochPool.length) {
    epochPool = randomBytes(EPOCH_BYTES * 256);
    epochPoolOffset = 0;
  }
  const epoch = epochPool.toString('base64url', epochPoolOffset, epochPoolOffset + EPOCH_BYTES);
  epochPoolOffset += EPOCH_BYTES;
  return epoch;
}

function isOneLine(data: unknown): boolean {
  return typeof data === 'string' && !data.includes('\n');
}

function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic === '') {
    throw new TypeError('topic must be a non-empty string');
  }
}
