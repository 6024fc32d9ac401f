import { from, map, Subscription } from 'rxjs';
import type { Observable, SchedulerLike } from 'rxjs';
import type { OutboxMetrics } from '../metrics.js';
import type { SendOptions } from '../wsOutbox.js';
import { BUSY_MESSAGE } from './concurrencyLimiter.js';
import {
  failureCode,
  GENERIC_FAILURE_MESSAGE,
  isOperationError,
  isRejection,
  OperationAbortedError,
  RejectionCode,
  timeoutCode,
} from './errors.js';
import type { OperationOutcome } from './errors.js';
import type {
  MessageContext,
  MessageHandler,
  OperationEvent,
  OperationHandler,
} from './handler.js';
import { errorMessage, eventMessage, parseClientFrame } from './protocol.js';
import type { ClientMessage, OperationServerMessage, RawFrame } from './protocol.js';
import type { HandlerRegistry, MessageCost, OperationOptions } from './registry.js';
import { throttleProgress } from './throttleProgress.js';
import { TokenBucket } from './tokenBucket.js';
import type { RateLimit } from './tokenBucket.js';

/**
 * The one thing the runner needs of an outbox. Any `WsOutbox` fits; so does a test double that
 * records what it is given.
 */
export interface OperationsOutbox {
  /**
   * Queues a message for the client. The runner passes `{ critical: true }` for terminal events.
   * @returns False when the message was dropped.
   */
  send(message: unknown, options?: SendOptions): boolean;
}

/**
 * Where a connection's `subscribe` and `unsubscribe` go: a `ConnectionManager` is one. It
 * answers through the connection's outbox.
 */
export interface TopicRequestHandler {
  /**
   * @param outbox The connection's outbox, which tells the handler which connection it is.
   * @param message The client's `subscribe` or `unsubscribe`.
   * @param refused Set when the request must be refused with this code (the connection sent
   * frames faster than its rate allows): the handler answers it about its topic.
   */
  handleTopicRequest(
    outbox: OperationsOutbox,
    message: ClientMessage,
    refused?: 'rate_limited',
  ): void;
}

/** Where a handler failure happened, for `onHandlerError`. */
export interface HandlerErrorInfo {
  /** The message's type. */
  readonly type: string;
  /** The operation's (or message's) id, if it had one. */
  readonly id?: string;
}

/** Settings shared by every connection's runner; `Operations` builds them from its options. */
export interface RunnerConfig<S> {
  readonly registry: HandlerRegistry<S>;
  readonly scheduler: SchedulerLike;
  readonly timeoutMs: number;
  readonly maxConcurrent: number;
  readonly progressIntervalMs: number;
  readonly rateLimit: RateLimit | false;
  readonly metrics: OutboxMetrics | undefined;
  readonly onHandlerError: ((error: unknown, info: HandlerErrorInfo) => void) | undefined;
  readonly topics: TopicRequestHandler | undefined;
}

interface RunningOperation {
  readonly type: string;
  readonly id: string;
  readonly startedAt: number;
  readonly controller: AbortController;
  /** The handler's subscription and the deadline. */
  readonly subscription: Subscription;
  ended: boolean;
}

const RATE_LIMITED = 'Too many messages on this connection; slow down.';
const UNKNOWN_TYPE = 'No operation or message of this type.';
const MISSING_ID = 'An operation needs an "id".';
const DUPLICATE_ID = 'An operation with this "id" is already running on this connection.';
const CANCEL_WITHOUT_ID = 'cancel needs the "id" of a running operation.';
const NOT_AN_EVENT = 'an operation handler must emit progress(value) or result(data)';

/**
 * The operations of one connection: reads its frames, runs its operations, answers through its
 * outbox.
 *
 * <span class="informal">`Operations.attach` creates one per socket; use one directly to run
 * operations over another transport, feeding it frames with `receive` and calling `close`
 * when the peer goes away.</span>
 *
 * Each operation runs its handler's Observable under a deadline of `timeoutMs` from its start,
 * with progress throttled to one per `progressIntervalMs`. Exactly one terminal event ends it
 * (`.complete`, `.cancelled`, or an error), sent with `{ critical: true }`; after it nothing
 * more of that operation is sent, and the handler has been unsubscribed and (unless it
 * completed) its signal aborted.
 */
export class OperationRunner<S = void> {
  private readonly running = new Map<string, RunningOperation>();
  private readonly bucket: TokenBucket | undefined;
  /** Aborts on `close`: the signal plain message handlers get. */
  private readonly connection = new AbortController();
  private readonly messageContext: MessageContext<S>;
  private closed = false;

  /**
   * Runners are made by `operations.runner(…)`, which builds their `config`.
   * @param outbox Where replies go.
   * @param config Limits, registry, scheduler and metrics (see `OperationsOptions`).
   * @param session Given to every handler as `context.session`.
   * @internal
   */
  constructor(
    private readonly outbox: OperationsOutbox,
    private readonly config: RunnerConfig<S>,
    private readonly session: S,
  ) {
    const { scheduler, rateLimit } = config;
    this.bucket = rateLimit ? new TokenBucket(rateLimit, () => scheduler.now()) : undefined;
    this.messageContext = {
      signal: this.connection.signal,
      session,
      send: (message, options) => !this.closed && this.outbox.send(message, options),
    };
  }

  /** Operations running now. */
  get size(): number {
    return this.running.size;
  }

  /** Whether `close` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Handles one frame from the client. Never throws for anything the client sends: every
   * refusal is answered with an error reply and the connection goes on.
   * @param frame The frame's payload (text, or `ws`'s raw data).
   * @param isBinary Whether it came as a binary frame.
   */
  receive(frame: RawFrame, isBinary = false): void {
    if (this.closed) return;
    // Every frame costs a token, malformed ones too: parsing them is the work a flood costs.
    const allowed = this.bucket?.take() ?? true;
    const parsed = parseClientFrame(frame, isBinary);
    const id = parsed.ok ? parsed.message.id : parsed.id;
    const { topics } = this.config;
    const isTopicRequest =
      parsed.ok && (parsed.message.type === 'subscribe' || parsed.message.type === 'unsubscribe');
    if (!allowed) {
      if (!isTopicRequest || topics === undefined) {
        return this.reject(RejectionCode.RateLimited, RATE_LIMITED, id);
      }
      // The topics answer it, naming the topic, so that the client can tell which one.
      this.config.metrics?.rejectedMessages.inc({ code: RejectionCode.RateLimited });
      return topics.handleTopicRequest(this.outbox, parsed.message, RejectionCode.RateLimited);
    }
    if (!parsed.ok) return this.reject(RejectionCode.BadRequest, parsed.reason, id);
    const { message } = parsed;
    if (message.type === 'cancel') return this.cancel(message);
    if (isTopicRequest) {
      if (topics === undefined) {
        return this.reject(RejectionCode.UnknownOperation, UNKNOWN_TYPE, id);
      }
      return topics.handleTopicRequest(this.outbox, message);
    }
    const registration = this.config.registry.lookup(message.type);
    if (!registration) return this.reject(RejectionCode.UnknownOperation, UNKNOWN_TYPE, id);
    if (!this.charge(message, registration.options.cost)) {
      return this.reject(RejectionCode.RateLimited, RATE_LIMITED, id);
    }
    if (registration.kind === 'message') return this.dispatch(message, registration.handler);
    this.start(message, registration.handler, registration.options);
  }

  /**
   * The client is gone: ends every running operation as `disconnected` (signals aborted,
   * handlers unsubscribed, nothing sent) and aborts the plain handlers' signal. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const operation of [...this.running.values()]) this.end(operation, 'disconnected');
    this.connection.abort(new OperationAbortedError('disconnected'));
  }

  /**
   * Takes what a message costs beyond the token its frame took on arrival.
   * @returns False when the bucket holds less: the message is refused, its first token spent.
   */
  private charge(message: ClientMessage, cost: MessageCost | undefined): boolean {
    if (!this.bucket || cost === undefined) return true;
    let tokens: number;
    try {
      tokens = typeof cost === 'number' ? cost : cost(message);
    } catch (error) {
      // A bug of the application's, not the client's: logged, and the message costs one token.
      this.report(error, message);
      tokens = 1;
    }
    const { burst } = this.bucket;
    tokens = Number.isNaN(tokens) ? 1 : Math.min(burst, Math.max(1, Math.ceil(tokens)));
    return tokens === 1 || this.bucket.take(tokens - 1);
  }

  private start(
    message: ClientMessage,
    handler: OperationHandler<S>,
    { limiter }: OperationOptions,
  ): void {
    const { type, id } = message;
    const { maxConcurrent, scheduler, timeoutMs, progressIntervalMs } = this.config;
    if (id === undefined) return this.reject(RejectionCode.BadRequest, MISSING_ID);
    if (this.running.has(id)) return this.reject(RejectionCode.BadRequest, DUPLICATE_ID, id);
    if (this.running.size >= maxConcurrent) {
      const text = `At most ${maxConcurrent} operations may run at once on one connection.`;
      return this.reject(RejectionCode.TooManyOperations, text, id);
    }
    // Refused before the handler runs, as the limits above: a busy server does no work for it.
    if (limiter && !limiter.hasRoom) return this.reject(RejectionCode.Busy, BUSY_MESSAGE, id);
    const operation: RunningOperation = {
      type,
      id,
      startedAt: scheduler.now(),
      controller: new AbortController(),
      subscription: new Subscription(),
      ended: false,
    };
    this.running.set(id, operation);
    // A deadline from the start, not an idle timeout: progress does not extend it.
    operation.subscription.add(scheduler.schedule(() => this.end(operation, 'timeout'), timeoutMs));
    let events: Observable<OperationEvent>;
    try {
      const context = { type, id, signal: operation.controller.signal, session: this.session };
      events = from(handler(message.data, context)).pipe(map(checkEvent));
    } catch (error) {
      return this.fail(operation, error);
    }
    // The handler has checked the request; its work waits for a slot.
    if (limiter) events = limiter.limit(events);
    if (progressIntervalMs > 0)
      events = events.pipe(throttleProgress(progressIntervalMs, scheduler));
    // If the handler ends synchronously, `subscription` is closed by then and `add` unsubscribes.
    operation.subscription.add(
      events.subscribe({
        next: (event) => this.emit(operation, event),
        error: (error: unknown) => this.fail(operation, error),
        complete: () => this.end(operation, 'complete'),
      }),
    );
  }

  /** Ends an operation whose handler threw or errored: refused if it said so, else failed. */
  private fail(operation: RunningOperation, error: unknown): void {
    this.end(operation, isRejection(error) ? 'rejected' : 'error', error);
  }

  private emit(operation: RunningOperation, event: OperationEvent): void {
    if (operation.ended) return;
    const { type, id } = operation;
    this.outbox.send(
      event.kind === 'progress'
        ? eventMessage(type, 'progress', id, event.value)
        : eventMessage(type, 'result', id, event.data),
    );
  }

  private cancel(message: ClientMessage): void {
    if (message.id === undefined) return this.reject(RejectionCode.BadRequest, CANCEL_WITHOUT_ID);
    // An id that is not running is most often one that just ended, its terminal event on the
    // way: answering would make a client see two ends for one operation.
    const operation = this.running.get(message.id);
    if (operation) this.end(operation, 'cancelled');
  }

  /** The one way an operation ends: exactly once, whatever ends it first. */
  private end(operation: RunningOperation, outcome: OperationOutcome, error?: unknown): void {
    if (operation.ended) return;
    operation.ended = true;
    this.running.delete(operation.id);
    // Unsubscribed before the abort, so nothing an abort listener emits can reach the client.
    operation.subscription.unsubscribe();
    if (outcome !== 'complete') operation.controller.abort(new OperationAbortedError(outcome));
    const { metrics, scheduler } = this.config;
    if (metrics) {
      const operationLabel = { operation: operation.type };
      metrics.operations.inc({ ...operationLabel, outcome });
      const seconds = (scheduler.now() - operation.startedAt) / 1000;
      metrics.operationDuration.observe(operationLabel, seconds);
    }
    if (outcome === 'error') this.report(error, operation);
    const terminal = this.terminalMessage(operation, outcome, error);
    if (terminal) this.outbox.send(terminal, { critical: true });
  }

  private terminalMessage(
    { type, id }: RunningOperation,
    outcome: OperationOutcome,
    error: unknown,
  ): OperationServerMessage | undefined {
    switch (outcome) {
      case 'complete':
        return eventMessage(type, 'complete', id);
      case 'cancelled':
        return eventMessage(type, 'cancelled', id);
      case 'timeout': {
        const text = `The operation did not finish within ${this.config.timeoutMs} ms.`;
        return errorMessage(timeoutCode(type), text, id);
      }
      case 'rejected':
      case 'error':
        return failureMessage(type, error, id);
      case 'disconnected':
        return undefined;
    }
  }

  private dispatch(message: ClientMessage, handler: MessageHandler<S>): void {
    let returned: void | PromiseLike<void>;
    try {
      returned = handler(message, this.messageContext);
    } catch (error) {
      return this.messageFailed(message, error);
    }
    if (isPromiseLike(returned)) {
      returned.then(undefined, (error: unknown) => this.messageFailed(message, error));
    }
  }

  private messageFailed(message: ClientMessage, error: unknown): void {
    if (!isRejection(error)) this.report(error, message);
    if (!this.closed) this.outbox.send(failureMessage(message.type, error, message.id));
  }

  private reject(code: RejectionCode, text: string, id?: string): void {
    this.config.metrics?.rejectedMessages.inc({ code });
    this.outbox.send(errorMessage(code, text, id));
  }

  private report(error: unknown, { type, id }: { type: string; id?: string }): void {
    this.config.onHandlerError?.(error, id === undefined ? { type } : { type, id });
  }
}

/** The client's view of a handler failure: an OperationError's own words, or a fixed text. */
function failureMessage(type: string, error: unknown, id?: string): OperationServerMessage {
  if (isOperationError(error)) {
    return errorMessage(error.code ?? failureCode(type), error.message, id);
  }
  return errorMessage(failureCode(type), GENERIC_FAILURE_MESSAGE, id);
}

function checkEvent(event: OperationEvent): OperationEvent {
  const kind = (event as { kind?: unknown } | null)?.kind;
  if (kind !== 'progress' && kind !== 'result') throw new TypeError(NOT_AN_EVENT);
  return event;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
