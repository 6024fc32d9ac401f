import { asyncScheduler, concatMap, from, map, Subscription, timer } from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import { OperationError } from '../../src/index.js';
import type { ClientMessage, ErrorMessage, MessageContext } from '../../src/index.js';

/** What the chat agent sends. Every event of one chat carries the same `message_id`. */
export type ChatEvent =
  | { type: 'chat.ack'; message_id: string; agent_id: string }
  | { type: 'chat.delta'; message_id: string; agent_id: string; index: number; delta: string }
  | { type: 'chat.done'; message_id: string; agent_id: string; text: string; tokens: number };

/** The demo's messages other than operation events: the chat's, and error replies. */
export type DemoEvent = ChatEvent | ErrorMessage;

/** A chat message, read. */
export interface Chat {
  /** The client's id, if it gave one. */
  readonly id: string | undefined;
  readonly agent_id: string;
  readonly text: string;
}

export interface ChatAgentOptions {
  /**
   * Delay before each token, in ms: a number, or `[min, max]` for a uniformly random delay.
   * Default `[20, 40]`, a model's pace; random so that chats started together do not tick in
   * lockstep, which would turn a thousand concurrent chats into bursts no model produces.
   */
  tokenDelayMs?: number | readonly [number, number];
  /** Scheduler of the token stream: the one the outboxes use. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** The text as word tokens, each keeping the spaces that follow it, so that they concatenate back to it. */
export function tokenize(text: string): string[] {
  return text.match(/\s+|\S+\s*/g) ?? [];
}

/**
 * A stand-in for a language model: acknowledges a chat message at once, then streams its text
 * back token by token, then says it is done.
 *
 * One agent serves every connection, as the `chat.message` handler of `Operations`: a
 * connection's streams stop when its `signal` aborts (the client left), all of them on `stop`.
 */
export class ChatAgent {
  private readonly tokenDelay: () => number;
  private readonly scheduler: SchedulerLike;
  private readonly streams = new Subscription();
  /** The streams of each connection, by the signal that says it is gone. */
  private readonly connections = new WeakMap<AbortSignal, Subscription>();
  private chats = 0;

  constructor(options: ChatAgentOptions = {}) {
    const delay = options.tokenDelayMs ?? [20, 40];
    this.tokenDelay =
      typeof delay === 'number'
        ? () => delay
        : () => delay[0] + Math.random() * (delay[1] - delay[0]);
    this.scheduler = options.scheduler ?? asyncScheduler;
  }

  /**
   * Answers one `{"type":"chat.message","id"?,"payload":{"text","agent_id"?}}`.
   * @param context The connection's: where events go, and when to stop.
   * @returns The chat, read.
   * @throws OperationError with code `bad_request` when `payload.text` is not a string.
   */
  receive(message: ClientMessage, context: Pick<MessageContext<unknown>, 'send' | 'signal'>): Chat {
    const chat = readChat(message);
    const { send, signal } = context;
    const message_id = chat.id ?? String(++this.chats);
    const { agent_id, text } = chat;
    const tokens = tokenize(text);
    const event = (e: ChatEvent) => void send(e);
    event({ type: 'chat.ack', message_id, agent_id });
    const connection = this.connection(signal);
    if (!connection) return chat;
    const stream = from(tokens)
      .pipe(
        concatMap((delta, index) =>
          timer(this.tokenDelay(), this.scheduler).pipe(
            map((): ChatEvent => ({ type: 'chat.delta', message_id, agent_id, index, delta })),
          ),
        ),
      )
      .subscribe({
        next: event,
        complete: () =>
          event({ type: 'chat.done', message_id, agent_id, text, tokens: tokens.length }),
      });
    // Finished streams leave the connection's, so a long chat session does not pile them up.
    connection.add(stream);
    stream.add(() => connection.remove(stream));
    return chat;
  }

  /** Cancels every stream of every connection: the server is going away. */
  stop(): void {
    this.streams.unsubscribe();
  }

  /** The streams of the connection `signal` belongs to; undefined once it is gone. */
  private connection(signal: AbortSignal): Subscription | undefined {
    if (signal.aborted || this.streams.closed) return undefined;
    let streams = this.connections.get(signal);
    if (!streams) {
      const created = new Subscription();
      this.connections.set(signal, created);
      this.streams.add(created);
      // One listener per connection, not one per chat: a signal warns past ten.
      signal.addEventListener(
        'abort',
        () => {
          created.unsubscribe();
          this.streams.remove(created);
        },
        { once: true },
      );
      streams = created;
    }
    return streams;
  }
}

/** Reads a chat message's fields; the error text is safe to send back. */
function readChat(message: ClientMessage): Chat {
  const { payload, id } = message;
  if (!isObject(payload) || typeof payload.text !== 'string') {
    throw new OperationError('chat.message needs payload.text as a string', {
      code: 'bad_request',
    });
  }
  const agent_id = typeof payload.agent_id === 'string' ? payload.agent_id : 'anima';
  return { id, agent_id, text: payload.text };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
