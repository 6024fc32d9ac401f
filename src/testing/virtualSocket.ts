import { gunzipSync } from 'node:zlib';
import { Observable, Subject, Subscription } from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import { envelopeData } from '../../operators/decodeFrame.js';
import { parseNdjson } from '../../operators/fromNdjson.js';
import type { Frame, SendableSocket } from '../socketSink.js';

/** `readyState` values, as in `ws` and in browsers. */
const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** Options of {@link createVirtualSocket}. */
export interface VirtualSocketOptions {
  /**
   * The client's reading, as a marble: while it last emitted `false`, send callbacks are
   * withheld (a client that stopped reading); when it emits `true`, the withheld ones fire, in
   * order, each no earlier than `latency` after its `send`. Flowing until its first `false`.
   * Subscribed when the socket is created.
   */
  ready?: Observable<boolean>;
  /**
   * Virtual ms from `send` to its callback while flowing, and the least a callback ever waits,
   * even for a frame sent while withheld ones are released. Default 1: like `ws`, the callback
   * never fires inside `send`.
   */
  latency?: number;
  /**
   * When given, the socket starts CONNECTING (`send` throws, as in `ws`) and opens at this
   * Observable's first value. Default: open from the start.
   */
  open?: Observable<unknown>;
  /** The socket closes at this Observable's first value, as {@link VirtualSocket.close} does. */
  close?: Observable<unknown>;
  /**
   * Turns one frame into the values it carries. Default: NDJSON text, gzip binary frames and
   * base64 gzip envelopes gunzipped synchronously.
   */
  decode?: (frame: Frame) => readonly unknown[];
}

/** One frame handed to a {@link VirtualSocket}. */
export interface VirtualFrame {
  /** Virtual time of the `send` call. */
  readonly time: number;
  /** The frame as sent: NDJSON text, or gzip bytes. */
  readonly data: Frame;
  /** The values it carries, decoded. */
  readonly values: readonly unknown[];
  /** `'pending'` until the socket calls the send callback; then `'ok'` or `'error'`. */
  readonly outcome: 'pending' | 'ok' | 'error';
  /** Virtual time of the send callback, once it fired. */
  readonly settledAt: number | undefined;
}

/** An in-memory WebSocket on a (virtual) scheduler: see {@link createVirtualSocket}. */
export interface VirtualSocket extends SendableSocket {
  /** `0` CONNECTING, `1` OPEN, `3` CLOSED. */
  readonly readyState: number;
  /**
   * The decoded values of each frame, emitted at the virtual time it is sent. Hot: subscribe
   * before the first send (`expectObservable` in the run callback does). Completes when the
   * socket closes.
   */
  readonly frames$: Observable<readonly unknown[]>;
  /** Every value of every frame, one by one, at the frame's time. Completes on close. */
  readonly messages$: Observable<unknown>;
  /** The frames as sent (text or gzip bytes), at their time. Completes on close. */
  readonly rawFrames$: Observable<Frame>;
  /** Every frame sent so far, with its time and outcome. */
  readonly sent: readonly VirtualFrame[];
  /** Bytes of the frames whose callback has not fired yet. */
  readonly bufferedAmount: number;
  /** Fails the frames whose callback has not fired, then emits 'close', as `ws` does on a reset. */
  close(): void;
}

type Listener = () => void;

interface MutableFrame {
  time: number;
  data: Frame;
  values: readonly unknown[];
  outcome: 'pending' | 'ok' | 'error';
  settledAt: number | undefined;
  bytes: number;
  callback: (error?: Error) => void;
}

/**
 * Decodes a frame the outbox sent: NDJSON text, gzip bytes, or the base64 gzip envelope.
 *
 * <span class="informal">The synchronous counterpart of `decodeFrame` + `parseNdjson`, for
 * tests.</span>
 *
 * ## Example
 *
 * ```ts
 * decodeFrameSync(gzipSync('{"a":1}\n{"a":2}')); // [{ a: 1 }, { a: 2 }]
 * ```
 *
 * @param frame A text frame, or a binary frame's bytes.
 * @returns The JSON values in the frame, in order.
 */
export function decodeFrameSync(frame: Frame): unknown[] {
  if (typeof frame !== 'string') return parseNdjson(gunzipSync(frame).toString('utf8'));
  // The same envelope test as decodeFrame's: a look-alike application message stays text.
  const data = envelopeData(frame);
  if (data !== undefined) {
    return parseNdjson(gunzipSync(Buffer.from(data, 'base64')).toString('utf8'));
  }
  return parseNdjson(frame);
}

/**
 * Creates an in-memory WebSocket whose client's reading is a marble and whose sent frames are
 * an Observable, for marble tests of a whole outbox pipeline.
 *
 * <span class="informal">Give it the `TestScheduler` of the run, a `ready` marble for the
 * client, and `expectObservable(socket.frames$)`.</span>
 *
 * It implements the contract `socketSink` and `WsOutbox` use (`send(frame, callback)`,
 * `readyState`, `on`/`off` of `'open'` and `'close'`). A frame is recorded, decoded and emitted
 * by `frames$` when it is sent; its callback fires `latency` later if the client is reading
 * then, else when `ready` next emits `true`. On close, frames not yet called back fail, `'close'`
 * is emitted and the Observables complete; a frame sent once closed fails on the next action,
 * as in `ws`.
 *
 * ## Example
 *
 * ```ts
 * testScheduler.run(({ hot, expectObservable }) => {
 *   const socket = createVirtualSocket(testScheduler, {
 *     ready: hot('t------f---t', { t: true, f: false }),
 *   });
 *   const outbox = new WsOutbox(socket, {
 *     scheduler: testScheduler,
 *     compressor: gzipSyncCompressor,
 *     coalesceMs: 5,
 *     metrics: false,
 *   }).start();
 *   hot('a-b', { a: 1, b: 2 }).subscribe((message) => outbox.send(message));
 *   expectObservable(socket.frames$).toBe('-----x', { x: [1, 2] });
 * });
 * ```
 *
 * @param scheduler The scheduler of the test: `TestScheduler` (inside `run()`), or any other.
 * @param options `ready`, `latency`, `open`, `close`, `decode`.
 * @returns A socket to hand to `WsOutbox`, `socketSink` or your own pipeline.
 */
export function createVirtualSocket(
  scheduler: SchedulerLike,
  options: VirtualSocketOptions = {},
): VirtualSocket {
  const latency = options.latency ?? 1;
  if (!(latency >= 0)) {
    throw new RangeError(`createVirtualSocket: latency must be >= 0, got ${latency}`);
  }
  const decode = options.decode ?? decodeFrameSync;
  const listeners = { open: new Set<Listener>(), close: new Set<Listener>() };
  const raw = new Subject<Frame>();
  const decoded = new Subject<readonly unknown[]>();
  const frames: MutableFrame[] = [];
  const pending: MutableFrame[] = [];
  const subscription = new Subscription();
  let readyState = options.open ? CONNECTING : OPEN;
  let reading = true;
  let bufferedAmount = 0;

  const emit = (event: 'open' | 'close') => {
    for (const listener of [...listeners[event]]) listener();
  };

  const settle = (frame: MutableFrame, error?: Error) => {
    frame.outcome = error ? 'error' : 'ok';
    frame.settledAt = scheduler.now();
    bufferedAmount -= frame.bytes;
    frame.callback(error);
  };

  /** Settles pending frames in order, up to and including `upTo` (all when omitted). */
  const settlePending = (upTo?: MutableFrame, error?: Error) => {
    if (upTo && !pending.includes(upTo)) return;
    while (pending.length > 0) {
      const frame = pending.shift()!;
      settle(frame, error);
      if (frame === upTo) return;
    }
  };

  /**
   * Settles, in order, the withheld frames whose latency has passed. A frame sent from one of
   * their callbacks is younger than its latency: its own scheduled action settles it.
   */
  const releaseWithheld = () => {
    const now = scheduler.now();
    while (pending.length > 0 && pending[0].time + latency <= now) {
      settle(pending.shift()!);
    }
  };

  const close = () => {
    if (readyState === CLOSED) return;
    readyState = CLOSED;
    subscription.unsubscribe();
    settlePending(undefined, new Error('WebSocket closed'));
    emit('close');
    raw.complete();
    decoded.complete();
  };

  const send = (data: Frame, callback: (error?: Error) => void) => {
    if (readyState === CONNECTING) {
      throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    }
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    let values: readonly unknown[];
    try {
      values = decode(data);
    } catch (error) {
      decoded.error(error);
      values = [];
    }
    const frame: MutableFrame = {
      time: scheduler.now(),
      data,
      values,
      outcome: 'pending',
      settledAt: undefined,
      bytes,
      callback,
    };
    frames.push(frame);
    bufferedAmount += bytes;
    if (readyState !== OPEN) {
      scheduler.schedule(() =>
        settle(frame, new Error('WebSocket is not open: readyState 3 (CLOSED)')),
      );
    } else {
      pending.push(frame);
      scheduler.schedule(() => {
        if (reading) settlePending(frame);
      }, latency);
    }
    raw.next(data);
    decoded.next(values);
  };

  if (options.ready) {
    subscription.add(
      options.ready.subscribe((ready) => {
        reading = ready;
        if (ready) releaseWithheld();
      }),
    );
  }
  if (options.open) {
    let opened = false;
    subscription.add(
      options.open.subscribe(() => {
        if (opened || readyState !== CONNECTING) return;
        opened = true;
        readyState = OPEN;
        emit('open');
      }),
    );
  }
  if (options.close) subscription.add(options.close.subscribe(() => close()));

  const frames$ = decoded.asObservable();
  return {
    get readyState() {
      return readyState;
    },
    get bufferedAmount() {
      return bufferedAmount;
    },
    get sent(): readonly VirtualFrame[] {
      return frames.map(({ time, data, values, outcome, settledAt }) => ({
        time,
        data,
        values,
        outcome,
        settledAt,
      }));
    },
    frames$,
    messages$: new Observable<unknown>((subscriber) =>
      frames$.subscribe({
        next: (values) => values.forEach((value) => subscriber.next(value)),
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    ),
    rawFrames$: raw.asObservable(),
    send,
    close,
    on(event, listener) {
      listeners[event].add(listener);
      return this;
    },
    off(event, listener) {
      listeners[event].delete(listener);
      return this;
    },
  };
}
