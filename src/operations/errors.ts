/**
 * The codes of `{type:"error", code}` replies that refuse an incoming message before any handler
 * runs. An operation's own failures use `<type>_timeout` and `<type>_error` instead (see
 * {@link timeoutCode} and {@link failureCode}).
 */
export const RejectionCode = {
  /** Not JSON text, not an object with a string `type`, a bad `id`, or an `id` already running. */
  BadRequest: 'bad_request',
  /** No operation or message handler is registered for the `type`. */
  UnknownOperation: 'unknown_operation',
  /** The connection already runs `maxConcurrent` operations. */
  TooManyOperations: 'too_many_operations',
  /** The connection's token bucket is empty. */
  RateLimited: 'rate_limited',
} as const;

/** One of the {@link RejectionCode} values. */
export type RejectionCode = (typeof RejectionCode)[keyof typeof RejectionCode];

/** Every rejection code, for metrics and for clients that switch on them. */
export const REJECTION_CODES: readonly RejectionCode[] = Object.values(RejectionCode);

/**
 * The error code of an operation that ran out of time: `memory_search` → `memory_search_timeout`.
 * @param type The operation's type.
 * @returns `<type>_timeout`.
 */
export function timeoutCode(type: string): string {
  return `${type}_timeout`;
}

/**
 * The error code of an operation whose handler failed: `memory_search` → `memory_search_error`.
 * @param type The operation's type.
 * @returns `<type>_error`.
 */
export function failureCode(type: string): string {
  return `${type}_error`;
}

/** How an operation ended; the `outcome` label of `ws_outbox_operations_total`. */
export type OperationOutcome = 'complete' | 'cancelled' | 'timeout' | 'error' | 'disconnected';

/** What a client is told when a handler fails with anything but an {@link OperationError}. */
export const GENERIC_FAILURE_MESSAGE = 'The operation failed.';

// A registered symbol rather than `instanceof`: an application that loads both the CommonJS and
// the ESM build gets two OperationError classes, and its errors must still count as safe.
const SAFE_MESSAGE = Symbol.for('ws-outbox.OperationError');

/** Options of {@link OperationError}. */
export interface OperationErrorOptions {
  /**
   * The code the client sees instead of `<type>_error`, e.g. `'bad_request'` for invalid `data`.
   */
  code?: string;
  /** The underlying error, for your logs (`onHandlerError`); never sent. */
  cause?: unknown;
}

/**
 * An error whose message is written for the client: a handler throws it (or errors its
 * Observable with it) to say what went wrong.
 *
 * <span class="informal">Any other error reaches the client as a fixed generic text, so a
 * stack trace, a SQL string or a file path can never leak through a message.</span>
 *
 * ## Example
 *
 * ```ts
 * operations.register('memory_search', (data, { signal }) => {
 *   if (!isQuery(data)) throw new OperationError('data.query must be a string', { code: 'bad_request' });
 *   return search(data, signal);
 * });
 * ```
 */
export class OperationError extends Error {
  override readonly name = 'OperationError';
  /** The code sent instead of `<type>_error`, if given. */
  readonly code: string | undefined;

  /**
   * @param message Shown to the client as is: keep it short and free of internals.
   * @param options An optional `code` for the reply, and a `cause` for your logs.
   */
  constructor(message: string, options: OperationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    Object.defineProperty(this, SAFE_MESSAGE, { value: true });
  }
}

/**
 * Whether `error` is an {@link OperationError}, from this copy of the library or another.
 * @param error Anything a handler threw.
 * @returns True when its message may be shown to the client.
 */
export function isOperationError(error: unknown): error is OperationError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { [SAFE_MESSAGE]?: unknown })[SAFE_MESSAGE] === true
  );
}

/** Why an operation's `AbortSignal` aborted: anything but `complete`. */
export type AbortOutcome = Exclude<OperationOutcome, 'complete'>;

const ABORT_MESSAGES: Record<AbortOutcome, string> = {
  cancelled: 'The client cancelled the operation.',
  timeout: 'The operation ran out of time.',
  error: 'The operation failed.',
  disconnected: 'The client disconnected.',
};

/**
 * The `reason` of an operation's aborted `AbortSignal`.
 *
 * Named `AbortError`, like the reason of `AbortController.abort()`, so code that recognises an
 * abort by name (fetch, `node:timers/promises`, most libraries) treats it as one.
 */
export class OperationAbortedError extends Error {
  override readonly name = 'AbortError';

  /** @param outcome Why the operation stopped. */
  constructor(readonly outcome: AbortOutcome) {
    super(ABORT_MESSAGES[outcome]);
  }
}
