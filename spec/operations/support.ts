import { EventEmitter } from 'node:events';
import type { SchedulerLike } from 'rxjs';
import type { OperationsOutbox, SendOptions } from '../../src/index.js';

/** A reply as a test reads it. */
export interface Reply {
  type: string;
  id?: string;
  data?: unknown;
  code?: string;
  message?: string;
}

/** One `send` the runner made. */
export interface Sent {
  /** The scheduler's time of the call (virtual in TestScheduler.run). */
  readonly time: number;
  readonly message: Reply;
  readonly critical: boolean;
}

/**
 * A fake outbox: records every `send` with the time and whether it was critical, and emits
 * 'send' after each, so a real-time test can wait for one with `until`.
 */
export class RecordingOutbox extends EventEmitter implements OperationsOutbox {
  readonly sent: Sent[] = [];

  constructor(private readonly scheduler: SchedulerLike) {
    super();
  }

  send(message: unknown, options?: SendOptions): boolean {
    this.sent.push({
      time: this.scheduler.now(),
      message: message as Reply,
      critical: options?.critical === true,
    });
    this.emit('send');
    return true;
  }

  /** The messages sent, without times. */
  get messages(): Reply[] {
    return this.sent.map((entry) => entry.message);
  }

  /** `[time, type, data-or-code]` of each send, for compact timeline assertions. */
  timeline(): Array<[number, string, unknown]> {
    return this.sent.map(({ time, message }) => [
      time,
      message.type,
      message.type === 'error' ? message.code : message.data,
    ]);
  }
}

/** The stack-trace and internals patterns no reply may ever match. */
export const LEAK_PATTERN = /\n\s+at |Error:|\.ts:\d+|node_modules/;
