import { asyncScheduler, concatMap, from, map, Subscription, timer } from 'rxjs';
import type { SchedulerLike } from 'rxjs';

/** What the demo server sends. Every message of one chat carries the same `message_id`. */
export type DemoEvent =
  | { type: 'chat.ack'; message_id: string; agent_id: string }
  | { type: 'chat.delta'; message_id: string; agent_id: string; index: number; delta: string }
  | { type: 'chat.done'; message_id: string; agent_id: string; text: string; tokens: number }
  | { type: 'error'; code: 'bad_request'; message: string };

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
 * One agent serves every connection; `connection` returns the handler of one socket's frames,
 * whose `close` cancels the streams still running for it.
 */
export class ChatAgent {
  private readonly tokenDelay: () => number;
  private readonly scheduler: SchedulerLike;
  private readonly streams = new Subscription();
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
   * @param send Where this connection's events go (its outbox).
   * @returns `receive` for each text frame from the client, and `close` for when it leaves.
   */
  connection(send: (event: DemoEvent) => void): {
    receive: (frame: string) => void;
    close: () => void;
  } {
    const streams = new Subscription();
    this.streams.add(streams);
    return {
      receive: (frame) => {
        const chat = parseChat(frame);
        if ('error' in chat) {
          send({ type: 'error', code: 'bad_request', message: chat.error });
          return;
        }
        streams.add(this.answer(chat, send));
      },
      close: () => {
        streams.unsubscribe();
        this.streams.remove(streams);
      },
    };
  }

  /** Cancels every stream of every connection: the server is going away. */
  stop(): void {
    this.streams.unsubscribe();
  }

  private answer(chat: Chat, send: (event: DemoEvent) => void): Subscription {
    const message_id = chat.id ?? String(++this.chats);
    const { agent_id, text } = chat;
    const tokens = tokenize(text);
    send({ type: 'chat.ack', message_id, agent_id });
    return from(tokens)
      .pipe(
        concatMap((delta, index) =>
          timer(this.tokenDelay(), this.scheduler).pipe(
            map((): DemoEvent => ({ type: 'chat.delta', message_id, agent_id, index, delta })),
          ),
        ),
      )
      .subscribe({
        next: send,
        complete: () =>
          send({ type: 'chat.done', message_id, agent_id, text, tokens: tokens.length }),
      });
  }
}

interface Chat {
  id: string | undefined;
  agent_id: string;
  text: string;
}

/** Reads `{"type":"chat.message","payload":{"text","agent_id"},"id"?}`; the error text is safe to send back. */
function parseChat(frame: string): Chat | { error: string } {
  let message: unknown;
  try {
    message = JSON.parse(frame);
  } catch {
    return { error: 'frame is not JSON' };
  }
  if (!isObject(message) || message.type !== 'chat.message') {
    return { error: 'expected {"type":"chat.message","payload":{"text":…,"agent_id":…}}' };
  }
  const { payload, id } = message;
  if (!isObject(payload) || typeof payload.text !== 'string') {
    return { error: 'chat.message needs payload.text as a string' };
  }
  if (id !== undefined && typeof id !== 'string') return { error: 'id must be a string' };
  const agent_id = typeof payload.agent_id === 'string' ? payload.agent_id : 'anima';
  return { id, agent_id, text: payload.text };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
