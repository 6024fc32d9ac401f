import { defer, EMPTY, expand, from, mergeMap, Subject, switchMap, tap } from 'rxjs';
import type { Observable, Subscription } from 'rxjs';
import { catchUp } from '../../operators/catchUp.js';
import type { RawJson } from '../../operators/rawJson.js';
import type { OutboxMetrics } from '../metrics.js';
import { BuiltFrame, ReportedJson } from '../outboxEntry.js';
import type { WsOutbox } from '../wsOutbox.js';
import type { LocalTopic, Publication, SharedFrame, TopicSubscriber } from './localTopic.js';
import {
  answer,
  freshSubscribed,
  gapMessage,
  notResumedSubscribed,
  resumedSubscribed,
} from './messages.js';
import type { NotResumedReason } from './messages.js';
import type { HistoryPage, TopicPosition } from './store.js';

/** What every subscription of one hub shares. */
export interface SubscriptionLimits {
  /** Most publications replayed for one `since`; more is answered `too_many`. */
  readonly maxReplay: number;
  /** Most live publications held while it catches up; one more sends a `gap`. */
  readonly maxBuffered: number;
  /** Publications read from the history at a time, each page once the socket took the last. */
  readonly pageSize: number;
  readonly metrics: OutboxMetrics | undefined;
}

/**
 * Where a subscription stands: answering its `subscribed`; catching up (history, then the live
 * publications that came meanwhile); following live frames; behind (a `gap` was sent, and the
 * client's `subscribe` with `since` will restart it); or ended.
 */
type State = 'starting' | 'replaying' | 'live' | 'behind' | 'ended';

/** A `since` that cannot be resumed, found on reading the history's first page. */
class NotResumed extends Error {
  constructor(readonly reason: NotResumedReason) {
    super(`not resumed: ${reason}`);
  }
}

/**
 * One socket's subscription to one topic: from its `subscribed` answer, through the replay of
 * what it missed, to the live frames it shares with the topic's other local subscribers.
 *
 * <span class="informal">It keeps the last offset it handed to the socket's outbox, so every
 * publication goes out exactly once and in order, whichever path it took; a drop in the outbox
 * turns into one `gap` and a replay at the socket's pace.</span>
 */
export class TopicSubscription implements TopicSubscriber {
  private state: State = 'starting';
  /** The epoch and the last offset handed to the outbox. */
  private epoch = '';
  private last = 0;
  /** While catching up: the live publications, for `catchUp` to splice after the history. */
  private feed: Subject<Publication> | undefined;
  private replay: Subscription | undefined;
  /**
   * Lets `start` return while a replay waits for its first page: called once the answer is
   * queued, or when the replay is stopped before it (its socket's next requests must not wait).
   */
  private startReturns: (() => void) | undefined;

  /**
   * @param topic The topic, as this node follows it.
   * @param outbox The socket's outbox.
   * @param limits The hub's replay limits and metrics.
   */
  constructor(
    readonly topic: LocalTopic,
    private readonly outbox: WsOutbox<unknown>,
    private readonly limits: SubscriptionLimits,
  ) {}

  /** Whether the subscription has ended (unsubscribed, left, or its socket gone). */
  get ended(): boolean {
    return this.state === 'ended';
  }

  /**
   * (Re)starts the subscription from `since`, or from now: queues its `subscribed`, then, if
   * `since` is resumed, the missed publications at the pace the socket takes, then live frames.
   * @returns Resolves once `subscribed` is queued; the replay goes on after.
   * @throws When the topic's store cannot be reached (the caller answers `unavailable`).
   */
  async start(since: TopicPosition | undefined): Promise<void> {
    this.stopReplay();
    this.state = 'starting';
    await this.topic.ready;
    // The socket may have gone while the store answered.
    if (this.ended) return;
    const position = this.topic.position;
    const name = this.topic.name;
    if (since === undefined) {
      answer(this.outbox, freshSubscribed(name, position));
      this.follow(position);
    } else if (since.epoch !== position.epoch) {
      this.notResumed(position, 'epoch');
    } else if (since.offset > position.offset) {
      // Ahead of this node: with a store shared by several processes, another node may have
      // sent publications this node's live feed has not announced yet. The history decides.
      await this.catchUpFrom(since);
    } else if (since.offset === position.offset) {
      this.limits.metrics?.topicResumes.inc({ outcome: 'recovered' });
      answer(this.outbox, resumedSubscribed(name, since, 0));
      this.follow(position);
    } else if (position.offset - since.offset > this.limits.maxReplay) {
      this.notResumed(position, 'too_many');
    } else {
      await this.catchUpFrom(since);
    }
  }

  /** Ends it: no more answers, replays or frames. */
  end(): void {
    this.stopReplay();
    this.state = 'ended';
  }

  offerFrame(frame: SharedFrame): void {
    if (this.state !== 'live' || frame.epoch !== this.epoch || frame.last <= this.last) return;
    if (frame.first === this.last + 1) {
      this.last = frame.last;
      this.outbox.deliver(
        new BuiltFrame(
          frame.data,
          frame.lines.length,
          frame.compressed,
          () => this.dropped(frame.first),
          frame.textBytes,
        ),
      );
    } else if (frame.first <= this.last) {
      // It caught up in the middle of this window: only the end of the frame is new to it.
      const from = this.last + 1;
      frame.lines
        .slice(from - frame.first)
        .forEach((line, index) =>
          this.sendLine({ epoch: frame.epoch, offset: from + index, line }),
        );
    } else {
      this.fallBehind(this.last);
    }
  }

  offerPublication(publication: Publication): void {
    this.feed?.next(publication);
  }

  epochChanged(epoch: string, top: number): void {
    if (this.state === 'starting' || this.state === 'ended') return;
    this.stopReplay();
    this.notResumed({ epoch, offset: top }, 'epoch');
  }

  publicationsLost(): void {
    if (this.state === 'live' || this.state === 'replaying') this.fallBehind(this.last);
  }

  /** Replays what came after `since` from the history, then follows. */
  private catchUpFrom(since: TopicPosition): Promise<void> {
    return new Promise<void>((resolve, failed) => {
      const answered = () => {
        this.startReturns = undefined;
        resolve();
      };
      this.startReturns = answered;
      const feed = new Subject<Publication>();
      this.feed = feed;
      this.state = 'replaying';
      this.epoch = since.epoch;
      this.last = since.offset;
      let isAnswered = false;
      const answerOnce = (message: RawJson) => {
        isAnswered = true;
        answer(this.outbox, message);
        answered();
      };
      this.replay = feed
        .pipe(
          catchUp(
            since.offset,
            (after) =>
              this.history(since, after, (replayed) => {
                this.limits.metrics?.topicResumes.inc({ outcome: 'recovered' });
                answerOnce(resumedSubscribed(this.topic.name, since, replayed));
              }),
            {
              offsetOf: (publication) => publication.offset,
              maxBuffered: this.limits.maxBuffered,
              onCaughtUp: (last) => {
                this.feed = undefined;
                this.state = 'live';
                this.last = last;
                feed.complete();
                // The replay's tail goes now: the client is caught up one window sooner.
                this.outbox.flush();
              },
            },
          ),
        )
        .subscribe({
          next: (publication) => this.sendLine(publication),
          error: (error: unknown) => {
            this.replay = undefined;
            this.feed = undefined;
            if (isAnswered) {
              // Trimmed, or too much came live while it read: the client resumes from here.
              if (this.state === 'replaying') this.fallBehind(this.last);
            } else if (error instanceof NotResumed) {
              this.notResumed(this.topic.position, error.reason);
              answered();
            } else {
              // The store failed before anything was answered: the caller answers it.
              this.state = 'ended';
              this.startReturns = undefined;
              failed(error);
            }
          },
        });
    });
  }

  /**
   * The history after `after`, a page at a time, the next page read once the socket has taken
   * the last. The first page decides whether `since` can be resumed at all.
   */
  private history(
    since: TopicPosition,
    after: number,
    onResumed: (replayed: number) => void,
  ): Observable<Publication> {
    const { name } = this.topic;
    const store = this.topic.history;
    const { pageSize } = this.limits;
    const read = (from: number) => defer(() => store.read(name, from, pageSize));
    return read(after).pipe(
      // The first page only: the ones `expand` reads do not come back through here.
      tap((page) => {
        // A position past the topic's top is from nothing this epoch published.
        if (page.epoch !== since.epoch || after > page.top) throw new NotResumed('epoch');
        if (page.oldest > after + 1) throw new NotResumed('too_old');
        onResumed(page.top - after);
      }),
      expand((page) => {
        const next = lastOffset(page);
        if (page.publications.length < pageSize || next >= page.top) return EMPTY;
        return from(this.outbox.whenReady()).pipe(
          switchMap(() => read(next)),
          tap((later) => {
            if (later.epoch !== since.epoch) throw new NotResumed('epoch');
          }),
        );
      }),
      mergeMap((page) =>
        page.publications.map(({ offset, data }): Publication => ({
          epoch: page.epoch,
          offset,
          line: this.topic.lineOf(offset, data),
        })),
      ),
    );
  }

  private follow({ epoch, offset }: TopicPosition): void {
    this.state = 'live';
    this.epoch = epoch;
    this.last = offset;
  }

  private notResumed(position: TopicPosition, reason: NotResumedReason): void {
    this.limits.metrics?.topicResumes.inc({ outcome: reason });
    answer(this.outbox, notResumedSubscribed(this.topic.name, position, reason));
    this.follow(position);
  }

  private sendLine(publication: Publication): void {
    this.last = publication.offset;
    this.outbox.deliver(new ReportedJson(publication.line, () => this.dropped(publication.offset)));
  }

  /** The outbox dropped a publication: the first drop of a run says where the client is. */
  private dropped(offset: number): void {
    if (this.state === 'live' || this.state === 'replaying') this.fallBehind(offset - 1);
  }

  private fallBehind(after: number): void {
    this.stopReplay();
    this.state = 'behind';
    this.limits.metrics?.topicGaps.inc();
    answer(this.outbox, gapMessage(this.topic.name, after));
  }

  private stopReplay(): void {
    this.replay?.unsubscribe();
    this.replay = undefined;
    this.feed = undefined;
    // Stopped before its answer (a new epoch, a lost feed, the socket gone): `start` returns.
    this.startReturns?.();
  }
}

function lastOffset(page: HistoryPage): number {
  const { publications } = page;
  return publications.length === 0 ? 0 : publications[publications.length - 1].offset;
}
