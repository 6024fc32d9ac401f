import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { ClientOptions } from 'ws';
import { nextTurn, until } from './until.js';

/** The two ends of one connection: `client` as a browser would hold it, `server` as ws hands it. */
export interface SocketPair {
  readonly client: WebSocket;
  readonly server: WebSocket;
}

/** Resolves once `socket` has emitted 'close' (at once if it is closed already). */
export function closed(socket: WebSocket): Promise<void> {
  return until(() => socket.readyState === WebSocket.CLOSED, socket, 'close', {
    description: 'socket close',
  });
}

/**
 * A real `ws` server on 127.0.0.1 and an ephemeral port, handing out connected socket pairs.
 *
 * Every socket it opens, on either side, is tracked until it closes, so `close()` can leave
 * nothing behind for jest's open-handle check however a test ended.
 */
export class TestServer {
  private readonly sockets = new Set<WebSocket>();
  private readonly waiting = new Map<string, (socket: WebSocket) => void>();
  private nextId = 0;

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {
    wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
      this.track(socket);
      const id = new URL(request.url ?? '/', 'http://x').searchParams.get('pair') ?? '';
      const resolve = this.waiting.get(id);
      if (!resolve) {
        socket.terminate();
        return;
      }
      this.waiting.delete(id);
      resolve(socket);
    });
  }

  /** Starts a server on 127.0.0.1, port 0. */
  static async start(): Promise<TestServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    const { port } = wss.address() as AddressInfo;
    return new TestServer(wss, `ws://127.0.0.1:${port}/`);
  }

  /** Sockets of either side that have not closed yet. */
  get openSockets(): number {
    return this.sockets.size;
  }

  /**
   * Starts a client and returns it at once, still CONNECTING, with a promise of its server end.
   */
  connect(options?: ClientOptions): { client: WebSocket; server: Promise<WebSocket> } {
    const id = String(this.nextId++);
    const server = new Promise<WebSocket>((resolve) => this.waiting.set(id, resolve));
    const client = new WebSocket(`${this.url}?pair=${id}`, options);
    this.track(client);
    client.once('close', () => this.waiting.delete(id));
    return { client, server };
  }

  /** Opens a client and resolves with both ends once the client is open. */
  async pair(options?: ClientOptions): Promise<SocketPair> {
    const { client, server } = this.connect(options);
    await new Promise<void>((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    return { client, server: await server };
  }

  /** Terminates every socket still open, waits for each to close, then closes the server. */
  async close(): Promise<void> {
    const open = [...this.sockets];
    for (const socket of open) socket.terminate();
    await Promise.all(open.map(closed));
    await new Promise<void>((resolve, reject) =>
      this.wss.close((error) => (error ? reject(error) : resolve())),
    );
    // The close callback runs before libuv's close phase frees the listening handle; two turns
    // take the loop past that phase, so a count of active handles no longer sees it.
    await nextTurn();
    await nextTurn();
  }

  private track(socket: WebSocket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    // A reset peer surfaces as 'error' on the client side; the test sees it as a close.
    socket.on('error', () => {});
  }
}
