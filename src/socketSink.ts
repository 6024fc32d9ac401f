import { BehaviorSubject, distinctUntilChanged, Observable, Subject } from 'rxjs';
import type { Observer } from 'rxjs';

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
   * Bytes handed to the socket and not yet flushed above which the sink reports not ready.
   * Default 1 MiB.
   */
  highWaterMark?: number;
}

/** What one send settled as: `error` is set when the socket refused or failed the frame. */
export interface SendResult {
  readonly bytes: number;
  readonly error: Error | undefined;
}

/**
 * An Observer of frames bound to one socket, with the socket's demand as an Observable.
 */
export interface SocketSink extends Observer<Frame> {
  /**
   * True while the socket is open and the bytes in flight are under the high-water mark.
   * Replays its current value.
   */
  readonly ready: Observable<boolean>;
  /** The current value of `ready`. */
  readonly isReady: boolean;
  /** True while the socket is open (false while connecting, closing or closed). */
  readonly isOpen: boolean;
  /** Bytes handed to the socket whose send callback has not fired yet. */
  readonly pendingBytes: number;
  /** Frames handed to the socket whose send callback has not fired yet. */
  readonly pendingFrames: number;
  /** Emits once, then completes, when the socket closes (or at once if it is not open). */
  readonly closed: Observable<void>;
  /**
   * Sends one frame. `onSettled` runs once, from the socket's send callback.
   * A frame sent after the socket closed settles with an error; nothing throws.
   */
  send(frame: Frame, onSettled?: (result: SendResult) => void): void;
  /** Resolves once every frame sent so far has settled. */
  flushed(): Promise<void>;
  /** Stops listening to the socket. Frames in flight still settle. */
  release(): void;
}

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/**
 * Binds frames to a WebSocket: `ws.send(frame, cb)` for each, and readiness from what is in
 * flight.
 *
 * <span class="informal">The socket's half of the backpressure loop: feed `ready` to
 * `boundedBuffer` and a slow client stops the producer instead of growing the heap.</span>
 *
 * Bytes count as in flight from `send` until the socket's send callback, which `ws` calls once
 * the frame has left its own buffers and Node's socket buffer for the kernel. This covers what
 * `ws.bufferedAmount` reports and also frames `ws` holds while it compresses. When the socket
 * closes, `closed` emits; later frames settle with an error.
 *
 * ## Example
 *
 * ```ts
 * const sink = socketSink(ws, { highWaterMark: 256 * 1024 });
 * messages$
 *   .pipe(boundedBuffer(512, { ready: sink.ready }), coalesce(25), ndjson(), gzipOver(10_000))
 *   .subscribe(sink);
 * ```
 *
 * @param socket The socket to send on (a `ws` WebSocket).
 * @param config `highWaterMark` in bytes (default 1 MiB).
 * @returns An Observer of frames with `ready`, `closed` and counters.
 */
export function socketSink(socket: SendableSocket, config: SocketSinkConfig = {}): SocketSink {
  const highWaterMark = config.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  if (!(highWaterMark > 0)) {
    throw new RangeError(`socketSink: highWaterMark must be > 0 bytes, got ${highWaterMark}`);
  }
  const readiness = new BehaviorSubject(false);
  const closeSignal = new Subject<void>();
  let pendingBytes = 0;
  let pendingFrames = 0;
  let isClosed = socket.readyState > OPEN;
  let flushWaiters: Array<() => void> = [];

  const onClose = () => {
    if (isClosed) return;
    isClosed = true;
    socket.off('close', onClose);
    socket.off('open', onOpen);
    updateReadiness();
    closeSignal.next();
    closeSignal.complete();
  };
  if (!isClosed) socket.on('close', onClose);
  // A client-side socket starts CONNECTING: it has demand once it opens.
  const onOpen = () => updateReadiness();
  if (socket.readyState < OPEN) socket.on('open', onOpen);

  const updateReadiness = () => {
    // A closing socket fails its queued sends; the bytes they free are no demand.
    const ready = !isClosed && socket.readyState === OPEN && pendingBytes < highWaterMark;
    if (ready !== readiness.value) readiness.next(ready);
  };
  updateReadiness();

  const settle = (bytes: number, error: Error | undefined, onSettled?: (r: SendResult) => void) => {
    pendingBytes -= bytes;
    pendingFrames--;
    if (pendingFrames === 0) {
      const waiters = flushWaiters;
      flushWaiters = [];
      for (const resolve of waiters) resolve();
    }
    updateReadiness();
    onSettled?.({ bytes, error });
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
    ready: readiness.pipe(distinctUntilChanged()),
    get isReady() {
      return readiness.value;
    },
    get isOpen() {
      return !isClosed && socket.readyState === OPEN;
    },
    get pendingBytes() {
      return pendingBytes;
    },
    get pendingFrames() {
      return pendingFrames;
    },
    closed,
    send,
    next: (frame) => send(frame),
    error: () => {},
    complete: () => {},
    flushed: () =>
      pendingFrames === 0
        ? Promise.resolve()
        : new Promise((resolve) => flushWaiters.push(resolve)),
    release: () => {
      socket.off('close', onClose);
      socket.off('open', onOpen);
    },
  };
}
