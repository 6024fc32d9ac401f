import { asyncScheduler } from 'rxjs';
import type { SchedulerLike, Subscription } from 'rxjs';

/** What a page may name as its session: `?session=` of the WebSocket URL. */
export const SESSION_ID = /^[A-Za-z0-9_-]{16,64}$/;

/** The topic a session's chat replies are published to; the server joins its connections to it. */
export const sessionTopic = (id: string): string => `session:${id}`;

/** The topic a session's connection figures are published to, about once a second. */
export const statsTopic = (id: string): string => `stats:${id}`;

/** Default of {@link SessionsOptions.graceMs}. */
export const DEFAULT_SESSION_GRACE_MS = 30_000;

export interface SessionsOptions {
  /**
   * How long a session outlives its last connection: its chat replies keep streaming (into its
   * topic) for that long, so that a client that reconnects within it gets them whole. Past it
   * they are cancelled. Default {@link DEFAULT_SESSION_GRACE_MS}.
   */
  graceMs?: number;
  /** Times the grace period. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** One session: a page that named itself, across its reconnects. */
export interface Session {
  readonly id: string;
  /** Aborts once the session has had no connection for the grace period, or on `stop`. */
  readonly signal: AbortSignal;
}

interface Entry {
  readonly session: Session;
  readonly controller: AbortController;
  connections: number;
  expiry: Subscription | undefined;
}

/**
 * The sessions of this node. A connection that names a session (the page does) has its chat
 * replies published to the session's topic rather than sent on the socket, and their token
 * streams belong to the session, not the connection: a dropped connection does not cut them,
 * and the client resumes the topic on reconnecting. A session whose connections are all gone
 * ends after `graceMs` (its streams cancelled), so what a vanished client started stops in
 * bounded time; every reply is bounded anyway (1,000 tokens).
 */
export class Sessions {
  private readonly entries = new Map<string, Entry>();
  private readonly graceMs: number;
  private readonly scheduler: SchedulerLike;
  private stopped = false;

  constructor(options: SessionsOptions = {}) {
    this.graceMs = options.graceMs ?? DEFAULT_SESSION_GRACE_MS;
    this.scheduler = options.scheduler ?? asyncScheduler;
  }

  /** Sessions held: with a connection, or within their grace period. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * A connection of session `id` opened.
   * @returns The session, and a function to call once when the connection closes.
   */
  attach(id: string): { session: Session; detach: () => void } {
    if (this.stopped) throw new Error('Sessions: attach() after stop()');
    let entry = this.entries.get(id);
    if (entry === undefined) {
      const controller = new AbortController();
      entry = {
        session: { id, signal: controller.signal },
        controller,
        connections: 0,
        expiry: undefined,
      };
      this.entries.set(id, entry);
    }
    entry.connections++;
    entry.expiry?.unsubscribe();
    entry.expiry = undefined;
    const held = entry;
    let detached = false;
    const detach = () => {
      if (detached) return;
      detached = true;
      if (--held.connections > 0 || this.stopped) return;
      held.expiry = this.scheduler.schedule(() => this.end(held), this.graceMs);
    };
    return { session: entry.session, detach };
  }

  /** Ends every session: their streams are cancelled, their timers cleared. */
  stop(): void {
    this.stopped = true;
    for (const entry of [...this.entries.values()]) this.end(entry);
  }

  private end(entry: Entry): void {
    entry.expiry?.unsubscribe();
    entry.expiry = undefined;
    if (this.entries.get(entry.session.id) === entry) this.entries.delete(entry.session.id);
    entry.controller.abort();
  }
}
