import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { asyncScheduler } from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { ConnectionManager, inlineGzipCompressor, outboxMetrics } from '../../src/index.js';
import type { WsOutboxOptions } from '../../src/index.js';
import { ChatAgent } from './chatAgent.js';
import type { DemoEvent } from './chatAgent.js';
import { renderPage } from './page.js';

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
  /** How long shutdown waits for queued messages, then for clients to answer the close. Default 5,000 ms. */
  shutdownTimeoutMs?: number;
  /** Scheduler of the outboxes and the token streams. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Outbox options other than metrics and scheduler. Default: the library's, but see `demoCompressor`. */
  outbox?: Omit<WsOutboxOptions<DemoEvent>, 'metrics' | 'scheduler'>;
}

export interface DemoServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  /** `ws://host:port/ws`. */
  readonly wsUrl: string;
  readonly registry: Registry;
  readonly manager: ConnectionManager<DemoEvent>;
  /**
   * Graceful shutdown: stops accepting, cancels the token streams, stops every outbox so that
   * what is queued goes out, closes the sockets with 1001, then the HTTP server.
   */
  close(): Promise<void>;
}

/** Close code for "the server is going away". */
const GOING_AWAY = 1001;
const MAX_CLIENT_FRAME = 64 * 1024;

/**
 * Starts the demo: the page at `/`, WebSockets at `/ws` through a `ConnectionManager`, and
 * Prometheus metrics at `/metrics`.
 */
export async function createDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const registry = options.registry ?? new Registry();
  collectDefaultMetrics({ register: registry });
  const scheduler = options.scheduler ?? asyncScheduler;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5_000;
  const manager = new ConnectionManager<DemoEvent>({
    outbox: {
      // Latency over event-loop purity: frames up to 256 KiB are gzipped inline (about 0.1 ms
      // for the demo's 20–50 kB frames at level 1) instead of waiting an event-loop iteration
      // for the thread pool. docs/benchmarks.md has the figures behind this choice.
      compressor: inlineGzipCompressor(256 * 1024),
      ...options.outbox,
      // Registered now rather than with the first outbox, so /metrics shows them from the start.
      metrics: outboxMetrics(registry),
      scheduler,
    },
    stopTimeoutMs: shutdownTimeoutMs,
  });
  const agent = new ChatAgent({ tokenDelayMs: options.tokenDelayMs, scheduler });
  const page = renderPage();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_FRAME,
    // One client frame per event-loop turn: a 64 kB read holds ~900 chat messages, and
    // handled in one macrotask they would hold every send callback back until the last.
    allowSynchronousEvents: false,
  });
  let closing: Promise<void> | undefined;

  wss.on('connection', (ws: WebSocket) => {
    manager.connect(ws);
    const chat = agent.connection((event) => manager.sendMessage(ws, event));
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        manager.sendMessage(ws, {
          type: 'error',
          code: 'bad_request',
          message: 'send JSON text frames',
        });
        return;
      }
      chat.receive(data.toString());
    });
    ws.on('close', chat.close);
    // Without a listener an 'error' (a malformed frame, say) would crash the process; ws closes the socket itself.
    ws.on('error', () => {});
  });

  const http = createServer((req, res) => {
    void route(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/' && path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end();
      return;
    }
    const [body, type] =
      path === '/'
        ? [page, 'text/html; charset=utf-8']
        : [await registry.metrics(), registry.contentType];
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
    const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
    agent.stop();
    await manager.closeAll();
    await closeClients(wss, shutdownTimeoutMs);
    wss.close();
    await httpClosed;
  }

  return {
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}/ws`,
    registry,
    manager,
    close: () => (closing ??= shutdown()),
  };
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
