import { randomBytes } from 'node:crypto';
import { asyncScheduler } from 'rxjs';
import type { SchedulerAction, SchedulerLike, Subscription } from 'rxjs';
import { PublicationLog } from './publicationLog.js';
import type {
  AppendResult,
  HistoryPage,
  StoredPublication,
  TopicEvent,
  TopicStore,
  TopicWatch,
} from './store.js';
import {
  assertCount,
  assertPublicationData,
  assertTopicName,
  DEFAULT_MAX_TOPIC_LENGTH,
} from './validate.js';

/** Options of {@link MemoryTopicStore}. Every bound has a default; see each. */
export interface MemoryTopicStoreOptions {
  /** Publications kept per topic, the newest ones. Default 1,000. */
  maxPublications?: number;
  /**
   * UTF-8 bytes of data kept per topic: what a full replay sends at most. Default 1 MiB. A
   * publication larger than this is announced to watchers but not kept.
   */
  maxBytes?: number;
  /**
   * How long a publication is kept, in the scheduler's unit (milliseconds by default); also how
   * long a topic nobody watches is kept after its last publication. Default 300,000 (5 minutes).
   */
  maxAgeMs?: number;
  /**
   * Topics kept while nobody watches them (watched topics are never dropped). When one more is
   * created, the one idle the longest is forgotten, topics never published first. Default 10,000.
   */
  maxTopics?: number;
  /**
   * The memory all histories may take together, counted as each publication's UTF-8 data length
   * plus {@link PUBLICATION_OVERHEAD_BYTES} for its record. When an append goes over it, the
   * topics nobody watches are forgotten, idle the longest first, then the appended topic's
   * oldest publications are dropped. Default 64 MiB.
   */
  maxTotalBytes?: number;
  /** The longest topic name, in characters. Default 256. */
  maxTopicLength?: number;
  /**
   * Tells the time (`now()`) for ages, and runs the one timer that forgets expired topics.
   * Default `asyncScheduler`; a virtual one in tests.
   */
  scheduler?: SchedulerLike;
  /**
   * Sees an error thrown by a watcher's listener; the other watchers and the append go on.
   * Default: rethrown asynchronously, as RxJS reports an error nobody handles.
   */
  onListenerError?: (error: unknown, topic: string) => void;
}

/**
 * What each publication held costs beside its data, as {@link MemoryTopicStoreOptions.maxTotalBytes}
 * counts it: its record, its place in the history and its time (about 90 bytes measured on
 * Node 20, x64), rounded up.
 */
export const PUBLICATION_OVERHEAD_BYTES = 96;

const DEFAULTS = {
  maxPublications: 1_000,
  maxBytes: 1024 * 1024,
  maxAgeMs: 5 * 60 * 1000,
  maxTopics: 10_000,
  maxTotalBytes: 64 * 1024 * 1024,
} as const;

/** Largest delay timers take: Node fires a longer one after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type PublicationsEvent = Extract<TopicEvent, { kind: 'publications' }>;

interface Watcher {
  readonly listener: (event: TopicEvent) => void;
  /** The topic's top when the watch began: publications up to it are not this watcher's. */
  readonly from: number;
  closed: boolean;
}

/** One incarnation of a topic: forgotten and created again, it gets a new epoch. */
interface Topic {
  readonly name: string;
  readonly epoch: string;
  top: number;
  readonly log: PublicationLog;
  readonly watchers: Set<Watcher>;
  /** The last publication, or the moment the last watcher left, or the creation. */
  lastActive: number;
}

/**
 * The default {@link TopicStore}: topics in this process's memory, bounded per topic by count,
 * bytes and age, and in total by the number of idle topics and the bytes of all histories.
 *
 * <span class="informal">For one process. Its epochs change with every process (and with every
 * incarnation of a topic), so a client resuming on another process, or after a restart, is told
 * its history is gone rather than given the wrong one.</span>
 *
 * Offsets start at 1 in each epoch and have no holes. An epoch is this store's random id and a
 * counter: a topic forgotten (idle longer than `maxAgeMs`, or pushed out by `maxTopics` or
 * `maxTotalBytes`) and used again is a new incarnation with a new epoch, so a client holding
 * offset 500 of the old one is never told it resumed at offset 3 of the new one. Reading or
 * watching a topic never published creates its epoch, so that the first publication continues
 * it.
 *
 * `append` assigns the offsets and announces the publications to the topic's watchers
 * synchronously, in order, before its promise resolves. A publication appended from inside a
 * listener is announced after the current announcement has reached every watcher, so every
 * watcher sees every topic's publications in offset order. `watch` is ready at once. A watched
 * topic is never forgotten, so this store never sends `reset` or `lost`.
 *
 * Ages are read from `scheduler.now()`: they are trimmed when a topic is appended to or read,
 * and one timer per store (every `maxAgeMs`, only while something can expire) forgets expired
 * topics and trims the histories nobody reads. `close()` stops it.
 *
 * ## Example
 *
 * ```ts
 * const store = new MemoryTopicStore({ maxPublications: 500, maxAgeMs: 120_000 });
 * const { epoch, first } = await store.append('room:lobby', [JSON.stringify({ text: 'hi' })]);
 * const page = await store.read('room:lobby', first - 1, 100);
 * ```
 */
export class MemoryTopicStore implements TopicStore {
  private readonly topics = new Map<string, Topic>();
  // The topics nobody watches, in the order they went idle or were last published to: the
  // first entry of each is the one to forget first. Never-published ones go before the others.
  private readonly idleUnpublished = new Map<string, Topic>();
  private readonly idlePublished = new Map<string, Topic>();
  private readonly id = randomBytes(6).toString('base64url');
  private incarnations = 0;
  private totalBytes = 0;
  private sweeper: Subscription | undefined;
  private closed = false;
  // Announcements made while another is being delivered wait here, so order holds.
  private announcements: Array<{ topic: Topic; event: PublicationsEvent }> = [];
  private announcing = false;

  private readonly maxPublications: number;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly maxTopics: number;
  private readonly maxTotalBytes: number;
  private readonly maxTopicLength: number;
  private readonly scheduler: SchedulerLike;

  /**
   * @param options Bounds, clock and error hook; see {@link MemoryTopicStoreOptions}.
   * @throws {RangeError} On an option out of range.
   */
  constructor(private readonly options: MemoryTopicStoreOptions = {}) {
    this.maxPublications = countOption('maxPublications', options.maxPublications, 0);
    this.maxBytes = countOption('maxBytes', options.maxBytes, 0);
    this.maxTopics = countOption('maxTopics', options.maxTopics, 1);
    this.maxTotalBytes = countOption('maxTotalBytes', options.maxTotalBytes, 0);
    this.maxAgeMs = options.maxAgeMs ?? DEFAULTS.maxAgeMs;
    if (!(this.maxAgeMs > 0 && this.maxAgeMs <= MAX_TIMER_MS)) {
      throw new RangeError(`MemoryTopicStore: maxAgeMs must be in (0, ${MAX_TIMER_MS}]`);
    }
    this.maxTopicLength = options.maxTopicLength ?? DEFAULT_MAX_TOPIC_LENGTH;
    if (!(Number.isInteger(this.maxTopicLength) && this.maxTopicLength >= 1)) {
      throw new RangeError('MemoryTopicStore: maxTopicLength must be a positive integer');
    }
    this.scheduler = options.scheduler ?? asyncScheduler;
  }

  /** Topics held, watched or not. */
  get size(): number {
    return this.topics.size;
  }

  /** What the histories take, as `maxTotalBytes` counts it. */
  get bytes(): number {
    return this.totalBytes;
  }

  /**
   * Numbers the publications and announces them to the topic's watchers, synchronously; the
   * history keeps what its bounds allow.
   * @param topic The topic's name.
   * @param data Each publication's data as one line of JSON.
   * @returns The epoch and the offsets given. Rejects with a `TypeError` on a bad topic or data,
   * or an `Error` once the store is closed.
   */
  async append(topic: string, data: readonly string[]): Promise<AppendResult> {
    this.assertOpen();
    assertTopicName(topic, this.maxTopicLength);
    assertPublicationData(data);
    const now = this.scheduler.now();
    const entry = this.acquire(topic, now);
    const first = entry.top + 1;
    const publications: StoredPublication[] = data.map((item, i) => ({
      offset: first + i,
      data: item,
    }));
    for (const publication of publications) {
      this.totalBytes += entry.log.push(publication, now) + PUBLICATION_OVERHEAD_BYTES;
    }
    entry.top += publications.length;
    entry.lastActive = now;
    if (entry.watchers.size === 0) this.markIdle(entry);
    this.trim(entry, now);
    this.enforceTotalBytes(entry);
    this.startSweeping();
    this.announce(entry, { kind: 'publications', epoch: entry.epoch, publications });
    return { epoch: entry.epoch, first, last: entry.top };
  }

  /**
   * The topic's position and the publications held after `after`. Creates the topic (and its
   * epoch) if it is not held.
   * @param topic The topic's name.
   * @param after The last offset the reader has; 0 for the start.
   * @param limit The most publications returned; 0 for the position only.
   * @returns The page. Rejects with a `TypeError` or `RangeError` on a bad argument, or an
   * `Error` once the store is closed.
   */
  async read(topic: string, after: number, limit: number): Promise<HistoryPage> {
    this.assertOpen();
    assertTopicName(topic, this.maxTopicLength);
    assertCount('after', after);
    assertCount('limit', limit);
    const now = this.scheduler.now();
    const entry = this.acquire(topic, now);
    // A topic created by this read is held as an idle one, so that reads of names nobody
    // publishes to are bounded by maxTopics; reading does not make a held topic younger.
    if (entry.watchers.size === 0 && !this.isIdle(entry)) this.markIdle(entry);
    this.trimByAge(entry, now);
    const { epoch, top, log } = entry;
    return { epoch, top, oldest: top + 1 - log.length, publications: log.after(after, limit) };
  }

  /**
   * Announces the topic's later publications to `listener`, from now on (`ready` is resolved).
   * The topic is not forgotten while watched.
   * @param topic The topic's name.
   * @param listener Called synchronously by `append`, in offset order.
   * @returns The watch; `close()` it when done.
   * @throws {TypeError} On a bad topic or listener.
   * @throws {Error} Once the store is closed.
   */
  watch(topic: string, listener: (event: TopicEvent) => void): TopicWatch {
    this.assertOpen();
    assertTopicName(topic, this.maxTopicLength);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    const entry = this.acquire(topic, this.scheduler.now());
    this.idleUnpublished.delete(entry.name);
    this.idlePublished.delete(entry.name);
    const watcher: Watcher = { listener, from: entry.top, closed: false };
    entry.watchers.add(watcher);
    return {
      ready: Promise.resolve(),
      close: () => this.unwatch(entry, watcher),
    };
  }

  /** Stops the timer and drops every topic; later calls are refused. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sweeper?.unsubscribe();
    this.sweeper = undefined;
    for (const entry of this.topics.values()) {
      for (const watcher of entry.watchers) watcher.closed = true;
    }
    this.topics.clear();
    this.idleUnpublished.clear();
    this.idlePublished.clear();
    this.announcements = [];
    this.totalBytes = 0;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryTopicStore: the store is closed');
  }

  /** The topic's current incarnation: the held one unless it expired, else a new one. */
  private acquire(name: string, now: number): Topic {
    const held = this.topics.get(name);
    if (held && !this.isExpired(held, now)) return held;
    if (held) this.forget(held);
    const created: Topic = {
      name,
      epoch: `${this.id}.${++this.incarnations}`,
      top: 0,
      log: new PublicationLog(),
      watchers: new Set(),
      lastActive: now,
    };
    this.topics.set(name, created);
    return created;
  }

  private isIdle(entry: Topic): boolean {
    return this.idleUnpublished.has(entry.name) || this.idlePublished.has(entry.name);
  }

  private isExpired(entry: Topic, now: number): boolean {
    return entry.watchers.size === 0 && now - entry.lastActive >= this.maxAgeMs;
  }

  /** Puts an unwatched topic last in its idle order, and holds the idle topics to `maxTopics`. */
  private markIdle(entry: Topic): void {
    this.idleUnpublished.delete(entry.name);
    this.idlePublished.delete(entry.name);
    (entry.top === 0 ? this.idleUnpublished : this.idlePublished).set(entry.name, entry);
    while (this.idleUnpublished.size + this.idlePublished.size > this.maxTopics) {
      const oldest =
        firstOtherThan(this.idleUnpublished, entry) ?? firstOtherThan(this.idlePublished, entry);
      // Unreachable with maxTopics >= 1: there is always another idle topic to forget.
      if (!oldest) break;
      this.forget(oldest);
    }
    this.startSweeping();
  }

  private forget(entry: Topic): void {
    this.topics.delete(entry.name);
    this.idleUnpublished.delete(entry.name);
    this.idlePublished.delete(entry.name);
    this.totalBytes -= entry.log.bytes + entry.log.length * PUBLICATION_OVERHEAD_BYTES;
  }

  private unwatch(entry: Topic, watcher: Watcher): void {
    if (watcher.closed) return;
    watcher.closed = true;
    entry.watchers.delete(watcher);
    if (entry.watchers.size > 0 || this.topics.get(entry.name) !== entry) return;
    entry.lastActive = this.scheduler.now();
    this.markIdle(entry);
  }

  private dropOldest(entry: Topic): void {
    this.totalBytes -= entry.log.shift() + PUBLICATION_OVERHEAD_BYTES;
  }

  private trim(entry: Topic, now: number): void {
    const { log } = entry;
    while (log.length > this.maxPublications || log.bytes > this.maxBytes) this.dropOldest(entry);
    this.trimByAge(entry, now);
  }

  private trimByAge(entry: Topic, now: number): void {
    const { log } = entry;
    while (log.length > 0 && now - (log.oldestTime as number) >= this.maxAgeMs) {
      this.dropOldest(entry);
    }
  }

  /** Frees memory for an append to `entry`: idle topics first, then its own oldest publications. */
  private enforceTotalBytes(entry: Topic): void {
    while (this.totalBytes > this.maxTotalBytes) {
      const idle = firstOtherThan(this.idlePublished, entry);
      if (idle) this.forget(idle);
      else if (entry.log.length > 0) this.dropOldest(entry);
      else break;
    }
  }

  private announce(entry: Topic, event: PublicationsEvent): void {
    if (entry.watchers.size === 0) return;
    this.announcements.push({ topic: entry, event });
    if (this.announcing) return;
    this.announcing = true;
    try {
      // Read by index: an append from inside a listener adds to this same queue.
      for (let i = 0; i < this.announcements.length; i++) {
        const { topic, event: next } = this.announcements[i];
        this.deliver(topic, next);
      }
    } finally {
      this.announcements = [];
      this.announcing = false;
    }
  }

  private deliver(entry: Topic, event: PublicationsEvent): void {
    const firstOffset = event.publications[0].offset;
    for (const watcher of entry.watchers) {
      // A watcher added since this was appended already has it in its history read.
      if (watcher.closed || firstOffset <= watcher.from) continue;
      try {
        watcher.listener(event);
      } catch (error) {
        this.reportListenerError(error, entry.name);
      }
    }
  }

  private reportListenerError(error: unknown, topic: string): void {
    const { onListenerError } = this.options;
    if (onListenerError) {
      onListenerError(error, topic);
      return;
    }
    queueMicrotask(() => {
      throw error;
    });
  }

  /** Starts the one timer that forgets expired topics, unless it runs or nothing can expire. */
  private startSweeping(): void {
    if (this.sweeper || this.closed || !this.hasExpiring()) return;
    this.sweeper = this.scheduler.schedule(
      function (this: SchedulerAction<MemoryTopicStore>, store?: MemoryTopicStore) {
        const self = store as MemoryTopicStore;
        self.sweep();
        if (self.hasExpiring() && !self.closed) this.schedule(self, self.maxAgeMs);
        else self.sweeper = undefined;
      },
      this.maxAgeMs,
      this,
    );
  }

  private hasExpiring(): boolean {
    return this.idleUnpublished.size + this.idlePublished.size > 0 || this.totalBytes > 0;
  }

  private sweep(): void {
    const now = this.scheduler.now();
    for (const entry of [...this.topics.values()]) {
      if (this.isExpired(entry, now)) this.forget(entry);
      else this.trimByAge(entry, now);
    }
  }
}

function firstOtherThan(topics: Map<string, Topic>, except: Topic): Topic | undefined {
  for (const topic of topics.values()) {
    if (topic !== except) return topic;
  }
  return undefined;
}

function countOption(name: keyof typeof DEFAULTS, value: number | undefined, min: number): number {
  const resolved = value ?? DEFAULTS[name];
  if (!(resolved >= min) || (!Number.isInteger(resolved) && resolved !== Infinity)) {
    throw new RangeError(
      `MemoryTopicStore: ${name} must be an integer >= ${min} or Infinity, got ${resolved}`,
    );
  }
  return resolved;
}
