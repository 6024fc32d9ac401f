/**
 * What a {@link RedisTopicStore} has done since it was created: monotonic counts, to export as
 * Prometheus counters (for example from a prom-client `collect()`).
 */
export interface RedisTopicStoreCounters {
  /** Append script calls sent (retries included); one per topic per coalescing window. */
  readonly scriptCalls: number;
  /** Publications appended (each once, however many attempts it took). */
  readonly publicationsAppended: number;
  /** Publications whose append rejected: Redis unavailable or an error reply. */
  readonly appendFailures: number;
  /** Publications refused at once because too many were already waiting. */
  readonly appendsOverloaded: number;
  /** Commands retried after a failed or timed-out attempt. */
  readonly retries: number;
  /** Catch-ups of a watched topic from its history: after a missed announcement or a reconnect. */
  readonly backfills: number;
  /** `reset` events: a watched topic found in a new epoch. */
  readonly resets: number;
  /** `lost` events: publications missed that the history no longer held. */
  readonly lost: number;
  /** Times the subscriber connection came back after a drop. */
  readonly reconnects: number;
}

/** The store's mutable counters; {@link snapshot} hands out a copy. */
export type Counters = { -readonly [K in keyof RedisTopicStoreCounters]: number };

/** @returns Every counter at zero. */
export function createCounters(): Counters {
  return {
    scriptCalls: 0,
    publicationsAppended: 0,
    appendFailures: 0,
    appendsOverloaded: 0,
    retries: 0,
    backfills: 0,
    resets: 0,
    lost: 0,
    reconnects: 0,
  };
}

/**
 * @param counters The live counters.
 * @returns A frozen copy.
 */
export function snapshot(counters: Counters): RedisTopicStoreCounters {
  return Object.freeze({ ...counters });
}
