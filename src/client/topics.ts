import { Observable, Subject, Subscription, type SchedulerLike, type Subscriber } from 'rxjs';
import { backoffDelay } from './backoff.js';
import type { ResolvedReconnectOptions } from './backoff.js';
import type { Channel } from './channel.js';
import { TopicError } from './errors.js';
import { resumeValue } from './resume.js';

/** Topic errors after which the client asks again, with a backoff. */
const RETRIED_CODES: ReadonlySet<string> = new Set(['rate_limited', 'unavailable']);
/** Where a client stands in a topic: the topic's epoch and the last offset the client has. */
export interface TopicPosition {
  /** Opaque; the server changes it whenever the topic's history is lost. */
  readonly epoch: string;
  /** The last publication's offset (0 before the first one). */
  readonly offset: number;
}

/**
 * Why publications were missed: the server's reasons (`epoch`: the topic's history was lost;
 * `too_old`: the missed publications are no longer in history; `too_many`: more were missed than
 * the server replays), or the client's `not_resumed` (the server started the topic afresh past
 * the client's position without replaying, e.g. a server-joined topic the resume parameter had
 * no room for).
 */
export type RecoveryReason = 'epoch' | 'too_old' | 'too_many' | 'not_resumed' | (string & {});

/**
 * Publications of a topic were missed and will not come: the application should refetch its
 * state of the topic. Publications continue after `position`.
 */
export interface TopicRecovery {
  readonly topic: string;
  readonly reason: RecoveryReason;
  /** The position the client had: the last publication the application saw. */
  readonly previous: TopicPosition;
  /** The position now: the next publication delivered is `position.offset + 1`. */
  readonly position: TopicPosition;
}

/** How many positions of topics the client is no longer in it keeps, most recently active. */
export const REMEMBERED_POSITIONS = 256;

/**
 * Who made this client a member of the topic: nobody, the client (it sent `subscribe` because the
 * application subscribed), or the server (it joined the client unasked, e.g. to a user's inbox).
 */
type Membership = 'none' | 'client' | 'server';

interface TopicEntry {
  readonly topic: string;
  /** The data of every publication accepted, for everyone attached (subscribe and listen). */
  readonly publications: Subject<unknown>;
  /** Those attached through `subscribe()`: they end with the membership. */
  readonly requesters: Set<Subscriber<unknown>>;
  membership: Membership;
  /** What the client sent for the topic on this connection and is waiting for, oldest first. */
  readonly awaiting: ('subscribe' | 'unsubscribe')[];
  /** The server's stream of the topic on this connection continues the position. */
  synced: boolean;
  /** A subscribe waiting to be retried after `rate_limited`. */
  retry: Subscription;
  retries: number;
}

type TopicLine =
  | {
      readonly type: 'pub';
      readonly topic: string;
      readonly offset: number;
      readonly data?: unknown;
    }
  | {
      readonly type: 'subscribed';
      readonly topic: string;
      readonly epoch: string;
      readonly offset: number;
      readonly recovered?: boolean;
      readonly reason?: string;
    }
  | { readonly type: 'gap'; readonly topic: string; readonly after: number }
  | { readonly type: 'unsubscribed'; readonly topic: string }
  | {
      readonly type: 'error';
      readonly topic: string;
      readonly code: string;
      readonly message?: string;
    };

/**
 * The topics of one client: membership (refcounted subscribe and unsubscribe, server joins),
 * the position of each topic, the rules that keep each one's publications exact (duplicates
 * dropped, holes and gaps resynchronised with `since`), recoveries, and what to resend or resume
 * on a new connection. Knows nothing of sockets; {@link OutboxClient} drives it.
 */
export class Topics {
  /** Every `recovered: false` (and every position the server moved past the client's). */
  readonly recoveries$: Observable<TopicRecovery>;

  private readonly recoveries = new Subject<TopicRecovery>();
  private readonly entries = new Map<string, TopicEntry>();
  /** The position of each topic, least recently active first (a move re-inserts it). */
  private readonly known = new Map<string, TopicPosition>();
  private closed = false;

  /**
   * @param channel The connection.
   * @param scheduler Times the retries of a `rate_limited` subscribe.
   * @param retry The backoff of those retries, and how many there may be in a row.
   */
  constructor(
    private readonly channel: Channel,
    private readonly scheduler: SchedulerLike,
    private readonly retry: ResolvedReconnectOptions,
  ) {
    this.recoveries$ = this.recoveries.asObservable();
  }

  /**
   * The data of a topic's publications. The first subscriber makes the client subscribe on the
   * server (unless the server has joined it already), the last one's unsubscribe leaves.
   * @param topic The topic's name.
   * @returns A cold Observable of the publications' `data`, sharing one membership.
   */
  subscribe<T>(topic: string): Observable<T> {
    checkTopic(topic);
    return new Observable<T>((subscriber) => {
      const requester = subscriber as Subscriber<unknown>;
      const entry = this.attach(topic, requester);
      if (entry === undefined) return undefined;
      entry.requesters.add(requester);
      if (entry.membership === 'none') {
        entry.membership = 'client';
        this.sendSubscribe(entry);
      }
      return () => {
        entry.requesters.delete(requester);
        if (entry.requesters.size === 0 && entry.membership === 'client') this.leave(entry);
        this.sweep(entry);
      };
    });
  }

  /**
   * The data of a topic's publications while the client is a member, whoever made it one; never
   * sends anything.
   * @param topic The topic's name.
   * @returns An Observable of the publications' `data`.
   */
  listen<T>(topic: string): Observable<T> {
    checkTopic(topic);
    return new Observable<T>((subscriber) => {
      const entry = this.attach(topic, subscriber as Subscriber<unknown>);
      return entry && (() => this.sweep(entry));
    });
  }

  /** A snapshot of every position the client knows. */
  positions(): ReadonlyMap<string, TopicPosition> {
    return new Map(this.known);
  }

  /**
   * The resume parameter's value for the next connection: the positions of the topics the
   * server joined this client to, most recently active first, within the parameter's bounds.
   */
  resumeParameter(): string | undefined {
    const joined: (readonly [string, TopicPosition])[] = [];
    for (const [topic, position] of this.known) {
      if (this.entries.get(topic)?.membership === 'server') joined.push([topic, position]);
    }
    return resumeValue(joined.reverse());
  }

  /**
   * A connection has opened: every topic the client subscribed is subscribed again, with
   * `since` where it has a position. Call before anything else is sent on it.
   */
  connected(): void {
    for (const entry of [...this.entries.values()]) {
      this.reset(entry);
      if (entry.membership === 'client') this.sendSubscribe(entry);
    }
  }

  /** The connection was lost, after every frame it delivered: nothing sent on it is awaited. */
  disconnected(): void {
    for (const entry of [...this.entries.values()]) {
      this.reset(entry);
      this.sweep(entry);
    }
  }

  /**
   * Applies one message from the server, if it is a topic line.
   * @param message Any decoded message.
   * @returns Whether the message is passed on to `messages$`: false only for a publication the
   *   topic rules drop (a duplicate, one past a hole, one of a topic being resynchronised).
   */
  dispatch(message: unknown): boolean {
    const line = this.closed ? undefined : topicLineOf(message);
    if (line === undefined) return true;
    switch (line.type) {
      case 'pub':
        return this.onPublication(line.topic, line.offset, line.data);
      case 'subscribed':
        this.onSubscribed(line.topic, line);
        return true;
      case 'gap':
        this.onGap(line.topic);
        return true;
      case 'unsubscribed':
        this.onUnsubscribed(line.topic);
        return true;
      case 'error':
        this.onError(line.topic, line.code, line.message ?? '');
        return true;
    }
  }

  /** The client is done: every topic Observable completes, and so does `recoveries$`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const entry of entries) {
      entry.membership = 'none';
      entry.retry.unsubscribe();
      entry.publications.complete();
    }
    this.recoveries.complete();
  }

  private onPublication(topic: string, offset: number, data: unknown): boolean {
    const entry = this.entries.get(topic);
    const position = this.known.get(topic);
    if (entry === undefined || entry.membership === 'none' || !entry.synced) return false;
    if (position === undefined || offset <= position.offset) return false;
    if (offset > position.offset + 1) {
      // A hole: ask again from the position, and take nothing until the answer.
      this.sendSubscribe(entry);
      return false;
    }
    this.moveTo(topic, { epoch: position.epoch, offset });
    entry.publications.next(data);
    return true;
  }

  private onSubscribed(
    topic: string,
    answer: { epoch: string; offset: number; recovered?: boolean; reason?: string },
  ): void {
    const entry = this.entryOf(topic);
    if (entry.awaiting[0] === 'subscribe') entry.awaiting.shift();
    // The client has sent more since (an unsubscribe, a newer subscribe): the last answer counts.
    if (entry.awaiting.length > 0) return;
    // Not asked for: the server joined this client to the topic.
    if (entry.membership === 'none') entry.membership = 'server';
    entry.synced = true;
    entry.retries = 0;
    entry.retry.unsubscribe();
    const previous = this.known.get(topic);
    const position = { epoch: answer.epoch, offset: answer.offset };
    const reason = previous === undefined ? undefined : recoveryReason(previous, answer);
    // Continuing: the position stays, and anything replayed up to it is dropped as a duplicate.
    this.moveTo(topic, previous !== undefined && reason === undefined ? previous : position);
    if (previous !== undefined && reason !== undefined) {
      this.recoveries.next({ topic, reason, previous, position });
    }
  }

  private onGap(topic: string): void {
    const entry = this.entries.get(topic);
    // While not synced, an answer is on its way (or a retry, or a reconnect) that resumes anyway.
    if (entry !== undefined && entry.membership !== 'none' && entry.synced) {
      this.sendSubscribe(entry);
    }
  }

  private onUnsubscribed(topic: string): void {
    const entry = this.entries.get(topic);
    if (entry === undefined) return;
    if (entry.awaiting[0] === 'unsubscribe') {
      entry.awaiting.shift();
      this.sweep(entry);
      return;
    }
    if (entry.awaiting.length > 0) return;
    // Not asked for: the server took this client out of the topic.
    entry.membership = 'none';
    entry.synced = false;
    for (const requester of [...entry.requesters]) requester.complete();
    this.sweep(entry);
  }

  private onError(topic: string, code: string, message: string): void {
    const entry = this.entries.get(topic);
    if (entry === undefined) return;
    const answered = entry.awaiting.shift();
    if (answered === 'unsubscribe' || entry.awaiting.length > 0 || entry.membership === 'none') {
      this.sweep(entry);
      return;
    }
    // Both say "later": too many requests now, or the server's topic store out of reach.
    if (RETRIED_CODES.has(code) && entry.retries < this.retry.maxAttempts) {
      entry.synced = false;
      entry.retry.unsubscribe();
      const delay = backoffDelay(entry.retries++, this.retry);
      entry.retry = this.scheduler.schedule(() => {
        if (entry.membership !== 'none') this.sendSubscribe(entry);
      }, delay);
      return;
    }
    entry.membership = 'none';
    entry.synced = false;
    entry.retry.unsubscribe();
    const error = new TopicError(code, message, topic);
    for (const requester of [...entry.requesters]) requester.error(error);
    this.sweep(entry);
  }

  /** Asks for the topic from the client's position, and takes no publication until answered. */
  private sendSubscribe(entry: TopicEntry): void {
    entry.synced = false;
    // Not connected: connected() sends it (client's topics) or the resume parameter does.
    if (this.channel.current() === undefined) return;
    const { topic } = entry;
    const since = this.known.get(topic);
    this.channel.send(
      since === undefined
        ? { type: 'subscribe', topic }
        : { type: 'subscribe', topic, since: { epoch: since.epoch, offset: since.offset } },
    );
    entry.awaiting.push('subscribe');
  }

  private leave(entry: TopicEntry): void {
    const onServer = entry.synced || entry.awaiting.includes('subscribe');
    entry.membership = 'none';
    entry.synced = false;
    entry.retry.unsubscribe();
    if (!onServer || this.channel.current() === undefined) return;
    this.channel.send({ type: 'unsubscribe', topic: entry.topic });
    entry.awaiting.push('unsubscribe');
  }

  private reset(entry: TopicEntry): void {
    entry.awaiting.length = 0;
    entry.synced = false;
    entry.retry.unsubscribe();
    entry.retries = 0;
  }

  /** Feeds the topic's publications to `subscriber`, or completes it if the client is done. */
  private attach(topic: string, subscriber: Subscriber<unknown>): TopicEntry | undefined {
    if (this.closed) {
      subscriber.complete();
      return undefined;
    }
    const entry = this.entryOf(topic);
    entry.publications.subscribe(subscriber);
    return entry;
  }

  private entryOf(topic: string): TopicEntry {
    let entry = this.entries.get(topic);
    if (entry === undefined) {
      entry = {
        topic,
        publications: new Subject<unknown>(),
        requesters: new Set(),
        membership: 'none',
        awaiting: [],
        synced: false,
        retry: Subscription.EMPTY,
        retries: 0,
      };
      this.entries.set(topic, entry);
    }
    return entry;
  }

  /** Forgets a topic nobody is in, listens to or waits on; its position is remembered. */
  private sweep(entry: TopicEntry): void {
    if (entry.membership !== 'none' || entry.awaiting.length > 0) return;
    if (entry.publications.observed || this.entries.get(entry.topic) !== entry) return;
    this.entries.delete(entry.topic);
    const left = [...this.known.keys()].filter((topic) => !this.entries.has(topic));
    const excess = left.length - REMEMBERED_POSITIONS;
    for (let i = 0; i < excess; i++) this.known.delete(left[i]);
  }

  private moveTo(topic: string, position: TopicPosition): void {
    this.known.delete(topic);
    this.known.set(topic, position);
  }
}

/**
 * Why an answer does not continue `previous`, or `undefined` when it does: same epoch and not
 * past the client's position (what is replayed up to it is dropped as duplicates). Judged on the
 * positions, not on `recovered` alone: an answer to a `since` the client has moved past since
 * (the server's own `recovered: false` on an epoch change crossing the client's resubscribe)
 * misses nothing.
 */
function recoveryReason(
  previous: TopicPosition,
  answer: { epoch: string; offset: number; recovered?: boolean; reason?: string },
): RecoveryReason | undefined {
  if (answer.epoch === previous.epoch && answer.offset <= previous.offset) return undefined;
  if (answer.recovered === false && answer.reason !== undefined) return answer.reason;
  return answer.epoch === previous.epoch ? 'not_resumed' : 'epoch';
}

function checkTopic(topic: unknown): void {
  if (typeof topic !== 'string' || topic === '') {
    throw new TypeError('A topic is a non-empty string, e.g. "room:lobby"');
  }
}

function isOffset(value: unknown, min: number): boolean {
  return Number.isSafeInteger(value) && (value as number) >= min;
}

/** The message as a line of the topic protocol, or `undefined` when it is not one. */
function topicLineOf(message: unknown): TopicLine | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const line = message as Record<string, unknown>;
  if (typeof line.topic !== 'string') return undefined;
  switch (line.type) {
    case 'pub':
      return isOffset(line.offset, 1) ? (line as TopicLine) : undefined;
    case 'subscribed':
      return typeof line.epoch === 'string' &&
        isOffset(line.offset, 0) &&
        (line.recovered === undefined || typeof line.recovered === 'boolean') &&
        (line.reason === undefined || typeof line.reason === 'string')
        ? (line as TopicLine)
        : undefined;
    case 'gap':
      return isOffset(line.after, 0) ? (line as TopicLine) : undefined;
    case 'unsubscribed':
      return line as TopicLine;
    case 'error':
      // With an id it answers a request, not a topic.
      return typeof line.code === 'string' &&
        line.id === undefined &&
        (line.message === undefined || typeof line.message === 'string')
        ? (line as TopicLine)
        : undefined;
    default:
      return undefined;
  }
}
