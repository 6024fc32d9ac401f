import { EventEmitter } from 'node:events';
import type WebSocket from 'ws';
import { decodeFrame, parseNdjson } from '../../operators/index.js';
import { until } from './until.js';
import type { UntilOptions } from './until.js';

/** One frame as the client received it. */
export interface ReceivedFrame {
  /** What ws reported: true for a binary (gzip) frame. */
  readonly isBinary: boolean;
  /** Payload bytes on the wire (compressed size for a binary frame). */
  readonly wireBytes: number;
  /** What arrived: the text of a text frame, the bytes of a binary one. */
  readonly raw: string | Buffer;
  /** The frame's text after `decodeFrame`. */
  readonly text: string;
  /** The NDJSON values in the frame, in order. */
  readonly values: readonly unknown[];
}

/**
 * Decodes every frame a client socket receives, in arrival order, as an application would:
 * `decodeFrame` (gunzip for binary frames and base64 envelopes) then `parseNdjson`.
 *
 * Decoding is asynchronous for compressed frames, so frames go through one promise chain: a
 * text frame behind a binary one waits for it, and `values` keeps the wire order. Emits
 * 'change' after each frame.
 */
export class FrameCollector extends EventEmitter {
  readonly frames: ReceivedFrame[] = [];
  readonly values: unknown[] = [];
  readonly errors: unknown[] = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(socket: WebSocket) {
    super();
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const bytes = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
      const raw = isBinary ? bytes : bytes.toString('utf8');
      this.chain = this.chain.then(async () => {
        try {
          const text = await decodeFrame(raw);
          const values = parseNdjson(text);
          this.frames.push({ isBinary, wireBytes: bytes.byteLength, raw, text, values });
          for (const value of values) this.values.push(value);
        } catch (error) {
          this.errors.push(error);
        }
        this.emit('change');
      });
    });
  }

  /** Resolves once `predicate` holds over what has arrived; rejects if a frame failed to decode. */
  until(predicate: (collector: this) => boolean, options: UntilOptions = {}): Promise<void> {
    return until(
      () => {
        if (this.errors.length > 0) throw this.errors[0];
        return predicate(this);
      },
      this,
      'change',
      options,
    );
  }

  /** Resolves once at least `count` values have arrived. */
  untilValues(count: number, options: UntilOptions = {}): Promise<void> {
    return this.until((c) => c.values.length >= count, {
      description: `${count} values received`,
      ...options,
    });
  }
}
