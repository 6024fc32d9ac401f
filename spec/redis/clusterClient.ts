import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { OutboxClient } from '../../src/client/index.js';
import type { ClientUrl, TopicRecovery } from '../../src/client/index.js';
import { until } from '../helpers/until.js';

/** What a publication carries in these tests: its number in its topic. */
export interface Numbered {
  readonly n: number;
}

/**
 * An `OutboxClient` on real sockets, recording what the application sees of each topic it
 * follows (the data, in order) and every recovery, with waits on them.
 */
export class WatchedClient extends EventEmitter {
  readonly client: OutboxClient;
  /** By topic: the `n` of each publication delivered, in order. */
  readonly seen = new Map<string, number[]>();
  readonly recoveries: TopicRecovery[] = [];
  /** Each `subscribed` line the server sent, as it came. */
  readonly answers: Array<Record<string, unknown>> = [];
  /** How many times a connection opened (1 for a client that never reconnected). */
  opens = 0;

  /**
   * @param url Where to connect; a function is called before each attempt (another node, say).
   * @param reconnectDelayMs The delay before a reconnect: small, so tests wait on events.
   */
  constructor(url: ClientUrl, reconnectDelayMs = 5) {
    super();
    this.setMaxListeners(0);
    this.client = new OutboxClient(url, {
      WebSocket: WebSocket as never,
      reconnect: { initialDelayMs: 1, maxDelayMs: reconnectDelayMs, jitter: 0 },
      subscribeRetry: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 100 },
    });
    this.client.status$.subscribe((status) => {
      if (status === 'open') this.opens++;
      this.emit('change');
    });
    this.client.recoveries$.subscribe((recovery) => {
      this.recoveries.push(recovery);
      this.emit('change');
    });
    this.client.messages$.subscribe((message) => {
      if ((message as { type?: string }).type !== 'subscribed') return;
      this.answers.push(message as Record<string, unknown>);
      this.emit('change');
    });
  }

  /** Subscribes to a topic (`subscribe`), or follows one the server joins it to (`listen`). */
  follow(topic: string, how: 'subscribe' | 'listen' = 'subscribe'): this {
    const seen: number[] = [];
    this.seen.set(topic, seen);
    this.client[how]<Numbered>(topic).subscribe((item) => {
      seen.push(item.n);
      this.emit('change');
    });
    return this;
  }

  /** The `n`s of a topic seen so far. */
  of(topic: string): number[] {
    return this.seen.get(topic) ?? [];
  }

  /** The `subscribed` answers of a topic. */
  answersOf(topic: string): Array<Record<string, unknown>> {
    return this.answers.filter((answer) => answer.topic === topic);
  }

  /**
   * Resolves once `predicate` holds; `timeoutMs` is a safety net that turns a hang into a
   * failure with `description`, not a synchronisation.
   */
  until(predicate: () => boolean, description: string, timeoutMs = 30_000): Promise<void> {
    return until(predicate, this, 'change', { description, timeoutMs });
  }

  close(): void {
    this.client.close();
  }
}

/** `from`, `from + 1`, … `to`. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, index) => from + index);
}

/** A promise opened by hand: a URL function can wait on it before naming its next node. */
export function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}
