import type { ClientSocket, WebSocketConstructor } from '../../src/client/index.js';

/** A WebSocket the test drives: it opens, receives and closes when told to. */
export class FakeSocket implements ClientSocket {
  readyState = 0;
  binaryType = 'blob';
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { readonly data: unknown }) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  /** Every text the client sent, parsed. */
  readonly sent: unknown[] = [];
  /** The client's close() call, if any. */
  closedWith: { code?: number; reason?: string } | undefined;
  /** Sees each message the client sends, parsed, as it is sent (a scripted server's ear). */
  onSend: ((message: unknown) => void) | undefined;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    const message: unknown = JSON.parse(data);
    this.sent.push(message);
    this.onSend?.(message);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 2;
  }

  /** The server accepted the connection. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** A frame from the server. */
  receive(data: unknown): void {
    this.onmessage?.({ data });
  }

  /** NDJSON text frame of `messages`. */
  receiveJson(...messages: object[]): void {
    this.receive(messages.map((message) => JSON.stringify(message)).join('\n'));
  }

  /** The connection ended (or never opened). */
  drop(): void {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }
}

/** A WebSocket class whose instances are recorded, with a hook on each creation. */
export function fakeWebSocket(onCreate: (socket: FakeSocket, index: number) => void = () => {}): {
  WebSocket: WebSocketConstructor;
  sockets: FakeSocket[];
} {
  const sockets: FakeSocket[] = [];
  class Recorded extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
      onCreate(this, sockets.length - 1);
    }
  }
  return { WebSocket: Recorded, sockets };
}
