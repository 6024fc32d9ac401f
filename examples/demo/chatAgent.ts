import { asyncScheduler, Subscription } from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import { OperationError } from '../../src/index.js';
import type { ClientMessage, ErrorMessage, MessageContext } from '../../src/index.js';
import { Budget } from './budget.js';
import type { BudgetLimits, ReplyCost } from './budget.js';

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

/** How much chatting the agent takes on: beyond these, a chat is refused, never queued. */
export interface ChatLimits {
  /** Characters of one chat's text; a longer text is refused with `too_large`. */
  readonly maxTextLength: number;
  /** Tokens of one reply; a text of more tokens is refused with `too_large`. */
  readonly maxReplyTokens: number;
  /** What one connection's replies may hold while they stream; past it, `busy`. */
  readonly perConnection: BudgetLimits;
  /** What every connection's replies may hold together; past it, `busy`. */
  readonly total: BudgetLimits;
}

/**
 * The default limits. A reply is at most 1,000 tokens (about 30 s at the default pace); one
 * connection streams at most 1,024 replies, 4,096 tokens and 256 Ki characters at once, room
 * for the original design's load test (1,000 two-token chats sent at once) and for four of the longest
 * replies; all connections together, 32 times that.
 */
export const DEFAULT_CHAT_LIMITS: ChatLimits = {
  maxTextLength: 16_384,
  maxReplyTokens: 1_000,
  perConnection: { replies: 1_024, tokens: 4_096, chars: 256 * 1024 },
  total: { replies: 32 * 1_024, tokens: 32 * 4_096, chars: 32 * 256 * 1024 },
};

/** Longest `payload.agent_id`: it is echoed in every event of the chat. */
export const MAX_AGENT_ID_LENGTH = 64;

export interface ChatAgentOptions {
  /**
   * Delay before each token, in ms: a number, or `[min, max]` for a uniformly random delay.
   * Default `[20, 40]`, a model's pace; random so that chats started together do not tick in
   * lockstep, which would turn a thousand concurrent chats into bursts no model produces.
   */
  tokenDelayMs?: number | readonly [number, number];
  /** Scheduler of the token stream: the one the outboxes use. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Limits; each field defaults to {@link DEFAULT_CHAT_LIMITS}'. */
  limits?: Partial<ChatLimits>;
}

/** The text as word tokens, each keeping the spaces that follow it, so that they concatenate back to it. */
export function tokenize(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

/** How many tokens {@link tokenize} would find, without building them. */
export function countTokens(text: string): number {
  let count = 0;
  TOKEN.lastIndex = 0;
  while (TOKEN.exec(text) !== null) count++;
  return count;
}

const TOKEN = /\s+|\S+\s*/g;

/** The streams of one connection, and what they hold. */
interface Connection {
  readonly streams: Subscription;
  readonly budget: Budget;
}

/**
 * A stand-in for a language model: acknowledges a chat message at once, then streams its text
 * back token by token, then says it is done.
 *
 * One agent serves every connection, as the `chat.message` handler of `Operations`: a
 * connection's streams stop when its `signal` aborts (the client left), all of them on `stop`.
 *
 * Every reply is bounded (its text, its tokens) and counted while it streams, per connection
 * and in total ({@link ChatLimits}): a chat that would go past a limit is refused at once with
 * `too_large` or `busy`, so no client can make the agent hold or send without bound.
 */
export class ChatAgent {
  private readonly tokenDelay: () => number;
  private readonly scheduler: SchedulerLike;
  private readonly streams = new Subscription();
  /** The streams of each connection, by the signal that says it is gone. */
  private readonly connections = new WeakMap<AbortSignal, Connection>();
  private readonly total: Budget;
  readonly limits: ChatLimits;
  private chats = 0;

  constructor(options: ChatAgentOptions = {}) {
    const delay = options.tokenDelayMs ?? [20, 40];
    this.tokenDelay =
      typeof delay === 'number'
        ? () => delay
        : () => delay[0] + Math.random() * (delay[1] - delay[0]);
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.limits = { ...DEFAULT_CHAT_LIMITS, ...options.limits };
    this.total = new Budget(this.limits.total);
  }

  /** What all replies streaming now hold. */
  get streaming(): BudgetLimits {
    return this.total.held;
  }

  /**
   * Answers one `{"type":"chat.message","id"?,"payload":{"text","agent_id"?}}`.
   * @param context The connection's: where events go, and when to stop.
   * @returns The chat, read.
   * @throws OperationError with code `bad_request` when `payload.text` is not a string or
   * `agent_id` is too long, `too_large` when the text is over the limits, `busy` when its reply
   * would not fit in what the connection's replies, or all replies, may hold.
   */
  receive(message: ClientMessage, context: Pick<MessageContext<unknown>, 'send' | 'signal'>): Chat {
    const { maxTextLength, maxReplyTokens } = this.limits;
    const chat = readChat(message);
    const { agent_id, text } = chat;
    if (text.length > maxTextLength) {
      throw refusal('too_large', `chat.message text must be at most ${maxTextLength} characters.`);
    }
    const tokens = tokenize(text);
    if (tokens.length > maxReplyTokens) {
      throw refusal('too_large', `chat.message text must be at most ${maxReplyTokens} words.`);
    }
    const { send, signal } = context;
    const connection = this.connection(signal);
    const cost: ReplyCost = { tokens: Math.max(1, tokens.length), chars: text.length };
    if (connection && !(connection.budget.fits(cost) && this.total.fits(cost))) {
      throw refusal('busy', 'Too many replies in progress; wait for one to finish.');
    }
    const message_id = chat.id ?? String(++this.chats);
    const event = (e: ChatEvent) => void send(e);
    event({ type: 'chat.ack', message_id, agent_id });
    if (!connection) return chat;
    const done: ChatEvent = {
      type: 'chat.done',
      message_id,
      agent_id,
      text,
      tokens: tokens.length,
    };
    if (tokens.length === 0) {
      event(done);
      return chat;
    }
    connection.budget.take(cost);
    this.total.take(cost);
    const tokenDelay = this.tokenDelay;
    // One scheduled action a reply, rescheduled for each token, rather than an Observable, a
    // timer and their subscribers a token: a burst of chats keeps little alive between ticks.
    const stream: Subscription = this.scheduler.schedule<number>(
      function (index = 0) {
        event({ type: 'chat.delta', message_id, agent_id, index, delta: tokens[index] });
        if (index + 1 < tokens.length) {
          this.schedule(index + 1, tokenDelay());
        } else {
          event(done);
          stream.unsubscribe();
        }
      },
      tokenDelay(),
      0,
    );
    // However the stream ends (done, the client gone, stop), what it held is given back, and it
    // leaves the connection's streams, so a long chat session does not pile them up.
    stream.add(() => {
      connection.budget.give(cost);
      this.total.give(cost);
      connection.streams.remove(stream);
    });
    connection.streams.add(stream);
    return chat;
  }

  /** Cancels every stream of every connection: the server is going away. */
  stop(): void {
    this.streams.unsubscribe();
  }

  /** The streams of the connection `signal` belongs to; undefined once it is gone. */
  private connection(signal: AbortSignal): Connection | undefined {
    if (signal.aborted || this.streams.closed) return undefined;
    let connection = this.connections.get(signal);
    if (!connection) {
      const streams = new Subscription();
      connection = { streams, budget: new Budget(this.limits.perConnection) };
      this.connections.set(signal, connection);
      this.streams.add(streams);
      // One listener per connection, not one per chat: a signal warns past ten.
      signal.addEventListener(
        'abort',
        () => {
          streams.unsubscribe();
          this.streams.remove(streams);
        },
        { once: true },
      );
    }
    return connection;
  }
}

/**
 * What a `chat.message` costs against its connection's rate limit: one token per four tokens
 * of its reply (at least one), so a long reply counts for the work it starts rather than for
 * one frame. A text over `maxTextLength` costs one token: it is refused before any work.
 */
export function chatCost(
  message: ClientMessage,
  limits: Pick<ChatLimits, 'maxTextLength'>,
): number {
  const text = (message.payload as { text?: unknown } | undefined)?.text;
  if (typeof text !== 'string' || text.length > limits.maxTextLength) return 1;
  return 1 + Math.floor(countTokens(text) / 4);
}

/** Reads a chat message's fields; the error text is safe to send back. */
function readChat(message: ClientMessage): Chat {
  const { payload, id } = message;
  if (!isObject(payload) || typeof payload.text !== 'string') {
    throw refusal('bad_request', 'chat.message needs payload.text as a string');
  }
  const agentId = payload.agent_id;
  if (typeof agentId === 'string' && agentId.length > MAX_AGENT_ID_LENGTH) {
    throw refusal(
      'bad_request',
      `payload.agent_id must be at most ${MAX_AGENT_ID_LENGTH} characters.`,
    );
  }
  const agent_id = typeof agentId === 'string' ? agentId : 'anima';
  return { id, agent_id, text: payload.text };
}

function refusal(code: 'bad_request' | 'too_large' | 'busy', message: string): OperationError {
  return new OperationError(message, { code });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
