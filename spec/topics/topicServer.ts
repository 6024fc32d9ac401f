import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import WebSocket, { WebSocketServer } from 'ws';
import { ConnectionManager, Operations } from '../../src/index.js';
import type {
  ConnectionManagerOptions,
  OperationsOptions,
  TopicStore,
  TopicsOptions,
} from '../../src/index.js';

/** What a test server needs to be told. */
export interface TopicServerOptions {
  /** Where topics live; default the manager's own in-memory store. Closed with the server. */
  store?: TopicStore;
  /** Topics options other than the store; `authorize` defaults to allowing everything. */
  topics?: Omit<TopicsOptions, 'store'>;
  /** Outbox options (metrics go to the server's registry). */
  outbox?: ConnectionManagerOptions<unknown>['outbox'];
  /** The operations' options (the rate limit, say), besides the metrics and topics. */
  operations?: Omit<OperationsOptions, 'metrics' | 'topics'>;
  /** Topics every connection is joined to, from the request (a user's inbox). */
  joins?: (request: IncomingMessage) => string[];
}

/**
 * A real ws server on 127.0.0.1 with a ConnectionManager whose topics clients can subscribe to,
 * through Operations, as an application would wire it.
 */
export class TopicServer {
  readonly registry = new Registry();
  readonly manager: ConnectionManager<unknown>;
  readonly sockets = new Set<WebSocket>();
  private readonly wss: WebSocketServer;
  private readonly http = createServer();
  /** A store the test made: the manager leaves it open, so the server closes it. */
  private readonly store: TopicStore | undefined;
  url = '';

  constructor(options: TopicServerOptions = {}) {
    this.store = options.store;
    this.manager = new ConnectionManager({
      outbox: { ...options.outbox, metrics: this.registry },
      heartbeat: false,
      topics: { authorize: () => true, ...options.topics, store: options.store },
    });
    const operations = new Operations({
      ...options.operations,
      metrics: this.registry,
      topics: this.manager,
    });
    this.wss = new WebSocketServer({ server: this.http });
    this.wss.on('connection', (ws, request) => {
      this.sockets.add(ws);
      ws.once('close', () => this.sockets.delete(ws));
      const outbox = this.manager.connect(ws, { request });
      operations.attach(ws, outbox, undefined);
      for (const topic of options.joins?.(request) ?? []) void this.manager.join(ws, topic);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    this.url = `ws://127.0.0.1:${(this.http.address() as AddressInfo).port}/`;
    return this;
  }

  /** A metric's value in the server's registry, summed over the series matching `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const found = await this.registry.getSingleMetric(name)!.get();
    return found.values
      .filter((value) => Object.entries(labels).every(([key, v]) => value.labels[key] === v))
      .reduce((sum, value) => sum + value.value, 0);
  }

  /** Cuts every connection abruptly, as a network failure would. */
  dropAll(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  async close(): Promise<void> {
    this.dropAll();
    await this.manager.closeAll();
    // Its sweep timer would otherwise keep the process alive for minutes.
    await this.store?.close();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

export { WebSocket };
