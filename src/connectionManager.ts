import { RawJson } from '../operators/rawJson.js';
import { Heartbeat } from './heartbeat.js';
import type { HeartbeatOptions, HeartbeatSocket } from './heartbeat.js';
import { resolveMetrics } from './metrics.js';
import { outboxConfig } from './outboxConfig.js';
import type { OutboxConfig } from './outboxConfig.js';
import type { TopicRequestHandler } from './operations/runner.js';
import type { ClientMessage } from './operations/protocol.js';
import type { SendableSocket } from './socketSink.js';
import { TopicHub } from './topics/hub.js';
import type { TopicsOptions } from './topics/hub.js';
import { resumePositions } from './topics/resume.js';
import { WsOutbox } from './wsOutbox.js';
import type { OutboxStats, WsOutboxOptions } from './wsOutbox.js';

/**
 * What `ConnectionManager.connect` takes: a socket the outbox can send on and the heartbeat can
 * ping. A `ws` WebSocket is one.
 */
export type ManagedSocket = SendableSocket & HeartbeatSocket;

/** `WebSocket.OPEN` in `ws`. */
const OPEN = 1;

export interface ConnectionManagerOptions<T> {
  /** Options for every outbox the manager creates. */
  outbox?: WsOutboxOptions<T>;
  /** How long `disconnect` waits for queued messages before counting them dropped. Default 5,000 ms. */
  stopTimeoutMs?: number;
  /**
   * The heartbeat shared by every connection, or `false` for none. Default: a ping every
   * 25,000 ms, no application-level message. Its `message` is serialized once per tick with
   * `JSON.stringify` (not the outbox's `schema`) and sent through every outbox. Its metrics
   * default to the outbox's.
   */
  heartbeat?: false | HeartbeatOptions<ManagedSocket>;
  /**
   * Topics: where they live, who may subscribe, and their bounds (see {@link TopicsOptions}).
   * Default: in memory, and no client may subscribe by itself (the server still joins sockets).
   */
  topics?: TopicsOptions<ManagedSocket>;
}

/** What `connect` may be told about a connection besides its socket. */
export interface ConnectOptions {
  /** An application id to find the socket again (`sockets(sessionId)`). */
  sessionId?: string;
  /**
   * The upgrade request (`ws`'s 'connection' hands it over): its URL's `resume` parameter holds
   * the client's positions in the topics the server joins it to, used by `join`.
   */
  request?: { readonly url?: string };
}

/**
 * Owns one outbox per socket and one heartbeat for all: the original design's
 * `ConnectionManager`, with `broadcast`.
 *
 * An idle connection costs the manager a few hundred bytes over its socket: its outbox holds no
 * pipeline while idle, and the manager and the heartbeat keep one map entry each and listen
 * with one shared function for all sockets.
 *
 * A socket that closes is disconnected by itself; `disconnect` is for the server closing it.
 * A socket that stops answering pings is terminated by the heartbeat within two intervals (see
 * {@link Heartbeat}), and so disconnected.
 *
 * ## Example
 *
 * ```ts
 * const manager = new ConnectionManager<ServerEvent>();
 * wss.on('connection', (ws) => manager.connect(ws));
 * manager.broadcast({ type: 'announcement', text: 'deploy in 5 min' });
 * ```
 */
export class ConnectionManager<T = unknown> implements TopicRequestHandler {
  private readonly outboxes = new Map<SendableSocket, WsOutbox<T>>();
  /** Only the sockets connected with a session id. */
  private readonly sessionIds = new Map<SendableSocket, string>();
  private readonly heartbeat: Heartbeat<ManagedSocket, RawJson> | undefined;
  /** One options object for every outbox, so that they share what is derived from it. */
  private readonly outboxOptions: WsOutboxOptions<T>;
  /** One listener for every socket: EventEmitter calls it with the socket as `this`. */
  private readonly onSocketClose: (this: SendableSocket) => void;
  /** Its connections' state comes with their first topic: a server without topics pays nothing. */
  private readonly hub: TopicHub<ManagedSocket>;

  constructor(private readonly options: ConnectionManagerOptions<T> = {}) {
    // Registered now, not with the first outbox, so a scrape before any connection already
    // shows every series (at zero).
    const metrics = resolveMetrics(options.outbox?.metrics);
    this.outboxOptions = { ...options.outbox, metrics: metrics ?? false };
    // Validates the options now, and compiles the serializer once for every outbox.
    outboxConfig(this.outboxOptions);
    const disconnect = (socket: SendableSocket) => void this.disconnect(socket);
    this.onSocketClose = function (this: SendableSocket) {
      disconnect(this);
    };
    // Made now, so that bad topic options throw here rather than at a client's first subscribe.
    this.hub = new TopicHub<ManagedSocket>(
      options.topics ?? {},
      outboxConfig(this.outboxOptions) as OutboxConfig<unknown>,
      metrics,
    );
    this.heartbeat =
      options.heartbeat === false
        ? undefined
        : createHeartbeat(options, (message, socket) => this.outboxes.get(socket)?.send(message));
  }

  /** Live connections. */
  get size(): number {
    return this.outboxes.size;
  }

  /** The sockets connected, optionally only those of one session. */
  sockets(sessionId?: string): ManagedSocket[] {
    const sockets =
      sessionId === undefined
        ? [...this.outboxes.keys()]
        : [...this.sessionIds].filter(([, id]) => id === sessionId).map(([socket]) => socket);
    return sockets as ManagedSocket[];
  }

  /** The outbox of a connected socket. */
  outbox(socket: SendableSocket): WsOutbox<T> | undefined {
    return this.outboxes.get(socket);
  }

  /**
   * Creates and starts an outbox for `socket` and adds it to the heartbeat; it is disconnected
   * when the socket closes.
   * @param socket A freshly opened `ws` socket (its listeners are called with it as `this`, as
   * EventEmitter does).
   * @param options A session id (or `{ sessionId, request }`: the upgrade request's `resume`
   * parameter hands over the client's positions in the topics the server joins it to).
   * @returns The socket's outbox.
   */
  connect(socket: ManagedSocket, options?: string | ConnectOptions): WsOutbox<T> {
    const existing = this.outboxes.get(socket);
    if (existing) return existing;
    const outbox = new WsOutbox<T>(socket, this.outboxOptions).start();
    // A socket already closing will never emit the 'close' that would forget it: its outbox
    // has ended at start (every send is counted dropped), and it is not kept.
    if (socket.readyState > OPEN) return outbox;
    socket.on('close', this.onSocketClose);
    this.outboxes.set(socket, outbox);
    const { sessionId, request } =
      typeof options === 'string' ? { sessionId: options } : (options ?? {});
    if (sessionId !== undefined) this.sessionIds.set(socket, sessionId);
    this.heartbeat?.add(socket);
    const positions = resumePositions(request?.url);
    if (positions !== undefined) this.hub.setResume(outbox as WsOutbox<unknown>, positions);
    return outbox;
  }

  /**
   * Forgets `socket` and stops its outbox, waiting for queued messages to go out.
   * @returns The outbox's final counts, or undefined if the socket was not connected.
   */
  async disconnect(socket: SendableSocket): Promise<OutboxStats | undefined> {
    const outbox = this.outboxes.get(socket);
    if (!outbox) return undefined;
    this.outboxes.delete(socket);
    this.sessionIds.delete(socket);
    socket.off('close', this.onSocketClose);
    this.heartbeat?.remove(socket as ManagedSocket);
    this.hub.disconnect(outbox as WsOutbox<unknown>);
    return outbox.stop({ timeoutMs: this.options.stopTimeoutMs });
  }

  /**
   * Queues a message for one socket.
   * @returns False when the socket is not connected or its outbox dropped the message.
   */
  sendMessage(socket: SendableSocket, message: T): boolean {
    return this.outboxes.get(socket)?.send(message) ?? false;
  }

  /**
   * Queues a message for every connected socket, serialized once for all of them.
   * @returns How many outboxes accepted it.
   * @throws TypeError when the message cannot be serialized (nothing is queued then).
   */
  broadcast(message: T): number {
    if (this.outboxes.size === 0) return 0;
    let failure: unknown;
    const json = outboxConfig(this.outboxOptions).encode([message], (error) => (failure = error));
    if (json === undefined) {
      throw new TypeError('ConnectionManager.broadcast: the message cannot be serialized', {
        cause: failure,
      });
    }
    const shared = new RawJson(json);
    let accepted = 0;
    for (const outbox of this.outboxes.values()) {
      if (outbox.send(shared)) accepted++;
    }
    return accepted;
  }

  /**
   * Joins a socket to a topic: it gets `subscribed`, then every publication, and resumes across
   * reconnects from the position its client handed over on connecting (see `connect`). Needs no
   * authorization: this is the server's own decision (a user's inbox, say).
   * @returns Resolves once its `subscribed` is queued: true, or false when the socket is not
   * connected or the topics' store could not be reached (its client got `unavailable`).
   */
  async join(socket: SendableSocket, topic: string): Promise<boolean> {
    const outbox = this.outboxes.get(socket);
    if (outbox === undefined) return false;
    return this.hub.join(outbox as WsOutbox<unknown>, topic);
  }

  /**
   * Takes a socket out of a topic; its client gets `unsubscribed`.
   * @returns Whether it was in it.
   */
  async leave(socket: SendableSocket, topic: string): Promise<boolean> {
    const outbox = this.outboxes.get(socket);
    if (outbox === undefined) return false;
    return this.hub.leave(outbox as WsOutbox<unknown>, topic);
  }

  /**
   * Publishes to a topic: serialized once, appended to its history with the next offset, and
   * sent to every subscriber on every node sharing the store, in frames built once per node.
   * @param topic The topic.
   * @param data Any JSON value (or a `RawJson`).
   * @returns The offset it was given.
   */
  publish(topic: string, data: unknown): Promise<number> {
    return this.hub.publish(topic, data);
  }

  /**
   * Answers a client's `subscribe` or `unsubscribe`: `Operations` hands them over when given the
   * manager as its `topics`.
   * @internal
   */
  handleTopicRequest(outbox: unknown, message: ClientMessage, refused?: 'rate_limited'): void {
    const socket = (outbox as WsOutbox<T>).socket;
    if (this.outboxes.get(socket) !== outbox) return;
    this.hub.request(outbox as WsOutbox<unknown>, message, refused);
  }

  /**
   * Stops every outbox (for a graceful shutdown) and the topics (closing the store if the
   * manager made it); resolves when all have settled. Publishing fails from then on.
   */
  async closeAll(): Promise<OutboxStats[]> {
    const sockets = [...this.outboxes.keys()];
    const stats = await Promise.all(sockets.map((socket) => this.disconnect(socket)));
    await this.hub.close();
    return stats.filter((s): s is OutboxStats => s !== undefined);
  }
}

/** The manager's heartbeat, its message serialized once per tick and its metrics the outbox's. */
function createHeartbeat<T>(
  options: ConnectionManagerOptions<T>,
  send: (message: RawJson, socket: ManagedSocket) => void,
): Heartbeat<ManagedSocket, RawJson> {
  const { message, ...heartbeat } = options.heartbeat || {};
  return new Heartbeat<ManagedSocket, RawJson>({
    ...heartbeat,
    send,
    metrics: heartbeat.metrics ?? options.outbox?.metrics,
    // JSON.stringify, not the outbox's serializer: a schema made for T would mangle the message.
    message: message ? () => new RawJson(JSON.stringify(message())) : false,
  });
}
