import { Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { Channel } from './channel.js';
import { ConnectionLostError, OperationFailedError, RequestTimeoutError } from './errors.js';

/** A message from the server: a JSON object with a string `type`, as ws-outbox sends them. */
export interface ServerMessage {
  readonly type: string;
  readonly id?: string;
  readonly [field: string]: unknown;
}

/**
 * One event of a request: `{type:"<type>.progress" | "<type>.result" | "<type>.complete" |
 * "<type>.cancelled", id, data?}`, as the server sent it.
 */
export interface RequestEvent<T = unknown> {
  readonly type: string;
  readonly id: string;
  readonly data?: T;
}

/** Options of a single {@link OutboxClient#request}. */
export interface RequestOptions {
  /**
   * Client-side time limit, from subscription to the terminal event; off by default. When it
   * passes, the request errors with a {@link RequestTimeoutError} and the client sends
   * `{type:"cancel", id}`. Timed on the client's scheduler.
   */
  timeoutMs?: number;
}

interface PendingRequest {
  readonly type: string;
  readonly id: string;
  readonly data: unknown;
  readonly subscriber: Subscriber<RequestEvent>;
  /** The connection the request went out on; `undefined` while it waits for one. */
  sentOn: object | undefined;
  timer: Subscription | undefined;
}

/**
 * The requests of one client: ids, sending (now or once a connection opens), routing the
 * server's events by id, cancel on unsubscribe, timeouts, and failure when a connection is lost.
 * Knows nothing of sockets; {@link OutboxClient} drives it.
 */
export class Requests {
  private readonly pending = new Map<string, PendingRequest>();
  private nextId = 0;
  private closedWith: string | undefined;

  /**
   * @param channel The connection.
   * @param scheduler Times request timeouts.
   * @param idPrefix Prefix of the generated ids.
   */
  constructor(
    private readonly channel: Channel,
    private readonly scheduler: SchedulerLike,
    private readonly idPrefix: string,
  ) {}

  /** Requests waiting for their terminal event, or for a connection to go out on. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * An Observable that, on subscription, starts operation `type` with `data`.
   * @returns The operation's events, ending with its terminal event.
   */
  request<T = unknown>(
    type: string,
    data?: unknown,
    options: RequestOptions = {},
  ): Observable<RequestEvent<T>> {
    return new Observable<RequestEvent<T>>((subscriber) => {
      const id = `${this.idPrefix}${++this.nextId}`;
      if (this.closedWith !== undefined) {
        subscriber.error(new ConnectionLostError(type, id, this.closedWith));
        return undefined;
      }
      const entry: PendingRequest = {
        type,
        id,
        data,
        subscriber: subscriber as Subscriber<RequestEvent>,
        sentOn: undefined,
        timer: undefined,
      };
      this.pending.set(id, entry);
      const { timeoutMs } = options;
      if (timeoutMs !== undefined) {
        entry.timer = this.scheduler.schedule(() => {
          this.end(entry, true);
          subscriber.error(new RequestTimeoutError(type, id, timeoutMs));
        }, timeoutMs);
      }
      this.trySend(entry);
      // Unsubscribing before the end: the server is told to stop. After the end, nothing to do.
      return () => this.end(entry, true);
    });
  }

  /** A connection has opened: requests waiting for one go out on it, oldest first. */
  flush(): void {
    for (const entry of this.pending.values()) {
      if (entry.sentOn === undefined) this.trySend(entry);
    }
  }

  /**
   * Routes one message from the server to its request, if it is an event of one.
   * @param message Any decoded message.
   * @returns Whether it belonged to a request.
   */
  dispatch(message: unknown): boolean {
    if (typeof message !== 'object' || message === null) return false;
    const { id, type } = message as { id?: unknown; type?: unknown };
    if (typeof id !== 'string' || typeof type !== 'string') return false;
    const entry = this.pending.get(id);
    if (entry === undefined) return false;
    if (type === 'error') {
      const { code, message: text } = message as { code?: unknown; message?: unknown };
      this.end(entry, false);
      entry.subscriber.error(
        new OperationFailedError(
          typeof code === 'string' ? code : 'unknown_error',
          typeof text === 'string' ? text : '',
          entry.type,
          id,
        ),
      );
      return true;
    }
    if (!type.startsWith(`${entry.type}.`)) return false;
    const suffix = type.slice(entry.type.length + 1);
    const terminal = suffix === 'complete' || suffix === 'cancelled';
    if (terminal) this.end(entry, false);
    entry.subscriber.next(message as RequestEvent);
    if (terminal) entry.subscriber.complete();
    return true;
  }

  /**
   * A connection was lost: every request that went out on it errors with a
   * {@link ConnectionLostError}. Requests still waiting for a connection go on waiting.
   * @param connection The connection lost.
   */
  lost(connection: object): void {
    for (const entry of [...this.pending.values()]) {
      if (entry.sentOn !== connection) continue;
      this.end(entry, false);
      entry.subscriber.error(new ConnectionLostError(entry.type, entry.id));
    }
  }

  /**
   * The client is done: every request errors with a {@link ConnectionLostError} saying why, and
   * so does every later one.
   * @param reason The errors' message.
   */
  close(reason: string): void {
    this.closedWith = reason;
    for (const entry of [...this.pending.values()]) {
      this.end(entry, false);
      entry.subscriber.error(new ConnectionLostError(entry.type, entry.id, reason));
    }
  }

  private trySend(entry: PendingRequest): void {
    const connection = this.channel.current();
    if (connection === undefined) return;
    entry.sentOn = connection;
    const { type, id, data } = entry;
    this.channel.send(data === undefined ? { type, id } : { type, id, data });
  }

  /** Forgets a request; with `cancel`, tells the server to stop it if it is running there. */
  private end(entry: PendingRequest, cancel: boolean): void {
    if (this.pending.get(entry.id) !== entry) return;
    this.pending.delete(entry.id);
    entry.timer?.unsubscribe();
    if (cancel && entry.sentOn !== undefined && entry.sentOn === this.channel.current()) {
      this.channel.send({ type: 'cancel', id: entry.id });
    }
  }
}
