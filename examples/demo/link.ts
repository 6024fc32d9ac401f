import type { WebSocket } from 'ws';
import type { ManagedSocket } from '../../src/index.js';

type Frame = Parameters<ManagedSocket['send']>[0];
type SendCallback = (error?: Error) => void;
type Listener = () => void;

/** Error a frame held by a paused link settles with when its socket closes first. */
const CLOSED_WHILE_PAUSED = 'The socket closed while its link was paused.';

/**
 * A connection's socket as the demo's `ConnectionManager` sees it: the `ws` socket, with a switch
 * that stands in for a client that stops reading (the page's _Slow reader_).
 *
 * <span class="informal">A browser cannot stop reading a WebSocket, so the demo stops sending
 * instead: while paused, frames are held here and their send callbacks wait, exactly as when a
 * client's TCP window is full.</span>
 *
 * The outbox counts a frame as in flight until its callback, so a paused link fills its
 * `highWaterMark`, then its buffer, then it drops (and topics send a `gap`): what a held frame
 * costs is bounded by the outbox's own bounds, not by this class. `resume` hands the held frames
 * to the socket in order; a close settles them as failed.
 */
export class DemoLink implements ManagedSocket {
  private held: Array<[Frame, SendCallback]> = [];
  private paused = false;
  /** Our listener → the one registered on `ws`, per event: `off` needs the same function. */
  private readonly wrappers = new Map<Listener, Map<string, Listener>>();

  constructor(readonly ws: WebSocket) {
    ws.once('close', () => this.failHeld());
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  /** Whether the link holds what is sent. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Frames held now. */
  get heldFrames(): number {
    return this.held.length;
  }

  /** Bytes of the frames held now: the outbox stops at its `highWaterMark` (plus one frame). */
  get heldBytes(): number {
    let bytes = 0;
    for (const [data] of this.held)
      bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    return bytes;
  }

  send(data: Frame, callback: SendCallback): void {
    if (this.paused) this.held.push([data, callback]);
    else this.ws.send(data, callback);
  }

  ping(): void {
    this.ws.ping();
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** Holds every frame from now on, until `resume`. */
  pause(): void {
    this.paused = true;
  }

  /**
   * Sends the held frames in order and stops holding.
   * @returns How many frames were held.
   */
  resume(): number {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const [data, callback] of held) this.ws.send(data, callback);
    return held.length;
  }

  /** Listeners are called with this link as `this`, as the manager and heartbeat expect. */
  on(event: string, listener: Listener): this {
    let byEvent = this.wrappers.get(listener);
    if (byEvent === undefined) this.wrappers.set(listener, (byEvent = new Map()));
    if (!byEvent.has(event)) {
      const wrapper = () => listener.call(this);
      byEvent.set(event, wrapper);
      this.ws.on(event, wrapper);
    }
    return this;
  }

  off(event: string, listener: Listener): this {
    const byEvent = this.wrappers.get(listener);
    const wrapper = byEvent?.get(event);
    if (byEvent === undefined || wrapper === undefined) return this;
    this.ws.off(event, wrapper);
    byEvent.delete(event);
    if (byEvent.size === 0) this.wrappers.delete(listener);
    return this;
  }

  private failHeld(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const [, callback] of held) callback(new Error(CLOSED_WHILE_PAUSED));
  }
}
