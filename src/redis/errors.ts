/**
 * Redis could not be reached, or did not answer in time, for as long as the store's retries
 * lasted.
 *
 * <span class="informal">Raised quickly while Redis is down: the store does not queue commands
 * for a connection that is not ready.</span>
 *
 * An append that rejects with this error was not applied when Redis never received it (the
 * connection was down). When Redis received it but its reply was lost (the connection dropped,
 * or the reply came after `commandTimeoutMs` on every attempt), it may have been applied: the
 * store's own retries never apply one twice, but it cannot tell which happened.
 *
 * ## Example
 *
 * ```ts
 * try {
 *   await store.append('room:lobby', [JSON.stringify(message)]);
 * } catch (error) {
 *   if (error instanceof TopicStoreUnavailableError) reply({ type: 'error', code: 'unavailable' });
 *   else throw error;
 * }
 * ```
 */
export class TopicStoreUnavailableError extends Error {
  override readonly name = 'TopicStoreUnavailableError';

  /**
   * @param operation What failed, e.g. `append to "room:lobby"`.
   * @param cause The last error seen, from `redis` or the store's own timeout.
   */
  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(`Redis is unavailable: ${operation} failed (${describe(cause)})`, { cause });
  }
}

/**
 * More appends are waiting for Redis than the store's bounds (`maxPendingPublications`,
 * `maxPendingBytes`) allow.
 *
 * <span class="informal">Nothing of the rejected append was sent; appends already accepted go on.
 * </span>
 */
export class TopicStoreOverloadedError extends Error {
  override readonly name = 'TopicStoreOverloadedError';

  /**
   * @param topic The topic appended to.
   * @param limit Which bound the append would have crossed, and its value.
   */
  constructor(
    readonly topic: string,
    readonly limit: string,
  ) {
    super(`Too many appends waiting for Redis: appending to "${topic}" would exceed ${limit}`);
  }
}

/** The store was closed: it takes no more appends, reads or watches. */
export class TopicStoreClosedError extends Error {
  override readonly name = 'TopicStoreClosedError';

  constructor() {
    super('The topic store is closed');
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
