import type WebSocket from 'ws';
import type { Frame, SendableSocket } from '../../src/index.js';

/**
 * A real server-side `ws` socket seen through a meter: it forwards everything and records the
 * bytes handed to `ws` whose send callback has not fired yet, which is what the outbox's sink
 * counts as in flight, without reaching into the outbox's private fields.
 */
export class MeteredSocket implements SendableSocket {
  /** Bytes passed to `send` and not yet called back. */
  inFlightBytes = 0;
  /** Highest `inFlightBytes`, read right after each send. */
  peakInFlightBytes = 0;
  /** Frames passed to `send` and not yet called back. */
  inFlightFrames = 0;
  /** Highest `inFlightFrames`. */
  peakInFlightFrames = 0;
  /** Highest `ws.bufferedAmount`, read right after each send and at each `sample()`. */
  peakBufferedAmount = 0;
  /** Largest frame passed to `send`, in bytes. */
  largestFrame = 0;
  frames = 0;

  constructor(readonly socket: WebSocket) {}

  get readyState(): number {
    return this.socket.readyState;
  }

  send(data: Frame, callback: (error?: Error) => void): void {
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    this.inFlightBytes += bytes;
    this.inFlightFrames++;
    this.peakInFlightFrames = Math.max(this.peakInFlightFrames, this.inFlightFrames);
    this.frames++;
    this.largestFrame = Math.max(this.largestFrame, bytes);
    this.peakInFlightBytes = Math.max(this.peakInFlightBytes, this.inFlightBytes);
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      this.inFlightBytes -= bytes;
      this.inFlightFrames--;
    };
    try {
      this.socket.send(data, (error) => {
        settle();
        callback(error);
      });
    } catch (error) {
      settle();
      throw error;
    } finally {
      this.sample();
    }
  }

  /** Records the current `ws.bufferedAmount`. */
  sample(): void {
    this.peakBufferedAmount = Math.max(this.peakBufferedAmount, this.socket.bufferedAmount);
  }

  on(event: 'close', listener: () => void): this {
    this.socket.on(event, listener);
    return this;
  }

  off(event: 'close', listener: () => void): this {
    this.socket.off(event, listener);
    return this;
  }
}
