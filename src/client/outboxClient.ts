import {
  asyncScheduler,
  BehaviorSubject,
  catchError,
  concatMap,
  distinctUntilChanged,
  EMPTY,
  from,
  Observable,
  of,
  Subject,
  Subscription,
  type SchedulerLike,
} from 'rxjs';
import { backoffDelay, resolveReconnect } from './backoff.js';
import type { ReconnectOptions, ResolvedReconnectOptions } from './backoff.js';
import { decodeFrame, parseNdjson } from './decode.js';
import type { IncomingFrame } from './decode.js';
import type { Channel } from './channel.js';
import { Requests } from './requests.js';
import type { RequestEvent, RequestOptions, ServerMessage } from './requests.js';
import { RESUME_PARAMETER, withQueryParameter } from './resume.js';
import { Topics } from './topics.js';
import type { TopicPosition, TopicRecovery } from './topics.js';

const OPEN = 1;
/** Close code the client uses when the heartbeat says the server is silent. */
export const CLOSE_SERVER_SILENT = 4000;

// Method syntax, so that the handler types of both the DOM's WebSocket and `ws`'s are accepted.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/**
 * What the client needs of a WebSocket: the browser's `WebSocket` and `ws`'s both fit.
 */
export interface ClientSocket {
  readonly readyState: number;
  binaryType: string;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ readonly data: unknown }> | null;
  onclose: Handler<unknown> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `ws`'s `WebSocket` in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => ClientSocket;

/**
 * Where the client connects: a URL, or a function called before each connection attempt (to
 * put a fresh auth token in it, say) that returns one or a promise of one.
 */
export type ClientUrl = string | (() => string | PromiseLike<string>);

/** Where the client stands. */
export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Options of {@link OutboxClient}. */
export interface OutboxClientOptions {
  /**
   * The WebSocket class. Default `globalThis.WebSocket` (browsers, Deno, Node 22+); in Node 20
   * pass `ws`'s: `import WebSocket from 'ws'`.
   */
  WebSocket?: WebSocketConstructor;
  /** Subprotocols, passed to the constructor as they are. */
  protocols?: string | string[];
  /** Times reconnects, the heartbeat watchdog and request timeouts. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** How to reconnect after a drop (see {@link ReconnectOptions}), or `false` never to. */
  reconnect?: ReconnectOptions | false;
  /**
   * If no frame at all arrives for this long while open, the server is taken for dead: the
   * socket is closed with 4000 and the client reconnects. Off by default. With the server's
   * application-level heartbeat every `intervalMs`, use `2 * intervalMs + 5_000`.
   */
  heartbeatTimeoutMs?: number;
  /** Prefix of generated request ids. Default `'r'`. */
  idPrefix?: string;
  /** Sees each frame that failed to gunzip and each NDJSON line that is not JSON; both skipped. */
  onDecodeError?: (error: unknown) => void;
  /**
   * How a subscribe the server answered with `rate_limited` or `unavailable` (its topics' store
   * out of reach) is retried: the backoff of {@link ReconnectOptions}, defaults `initialDelayMs`
   * 1,000, `maxDelayMs` 30,000, `factor` 2, `jitter` 0.5 and `maxAttempts` 5 retries in a row,
   * after which the topic's Observables error with a {@link TopicError} of that code.
   */
  subscribeRetry?: ReconnectOptions;
}

type QueueItem =
  | { readonly kind: 'frame'; readonly data: IncomingFrame }
  | { readonly kind: 'lost'; readonly socket: ClientSocket };

/**
 * A client for a ws-outbox server, for browsers and Node: decoded messages in order,
 * cancellable requests, topics that resume across reconnects, reconnects with backoff, and a
 * heartbeat watchdog.
 *
 * <span class="informal">Connects at construction; `close()` ends it for good.</span>
 *
 * Text frames are NDJSON; binary frames and base64 envelopes are gzipped NDJSON, gunzipped with
 * `DecompressionStream`. Frames are decoded one after the other, so messages come out in the
 * order the server sent them even when a gzip frame takes a while. A dropped connection is
 * reopened after an exponential, jittered delay; requests in flight on it error with
 * {@link ConnectionLostError}, and topics resume from the last publication seen.
 *
 * ## Example
 *
 * ```ts
 * import { OutboxClient } from 'ws-outbox/client';
 *
 * const client = new OutboxClient('wss://example.com/ws', { heartbeatTimeoutMs: 55_000 });
 * client.status$.subscribe((status) => (badge.textContent = status));
 * client.messages$.subscribe((message) => console.log(message));
 * client.request('memory_search', { query: 'deploy' }).subscribe({
 *   next: (event) => console.log(event.type, event.data),
 *   error: (error) => console.error(error.code ?? error.name, error.message),
 * });
 * client.send({ type: 'chat.message', payload: { text: 'hi' } });
 * client.subscribe<ChatLine>('room:lobby').subscribe((line) => render(line));
 * client.recoveries$.subscribe(({ topic }) => refetch(topic));
 * ```
 */
export class OutboxClient<M extends object = ServerMessage> {
  /**
   * Every message the server sends, decoded, in order (the heartbeat message, request events
   * and topic lines included), except the publications the topic rules drop: a `pub` shows here
   * exactly when it is delivered to its topic (no duplicate, none past a hole). Hot: a message is seen by those subscribed when it arrives. Completes on
   * `close()`, or when the client gives up reconnecting once every frame received before the
   * last connection dropped has been delivered.
   */
  readonly messages$: Observable<M>;
  /** The status now and at every change; completes after `'closed'`. */
  readonly status$: Observable<ConnectionStatus>;
  /**
   * Each time publications of a topic were missed for good (the server answered
   * `recovered: false`, or moved the topic past the client's position without replaying): the
   * topic, the reason, the position the client had and the new one. Refetch the topic's state
   * then; its publications continue after the new position. Hot; completes with the client.
   */
  readonly recoveries$: Observable<TopicRecovery>;

  private readonly Ctor: WebSocketConstructor;
  private readonly scheduler: SchedulerLike;
  private readonly reconnect: ResolvedReconnectOptions | false;
  private readonly heartbeatTimeoutMs: number | undefined;
  private readonly messages = new Subject<M>();
  private readonly statuses = new BehaviorSubject<ConnectionStatus>('connecting');
  private readonly queue = new Subject<QueueItem>();
  private readonly queueSubscription: Subscription;
  private readonly requests: Requests;
  private readonly topics: Topics;
  private socket: ClientSocket | undefined;
  private attempts = 0;
  private timer = Subscription.EMPTY;
  private watchdog = Subscription.EMPTY;
  private lastFrameAt = 0;
  private done = false;

  /**
   * @param url The server's `ws:` or `wss:` URL, or a function that returns it (or a promise of
   *   it), called before each connection attempt.
   * @param options See {@link OutboxClientOptions}.
   */
  constructor(
    readonly url: ClientUrl,
    private readonly options: OutboxClientOptions = {},
  ) {
    const Ctor =
      options.WebSocket ??
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ??
      undefined;
    if (Ctor === undefined) {
      throw new TypeError(
        'OutboxClient: no global WebSocket here; pass one: new OutboxClient(url, { WebSocket })',
      );
    }
    this.Ctor = Ctor;
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.reconnect = options.reconnect === false ? false : resolveReconnect(options.reconnect);
    const heartbeat = options.heartbeatTimeoutMs;
    if (heartbeat !== undefined && !(heartbeat > 0)) {
      throw new RangeError('heartbeatTimeoutMs must be a positive number of milliseconds');
    }
    this.heartbeatTimeoutMs = heartbeat;
    this.messages$ = this.messages.asObservable();
    this.status$ = this.statuses.pipe(distinctUntilChanged());
    const channel: Channel = {
      current: () => (this.socket?.readyState === OPEN ? this.socket : undefined),
      send: (message) => this.socket?.send(JSON.stringify(message)),
    };
    this.requests = new Requests(channel, this.scheduler, options.idPrefix ?? 'r');
    this.topics = new Topics(
      channel,
      this.scheduler,
      resolveReconnect({ initialDelayMs: 1_000, maxAttempts: 5, ...options.subscribeRetry }),
    );
    this.recoveries$ = this.topics.recoveries$;
    // One frame at a time: a text frame behind a gzip frame waits for it, and a lost
    // connection is acted on only after the frames that came before it.
    this.queueSubscription = this.queue
      .pipe(
        concatMap((item) => {
          if (item.kind === 'lost') return of(item);
          const text = decodeFrame(item.data);
          if (typeof text === 'string') return of(text);
          return from(text).pipe(
            catchError((error: unknown) => {
              this.options.onDecodeError?.(error);
              return EMPTY;
            }),
          );
        }),
      )
      .subscribe((item) => this.handle(item));
    this.connect(true);
  }

  /** The status now. */
  get status(): ConnectionStatus {
    return this.statuses.value;
  }

  /**
   * Starts operation `type` on the server, once per subscription.
   *
   * <span class="informal">Cold, like `ajax`: nothing is sent until you subscribe, and
   * unsubscribing before the end sends `{type:"cancel", id}`.</span>
   *
   * Each subscription sends `{type, id, data}` with a fresh id (at once when the connection is
   * open, else as soon as it opens) and emits the operation's events as the server sends them:
   * `<type>.progress`, `<type>.result`, then `<type>.complete` (after which it completes) or
   * `<type>.cancelled` (likewise). It errors with an {@link OperationFailedError} carrying the
   * server's `code` and `message` on `{type:"error", id}`; with a {@link ConnectionLostError}
   * when the connection it went out on drops, or the client closes; with a
   * {@link RequestTimeoutError} after `timeoutMs`, if given (a cancel is sent then too).
   *
   * ## Example
   *
   * ```ts
   * const search = client
   *   .request<SearchProgress | SearchResult>('memory_search', { query }, { timeoutMs: 30_000 })
   *   .subscribe((event) => render(event));
   * cancelButton.onclick = () => search.unsubscribe(); // sends {type:"cancel", id}
   * ```
   *
   * @param type The operation, e.g. `'memory_search'`.
   * @param data The request's `data`; left out of the message when undefined.
   * @param options `timeoutMs`, a client-side time limit.
   * @returns An Observable of the operation's events.
   */
  request<T = unknown>(
    type: string,
    data?: unknown,
    options?: RequestOptions,
  ): Observable<RequestEvent<T>> {
    return this.requests.request<T>(type, data, options);
  }

  /**
   * The data of a topic's publications, exactly once each and in order, across reconnects.
   *
   * <span class="informal">Cold and shared: the first subscriber makes the client send
   * `{type:"subscribe", topic}`, the last one's unsubscribe sends `{type:"unsubscribe",
   * topic}`.</span>
   *
   * The client keeps the topic's position (epoch and last offset) and subscribes again with
   * `since` on every reconnect and after a `gap` or a hole, so publications are neither repeated
   * nor skipped; when the server cannot replay what was missed, {@link recoveries$} says so and
   * publications continue from the server's position. A topic the server has joined the client
   * to is attached to without sending anything. Errors with a {@link TopicError} when the server
   * refuses the topic (`forbidden`, `bad_request`, or `rate_limited` once the retries are
   * spent); completes when the server takes the client out of the topic, and when the client
   * ends.
   *
   * ## Example
   *
   * ```ts
   * const lobby = client.subscribe<ChatLine>('room:lobby').subscribe((line) => render(line));
   * leaveButton.onclick = () => lobby.unsubscribe(); // sends {type:"unsubscribe"} if it was the last
   * ```
   *
   * @param topic The topic's name, e.g. `'room:lobby'`.
   * @returns An Observable of the publications' `data`.
   */
  subscribe<T = unknown>(topic: string): Observable<T> {
    return this.topics.subscribe<T>(topic);
  }

  /**
   * The data of a topic's publications while the client is a member of it, without asking the
   * server for it: for the topics the server joins the client to (a user's inbox).
   *
   * <span class="informal">Never sends anything. Attach before or after the server's join;
   * publications flow while the client is a member, whoever made it one.</span>
   *
   * ## Example
   *
   * ```ts
   * client.listen<Reply>(`session:${sessionId}`).subscribe((reply) => show(reply));
   * ```
   *
   * @param topic The topic's name.
   * @returns An Observable of the publications' `data`; completes when the client ends.
   */
  listen<T = unknown>(topic: string): Observable<T> {
    return this.topics.listen<T>(topic);
  }

  /**
   * Where the client stands in each topic it is in, or was in (the last
   * {@link REMEMBERED_POSITIONS} left are kept): topic → `{epoch, offset}`.
   * @returns A snapshot: later publications do not change it.
   */
  positions(): ReadonlyMap<string, TopicPosition> {
    return this.topics.positions();
  }

  /**
   * Sends a plain message, e.g. `{type:"chat.message", payload}`, if the connection is open.
   * @param message Any JSON-serializable object.
   * @returns Whether it went out; `false` while connecting, reconnecting or closed.
   */
  send(message: object): boolean {
    const socket = this.socket;
    if (socket?.readyState !== OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  /**
   * Closes the connection for good, at once: no more reconnects, requests still running error
   * with {@link ConnectionLostError}, `messages$` completes, and `status$` ends on `'closed'`.
   * A gzip frame still being decoded is dropped: you asked to stop. Calling it again does
   * nothing.
   */
  close(): void {
    const socket = this.socket;
    this.finish('The client was closed.');
    if (socket !== undefined) closeQuietly(socket, 1000, 'client closed');
  }

  /** One connection attempt: gets the URL (the function's may take a while), then opens. */
  private connect(initial = false): void {
    let url: string | PromiseLike<string>;
    try {
      url = typeof this.url === 'function' ? this.url() : this.url;
    } catch {
      this.retryLater('The connection URL could not be obtained.');
      return;
    }
    if (typeof url === 'string') {
      this.open(url, initial);
      return;
    }
    Promise.resolve(url).then(
      (resolved) => {
        if (!this.done) this.open(String(resolved));
      },
      () => {
        if (!this.done) this.retryLater('The connection URL could not be obtained.');
      },
    );
  }

  private open(url: string, initial = false): void {
    const resume = this.topics.resumeParameter();
    let socket: ClientSocket;
    try {
      socket = new this.Ctor(
        resume === undefined ? url : withQueryParameter(url, RESUME_PARAMETER, resume),
        this.options.protocols,
      );
    } catch (error) {
      // A malformed URL throws at once, and would again: no point retrying.
      this.finish('The connection could not be created.');
      if (initial) throw error;
      return;
    }
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempts = 0;
      this.lastFrameAt = this.scheduler.now();
      this.armWatchdog(socket, this.heartbeatTimeoutMs);
      // Topics first, so that the server knows where each one resumes before anything else.
      this.topics.connected();
      this.requests.flush();
      this.statuses.next('open');
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.lastFrameAt = this.scheduler.now();
      this.queue.next({ kind: 'frame', data: event.data as IncomingFrame });
    };
    socket.onclose = () => {
      if (this.socket === socket) this.dropped(socket);
    };
    // An error is followed by a close, which is where the client reacts.
    socket.onerror = () => undefined;
    this.socket = socket;
  }

  /**
   * The socket is gone (closed, or given up on). What it delivered before is still being
   * decoded: the loss goes through the same queue, so requests see their events before they
   * fail, and the client reconnects (or ends) only once every frame received is delivered.
   */
  private dropped(socket: ClientSocket): void {
    socket.onopen = socket.onmessage = socket.onclose = null;
    this.socket = undefined;
    this.watchdog.unsubscribe();
    if (this.willReconnect()) this.statuses.next('reconnecting');
    this.queue.next({ kind: 'lost', socket });
  }

  private willReconnect(): boolean {
    return this.reconnect !== false && this.attempts < this.reconnect.maxAttempts;
  }

  /** After a failed attempt or a lost connection: waits and tries again, or gives up. */
  private retryLater(what: string): void {
    const reconnect = this.reconnect;
    if (reconnect === false || !this.willReconnect()) {
      this.finish(`${what} The client gave up reconnecting.`);
      return;
    }
    this.statuses.next('reconnecting');
    const delay = backoffDelay(this.attempts++, reconnect);
    this.timer = this.scheduler.schedule(() => this.connect(), delay);
  }

  /** Fires once the socket has been silent for `timeoutMs`, checking the clock only then. */
  private armWatchdog(socket: ClientSocket, timeoutMs: number | undefined): void {
    if (timeoutMs === undefined) return;
    this.watchdog = this.scheduler.schedule(() => {
      if (this.socket !== socket) return;
      const silentFor = this.scheduler.now() - this.lastFrameAt;
      if (silentFor < this.heartbeatTimeoutMs!) {
        this.armWatchdog(socket, this.heartbeatTimeoutMs! - silentFor);
        return;
      }
      // close() may wait long for a handshake a dead server never finishes: don't wait for it.
      closeQuietly(socket, CLOSE_SERVER_SILENT, 'server silent');
      this.dropped(socket);
    }, timeoutMs);
  }

  private handle(item: string | { readonly kind: 'lost'; readonly socket: ClientSocket }): void {
    if (typeof item !== 'string') {
      this.requests.lost(item.socket);
      this.topics.disconnected();
      this.retryLater('The connection was lost.');
      return;
    }
    const values = parseNdjson(item, (_line, error) => this.options.onDecodeError?.(error));
    for (const value of values) {
      // A subscriber may have closed the client while this frame was being delivered.
      if (this.done) return;
      this.requests.dispatch(value);
      if (this.topics.dispatch(value)) this.messages.next(value as M);
    }
  }

  private finish(reason: string): void {
    if (this.done) return;
    this.done = true;
    const socket = this.socket;
    if (socket !== undefined) socket.onopen = socket.onmessage = socket.onclose = null;
    this.socket = undefined;
    this.timer.unsubscribe();
    this.watchdog.unsubscribe();
    this.queueSubscription.unsubscribe();
    this.requests.close(reason);
    this.topics.close();
    this.statuses.next('closed');
    this.statuses.complete();
    this.messages.complete();
  }
}

function closeQuietly(socket: ClientSocket, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Already closing, or a socket that refuses the code: it is abandoned either way.
  }
}
