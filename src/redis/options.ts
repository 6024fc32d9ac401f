import type { RedisCommandClient } from './client.js';

/** Options of {@link RedisTopicStore}. */
export interface RedisTopicStoreOptions {
  /**
   * A node-redis client (`createClient()` from `redis`), connected or connecting. The store sends
   * its scripts through it and subscribes through one `client.duplicate()` of its own; it never
   * closes `client`, which stays yours.
   */
  client: RedisCommandClient;
  /**
   * Prepended to every key and channel. Must not contain `{` or `}`: the topic's name is the
   * hash tag that keeps a topic's keys on one cluster slot. Default `'ws-outbox:'`.
   */
  keyPrefix?: string;
  /** Publications kept per topic (the stream's exact `MAXLEN`). Default 1,000. */
  maxLength?: number;
  /**
   * A topic's keys expire once no publication was appended for this long; the next append
   * starts a new epoch. Default 86,400,000 ms (24 h).
   */
  idleExpiryMs?: number;
  /** Time one attempt of a command may take. Default 2,000 ms. */
  commandTimeoutMs?: number;
  /** Attempts after the first one failed or timed out. Default 2. */
  retries?: number;
  /** Delay before the first retry; each further one doubles it. Default 50 ms. */
  retryDelayMs?: number;
  /**
   * Cap of the retry delay, and of the delay between two attempts to bring a watched topic back
   * in step after Redis comes back. Default 1,000 ms.
   */
  maxRetryDelayMs?: number;
  /**
   * How long appends to one topic gather before they go to Redis in one script call. `0` (the
   * default) gathers those of one event-loop turn.
   */
  coalesceMs?: number;
  /** Most publications in one script call. Default 1,000. */
  maxBatch?: number;
  /** Most bytes of data in one script call (one append bigger than this goes alone). Default 1 MiB. */
  maxBatchBytes?: number;
  /**
   * Most publications accepted and not yet answered, all topics together; an append beyond it
   * rejects with `TopicStoreOverloadedError`. Default 10,000.
   */
  maxPendingPublications?: number;
  /** Most bytes of data accepted and not yet answered, all topics together. Default 16 MiB. */
  maxPendingBytes?: number;
  /** Publications per history read when a watched topic catches up. Default 1,000. */
  readBatch?: number;
  /**
   * Sees what the store cannot hand to a caller: errors of its subscriber connection, a failed
   * catch-up (retried), an announcement it cannot parse, an error thrown by a watcher.
   * Default: errors thrown by a watcher are rethrown asynchronously; the others are ignored, as
   * the store recovers from them by itself.
   */
  onError?: (error: unknown) => void;
}

/** {@link RedisTopicStoreOptions} with every default filled in. */
export type ResolvedRedisTopicStoreOptions = Required<Omit<RedisTopicStoreOptions, 'onError'>> &
  Pick<RedisTopicStoreOptions, 'onError'>;

const DEFAULTS = {
  keyPrefix: 'ws-outbox:',
  maxLength: 1_000,
  idleExpiryMs: 24 * 60 * 60 * 1_000,
  commandTimeoutMs: 2_000,
  retries: 2,
  retryDelayMs: 50,
  maxRetryDelayMs: 1_000,
  coalesceMs: 0,
  maxBatch: 1_000,
  maxBatchBytes: 1024 * 1024,
  maxPendingPublications: 10_000,
  maxPendingBytes: 16 * 1024 * 1024,
  readBatch: 1_000,
} as const;

/**
 * Fills in the defaults of {@link RedisTopicStoreOptions} and checks the values.
 * @param options The options as given.
 * @returns Every option, defaults filled in.
 */
export function resolveOptions(options: RedisTopicStoreOptions): ResolvedRedisTopicStoreOptions {
  if (!options || typeof options.client?.sendCommand !== 'function') {
    throw new TypeError('RedisTopicStore: `client` must be a node-redis client (createClient())');
  }
  const resolved: ResolvedRedisTopicStoreOptions = {
    ...DEFAULTS,
    ...withoutUndefined(options),
    client: options.client,
  };
  if (/[{}]/.test(resolved.keyPrefix)) {
    throw new RangeError('RedisTopicStore: keyPrefix must not contain "{" or "}"');
  }
  for (const name of ['maxLength', 'maxBatch', 'readBatch', 'idleExpiryMs'] as const) {
    positiveInteger(name, resolved[name]);
  }
  for (const name of ['commandTimeoutMs', 'maxBatchBytes'] as const) {
    if (!(resolved[name] > 0)) throw new RangeError(`RedisTopicStore: ${name} must be > 0`);
  }
  for (const name of ['retries', 'retryDelayMs', 'maxRetryDelayMs', 'coalesceMs'] as const) {
    if (!(resolved[name] >= 0)) throw new RangeError(`RedisTopicStore: ${name} must be >= 0`);
  }
  for (const name of ['maxPendingPublications', 'maxPendingBytes'] as const) {
    if (!(resolved[name] >= 1)) throw new RangeError(`RedisTopicStore: ${name} must be >= 1`);
  }
  return resolved;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`RedisTopicStore: ${name} must be a positive integer`);
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, entry]) => entry !== undefined),
  ) as Partial<T>;
}
