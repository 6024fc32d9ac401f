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
  /** The connection's token bucket holds fewer tokens than the message costs. */
  RateLimited: 'rate_limited',
  /**
   * The server is at its limit for this kind of work (the operation's `ConcurrencyLimiter` has
   * no free slot and no room in its queue): try again later.
   */
  Busy: 'busy',
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

/**
 * How an operation ended; the `outcome` label of `ws_outbox_operations_total`.
 *
 * `rejected` is the handler refusing the request (an {@link OperationError} that is
 * {@link OperationError.rejected | rejected}: invalid data, a limit the client is over), the
 * client's doing; `error` and `timeout` are the server's. A failure-ratio alert counts the latter
 * only, so a client that sends nonsense cannot page anyone.
 */
export type OperationOutcome =
  'complete' | 'cancelled' | 'rejected' | 'timeout' | 'error' | 'disconnected';

/** Every outcome, in the order metrics list them. */
export const OPERATION_OUTCOMES: readonly OperationOutcome[] = [
  'complete',
  'cancelled',
  'rejected',
  'timeout',
  'error',
  'disconnected',
];

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
  /**
   * Whether this is a refusal of the request (the client's doing: invalid data, a limit it is
   * over, something it may not have) rather than a failure of the server. A refused operation
   * ends with outcome `rejected`, a failed one with `error`. Default: true when a `code` is given
   * (the client is told something specific it can act on), false without one (the client gets
   * `<type>_error`).
   */
  rejected?: boolean;
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
 * With a `code` it is a refusal (outcome `rejected`): the request was wrong or over a limit.
 * Without one it is a failure (outcome `error`) whose message is still safe to show.
 *
 * ## Example
 *
 * ```ts
 * operations.register('memory_search', (data, { signal }) => {
 *   if (!isQuery(data)) throw new OperationError('data.query must be a string', { code: 'bad_request' });
 *   if (index.rebuilding) throw new OperationError('The index is rebuilding; retry later.');
 *   return search(data, signal);
 * });
 * ```
 */
export class OperationError extends Error {
  override readonly name = 'OperationError';
  /** The code sent instead of `<type>_error`, if given. */
  readonly code: string | undefined;
  /** Whether the request was refused (outcome `rejected`) rather than failed (`error`). */
  readonly rejected: boolean;

  /**
   * @param message Shown to the client as is: keep it short and free of internals.
   * @param options An optional `code` for the reply, whether it is a refusal (`rejected`), and a
   * `cause` for your logs.
   */
  constructor(message: string, options: OperationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.rejected = options.rejected ?? options.code !== undefined;
    Object.defineProperty(this, SAFE_MESSAGE, { value: true });
  }
}

/**
 * Whether `error` is an {@link OperationError} that refuses the request: the operation ends as
 * `rejected`, not `error`.
 * @param error Anything a handler threw.
 * @returns True for a rejected OperationError, from this copy of the library or another.
 */
export function isRejection(error: unknown): error is OperationError {
  return isOperationError(error) && (error as { rejected?: unknown }).rejected === true;
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
  rejected: 'The request was refused.',
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
