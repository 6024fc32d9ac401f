import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { asyncScheduler } from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import {
  ConcurrencyLimiter,
  ConnectionManager,
  isOperationError,
  isRejection,
  MemoryTopicStore,
  OperationError,
  Operations,
  outboxMetrics,
  recommendedServerOptions,
} from '../../src/index.js';
import type {
  ConcurrencyLimit,
  Detach,
  HandlerErrorInfo,
  MessageContext,
  OperationEventMessage,
  TopicStore,
  WsOutbox,
  WsOutboxOptions,
} from '../../src/index.js';
import { burst, BURST_COST } from './burst.js';
import type { BurstMessage } from './burst.js';
import { ConnectionMeter } from './connectionStats.js';
import type { ConnectionFigures } from './connectionStats.js';
import { DemoLink } from './link.js';
import { isRoom, readPublication, ROOM_HISTORY } from './rooms.js';
import { SESSION_ID, sessionTopic, Sessions, statsTopic } from './sessions.js';
import type { Session } from './sessions.js';
import { ChatAgent, chatCost } from './chatAgent.js';
import type { Chat, ChatLimits, DemoEvent } from './chatAgent.js';
import { memoryCompressPreview, memorySearch } from './memory/operations.js';
import type { DemoSession, MemoryOperationsOptions } from './memory/operations.js';
import { isGeneratedThread, MemoryStore } from './memory/store.js';
import type { MemoryStoreOptions } from './memory/store.js';
import { bundlePage, chartStyles } from './bundle.js';
import { PAGE_SCRIPT_PATH, PAGE_STYLES_PATH, renderPage } from './page.js';

/** What the demo sends besides chat events and operation events: its own notices. */
export type DemoNotice =
  /** First on a connection that named a session: which node it is on, its number there. */
  | { type: 'hello'; node: string; connection: number; session: string }
  /** A `publish` was appended: the room and the offset it got. */
  | { type: 'publish.ack'; id?: string; topic: string; offset: number }
  /** The slow reader ended: `held` frames were sent on; `reason` `asked`, `timeout`, `shutdown`. */
  | { type: 'slow_reader'; paused: false; held: number; reason: string }
  | BurstMessage;

/** Everything the demo sends: chat events, errors, the operations' events, its notices. */
export type DemoMessage = DemoEvent | OperationEventMessage | DemoNotice;

/**
 * Bytes past a connection's buffer (in the socket, or held by a paused link) before its outbox
 * holds messages instead: 64 KiB, well over what loopback needs, so that a slow reader reaches
 * its bounds (queue, drops, `gap`) within a burst rather than after megabytes.
 */
export const DEMO_HIGH_WATER_MARK = 16 * 1024;

/** Default of {@link DemoServerOptions.slowReaderMaxMs}. */
export const DEFAULT_SLOW_READER_MAX_MS = 60_000;

/** Default of {@link DemoServerOptions.statsIntervalMs}. */
export const DEFAULT_STATS_INTERVAL_MS = 1_000;

/** Connections with a stats topic at once, per node; later ones get none. */
export const MAX_METERED_CONNECTIONS = 1_000;

/** Bursts running at once, all connections together, and waiting; more are refused `busy`. */
export const DEFAULT_BURST_LIMIT: ConcurrencyLimit = { maxConcurrent: 4, maxQueued: 8 };

/** The in-memory store's bound on all histories together (rooms, sessions, stats). */
export const DEMO_TOPICS_TOTAL_BYTES = 128 * 1024 * 1024;

/** Memories generated at start by default: enough that a three-word search takes a second. */
export const DEFAULT_CORPUS_SIZE = 500_000;

/**
 * Memory operations (searches and previews, all connections together) run at once by default,
 * and wait at most: the rest are refused with `busy`. Two, so that under overload a search
 * still takes about twice its time alone and the event loop turns every few milliseconds.
 */
export const DEFAULT_MEMORY_LIMIT: ConcurrencyLimit = { maxConcurrent: 2, maxQueued: 8 };

/** What a memory operation costs against its connection's rate limit: a second of CPU or so. */
export const MEMORY_OPERATION_COST = 10;

/** Default of {@link DemoServerOptions.shutdownTimeoutMs}. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

export interface DemoServerOptions {
  /** 0 picks a free port. */
  port: number;
  host: string;
  /**
   * Where the outbox metrics and Node's default metrics go. Default: a new registry, so that
   * several demo servers can live in one process (tests).
   */
  registry?: Registry;
  /** Delay before each streamed token: ms, or `[min, max]` for a random one. Default `[20, 40]`. */
  tokenDelayMs?: number | readonly [number, number];
  /**
   * The most `close()` takes: flushing the outboxes gets 40% of it, the clients' close
   * handshakes what is left of 90%, then every connection still open (WebSocket or plain HTTP,
   * a half-sent request included) is cut off. Default 10,000 ms.
   */
  shutdownTimeoutMs?: number;
  /** Scheduler of the outboxes and the token streams. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Outbox options other than metrics and scheduler. Default: the library's, but see `demoCompressor`. */
  outbox?: Omit<WsOutboxOptions<DemoMessage>, 'metrics' | 'scheduler'>;
  /** Deadline of a memory operation, in ms. Default 120,000 (`OPERATION_TIMEOUT_MS` in server.ts). */
  operationTimeoutMs?: number;
  /** Scheduler of the operations' deadlines, progress throttling and rate limit. Default `scheduler`. */
  operationScheduler?: SchedulerLike;
  /** The memory backend: corpus size (default {@link DEFAULT_CORPUS_SIZE}), seed, chunking. */
  memory?: Partial<MemoryStoreOptions> & MemoryOperationsOptions;
  /** How many memory operations run at once in all, and wait. Default {@link DEFAULT_MEMORY_LIMIT}. */
  memoryLimit?: ConcurrencyLimit;
  /** The chat's limits; each defaults to `DEFAULT_CHAT_LIMITS`'. */
  chat?: Partial<ChatLimits>;
  /**
   * Sees every handler failure with its stack, which clients never get. Default: failures other
   * than `OperationError` (a refused request) go to `console.error`.
   */
  onHandlerError?: (error: unknown, info: HandlerErrorInfo) => void;
  /**
   * Where topics (rooms, sessions, stats) live: a `RedisTopicStore` shares them with every node
   * on the same Redis (`REDIS_URL`); it stays the caller's to close. Default: a
   * `MemoryTopicStore` of this process, with the rooms' bounds (`ROOM_HISTORY`) and
   * {@link DEMO_TOPICS_TOTAL_BYTES} in all.
   */
  topicStore?: TopicStore;
  /** This node's name, shown to the page. Default `host:port`. */
  nodeName?: string;
  /** How often each session's figures are published on its stats topic. Default 1,000 ms. */
  statsIntervalMs?: number;
  /** How long a session's replies keep streaming after its last connection left. Default 30,000 ms. */
  sessionGraceMs?: number;
  /** The longest a connection stays a slow reader before it is released. Default 60,000 ms. */
  slowReaderMaxMs?: number;
  /** How many bursts run at once in all, and wait. Default {@link DEFAULT_BURST_LIMIT}. */
  burstLimit?: ConcurrencyLimit;
}

/** One connection of the demo, as its handlers see it. */
export interface DemoConnection {
  /** Its number on this node. */
  readonly id: number;
  /** The socket as the manager sees it, with the slow reader's switch. */
  readonly link: DemoLink;
  readonly outbox: WsOutbox<DemoMessage>;
  /** Set when the connection named a session (`?session=`): its replies go to the session's topic. */
  readonly session: Session | undefined;
  /** Ends the slow reader on its own after `slowReaderMaxMs`. */
  slowTimer: { unsubscribe(): void } | undefined;
}

/** What every handler of a connection gets as `session`. */
export interface DemoContext extends DemoSession {
  readonly connection: DemoConnection;
}

export interface DemoServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  /** `ws://host:port/ws`. */
  readonly wsUrl: string;
  readonly registry: Registry;
  readonly manager: ConnectionManager<DemoMessage>;
  /** The corpus and the chat messages seen, which the memory operations search. */
  readonly memory: MemoryStore;
  /** Milliseconds spent generating and indexing the corpus at start. */
  readonly memoryBuildMs: number;
  /** The HTTP server everything is served by. */
  readonly http: Server;
  /** The chat agent: what its replies hold while they stream. */
  readonly agent: ChatAgent;
  /** The limit on memory operations running at once, all connections together. */
  readonly memoryLimiter: ConcurrencyLimiter;
  /** This node's name, as the page shows it. */
  readonly nodeName: string;
  /** The sessions of this node: pages that named one, and those within their grace period. */
  readonly sessions: Sessions;
  /** The connections open now. */
  readonly connections: ReadonlySet<DemoConnection>;
  /**
   * Graceful shutdown within `shutdownTimeoutMs`: stops accepting, ends the running operations,
   * cancels the token streams, stops every outbox so that what is queued goes out, closes the
   * sockets with 1001, then cuts off whatever connection is left (a half-sent HTTP request
   * too) and closes the HTTP server.
   */
  close(): Promise<void>;
}

/** Close code for "the server is going away". */
const GOING_AWAY = 1001;
/** What a `?thread_id=` may be: short, and safe to show anywhere. */
const THREAD_ID = /^[\w.:-]{1,64}$/;

/**
 * Starts the demo: the page at `/`, WebSockets at `/ws` through a `ConnectionManager` and
 * `Operations` (the chat, `memory_search`, `memory_compress_preview`), and Prometheus metrics at
 * `/metrics`.
 */
export async function createDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const registry = options.registry ?? new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = outboxMetrics(registry);
  const scheduler = options.scheduler ?? asyncScheduler;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const statsIntervalMs = options.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
  const slowReaderMaxMs = options.slowReaderMaxMs ?? DEFAULT_SLOW_READER_MAX_MS;
  /** The figures of the connections that have a stats topic, by their socket. */
  const meters = new Map<unknown, { meter: ConnectionMeter; topic: string }>();
  const ownStore = options.topicStore === undefined;
  const store =
    options.topicStore ??
    new MemoryTopicStore({ ...ROOM_HISTORY, maxTotalBytes: DEMO_TOPICS_TOTAL_BYTES });
  const manager = new ConnectionManager<DemoMessage>({
    outbox: {
      highWaterMark: DEMO_HIGH_WATER_MARK,
      ...options.outbox,
      // Registered now rather than with the first outbox, so /metrics shows them from the start.
      metrics,
      scheduler,
      onFrameSent: (report) => meters.get(report.socket)?.meter.frame(report),
    },
    stopTimeoutMs: Math.round(shutdownTimeoutMs * 0.4),
    topics: {
      store,
      // Rooms are open to everyone; every other topic a client asks for is refused `forbidden`.
      // Sessions and stats are joined by the server, which needs no authorization.
      authorize: (_socket, topic) => isRoom(topic),
      // A chat.done carries its whole text (16 Ki characters, up to 6 bytes each in JSON).
      maxPublicationBytes: 128 * 1024,
    },
  });

  const memoryOptions = options.memory ?? {};
  const buildStart = performance.now();
  const memory = MemoryStore.create({
    corpusSize: memoryOptions.corpusSize ?? DEFAULT_CORPUS_SIZE,
    seed: memoryOptions.seed,
    chatCapacity: memoryOptions.chatCapacity,
    chatBytes: memoryOptions.chatBytes,
  });
  const memoryBuildMs = performance.now() - buildStart;

  const agent = new ChatAgent({
    tokenDelayMs: options.tokenDelayMs,
    scheduler,
    limits: options.chat,
  });
  const demoMetrics = registerDemoMetrics(registry, memory, memoryBuildMs, agent);
  const sessions = new Sessions({ graceMs: options.sessionGraceMs, scheduler });
  const operations = new Operations<DemoContext>({
    timeoutMs: options.operationTimeoutMs ?? 120_000,
    scheduler: options.operationScheduler ?? scheduler,
    metrics,
    onHandlerError: options.onHandlerError ?? logUnexpectedFailure,
    topics: manager,
  });

  /** Where a session's chat events go: its topic, so that they outlive the connection. */
  function sessionReplies(session: Session): Pick<MessageContext<unknown>, 'send' | 'signal'> {
    const topic = sessionTopic(session.id);
    return {
      signal: session.signal,
      send: (event) => {
        manager.publish(topic, event).then(
          () => undefined,
          () => demoMetrics.topicPublishErrors.inc(),
        );
        return true;
      },
    };
  }

  operations.on(
    'chat.message',
    (message, context) => {
      const { session } = context.session.connection;
      let chat: Chat;
      try {
        chat = agent.receive(message, session ? sessionReplies(session) : context);
      } catch (error) {
        if (isRejection(error) && error.code) demoMetrics.chatRefused.inc({ code: error.code });
        throw error;
      }
      memory.remember(context.session.threadId, chat.text);
      demoMetrics.chatMessages.inc();
    },
    { cost: (message) => chatCost(message, agent.limits) },
  );
  // CPU-bound: a few at a time across every connection, the rest refused with busy.
  const memoryLimiter = new ConcurrencyLimiter(options.memoryLimit ?? DEFAULT_MEMORY_LIMIT);
  const heavy = { limiter: memoryLimiter, cost: MEMORY_OPERATION_COST };
  operations.register('memory_search', memorySearch(memory, memoryOptions), heavy);
  operations.register(
    'memory_compress_preview',
    memoryCompressPreview(memory, memoryOptions),
    heavy,
  );

  // Rooms: {"type":"publish","topic":"room:<name>","data":…}, answered with publish.ack.
  operations.on('publish', async (message, { send }) => {
    let publication: ReturnType<typeof readPublication>;
    try {
      publication = readPublication(message);
    } catch (error) {
      if (isRejection(error) && error.code) demoMetrics.roomRefused.inc({ code: error.code });
      throw error;
    }
    const { topic, data } = publication;
    let offset: number;
    try {
      offset = await manager.publish(topic, data);
    } catch {
      demoMetrics.roomRefused.inc({ code: 'unavailable' });
      throw new OperationError('The room cannot take publications now; try again.', {
        code: 'unavailable',
      });
    }
    demoMetrics.roomPublications.inc();
    const id = message.id;
    send(
      { type: 'publish.ack', ...(id !== undefined && { id }), topic, offset },
      { critical: true },
    );
  });

  // The page's controls.
  const burstLimiter = new ConcurrencyLimiter(options.burstLimit ?? DEFAULT_BURST_LIMIT);
  operations.register(
    'burst',
    (data, { session }) => burst(data, session.connection.outbox, scheduler),
    { limiter: burstLimiter, cost: BURST_COST },
  );
  operations.on('slow_reader', (message, { session }) => {
    const on = (message as { on?: unknown }).on;
    if (typeof on !== 'boolean') {
      throw new OperationError('slow_reader needs "on": true or false.', { code: 'bad_request' });
    }
    if (on) startSlowReader(session.connection);
    else stopSlowReader(session.connection, 'asked');
  });
  // An abrupt close, as a network would: no close frame, what was queued is lost.
  operations.on('drop', (_message, { session }) => session.connection.link.terminate());

  function startSlowReader(connection: DemoConnection): void {
    if (connection.link.isPaused || connection.link.readyState !== 1) return;
    connection.link.pause();
    connection.slowTimer = scheduler.schedule(
      () => stopSlowReader(connection, 'timeout'),
      slowReaderMaxMs,
    );
  }

  function stopSlowReader(connection: DemoConnection, reason: string): void {
    connection.slowTimer?.unsubscribe();
    connection.slowTimer = undefined;
    if (!connection.link.isPaused) return;
    const held = connection.link.resume();
    connection.outbox.send(
      { type: 'slow_reader', paused: false, held, reason },
      { critical: true },
    );
  }

  // Each session's figures, once per interval, while some connection has a stats topic.
  let statsTimer: { unsubscribe(): void } | undefined;
  function publishStats(): void {
    const now = scheduler.now();
    const wallClock = Date.now();
    for (const { meter, topic } of meters.values()) {
      const figures: ConnectionFigures = meter.sample(now, wallClock);
      manager.publish(topic, figures).then(
        () => undefined,
        () => demoMetrics.topicPublishErrors.inc(),
      );
    }
  }
  function watchStats(): void {
    statsTimer ??= scheduler.schedule(function () {
      publishStats();
      this.schedule(undefined, statsIntervalMs);
    }, statsIntervalMs);
  }
  function unwatchStats(): void {
    if (meters.size > 0) return;
    statsTimer?.unsubscribe();
    statsTimer = undefined;
  }

  const page = renderPage();
  // Built before listening, so the page is never served without its script.
  const script = await bundlePage();
  const styles = await chartStyles();
  const wss = new WebSocketServer({
    ...recommendedServerOptions(),
    noServer: true,
    // One client frame per event-loop turn: a 64 kB read holds ~900 chat messages, and
    // handled in one macrotask they would hold every send callback back until the last.
    allowSynchronousEvents: false,
  });
  const detachers = new Set<Detach>();
  let connections = 0;
  let closing: Promise<void> | undefined;

  const open = new Set<DemoConnection>();
  let nodeName = options.nodeName ?? '';

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    // Without a listener an 'error' (a malformed frame, say) would crash the process; ws closes the socket itself.
    ws.on('error', () => {});
    const link = new DemoLink(ws);
    const sessionId = sessionIdOf(req);
    // `request` hands over the positions of the session's topics on a reconnect.
    const outbox = manager.connect(link, { request: req, sessionId });
    const id = ++connections;
    const attached = sessionId === undefined ? undefined : sessions.attach(sessionId);
    const connection: DemoConnection = {
      id,
      link,
      outbox,
      session: attached?.session,
      slowTimer: undefined,
    };
    open.add(connection);
    const context: DemoContext = { threadId: threadIdOf(req, id), connection };
    const detach = operations.attach(ws, outbox, context);
    detachers.add(detach);
    // A connection that names no session (a plain client, a load test) gets what it always got.
    if (sessionId !== undefined) {
      outbox.send({ type: 'hello', node: nodeName, connection: id, session: sessionId });
      void manager.join(link, sessionTopic(sessionId));
      if (meters.size < MAX_METERED_CONNECTIONS) {
        const meter = new ConnectionMeter(outbox, nodeName, id, scheduler.now());
        meters.set(link, { meter, topic: statsTopic(sessionId) });
        void manager.join(link, statsTopic(sessionId));
        watchStats();
      }
    }
    ws.once('close', () => {
      detachers.delete(detach);
      open.delete(connection);
      connection.slowTimer?.unsubscribe();
      attached?.detach();
      if (meters.delete(link)) unwatchStats();
    });
  });

  const http = createServer(
    // A client gets 10 s to send its headers and 30 s for its whole request (Node's defaults are
    // 60 s and 5 min): a connection that trickles a request in is not held for long.
    { headersTimeout: 10_000, requestTimeout: 30_000 },
    (req, res) => {
      void route(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    },
  );

  /** Each path's body and content type. */
  const routes: Record<string, () => Promise<[string, string]> | [string, string]> = {
    '/': () => [page, 'text/html; charset=utf-8'],
    [PAGE_SCRIPT_PATH]: () => [script, 'text/javascript; charset=utf-8'],
    [PAGE_STYLES_PATH]: () => [styles, 'text/css; charset=utf-8'],
    '/metrics': async () => [await registry.metrics(), registry.contentType],
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const render = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (render === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end();
      return;
    }
    const [body, type] = await render();
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  http.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/ws' || closing) {
      socket.end(`HTTP/1.1 ${closing ? '503 Service Unavailable' : '404 Not Found'}\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  http.listen(options.port, options.host);
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  nodeName ||= `${host}:${port}`;

  async function shutdown(): Promise<void> {
    const deadline = performance.now() + shutdownTimeoutMs * 0.9;
    // Stops listening. It also stops Node's header and request timeouts, so from here on only
    // this function bounds a connection that never finishes its request.
    const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeIdleConnections();
    // Operations end first, as if their clients had left: no event of theirs races the close.
    for (const detach of detachers) detach();
    detachers.clear();
    agent.stop();
    sessions.stop();
    statsTimer?.unsubscribe();
    statsTimer = undefined;
    // Slow readers let go, so that what their outboxes hold can go out.
    for (const connection of open) stopSlowReader(connection, 'shutdown');
    // Bounded by the manager's stopTimeoutMs: what is still queued then is dropped.
    await manager.closeAll();
    if (ownStore) await store.close();
    await closeClients(wss, Math.max(0, deadline - performance.now()));
    wss.close();
    // Whatever is left: half-sent requests, slow readers of a response, sockets mid-upgrade.
    http.closeAllConnections();
    await httpClosed;
  }

  return {
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}/ws`,
    registry,
    manager,
    memory,
    memoryBuildMs,
    http,
    agent,
    memoryLimiter,
    nodeName,
    sessions,
    connections: open,
    close: () => (closing ??= shutdown()),
  };
}

/** The session a connection names with `?session=`, when it is a plain id of 16 to 64 characters. */
function sessionIdOf(req: IncomingMessage): string | undefined {
  const asked = new URL(req.url ?? '/', 'http://localhost').searchParams.get('session');
  return asked !== null && SESSION_ID.test(asked) ? asked : undefined;
}

/**
 * The thread a connection's chat messages join: `?thread_id=` of its URL (as the original design's
 * `/ws/test?thread_id=test`) when it is a plain short name, else one of its own.
 */
function threadIdOf(req: IncomingMessage, connection: number): string {
  const asked = new URL(req.url ?? '/', 'http://localhost').searchParams.get('thread_id');
  return asked !== null && THREAD_ID.test(asked) && !isGeneratedThread(asked)
    ? asked
    : `conn-${connection}`;
}

/** The demo's own metrics, beside the outbox's. */
function registerDemoMetrics(
  registry: Registry,
  memory: MemoryStore,
  buildMs: number,
  agent: ChatAgent,
) {
  const registers = [registry];
  new Gauge({
    name: 'demo_chat_replies_streaming',
    help: 'Chat replies streaming now, all connections together.',
    registers,
    collect() {
      this.set(agent.streaming.replies);
    },
  });
  new Gauge({
    name: 'demo_chat_tokens_streaming',
    help: 'Tokens of the chat replies streaming now, all connections together.',
    registers,
    collect() {
      this.set(agent.streaming.tokens);
    },
  });
  new Gauge({
    name: 'demo_memory_chat_bytes',
    help: 'Bytes the chat messages kept as memories count against their bound.',
    registers,
    collect() {
      this.set(memory.chatBytes);
    },
  });
  new Gauge({
    name: 'demo_memory_documents',
    help: 'Memories memory_search goes through: the generated corpus and the chat messages kept.',
    registers,
    collect() {
      this.set(memory.corpusSize + memory.chatCount);
    },
  });
  new Gauge({
    name: 'demo_memory_build_seconds',
    help: 'Seconds spent generating and indexing the corpus at start.',
    registers,
  }).set(buildMs / 1000);
  const chatRefused = new Counter({
    name: 'demo_chat_refused_total',
    help: 'chat.message frames the chat agent refused, by code (bad_request, too_large, busy).',
    labelNames: ['code'] as const,
    registers,
  });
  for (const code of ['bad_request', 'too_large', 'busy']) chatRefused.inc({ code }, 0);
  const roomRefused = new Counter({
    name: 'demo_room_refused_total',
    help: 'publish frames refused, by code (forbidden, bad_request, too_large, unavailable).',
    labelNames: ['code'] as const,
    registers,
  });
  for (const code of ['forbidden', 'bad_request', 'too_large', 'unavailable']) {
    roomRefused.inc({ code }, 0);
  }
  return {
    chatRefused,
    roomRefused,
    roomPublications: new Counter({
      name: 'demo_room_publications_total',
      help: 'publish frames appended to their room.',
      registers,
    }),
    topicPublishErrors: new Counter({
      name: 'demo_topic_publish_errors_total',
      help: 'Chat events and stats the server could not publish to their topic (the store unreachable).',
      registers,
    }),
    chatMessages: new Counter({
      name: 'demo_chat_messages_total',
      help: 'chat.message frames the chat agent answered.',
      registers,
    }),
  };
}

/** Refused requests are the client's business; anything else is a bug worth a log line. */
function logUnexpectedFailure(error: unknown, { type, id }: HandlerErrorInfo): void {
  if (isOperationError(error)) return;
  console.error(`handler of ${type}${id === undefined ? '' : ` (id ${id})`} failed:`, error);
}

/** Closes every client with 1001 and waits for the handshake; a client that does not answer in time is cut off. */
async function closeClients(wss: WebSocketServer, timeoutMs: number): Promise<void> {
  const clients = [...wss.clients];
  const closed = clients.map((ws) => new Promise((resolve) => ws.once('close', resolve)));
  for (const ws of clients) ws.close(GOING_AWAY, 'server shutting down');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
  await Promise.race([Promise.all(closed), deadline]);
  clearTimeout(timer);
  for (const ws of clients) ws.terminate();
}
