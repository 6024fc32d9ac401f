import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { decodeFrameSync } from '../../src/testing/index.js';
import { until } from './until.js';

/** A raw protocol client: sends JSON, and collects every line the server sends, decoded. */
export class RawClient {
  readonly lines: Array<Record<string, unknown>> = [];
  private readonly events = new EventEmitter();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      for (const value of decodeFrameSync(isBinary ? new Uint8Array(data) : data.toString())) {
        this.lines.push(value as Record<string, unknown>);
      }
      this.events.emit('lines');
    });
  }

  static open(url: string): Promise<RawClient> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  /** The lines of a type received so far, those about `topic` only when it is given. */
  of(type: string, topic?: string): Array<Record<string, unknown>> {
    return this.lines.filter(
      (line) => line.type === type && (topic === undefined || line.topic === topic),
    );
  }

  /** Resolves once `predicate` holds, checked as lines arrive. */
  until(predicate: () => boolean, description: string): Promise<void> {
    return until(predicate, this.events, 'lines', { description });
  }

  close(): void {
    this.socket.close();
  }
}
