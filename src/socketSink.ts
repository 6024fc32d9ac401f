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
  const highWaterMark = config.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  if (!(highWaterMark > 0)) {
    throw new RangeError(`socketSink: highWaterMark must be > 0 bytes, got ${highWaterMark}`);
  }
  const onError = config.onError ?? reportUnhandledError;
  const readiness = new BehaviorSubject(false);
  const closeSignal = new Subject<void>();
  let pendingBytes = 0;
  let pendingFrames = 0;
  let upstreamBytes = 0;
  let isClosed = socket.readyState > OPEN;
  let flushWaiters: Array<() => void> = [];

  const isOpen = () => !isClosed && socket.readyState === OPEN;

  const updateReadiness = () => {
    // A closing socket fails its queued sends; the bytes they free are no demand.
    const ready = isOpen() && pendingBytes + upstreamBytes < highWaterMark;
    if (ready !== readiness.value) readiness.next(ready);
  };

  const onClose = () => {
    if (isClosed) return;
    isClosed = true;
    release();
    updateReadiness();
    closeSignal.next();
    closeSignal.complete();
  };
  // A client-side socket starts CONNECTING: it is ready once it opens.
  const onOpen = () => updateReadiness();
  const release = () => {
    socket.off('close', onClose);
    socket.off('open', onOpen);
  };
  if (!isClosed) socket.on('close', onClose);
  if (socket.readyState < OPEN) socket.on('open', onOpen);
  updateReadiness();

  const settle = (bytes: number, error: Error | undefined, onSettled?: (r: SendResult) => void) => {
    pendingBytes -= bytes;
    pendingFrames--;
    if (pendingFrames === 0) {
      const waiters = flushWaiters;
      flushWaiters = [];
      for (const resolve of waiters) resolve();
    }
    // The frame's own outcome first: whoever counts it sees it before the room it frees.
    onSettled?.({ bytes, error });
    updateReadiness();
  };

  const send = (frame: Frame, onSettled?: (result: SendResult) => void) => {
    const bytes = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength;
    pendingBytes += bytes;
    pendingFrames++;
    updateReadiness();
    let settled = false;
    const callback = (error?: Error | null) => {
      // ws may call back twice on some close paths; count each frame once.
      if (settled) return;
      settled = true;
      settle(bytes, error ?? undefined, onSettled);
    };
    try {
      socket.send(frame, callback);
    } catch (error) {
      // ws throws only while CONNECTING; settle as a failed send rather than lose the frame.
      callback(error instanceof Error ? error : new Error(String(error)));
    }
  };

  const closed = new Observable<void>((subscriber) => {
    if (isClosed) {
      subscriber.next();
      subscriber.complete();
      return;
    }
    return closeSignal.subscribe(subscriber);
  });

  return {
    get ready() {
      return readiness.value;
    },
    ready$: readiness.asObservable(),
    get isOpen() {
      return isOpen();
    },
    get pendingBytes() {
      return pendingBytes;
    },
    get pendingFrames() {
      return pendingFrames;
    },
    get upstreamBytes() {
      return upstreamBytes;
    },
    closed,
    send,
    setUpstreamBytes: (bytes: number) => {
      upstreamBytes = bytes;
      updateReadiness();
    },
    next: (frame) => send(frame),
    error: (error: unknown) => onError(error),
    complete: () => {},
    flushed: () =>
      pendingFrames === 0
        ? Promise.resolve()
        : new Promise((resolve) => flushWaiters.push(resolve)),
    release,
  };
}
