import { identity, Observable, Subject } from 'rxjs';
import type { Subscription } from 'rxjs';
import { coalesce } from '../../operators/coalesce.js';
import { gzipInOrder } from '../../operators/gzipOver.js';
import type { OutboxConfig } from '../outboxConfig.js';
import type { Frame } from '../socketSink.js';
import { pubLine } from './messages.js';
import type { TopicEvent, TopicStore, TopicWatch } from './store.js';

/** One publication as this node fans it out: its offset and its line, built once. */
export interface Publication {
  readonly epoch: string;
  readonly offset: number;
  /** `{"type":"pub","topic":…,"offset":…,"data":…}` */
  readonly line: string;
}

/**
 * The publications of one coalescing window of a topic, as one frame built (and gzipped) once
 * for every local subscriber. Its lines are kept for the rare subscriber that needs only the
 * end of it.
 */
export interface SharedFrame {
  readonly epoch: string;
  readonly first: number;
  readonly last: number;
  readonly lines: readonly string[];
  /** The NDJSON text, or once gzipped, the gzip bytes or their base64 envelope. */
  readonly data: Frame;
  readonly compressed: boolean;
  /** The UTF-8 size of its NDJSON text before gzip, once gzipped. */
  readonly textBytes?: number;
}

/** What a topic's local subscribers are told, and how they are counted in. */
export interface TopicSubscriber {
  /** A frame of the topic's live publications. */
  offerFrame(frame: SharedFrame): void;
  /** A live publication, at once, for a subscriber catching up (the others get frames). */
  offerPublication(publication: Publication): void;
  /** The topic's history was lost: a new epoch, whose last offset is `top`. */
  epochChanged(epoch: string, top: number): void;
  /** The live feed missed publications the history no longer holds. */
  publicationsLost(): void;
}

/**
 * One topic as this node follows it while it has local subscribers: one live feed from the
 * store for all of them, and one coalescing window whose frames they share.
 *
 * <span class="informal">N subscribers on this node cost one store subscription, one line per
 * publication and one gzip per window, whatever N is.</span>
 */
export class LocalTopic {
  readonly subscribers = new Set<TopicSubscriber>();
  /** Resolves once the live feed is established and the position read; rejects if it cannot be. */
  readonly ready: Promise<void>;
  private epochNow: string | undefined;
  private topNow = 0;
  private readonly topicJson: string;
  private readonly watch: TopicWatch;
  private readonly publications = new Subject<Publication>();
  private readonly frames: Subscription;

  /**
   * @param name The topic.
   * @param store Where its publications come from.
   * @param config The outboxes' config: the window, the batch size and the gzip of the frames.
   * @param onFrameBuilt Counts each frame built (a metric).
   * @param onPublications Counts the publications announced (a metric).
   */
  constructor(
    readonly name: string,
    private readonly store: TopicStore,
    config: OutboxConfig<unknown>,
    onFrameBuilt: () => void,
    private readonly onPublications: (count: number) => void,
  ) {
    this.topicJson = JSON.stringify(name);
    this.frames = this.publications
      .pipe(
        coalesce<Publication>(config.coalesceMs, {
          maxBatch: config.maxBatch,
          scheduler: config.scheduler,
        }),
        toFrames(() => this.epochNow),
        config.compressAbove === false
          ? identity
          : gzipInOrder<SharedFrame>(config.compressAbove, config.gzip, FRAME_ACCESS),
      )
      .subscribe((frame) => {
        onFrameBuilt();
        for (const subscriber of [...this.subscribers]) subscriber.offerFrame(frame);
      });
    this.watch = store.watch(name, (event) => this.onEvent(event));
    this.ready = this.watch.ready.then(async () => {
      const page = await store.read(name, 0, 0);
      // Publications announced meanwhile may already have told more.
      if (this.epochNow !== page.epoch) {
        this.epochNow = page.epoch;
        this.topNow = page.top;
      } else {
        this.topNow = Math.max(this.topNow, page.top);
      }
    });
    // Whoever awaits it handles a failure; this keeps an unawaited one from being unhandled.
    this.ready.catch(() => undefined);
  }

  /** The current epoch and last offset this node knows; only once `ready` has resolved. */
  get position(): { readonly epoch: string; readonly offset: number } {
    return { epoch: this.epochNow ?? '', offset: this.topNow };
  }

  /** The `pub` line of a publication read from the history. */
  lineOf(offset: number, data: string): string {
    return pubLine(this.topicJson, offset, data);
  }

  /** The store, for the history reads of subscribers catching up. */
  get history(): TopicStore {
    return this.store;
  }

  /** Stops the live feed and the window. */
  close(): void {
    this.watch.close();
    this.frames.unsubscribe();
    this.publications.complete();
  }

  private onEvent(event: TopicEvent): void {
    if (event.kind === 'publications') {
      if (this.epochNow !== undefined && event.epoch !== this.epochNow) {
        this.changeEpoch(event.epoch, event.publications[0].offset - 1);
      }
      this.epochNow = event.epoch;
      this.onPublications(event.publications.length);
      // One copy per event, not per publication: offering a publication neither adds nor
      // removes a subscriber (both wait for the store or the socket).
      const subscribers = [...this.subscribers];
      for (const { offset, data } of event.publications) {
        const publication: Publication = {
          epoch: event.epoch,
          offset,
          line: pubLine(this.topicJson, offset, data),
        };
        this.topNow = offset;
        this.publications.next(publication);
        for (const subscriber of subscribers) subscriber.offerPublication(publication);
      }
    } else if (event.kind === 'reset') {
      this.changeEpoch(event.epoch, event.top);
    } else {
      for (const subscriber of [...this.subscribers]) subscriber.publicationsLost();
    }
  }

  private changeEpoch(epoch: string, top: number): void {
    this.epochNow = epoch;
    this.topNow = top;
    for (const subscriber of [...this.subscribers]) subscriber.epochChanged(epoch, top);
  }
}

/**
 * The most text one shared frame carries. A window holds at most `maxBatch` publications of up
 * to 64 KiB each: cut into frames of this size, one frame is gzipped inline by the default
 * compressor, and no socket is handed a frame far over its byte budget.
 */
const MAX_FRAME_CHARACTERS = 256 * 1024;

/**
 * Each window's publications as frames: one per run of the current epoch, cut at
 * {@link MAX_FRAME_CHARACTERS}. Lines of an epoch that ended while they waited are left out:
 * their subscribers were told the history was lost.
 */
function toFrames(
  currentEpoch: () => string | undefined,
): (source: Observable<Publication[]>) => Observable<SharedFrame> {
  return (source) =>
    new Observable<SharedFrame>((subscriber) =>
      source.subscribe({
        next: (batch) => {
          const epoch = currentEpoch();
          if (epoch === undefined) return;
          let run: Publication[] = [];
          let characters = 0;
          const emit = () => {
            if (run.length === 0) return;
            const lines = run.map((publication) => publication.line);
            subscriber.next({
              epoch,
              first: run[0].offset,
              last: run[run.length - 1].offset,
              lines,
              data: lines.join('\n'),
              compressed: false,
            });
            run = [];
            characters = 0;
          };
          for (const publication of batch) {
            if (publication.epoch !== epoch) continue;
            if (characters + publication.line.length > MAX_FRAME_CHARACTERS) emit();
            run.push(publication);
            characters += publication.line.length + 1;
          }
          emit();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}

const FRAME_ACCESS = {
  textOf: (frame: SharedFrame) => (typeof frame.data === 'string' ? frame.data : undefined),
  withOutput: (frame: SharedFrame, data: Frame, textBytes: number): SharedFrame => ({
    ...frame,
    data,
    compressed: true,
    textBytes,
  }),
};
