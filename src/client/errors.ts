/**
 * The server answered a request with `{type:"error", id, code, message}`.
 *
 * <span class="informal">The operation failed on the server (`<type>_error`), ran out of time
 * there (`<type>_timeout`), or was refused before it ran (`bad_request`, `unknown_operation`,
 * `too_many_operations`, `rate_limited`).</span>
 *
 * ## Example
 *
 * ```ts
 * client.request('memory_search', { query: 'deploy' }).subscribe({
 *   error: (error) => {
 *     if (error instanceof OperationFailedError && error.code === 'rate_limited') retryLater();
 *   },
 * });
 * ```
 */
export class OperationFailedError extends Error {
  override readonly name = 'OperationFailedError';

  /**
   * @param code The server's error code, e.g. `memory_search_timeout`.
   * @param message The server's message, written for the client.
   * @param operation The request's type, e.g. `memory_search`.
   * @param id The request's id.
   */
  constructor(
    readonly code: string,
    message: string,
    readonly operation: string,
    readonly id: string,
  ) {
    super(message);
  }
}

/**
 * The connection ended while a request was in flight, or the client was closed (or gave up
 * reconnecting) before the request could end.
 *
 * <span class="informal">The server may or may not have run the operation: it stops it on
 * disconnect, and no terminal event will ever arrive for it.</span>
 */
export class ConnectionLostError extends Error {
  override readonly name = 'ConnectionLostError';

  /**
   * @param operation The request's type.
   * @param id The request's id.
   * @param message What happened.
   */
  constructor(
    readonly operation: string,
    readonly id: string,
    message = 'The connection was lost before the operation ended.',
  ) {
    super(message);
  }
}

/**
 * A request's client-side `timeoutMs` passed before its terminal event arrived. The client has
 * sent `{type:"cancel", id}` for it.
 */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';

  /**
   * @param operation The request's type.
   * @param id The request's id.
   * @param timeoutMs The timeout that passed.
   */
  constructor(
    readonly operation: string,
    readonly id: string,
    readonly timeoutMs: number,
  ) {
    super(`The operation did not end within ${timeoutMs} ms.`);
  }
}

/**
 * The server refused a topic: `{type:"error", topic, code, message}` in answer to a subscribe.
 *
 * <span class="informal">`forbidden` (the server's authorization said no), `bad_request` (a
 * topic name it does not take), `unavailable` (the server cannot reach its topics' store: try
 * again later), or `rate_limited` once the client's retries are spent.</span>
 *
 * ## Example
 *
 * ```ts
 * client.subscribe('room:staff').subscribe({
 *   error: (error) => {
 *     if (error instanceof TopicError && error.code === 'forbidden') showNotAllowed(error.topic);
 *   },
 * });
 * ```
 */
export class TopicError extends Error {
  override readonly name = 'TopicError';

  /**
   * @param code The server's error code: `forbidden`, `bad_request`, `rate_limited`,
   *   `unavailable`, or another.
   * @param message The server's message, written for the client.
   * @param topic The topic refused.
   */
  constructor(
    readonly code: TopicErrorCode,
    message: string,
    readonly topic: string,
  ) {
    super(message);
  }
}

/** The codes of {@link TopicError}: the protocol's four, or a newer server's own. */
// `string & {}` keeps the named codes in editors' completions while allowing any other.
export type TopicErrorCode =
  'forbidden' | 'bad_request' | 'rate_limited' | 'unavailable' | (string & {});
