import type { Registry } from 'prom-client';
import { asyncScheduler, interval } from 'rxjs';
import type { SchedulerLike, Subscription } from 'rxjs';
import { resolveMetrics } from './metrics.js';
import { reportUnhandledError } from './reportError.js';
import type { OutboxMetrics } from './metrics.js';

/**
 * The part of a `ws` WebSocket the heartbeat uses. A `ws` socket (server or client side) fits
 * as is.
 */
export interface HeartbeatSocket {
  readonly readyState: number;
  ping(): void;
  terminate(): void;
  on(event: 'pong', listener: () => void): unknown;
  off(event: 'pong', listener: () => void): unknown;
}

/** Options of {@link Heartbeat}. */
export interface HeartbeatOptions<S extends HeartbeatSocket = HeartbeatSocket, M = unknown> {
  /** Time between two ticks; a dead peer is terminated within two of them. Default 25,000 ms. */
  intervalMs?: number;
  /** Scheduler of the shared interval. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /**
   * Builds an application-level heartbeat message, sent on every tick to every socket that was
   * just pinged, through the `send` given to `add`. Browsers cannot see ping frames: this is how
   * their code can tell a dead server from a quiet one. Called once per tick. Default `false`.
   */
  message?: false | (() => M);
  /** Metrics: a shared set, a registry to register them in, or `false`. Default global registry. */
  metrics?: OutboxMetrics | Registry | false;
  /** Sees each socket the heartbeat terminates, after `terminate()`. */
  onTerminate?: (socket: S) => void;
  /**
   * Where the application-level message goes for a socket added without a `send` of its own:
   * one function for every socket (`ConnectionManager` passes its outboxes' `send`), so that a
   * watched socket costs the heartbeat no closure.
   */
  send?: (message: M, socket: S) => void;
  /**
   * Sees an error thrown by `message` or by a `send`. Pings and terminations go on either way.
   * Default: rethrown asynchronously, as RxJS reports an error nobody handles.
   */
  onError?: (error: unknown) => void;
}

/** `WebSocket.OPEN` and `WebSocket.CLOSED` in `ws` and in browsers. */
const OPEN = 1;
const CLOSED = 3;

const DEFAULT_INTERVAL_MS = 25_000;

/**
 * Pings every socket on one shared interval and terminates those that stopped answering.
 *
 * <span class="informal">One timer for all sockets, and none at all while there is no socket:
 * an idle server holds nothing.</span>
 *
 * On each tick, a socket that has not sent a pong since the previous tick's ping is terminated
 * (`ws.terminate()`), counted in `ws_outbox_heartbeat_terminations_total` and forgotten; every
 * other open socket is pinged and must answer before the next tick. A socket added between two
 * ticks is pinged at the first one, so a dead peer is terminated at most two intervals after it
 * stopped answering. The interval starts with the first `add` and stops when the last socket is
 * removed or terminated.
 *
 * With `message`, every socket pinged also gets an application-level message through its
 * `send`, so a browser (which never sees ping frames) can detect a dead server.
 *
 * ## Example
 *
 * ```ts
 * const heartbeat = new Heartbeat({
 *   intervalMs: 25_000,
 *   message: () => ({ type: 'heartbeat', ts: Date.now() }),
 * });
 * wss.on('connection', (ws) => {
 *   const outbox = new WsOutbox(ws).start();
 *   heartbeat.add(ws, (msg) => outbox.send(msg));
 *   ws.on('close', () => heartbeat.remove(ws));
 * });
 * ```
 *
 * @param options See {@link HeartbeatOptions}.
 */
export class Heartbeat<S extends HeartbeatSocket = HeartbeatSocket, M = unknown> {
  /** Each socket watched, and whether it answered since its last ping. */
  private readonly alive = new Map<S, boolean>();
  /** The sockets added with a `send` of their own. */
  private readonly sends = new Map<S, (message: M, socket: S) => void>();
  /** One listener for every socket: EventEmitter calls it with the socket as `this`. */
  private readonly onPong: (this: S) => void;
  private readonly intervalMs: number;
  private readonly scheduler: SchedulerLike;
  private readonly metrics: OutboxMetrics | undefined;
  private timer: Subscription | undefined;
  private disposed = false;

  constructor(private readonly options: HeartbeatOptions<S, M> = {}) {
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    if (!(this.intervalMs > 0) || !Number.isFinite(this.intervalMs)) {
      throw new RangeError(`Heartbeat: intervalMs must be > 0, got ${this.intervalMs}`);
    }
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.metrics = resolveMetrics(options.metrics);
    const alive = this.alive;
    this.onPong = function (this: S) {
      if (alive.has(this)) alive.set(this, true);
    };
  }

  /** Sockets watched. */
  get size(): number {
    return this.alive.size;
  }

  /**
   * Watches a socket: it counts as alive until its first ping goes unanswered.
   * @param socket An open socket (its 'pong' listeners are called with it as `this`, as
   * EventEmitter does). Adding one already watched does nothing.
   * @param send Where the application-level heartbeat message goes, e.g. its outbox's `send`.
   * Default: the `send` option.
   * @throws Error after `dispose()`.
   */
  add(socket: S, send?: (message: M, socket: S) => void): void {
    if (this.disposed) throw new Error('Heartbeat: add() after dispose()');
    if (this.alive.has(socket)) return;
    socket.on('pong', this.onPong);
    this.alive.set(socket, true);
    if (send) this.sends.set(socket, send);
    this.timer ??= interval(this.intervalMs, this.scheduler).subscribe(() => this.tick());
  }

  /**
   * Stops watching a socket and detaches from it; the interval stops with the last one.
   * @param socket A socket added before; anything else is ignored.
   */
  remove(socket: S): void {
    if (!this.alive.delete(socket)) return;
    this.sends.delete(socket);
    socket.off('pong', this.onPong);
    if (this.alive.size === 0) {
      this.timer?.unsubscribe();
      this.timer = undefined;
    }
  }

  /** Stops watching every socket, without terminating any; `add` throws from then on. */
  dispose(): void {
    this.disposed = true;
    for (const socket of [...this.alive.keys()]) this.remove(socket);
  }

  private tick(): void {
    const pinged: S[] = [];
    // A snapshot: terminate() and onTerminate may remove sockets while we go through them.
    for (const socket of [...this.alive.keys()]) {
      const answered = this.alive.get(socket);
      if (answered === undefined) continue;
      if (socket.readyState === CLOSED) {
        // Closed without anyone calling remove(): nothing to terminate or count, just let go.
        this.remove(socket);
      } else if (!answered) {
        this.terminate(socket);
      } else if (socket.readyState === OPEN) {
        // CONNECTING cannot be pinged yet, and CLOSING has ws's own close timer: both wait.
        this.alive.set(socket, false);
        try {
          socket.ping();
        } catch {
          this.terminate(socket);
          continue;
        }
        pinged.push(socket);
      }
    }
    if (this.options.message && pinged.length > 0) this.sendMessage(this.options.message, pinged);
  }

  private terminate(socket: S): void {
    // Forgotten first, so a tick before ws emits 'close' cannot count it twice.
    this.remove(socket);
    socket.terminate();
    this.metrics?.heartbeatTerminations.inc();
    this.options.onTerminate?.(socket);
  }

  private sendMessage(build: () => M, sockets: S[]): void {
    let message: M;
    try {
      message = build();
    } catch (error) {
      this.reportError(error);
      return;
    }
    for (const socket of sockets) {
      // onTerminate, or a send, may have removed a socket pinged earlier in this tick.
      if (!this.alive.has(socket)) continue;
      try {
        (this.sends.get(socket) ?? this.options.send)?.(message, socket);
      } catch (error) {
        this.reportError(error);
      }
    }
  }

  private reportError(error: unknown): void {
    const { onError } = this.options;
    if (onError) {
      onError(error);
      return;
    }
    reportUnhandledError(error);
  }
}
