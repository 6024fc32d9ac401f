/**
 * Where a topic's publications live: its offsets, its epoch, its bounded history, and the live
 * feed of new publications. The in-memory store is the default; `ws-outbox/redis` shares topics
 * across processes.
 */

/** A position in a topic: the epoch and the last offset seen (0 before the first publication). */
export interface TopicPosition {
  /** Opaque; changes whenever the topic's history is lost. */
  readonly epoch: string;
  readonly offset: number;
}

/** One publication as stored: its offset, and its data already serialized to one line of JSON. */
export interface StoredPublication {
  readonly offset: number;
  /** The publication's `data`, as JSON text with no raw newline. */
  readonly data: string;
}

/** What {@link TopicStore.append} assigned. */
export interface AppendResult {
  readonly epoch: string;
  /** Offset of the first publication appended; the others follow it, one apart. */
  readonly first: number;
  /** Offset of the last publication appended. */
  readonly last: number;
}

/** One read of a topic's history. */
export interface HistoryPage {
  readonly epoch: string;
  /** The last offset published in this epoch (0 when none). */
  readonly top: number;
  /** The oldest offset still held; `top + 1` when the history is empty. */
  readonly oldest: number;
  /** Publications with offsets after the one asked for, ascending and contiguous, at most `limit`. */
  readonly publications: readonly StoredPublication[];
}

/** What a store tells the watchers of a topic, in order. */
export type TopicEvent =
  /** New publications, contiguous with the ones announced before them in this epoch. */
  | {
      readonly kind: 'publications';
      readonly epoch: string;
      readonly publications: readonly StoredPublication[];
    }
  /**
   * The topic's history was lost (a new epoch): watchers must treat every subscriber's position
   * as gone. `top` is the new epoch's last offset.
   */
  | { readonly kind: 'reset'; readonly epoch: string; readonly top: number }
  /**
   * The live feed missed publications after `after` that the history no longer holds (a feed
   * lost for longer than the history lasts): subscribers past `after` cannot be continued.
   */
  | { readonly kind: 'lost'; readonly epoch: string; readonly after: number };

/** A live feed of one topic, from {@link TopicStore.watch}. */
export interface TopicWatch {
  /**
   * Resolves once every publication appended from now on will be announced: read the history
   * only after this, so that history and live feed overlap instead of leaving a hole.
   */
  readonly ready: Promise<void>;
  /** Stops the feed. Idempotent. */
  close(): void;
}

/**
 * The storage and live feed behind topics. Offsets start at 1 in each epoch and have no holes;
 * the live feed announces publications in offset order.
 */
export interface TopicStore {
  /**
   * Appends publications to a topic, in order.
   * @param topic The topic's name.
   * @param data Each publication's data as one line of JSON.
   * @returns The epoch and the offsets given.
   */
  append(topic: string, data: readonly string[]): Promise<AppendResult>;
  /**
   * Reads the publications after `after`, oldest first. With `limit` 0, only the position.
   * @param topic The topic's name.
   * @param after The last offset the reader has; 0 for the start.
   * @param limit The most publications returned.
   */
  read(topic: string, after: number, limit: number): Promise<HistoryPage>;
  /**
   * Follows a topic: `listener` sees every event of the topic from the moment `ready` resolves,
   * in order, until `close()`.
   */
  watch(topic: string, listener: (event: TopicEvent) => void): TopicWatch;
  /** Releases the store's resources (connections, timers). */
  close(): Promise<void>;
}
