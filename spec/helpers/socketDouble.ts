import { EventEmitter } from 'node:events';
import { gunzipSync } from 'node:zlib';
import type { SchedulerLike } from 'rxjs';
import { parseNdjson } from '../../operators/index.js';
import type { Frame, SendableSocket } from '../../src/index.js';

const OPEN = 1;
const CLOSED = 3;

/** One frame the outbox handed to the double. */
export interface SentFrame {
  /** Virtual time of the `send` call. */
  readonly time: number;
  readonly data: Frame;
  /** The NDJSON values in the frame (gunzipped first when it is binary). */
  readonly values: readonly unknown[];
  /** `'pending'` until the double calls the send callback back. */
  outcome: 'pending' | 'ok' | 'error';
  /**
   * Whether nothing listened to 'close' any more when the frame was called back: the outbox had
   * ended (it releases the socket then) and, by contract, counted the frame's messages as
   * dropped already.
   */
  settledAfterRelease?: boolean;
}

/**
 * An in-memory `SendableSocket` on a (virtual) scheduler, whose send callbacks fire when the
 * test says so.
 *
 * Like `ws`, it never calls back inside `send`: while flowing, each frame settles `latency`
 * after it was sent; `stall()` withholds callbacks (a client that stopped reading) until
 * `flow()`. `fail()` settles what is pending with an error; `close()` does that, then emits
 * 'close', the order in which `ws` reports a reset connection. A frame sent once closed
 * settles with an error on the next action, as `ws` does on the next tick.
 */
export class SocketDouble extends EventEmitter implements SendableSocket {
  readyState = OPEN;
  readonly frames: SentFrame[] = [];
  private readonly pending: Array<{ frame: SentFrame; callback: (error?: Error) => void }> = [];
  private stalled = false;

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly latency = 1,
  ) {
    super();
  }

  /** Values of the frames called back with success while still listened to, in send order. */
  get delivered(): unknown[] {
    return this.frames
      .filter((frame) => frame.outcome === 'ok' && !frame.settledAfterRelease)
      .flatMap((frame) => frame.values);
  }

  /** Values of every frame sent, whatever became of it. */
  get sent(): unknown[] {
    return this.frames.flatMap((frame) => frame.values);
  }

  send(data: Frame, callback: (error?: Error) => void): void {
    const frame: SentFrame = {
      time: this.scheduler.now(),
      data,
      values: decode(data),
      outcome: 'pending',
    };
    this.frames.push(frame);
    if (this.readyState !== OPEN) {
      this.scheduler.schedule(() => this.settle(frame, callback, new Error('socket not open')));
      return;
    }
    this.pending.push({ frame, callback });
    this.scheduler.schedule(() => {
      if (!this.stalled) this.settlePending(frame);
    }, this.latency);
  }

  /** Withholds send callbacks until `flow()`. */
  stall(): void {
    this.stalled = true;
  }

  /** Calls back every pending frame with success, and keeps calling back from now on. */
  flow(): void {
    this.stalled = false;
    this.settlePending();
  }

  /** Calls back every pending frame with an error. */
  fail(): void {
    this.settlePending(undefined, new Error('send failed'));
  }

  /** Fails what is pending, then closes. */
  close(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.fail();
    this.emit('close');
  }

  /** Settles pending frames in order, up to and including `upTo` (all when omitted). */
  private settlePending(upTo?: SentFrame, error?: Error): void {
    if (upTo && !this.pending.some((entry) => entry.frame === upTo)) return;
    while (this.pending.length > 0) {
      const { frame, callback } = this.pending.shift()!;
      this.settle(frame, callback, error);
      if (frame === upTo) return;
    }
  }

  private settle(frame: SentFrame, callback: (error?: Error) => void, error?: Error): void {
    frame.outcome = error ? 'error' : 'ok';
    frame.settledAfterRelease = this.listenerCount('close') === 0;
    callback(error);
  }
}

function decode(data: Frame): unknown[] {
  const text = typeof data === 'string' ? data : gunzipSync(data).toString('utf8');
  return parseNdjson(text);
}
