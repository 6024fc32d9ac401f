import type { ObservableInput } from 'rxjs';
import type { SendOptions } from '../wsOutbox.js';
import type { ClientMessage } from './protocol.js';

/** A progress report of a running operation: sent as `<type>.progress`, throttled. */
export interface ProgressEvent<P = unknown> {
  readonly kind: 'progress';
  readonly value: P;
}

/** A result of an operation: sent as `<type>.result`, at once. An operation may have several. */
export interface ResultEvent<R = unknown> {
  readonly kind: 'result';
  readonly data: R;
}

/** What an operation handler emits: {@link progress} and {@link result} build them. */
export type OperationEvent<P = unknown, R = unknown> = ProgressEvent<P> | ResultEvent<R>;

/**
 * Wraps a progress report for an operation handler to emit.
 *
 * ## Example
 *
 * ```ts
 * subscriber.next(progress({ scanned: 4_000, total: 10_000 }));
 * ```
 *
 * @param value Sent as the `data` of `<type>.progress`.
 * @returns The event.
 */
export function progress<P>(value: P): ProgressEvent<P> {
  return { kind: 'progress', value };
}

/**
 * Wraps a result for an operation handler to emit.
 *
 * ## Example
 *
 * ```ts
 * subscriber.next(result({ items }));
 * ```
 *
 * @param data Sent as the `data` of `<type>.result`.
 * @returns The event.
 */
export function result<R>(data: R): ResultEvent<R> {
  return { kind: 'result', data };
}

/** What an operation handler gets besides the request's `data`. */
export interface OperationContext<S = void> {
  /** The operation's type, e.g. `'memory_search'`. */
  readonly type: string;
  /** The client's id for this operation. */
  readonly id: string;
  /**
   * Aborts when the operation is cancelled, times out, fails, or its client disconnects;
   * `signal.reason` is an `OperationAbortedError` saying which. Not aborted on completion.
   */
  readonly signal: AbortSignal;
  /** What `attach` was given for this connection (the authenticated user, say). */
  readonly session: S;
}

/**
 * Runs one operation: returns the progress and results to stream, as an Observable or anything
 * `from()` takes (a Promise of one event, an array, an async generator). Its completion sends
 * `<type>.complete`; an error sends `<type>_error`.
 *
 * `data` is the client's, unvalidated: check it and throw an `OperationError` with a `code`
 * (`bad_request`, say) to refuse it: the operation ends as `rejected`, the client's doing, not as
 * `error`.
 */
export type OperationHandler<S = void> = (
  data: unknown,
  context: OperationContext<S>,
) => ObservableInput<OperationEvent>;

/** What a plain message handler gets besides the message. */
export interface MessageContext<S = void> {
  /** Aborts when the client disconnects: stop whatever the message started. */
  readonly signal: AbortSignal;
  /** What `attach` was given for this connection. */
  readonly session: S;
  /**
   * Sends a message to this client through its outbox.
   * @returns False when the outbox dropped it.
   */
  send(message: unknown, options?: SendOptions): boolean;
}

/**
 * Handles a message that is not an operation (the demo's `chat.message`): it gets the whole
 * message, fields beyond `type`, `id` and `data` included. A throw, or a rejected Promise, is
 * answered with `{type:"error", code:"<type>_error"}`, or with the code of an `OperationError`.
 */
export type MessageHandler<S = void> = (
  message: ClientMessage,
  context: MessageContext<S>,
) => void | PromiseLike<void>;
