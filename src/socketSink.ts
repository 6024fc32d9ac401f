import { BehaviorSubject, Observable, Subject } from 'rxjs';
import type { Observer } from 'rxjs';
import { reportUnhandledError } from './reportError.js';

/** A frame as the outbox sends it: NDJSON text, or gzip bytes for a binary frame. */
export type Frame = string | Uint8Array;

/**
 * The part of a `ws` WebSocket the sink uses. A `ws` server-side socket fits as is; so does
 * anything else with the same `send` callback contract.
 */
export interface SendableSocket {
  readonly readyState: number;
  send(data: Frame, callback: (error?: Error) => void): void;
  on(event: 'open' | 'close', listener: () => void): unknown;
  off(event: 'open' | 'close', listener: () => void): unknown;
}

/** `WebSocket.OPEN` in `ws` and in browsers. */
const OPEN = 1;

export interface SocketSinkConfig {
  /**
   * Bytes in flight (handed to the socket and not yet flushed, plus what the stages before the
   * sink report holding) at or above which the sink is not ready. Default 1 MiB.
   */
  highWaterMark?: number;
  /**
   * Sees an error that ended the pipeline the sink is subscribed to (a `BufferOverflowError`,
   * a failed gzip). Default: rethrown out of band, as RxJS reports an error nobody handles.
   */
  onError?: (error: unknown) => void;
}

/** What one send settled as: `error` is set when the socket refused or failed the frame. */
export interface SendResult {
  /** The frame's size on the wire: UTF-8 bytes of a text frame, byte length of a binary one. */
  readonly bytes: number;
  readonly error: Error | undefined;
}

/**
 * An Observer of frames bound to one socket, and the byte budget past the buffer that feeds it.
 */
export interface SocketSink extends Observer<Frame> {
  /**
   * True while the socket is open and the bytes in flight ({@link pendingBytes} plus
   * {@link upstreamBytes}) are under the high-water mark.
   */
  readonly ready: boolean;
  /** {@link ready} as an Observable: the current value, then every change. For `boundedBuffer`. */
  readonly ready$: Observable<boolean>;
  /** True while the socket is open (false while connecting, closing or closed). */
  readonly isOpen: boolean;
  /** Bytes handed to the socket whose send callback has not fired yet. */
  readonly pendingBytes: number;
  /** Frames handed to the socket whose send callback has not fired yet. */
  readonly pendingFrames: number;
  /** Bytes the stages before the sink hold, as last reported to {@link setUpstreamBytes}. */
  readonly upstreamBytes: number;
  /** Emits once, then completes, when the socket closes (or at once if it is not open). */
  readonly closed: Observable<void>;
  /**
   * Sends one frame. `onSettled` runs once, from the socket's send callback.
   * A frame sent after the socket closed settles with an error; nothing throws.
   */
  send(frame: Frame, onSettled?: (result: SendResult) => void): void;
  /**
   * Counts bytes held before the sink (frames being compressed) against the high-water mark.
   * A function bound to the sink: pass it as it is, e.g. `gzipOver(10_000, { onPending:
   * sink.setUpstreamBytes })`.
   * @param bytes The total held upstream now (not a difference).
   */
  setUpstreamBytes(bytes: number): void;
  /** Resolves once every frame sent so far has settled. */
  flushed(): Promise<void>;
  /** Stops listening to the socket. Frames in flight still settle. */
  release(): void;
}

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/**
 * Binds frames to a WebSocket: `ws.send(frame, cb)` for each, and readiness from the bytes in
 * flight.
 *
 * <span class="informal">The socket's half of the backpressure loop, and the one place that
 * owns the byte budget past the buffer: feed `ready$` to `boundedBuffer` and a slow client stops
 * the producer instead of growing the heap.</span>
 *
 * Bytes count as in flight from `send` until the socket's send callback, which `ws` calls once
 * the frame has left its own buffers and Node's socket buffer for the kernel. This covers what
 * `ws.bufferedAmount` reports and also frames `ws` holds while it compresses. Frames still being
 * gzipped before the sink count too, once `gzipOver` reports them through `onPending:
 * sink.setUpstreamBytes`: then the whole pipe is bounded, whatever the compressor.
 *
 * When the socket closes, `closed` emits and `ready` is false; later frames settle with an
 * error. An error that ends the pipeline goes to `onError`.
 *
 * ## Example
 *
 * ```ts
 * const sink = socketSink(ws, { highWaterMark: 256 * 1024 });
 * messages$
 *   .pipe(
 *     boundedBuffer(512, { ready: sink.ready$ }),
 *     coalesce(25, { maxBatch: 512 }),
 *     ndjson(),
 *     gzipOver(10_000, { onPending: sink.setUpstreamBytes }),
 *   )
 *   .subscribe(sink);
 * ```
 *
 * @param socket The socket to send on (a `ws` WebSocket).
 * @param config `highWaterMark` in bytes (default 1 MiB) and `onError`.
 * @returns An Observer of frames with its readiness, `closed` and counters.
 */
export function socketSink(socket: SendableSocket, config: SocketSinkConfig = {}): SocketSink {
  return new BoundSocketSink(socket, config);
}

/**
 * The sink itself: a class, so that the many sinks of a busy server share their methods instead
 * of each holding a dozen closures.
 */
class BoundSocketSink implements SocketSink {
  readonly ready$: Observable<boolean>;
  readonly closed: Observable<void>;
  private readonly highWaterMark: number;
  private readonly onError: (error: unknown) => void;
  private readonly readiness = new BehaviorSubject(false);
  private readonly closeSignal = new Subject<void>();
  private _pendingBytes = 0;
  private _pendingFrames = 0;
  private _upstreamBytes = 0;
  private isClosed: boolean;
  private flushWaiters: Array<() => void> = [];

  constructor(
    private readonly socket: SendableSocket,
    config: SocketSinkConfig,
  ) {
    const highWaterMark = config.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    if (!(highWaterMark > 0)) {
      throw new RangeError(`socketSink: highWaterMark must be > 0 bytes, got ${highWaterMark}`);
    }
    this.highWaterMark = highWaterMark;
    this.onError = config.onError ?? reportUnhandledError;
    this.ready$ = this.readiness.asObservable();
    this.isClosed = socket.readyState > OPEN;
    this.closed = new Observable<void>((subscriber) => {
      if (this.isClosed) {
        subscriber.next();
        subscriber.complete();
        return;
      }
      return this.closeSignal.subscribe(subscriber);
    });
    if (!this.isClosed) socket.on('close', this.onClose);
    // A client-side socket starts CONNECTING: it is ready once it opens.
    if (socket.readyState < OPEN) socket.on('open', this.onOpen);
    this.updateReadiness();
  }

  get ready(): boolean {
    return this.readiness.value;
  }

  get isOpen(): boolean {
    return !this.isClosed && this.socket.readyState === OPEN;
  }

  get pendingBytes(): number {
    return this._pendingBytes;
  }

  get pendingFrames(): number {
    return this._pendingFrames;
  }

  get upstreamBytes(): number {
    return this._upstreamBytes;
  }

  send(frame: Frame, onSettled?: (result: SendResult) => void): void {
    const bytes = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength;
    this._pendingBytes += bytes;
    this._pendingFrames++;
    this.updateReadiness();
    let settled = false;
    const callback = (error?: Error | null) => {
      // ws may call back twice on some close paths; count each frame once.
      if (settled) return;
      settled = true;
      this.settle(bytes, error ?? undefined, onSettled);
    };
    try {
      this.socket.send(frame, callback);
    } catch (error) {
      // ws throws only while CONNECTING; settle as a failed send rather than lose the frame.
      callback(error instanceof Error ? error : new Error(String(error)));
    }
  }

  // Bound: handed to `gzipOver`'s `onPending`, and to subscriptions as a teardown.
  readonly setUpstreamBytes = (bytes: number): void => {
    this._upstreamBytes = bytes;
    this.updateReadiness();
  };

  readonly release = (): void => {
    this.socket.off('close', this.onClose);
    this.socket.off('open', this.onOpen);
  };

  next(frame: Frame): void {
    this.send(frame);
  }

  error(error: unknown): void {
    this.onError(error);
  }

  complete(): void {}

  flushed(): Promise<void> {
    return this._pendingFrames === 0
      ? Promise.resolve()
      : new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  private readonly onClose = (): void => {
    if (this.isClosed) return;
    this.isClosed = true;
    this.release();
    this.updateReadiness();
    this.closeSignal.next();
    this.closeSignal.complete();
  };

  private readonly onOpen = (): void => this.updateReadiness();

  private updateReadiness(): void {
    // A closing socket fails its queued sends; the bytes they free are no demand.
    const ready = this.isOpen && this._pendingBytes + this._upstreamBytes < this.highWaterMark;
    if (ready !== this.readiness.value) this.readiness.next(ready);
  }

  private settle(
    bytes: number,
    error: Error | undefined,
    onSettled: ((result: SendResult) => void) | undefined,
  ): void {
    this._pendingBytes -= bytes;
    this._pendingFrames--;
    if (this._pendingFrames === 0) {
      const waiters = this.flushWaiters;
      this.flushWaiters = [];
      for (const resolve of waiters) resolve();
    }
    // The frame's own outcome first: whoever counts it sees it before the room it frees.
    onSettled?.({ bytes, error });
    this.updateReadiness();
  }
}
