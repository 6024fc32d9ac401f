import type { HistoryPage, StoredPublication, TopicEvent } from '../topics/store.js';
import { parseAnnouncement } from './announcement.js';
import type { Announcement } from './announcement.js';
import type { Counters } from './counters.js';
import { TopicStoreUnavailableError } from './errors.js';
import { within } from './retry.js';
import type { Subscriber } from './subscriber.js';

/** What a {@link TopicFeed} needs from its store. */
export interface FeedContext {
  readonly subscriber: Subscriber;
  /** Reads the topic's history, with the store's timeout and retries. */
  readonly read: (topic: string, after: number, limit: number) => Promise<HistoryPage>;
  readonly counters: Counters;
  /** Publications per history read. */
  readonly readBatch: number;
  /** How long a subscription may take to be confirmed. */
  readonly subscribeTimeoutMs: number;
  /** The delay before the attempt number `attempt` (from 0) to catch up again after a failure. */
  readonly retryDelay: (attempt: number) => number;
  /** Sees what the feed recovers from by itself. */
  readonly report: (error: unknown) => void;
  /** Sees what a listener threw. */
  readonly reportListenerError: (error: unknown) => void;
}

/** One listener of a feed; an object per watch, so one function can watch twice. */
export interface FeedListener {
  readonly listener: (event: TopicEvent) => void;
}

interface Buffered {
  readonly announcement: Announcement;
  /** Arrival order, to tell announcements older than a history read from newer ones. */
  readonly seq: number;
}

/**
 * The live feed of one topic on this node: one pub/sub subscription shared by all its watchers,
 * turned into events that are in offset order and contiguous.
 *
 * The feed knows the topic's epoch and the last offset it announced. An announcement that
 * continues it is passed on at once. Anything else (an announcement that skips ahead because a
 * pub/sub message was lost, a new epoch, the subscriber connection coming back) makes it catch
 * up from the stream: announcements are held while it reads the history after its last offset,
 * page by page, and passed on once the history is delivered, without the ones it already
 * covered. History that no longer holds the next offset becomes a `lost` event; a new epoch
 * becomes a `reset` to the epoch's top.
 */
export class TopicFeed {
  /** Resolves once the subscription is confirmed and the topic's position is known. */
  readonly ready: Promise<void>;
  private readonly listeners = new Set<FeedListener>();
  private epoch: string | undefined;
  private last = 0;
  private held: Buffered[] = [];
  private heldPublications = 0;
  private arrivals = 0;
  private catchingUp: Promise<void> | undefined;
  private catchUpAgain = false;
  private started = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAttempts = 0;
  private subscription: Promise<unknown> | undefined;
  private readonly onMessage = (message: string) => this.announce(message);

  /**
   * @param topic The topic's name.
   * @param channel The topic's pub/sub channel.
   * @param context What the feed needs from its store.
   */
  constructor(
    readonly topic: string,
    private readonly channel: string,
    private readonly context: FeedContext,
  ) {
    this.ready = this.start();
  }

  /** Whether no listener is left. */
  get idle(): boolean {
    return this.listeners.size === 0;
  }

  add(listener: FeedListener): void {
    this.listeners.add(listener);
  }

  remove(listener: FeedListener): void {
    this.listeners.delete(listener);
  }

  /** Catches up from the stream: the subscriber connection is back and may have missed some. */
  reconnected(): void {
    if (this.started) this.resync();
  }

  /** Ends the subscription (once it is confirmed, if it is not yet) and every timer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.held = [];
    this.subscription?.then(
      () => this.context.subscriber.unsubscribe(this.channel, this.onMessage),
      () => {},
    );
  }

  private async start(): Promise<void> {
    await this.subscribe();
    if (this.closed) return;
    // The position read after the subscription is confirmed: every publication after it will
    // be announced, so the feed can tell a contiguous announcement from one after a hole.
    await this.catchUp();
    this.started = true;
  }

  private async subscribe(): Promise<void> {
    const deadline = Date.now() + this.context.subscribeTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      this.subscription = this.context.subscriber.subscribe(this.channel, this.onMessage);
      try {
        await within(
          this.subscription,
          Math.max(0, deadline - Date.now()),
          () => new DeadlineError('the subscription was not confirmed in time'),
        );
        return;
      } catch (error) {
        // A SUBSCRIBE lost with its connection is not retried by node-redis; one still queued
        // is, and is undone by close() once confirmed.
        const delay = this.context.retryDelay(attempt);
        if (this.closed || error instanceof DeadlineError || Date.now() + delay >= deadline) {
          throw new TopicStoreUnavailableError(`subscribe to "${this.topic}"`, error);
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private announce(message: string): void {
    if (this.closed) return;
    const announcement = parseAnnouncement(message);
    if (!announcement) {
      this.context.report(new Error(`Unexpected message on channel "${this.channel}"`));
      return;
    }
    if (
      this.catchingUp === undefined &&
      announcement.epoch === this.epoch &&
      announcement.first <= this.last + 1
    ) {
      this.deliver(announcement.publications);
      return;
    }
    this.hold(announcement);
    if (this.started) this.resync();
  }

  private hold(announcement: Announcement): void {
    const count = announcement.publications.length;
    if (this.heldPublications + count > this.context.readBatch) {
      // Past this bound, the stream is read again instead: it holds them too.
      this.held = [];
      this.heldPublications = 0;
      this.catchUpAgain = true;
    }
    this.held.push({ announcement, seq: this.arrivals++ });
    this.heldPublications += count;
  }

  /** Catches up, and retries with backoff until it succeeds or the feed is closed. */
  private resync(): void {
    this.catchUp().then(
      () => {
        this.retryAttempts = 0;
      },
      (error: unknown) => {
        if (this.closed) return;
        this.context.report(error);
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(
          () => this.resync(),
          this.context.retryDelay(this.retryAttempts++),
        );
      },
    );
  }

  /** One catch-up at a time; a request during one makes it go round again. */
  private catchUp(): Promise<void> {
    this.catchUpAgain = true;
    this.catchingUp ??= this.catchUpRounds().finally(() => {
      this.catchingUp = undefined;
    });
    return this.catchingUp;
  }

  private async catchUpRounds(): Promise<void> {
    while (this.catchUpAgain && !this.closed) {
      this.catchUpAgain = false;
      const readStart = await this.readHistory();
      if (this.closed) return;
      this.release(readStart);
    }
  }

  /**
   * Brings the epoch and last offset up to the stream's, delivering what it holds.
   * @returns The arrival number at the start of the last read: announcements that arrived
   *   before it are covered by that read.
   */
  private async readHistory(): Promise<number> {
    const { context } = this;
    if (this.epoch === undefined) {
      const readStart = this.arrivals;
      const page = await context.read(this.topic, 0, 0);
      this.epoch = page.epoch;
      this.last = page.top;
      return readStart;
    }
    context.counters.backfills++;
    for (;;) {
      const readStart = this.arrivals;
      const page = await context.read(this.topic, this.last, context.readBatch);
      if (this.closed) return readStart;
      if (page.epoch !== this.epoch) {
        this.epoch = page.epoch;
        this.last = page.top;
        context.counters.resets++;
        this.emit({ kind: 'reset', epoch: page.epoch, top: page.top });
        return readStart;
      }
      if (page.oldest > this.last + 1) {
        context.counters.lost++;
        this.emit({ kind: 'lost', epoch: page.epoch, after: this.last });
        this.last = page.oldest - 1;
      }
      this.deliver(page.publications);
      if (this.last >= page.top || page.publications.length === 0) return readStart;
    }
  }

  /** Passes on the held announcements that continue the feed, and drops those already covered. */
  private release(readStart: number): void {
    const held = this.held;
    this.held = [];
    this.heldPublications = 0;
    for (let index = 0; index < held.length; index++) {
      const { announcement, seq } = held[index]!;
      const continues = announcement.epoch === this.epoch && announcement.first <= this.last + 1;
      if (continues) {
        this.deliver(announcement.publications);
      } else if (seq >= readStart) {
        // Newer than the read: a hole or another epoch, which another read settles.
        for (const rest of held.slice(index)) this.hold(rest.announcement);
        this.catchUpAgain = true;
        return;
      }
      // Otherwise older than the read, which covered it (its epoch is gone, or it is delivered).
    }
  }

  /** Emits the publications after the last offset; they continue it. */
  private deliver(publications: readonly StoredPublication[]): void {
    const start = publications.findIndex(({ offset }) => offset > this.last);
    if (start === -1 || this.epoch === undefined) return;
    const fresh = start === 0 ? publications : publications.slice(start);
    this.last = fresh[fresh.length - 1]!.offset;
    this.emit({ kind: 'publications', epoch: this.epoch, publications: fresh });
  }

  private emit(event: TopicEvent): void {
    for (const { listener } of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.context.reportListenerError(error);
      }
    }
  }
}

class DeadlineError extends Error {}
