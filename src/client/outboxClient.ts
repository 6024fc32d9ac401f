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
import { Requests } from './requests.js';
import type { RequestEvent, RequestOptions, ServerMessage } from './requests.js';

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
}

type QueueItem =
  | { readonly kind: 'frame'; readonly data: IncomingFrame }
  | { readonly kind: 'lost'; readonly socket: ClientSocket };

/**
 * A client for a ws-outbox server, for browsers and Node: decoded messages in order,
 * cancellable requests, reconnects with backoff, and a heartbeat watchdog.
 *
 * <span class="informal">Connects at construction; `close()` ends it for good.</span>
 *
 * Text frames are NDJSON; binary frames and base64 envelopes are gzipped NDJSON, gunzipped with
 * `DecompressionStream`. Frames are decoded one after the other, so messages come out in the
 * order the server sent them even when a gzip frame takes a while. A dropped connection is
 * reopened after an exponential, jittered delay; requests in flight on it error with
 * {@link ConnectionLostError}.
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
 * ```
 */
export class OutboxClient<M extends object = ServerMessage> {
  /**
   * Every message the server sends, decoded, in order (the heartbeat message and request events
   * included). Hot: a message is seen by those subscribed when it arrives. Completes on
   * `close()`, or when the client gives up reconnecting once every frame received before the
   * last connection dropped has been delivered.
   */
  readonly messages$: Observable<M>;
  /** The status now and at every change; completes after `'closed'`. */
  readonly status$: Observable<ConnectionStatus>;

  private readonly Ctor: WebSocketConstructor;
  private readonly scheduler: SchedulerLike;
  private readonly reconnect: ResolvedReconnectOptions | false;
  private readonly heartbeatTimeoutMs: number | undefined;
  private readonly messages = new Subject<M>();
  private readonly statuses = new BehaviorSubject<ConnectionStatus>('connecting');
  private readonly queue = new Subject<QueueItem>();
  private readonly queueSubscription: Subscription;
  private readonly requests: Requests;
  private socket: ClientSocket | undefined;
  private attempts = 0;
  private timer = Subscription.EMPTY;
  private watchdog = Subscription.EMPTY;
  private lastFrameAt = 0;
  private done = false;

  /**
   * @param url The server's `ws:` or `wss:` URL.
   * @param options See {@link OutboxClientOptions}.
   */
  constructor(
    readonly url: string,
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
    this.requests = new Requests(
      {
        current: () => (this.socket?.readyState === OPEN ? this.socket : undefined),
        send: (message) => this.socket?.send(JSON.stringify(message)),
      },
      this.scheduler,
      options.idPrefix ?? 'r',
    );
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
    this.open(true);
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

  private open(initial = false): void {
    let socket: ClientSocket;
    try {
      socket = new this.Ctor(this.url, this.options.protocols);
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
      this.statuses.next('open');
      this.lastFrameAt = this.scheduler.now();
      this.armWatchdog(socket, this.heartbeatTimeoutMs);
      this.requests.flush();
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
  private retryLater(): void {
    const reconnect = this.reconnect;
    if (reconnect === false || !this.willReconnect()) {
      this.finish('The connection was lost and the client gave up reconnecting.');
      return;
    }
    this.statuses.next('reconnecting');
    const delay = backoffDelay(this.attempts++, reconnect);
    this.timer = this.scheduler.schedule(() => this.open(), delay);
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
      this.retryLater();
      return;
    }
    const values = parseNdjson(item, (_line, error) => this.options.onDecodeError?.(error));
    for (const value of values) {
      // A subscriber may have closed the client while this frame was being delivered.
      if (this.done) return;
      this.requests.dispatch(value);
      this.messages.next(value as M);
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
