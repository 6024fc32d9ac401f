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
   * Sees an error thrown by `message` or by a `send`. Pings and terminations go on either way.
   * Default: rethrown asynchronously, as RxJS reports an error nobody handles.
   */
  onError?: (error: unknown) => void;
}

interface Peer<S, M> {
  alive: boolean;
  readonly onPong: () => void;
  readonly send: ((message: M, socket: S) => void) | undefined;
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
  private readonly peers = new Map<S, Peer<S, M>>();
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
  }

  /** Sockets watched. */
  get size(): number {
    return this.peers.size;
  }

  /**
   * Watches a socket: it counts as alive until its first ping goes unanswered.
   * @param socket An open socket. Adding one already watched does nothing.
   * @param send Where the application-level heartbeat message goes, e.g. its outbox's `send`;
   * called with the message and the socket, so one function can serve every socket.
   * @throws Error after `dispose()`.
   */
  add(socket: S, send?: (message: M, socket: S) => void): void {
    if (this.disposed) throw new Error('Heartbeat: add() after dispose()');
    if (this.peers.has(socket)) return;
    const peer: Peer<S, M> = {
      alive: true,
      onPong: () => {
        peer.alive = true;
      },
      send,
    };
    socket.on('pong', peer.onPong);
    this.peers.set(socket, peer);
    this.timer ??= interval(this.intervalMs, this.scheduler).subscribe(() => this.tick());
  }

  /**
   * Stops watching a socket and detaches from it; the interval stops with the last one.
   * @param socket A socket added before; anything else is ignored.
   */
  remove(socket: S): void {
    const peer = this.peers.get(socket);
    if (!peer) return;
    this.peers.delete(socket);
    socket.off('pong', peer.onPong);
    if (this.peers.size === 0) {
      this.timer?.unsubscribe();
      this.timer = undefined;
    }
  }

  /** Stops watching every socket, without terminating any; `add` throws from then on. */
  dispose(): void {
    this.disposed = true;
    for (const socket of [...this.peers.keys()]) this.remove(socket);
  }

  private tick(): void {
    const pinged: Array<[S, Peer<S, M>]> = [];
    // A snapshot: terminate() and onTerminate may remove sockets while we go through them.
    for (const [socket, peer] of [...this.peers]) {
      if (this.peers.get(socket) !== peer) continue;
      if (socket.readyState === CLOSED) {
        // Closed without anyone calling remove(): nothing to terminate or count, just let go.
        this.remove(socket);
      } else if (!peer.alive) {
        this.terminate(socket);
      } else if (socket.readyState === OPEN) {
        // CONNECTING cannot be pinged yet, and CLOSING has ws's own close timer: both wait.
        peer.alive = false;
        try {
          socket.ping();
        } catch {
          this.terminate(socket);
          continue;
        }
        pinged.push([socket, peer]);
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

  private sendMessage(build: () => M, peers: Array<[S, Peer<S, M>]>): void {
    let message: M;
    try {
      message = build();
    } catch (error) {
      this.reportError(error);
      return;
    }
    for (const [socket, peer] of peers) {
      // onTerminate, or a send, may have removed a socket pinged earlier in this tick.
      if (this.peers.get(socket) !== peer) continue;
      try {
        peer.send?.(message, socket);
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
