import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import WebSocket, { WebSocketServer } from 'ws';
import { closed } from '../helpers/wsServer.js';

/** One connection as the server saw it. */
export interface ScriptedConnection {
  readonly socket: WebSocket;
  /** The request URL, path and query: where the token and `resume` parameter arrive. */
  readonly url: string;
  /** Every message the client sent, parsed. */
  readonly received: { type: string; topic?: string; since?: { epoch: string; offset: number } }[];
  /** Topics the socket is in. */
  readonly topics: Set<string>;
}

/**
 * A minimal server of the topic protocol (v1) for the client's integration tests, on a real
 * `ws` server on 127.0.0.1: one epoch, the whole history in memory, `since` answered from it,
 * topics in `joinOnConnect` joined to every socket (resumed from the URL's `resume` parameter),
 * and frames over `compressAbove` bytes sent gzipped, as an outbox would. Emits `'change'` on
 * every connection and every message received.
 */
export class ScriptedTopicServer extends EventEmitter {
  readonly connections: ScriptedConnection[] = [];
  readonly epoch = 'e1';
  /** How many frames went out gzipped. */
  gzipFrames = 0;
  private readonly history = new Map<string, unknown[]>();

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
    private readonly joinOnConnect: readonly string[],
    private readonly compressAbove: number,
  ) {
    super();
    wss.on('connection', (socket: WebSocket, request: IncomingMessage) =>
      this.accept(socket, request),
    );
  }

  static async start(
    options: { joinOnConnect?: readonly string[]; compressAbove?: number } = {},
  ): Promise<ScriptedTopicServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    const { port } = wss.address() as AddressInfo;
    return new ScriptedTopicServer(
      wss,
      `ws://127.0.0.1:${port}/ws`,
      options.joinOnConnect ?? [],
      options.compressAbove ?? 10_000,
    );
  }

  /** Appends a publication and sends it to every socket in the topic. */
  publish(topic: string, data: unknown): number {
    const history = this.historyOf(topic);
    history.push(data);
    const offset = history.length;
    for (const connection of this.connections) {
      if (connection.topics.has(topic)) this.send(connection, [this.pub(topic, offset)]);
    }
    return offset;
  }

  /** Terminates every socket at once (no close handshake), as a crashed network would. */
  dropAll(): void {
    for (const connection of this.connections) {
      connection.topics.clear();
      connection.socket.terminate();
    }
  }

  async close(): Promise<void> {
    const sockets = [...this.wss.clients];
    for (const socket of sockets) socket.terminate();
    await Promise.all(sockets.map(closed));
    await new Promise<void>((resolve, reject) =>
      this.wss.close((error) => (error ? reject(error) : resolve())),
    );
  }

  private accept(socket: WebSocket, request: IncomingMessage): void {
    const connection: ScriptedConnection = {
      socket,
      url: request.url ?? '/',
      received: [],
      topics: new Set(),
    };
    this.connections.push(connection);
    socket.on('error', () => undefined);
    socket.on('close', () => connection.topics.clear());
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as ScriptedConnection['received'][number];
      connection.received.push(message);
      if (message.type === 'subscribe' && message.topic !== undefined) {
        this.join(connection, message.topic, message.since);
      } else if (message.type === 'unsubscribe' && message.topic !== undefined) {
        connection.topics.delete(message.topic);
        this.send(connection, [{ type: 'unsubscribed', topic: message.topic }]);
      }
      this.emit('change');
    });
    const resume = new URL(connection.url, 'http://x').searchParams.get('resume');
    const positions =
      resume === null ? {} : (JSON.parse(resume) as Record<string, [string, number]>);
    for (const topic of this.joinOnConnect) {
      const since = positions[topic];
      this.join(connection, topic, since && { epoch: since[0], offset: since[1] });
    }
    this.emit('change');
  }

  private join(
    connection: ScriptedConnection,
    topic: string,
    since: { epoch: string; offset: number } | undefined,
  ): void {
    const top = this.historyOf(topic).length;
    connection.topics.add(topic);
    if (since === undefined) {
      this.send(connection, [{ type: 'subscribed', topic, epoch: this.epoch, offset: top }]);
      return;
    }
    if (since.epoch !== this.epoch) {
      this.send(connection, [
        {
          type: 'subscribed',
          topic,
          epoch: this.epoch,
          offset: top,
          recovered: false,
          reason: 'epoch',
        },
      ]);
      return;
    }
    const replay = [];
    for (let offset = since.offset + 1; offset <= top; offset++)
      replay.push(this.pub(topic, offset));
    this.send(connection, [
      {
        type: 'subscribed',
        topic,
        epoch: this.epoch,
        offset: since.offset,
        recovered: true,
        replayed: replay.length,
      },
      ...replay,
    ]);
  }

  private pub(topic: string, offset: number): object {
    return { type: 'pub', topic, offset, data: this.historyOf(topic)[offset - 1] };
  }

  /** One frame of NDJSON lines; gzipped (binary) when over `compressAbove` bytes. */
  private send(connection: ScriptedConnection, lines: object[]): void {
    if (connection.socket.readyState !== WebSocket.OPEN) return;
    const text = lines.map((line) => JSON.stringify(line)).join('\n');
    if (Buffer.byteLength(text) <= this.compressAbove) {
      connection.socket.send(text);
      return;
    }
    this.gzipFrames++;
    connection.socket.send(gzipSync(text));
  }

  private historyOf(topic: string): unknown[] {
    let history = this.history.get(topic);
    if (history === undefined) this.history.set(topic, (history = []));
    return history;
  }
}
