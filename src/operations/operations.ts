import { asyncScheduler } from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import { resolveMetrics } from '../metrics.js';
import type { MetricsOption } from '../metrics.js';
import { OPERATION_OUTCOMES, REJECTION_CODES } from './errors.js';
import type { MessageHandler, OperationHandler } from './handler.js';
import type { RawFrame } from './protocol.js';
import { HandlerRegistry } from './registry.js';
import type { MessageOptions, OperationOptions } from './registry.js';
import { OperationRunner } from './runner.js';
import type {
  HandlerErrorInfo,
  OperationsOutbox,
  RunnerConfig,
  TopicRequestHandler,
} from './runner.js';
import { DEFAULT_RATE_LIMIT, TokenBucket } from './tokenBucket.js';
import type { RateLimit } from './tokenBucket.js';

/** Options of {@link Operations}. */
export interface OperationsOptions {
  /** Deadline of an operation from its start, in ms. Default 120,000 (the original design's two minutes). */
  timeoutMs?: number;
  /** Operations one connection may run at once. Default 8. */
  maxConcurrent?: number;
  /** Least time between two progress events of one operation, in ms; 0 sends all. Default 100. */
  progressIntervalMs?: number;
  /**
   * Token bucket on every incoming frame of a connection, or `false` for none. Default a burst of
   * 2,000 refilled at 100 per second. A frame costs one token, or its type's `cost`.
   */
  rateLimit?: RateLimit | false;
  /** Times deadlines, progress windows and the rate limit. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Metrics: a shared set, a registry to register them in, or `false`. Default global registry. */
  metrics?: MetricsOption;
  /**
   * Sees every handler failure (and every throw of a `cost` function), with the error as thrown:
   * the client only gets a safe message, so this is where stacks reach your logs. Refusals (a
   * rejected `OperationError`, outcome `rejected`) are the client's doing and do not come here.
   * Must not throw.
   */
  onHandlerError?: (error: unknown, info: HandlerErrorInfo) => void;
  /**
   * Where the clients' `subscribe` and `unsubscribe` go: your `ConnectionManager`. They cost a
   * token of the rate limit like any frame. Without it they are refused `unknown_operation`.
   */
  topics?: TopicRequestHandler;
}

/**
 * The part of a `ws` WebSocket `attach` uses: 'message' and 'close' events. A `ws` socket fits.
 */
export interface OperationsSocket {
  /** `ws`'s readyState, when the socket has one: a socket already CLOSED is detached at once. */
  readonly readyState?: number;
  on(event: 'message', listener: (data: RawFrame, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'message', listener: (data: RawFrame, isBinary: boolean) => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** Stops handling a socket's frames and ends its operations as disconnected. Idempotent. */
export type Detach = () => void;

/** `WebSocket.CLOSED` in `ws` and in browsers. */
const CLOSED = 3;

/** Largest delay timers take: Node fires a longer one after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Client requests as cancellable Observables: a registry of handlers, and the limits every
 * connection runs them under.
 *
 * <span class="informal">A client sends `{type, id, data}`; the handler's progress and results
 * stream back through the connection's outbox as `<type>.progress` and `<type>.result`, then
 * `<type>.complete`. `{type:"cancel", id}` stops it.</span>
 *
 * Every connection gets a runner of its own (`attach`): its running operations, its token
 * bucket. Handlers are registered once for all.
 *
 * ## Example
 *
 * ```ts
 * const operations = new Operations({ metrics: registry });
 * operations.register('memory_search', (data, { signal }) =>
 *   searchMemory(parseQuery(data), signal), // Observable of progress(…) and result(…)
 * );
 * operations.on('chat.message', (message, { send }) => send({ type: 'chat.ack' }));
 *
 * const wss = new WebSocketServer({
 *   ...recommendedServerOptions(),
 *   host: '127.0.0.1',
 *   port: 8080,
 * });
 * wss.on('connection', (ws) => operations.attach(ws, manager.connect(ws)));
 * ```
 */
export class Operations<S = void> {
  private readonly registry = new HandlerRegistry<S>();
  private readonly config: RunnerConfig<S>;
  private readonly attached = new WeakMap<OperationsSocket, Detach>();

  /**
   * @param options Limits, scheduler and metrics; see {@link OperationsOptions}.
   * @throws RangeError on an option out of range.
   */
  constructor(options: OperationsOptions = {}) {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const maxConcurrent = options.maxConcurrent ?? 8;
    const progressIntervalMs = options.progressIntervalMs ?? 100;
    const rateLimit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
    const scheduler = options.scheduler ?? asyncScheduler;
    if (!(timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)) {
      throw new RangeError(`Operations: timeoutMs must be in (0, ${MAX_TIMER_MS}]`);
    }
    if (!(Number.isInteger(maxConcurrent) && maxConcurrent >= 1)) {
      throw new RangeError('Operations: maxConcurrent must be a positive integer');
    }
    if (!(progressIntervalMs >= 0 && progressIntervalMs <= MAX_TIMER_MS)) {
      throw new RangeError(`Operations: progressIntervalMs must be in [0, ${MAX_TIMER_MS}]`);
    }
    // Throws now on a bad limit, rather than at the first connection.
    if (rateLimit) new TokenBucket(rateLimit, () => 0);
    this.config = {
      registry: this.registry,
      scheduler,
      timeoutMs,
      maxConcurrent,
      progressIntervalMs,
      rateLimit,
      metrics: resolveMetrics(options.metrics),
      onHandlerError: options.onHandlerError,
      topics: options.topics,
    };
    const { metrics } = this.config;
    // Series at 0 from the start, so rate() and alerts see the first refusal as an increase.
    if (metrics) for (const code of REJECTION_CODES) metrics.rejectedMessages.inc({ code }, 0);
  }

  /**
   * Registers the handler of an operation type.
   *
   * ## Example
   *
   * ```ts
   * operations.register('countdown', (data, { signal }) =>
   *   interval(1_000).pipe(
   *     take(3),
   *     map((i) => (i < 2 ? progress(i) : result('liftoff'))),
   *   ),
   * );
   * ```
   *
   * A CPU-bound type takes a shared limit on how many run at once, and a request that starts
   * much work can cost more than one token of the rate limit:
   *
   * ```ts
   * const cpu = new ConcurrencyLimiter({ maxConcurrent: 2, maxQueued: 8 });
   * operations.register('memory_search', memorySearch, { limiter: cpu, cost: 10 });
   * ```
   *
   * @param type What clients put in `type`; `cancel`, `error`, `subscribe` and `unsubscribe`
   * are reserved.
   * @param handler Returns the operation's progress and results; see {@link OperationHandler}.
   * @param options `limiter` (a `ConcurrencyLimiter`) and `cost` (a `MessageCost`).
   * @returns This, for chaining.
   * @throws Error when `type` is reserved or taken; RangeError on a bad fixed `cost`.
   */
  register(type: string, handler: OperationHandler<S>, options: OperationOptions = {}): this {
    this.registry.register(type, handler, options);
    const { metrics } = this.config;
    if (metrics) {
      for (const outcome of OPERATION_OUTCOMES) {
        metrics.operations.inc({ operation: type, outcome }, 0);
      }
    }
    return this;
  }

  /**
   * Registers the handler of a plain message type: no id, no lifecycle, no deadline.
   * @param type What clients put in `type`; `cancel`, `error`, `subscribe` and `unsubscribe`
   * are reserved.
   * @param handler Gets the whole message and a context to send through; see {@link MessageHandler}.
   * @param options `cost`: what a message of this type costs against the rate limit, when it
   * starts more work than one frame's worth (a `MessageCost`).
   * @returns This, for chaining.
   * @throws Error when `type` is reserved or taken; RangeError on a bad fixed `cost`.
   */
  on(type: string, handler: MessageHandler<S>, options: MessageOptions = {}): this {
    this.registry.on(type, handler, options);
    return this;
  }

  /**
   * Handles a socket's incoming frames until it closes, replying through `outbox`.
   *
   * On 'close', or when the returned function is called, every operation of the socket ends as
   * `disconnected`: handlers unsubscribed, signals aborted, nothing sent.
   *
   * @param socket A `ws` socket (or anything with its 'message' and 'close' events).
   * @param outbox The socket's outbox, started.
   * @param session Given to handlers as `context.session`.
   * @returns A function that detaches the socket. Attaching a socket twice returns the first one's.
   */
  attach(socket: OperationsSocket, outbox: OperationsOutbox, session: S): Detach {
    const existing = this.attached.get(socket);
    if (existing) return existing;
    const runner = this.runner(outbox, session);
    const onMessage = (data: RawFrame, isBinary: boolean) => runner.receive(data, isBinary);
    const detach = () => {
      if (runner.isClosed) return;
      socket.off('message', onMessage);
      socket.off('close', detach);
      this.attached.delete(socket);
      runner.close();
    };
    socket.on('message', onMessage);
    socket.on('close', detach);
    this.attached.set(socket, detach);
    // Its 'close' has been emitted already and will not come again.
    if (socket.readyState === CLOSED) detach();
    return detach;
  }

  /**
   * A runner for one connection of another transport (SSE with a POST channel, a TCP stream):
   * feed it each frame with `receive(frame)` and call `close()` when the peer goes away.
   * @param outbox Where the replies go.
   * @param session Given to handlers as `context.session`.
   * @returns The connection's runner.
   */
  runner(outbox: OperationsOutbox, session: S): OperationRunner<S> {
    return new OperationRunner(outbox, this.config, session);
  }
}
