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
  Operations,
  outboxMetrics,
  recommendedServerOptions,
} from '../../src/index.js';
import type {
  ConcurrencyLimit,
  Detach,
  HandlerErrorInfo,
  OperationEventMessage,
  WsOutboxOptions,
} from '../../src/index.js';
import { ChatAgent, chatCost } from './chatAgent.js';
import type { Chat, ChatLimits, DemoEvent } from './chatAgent.js';
import { memoryCompressPreview, memorySearch } from './memory/operations.js';
import type { DemoSession, MemoryOperationsOptions } from './memory/operations.js';
import { isGeneratedThread, MemoryStore } from './memory/store.js';
import type { MemoryStoreOptions } from './memory/store.js';
import { bundlePage } from './bundle.js';
import { PAGE_SCRIPT_PATH, renderPage } from './page.js';

/** Everything the demo sends: chat events, errors, and the operations' events. */
export type DemoMessage = DemoEvent | OperationEventMessage;

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
  const manager = new ConnectionManager<DemoMessage>({
    outbox: {
      ...options.outbox,
      // Registered now rather than with the first outbox, so /metrics shows them from the start.
      metrics,
      scheduler,
    },
    stopTimeoutMs: Math.round(shutdownTimeoutMs * 0.4),
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
  const operations = new Operations<DemoSession>({
    timeoutMs: options.operationTimeoutMs ?? 120_000,
    scheduler: options.operationScheduler ?? scheduler,
    metrics,
    onHandlerError: options.onHandlerError ?? logUnexpectedFailure,
  });
  operations.on(
    'chat.message',
    (message, context) => {
      let chat: Chat;
      try {
        chat = agent.receive(message, context);
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

  const page = renderPage();
  // Built before listening, so the page is never served without its script.
  const script = await bundlePage();
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

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const outbox = manager.connect(ws);
    const session = { threadId: threadIdOf(req, ++connections) };
    const detach = operations.attach(ws, outbox, session);
    detachers.add(detach);
    ws.once('close', () => detachers.delete(detach));
    // Without a listener an 'error' (a malformed frame, say) would crash the process; ws closes the socket itself.
    ws.on('error', () => {});
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
    // Bounded by the manager's stopTimeoutMs: what is still queued then is dropped.
    await manager.closeAll();
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
    close: () => (closing ??= shutdown()),
  };
}

/**
 * The thread a connection's chat messages join: `?thread_id=` of its URL (as the seed's
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
  return {
    chatRefused,
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
