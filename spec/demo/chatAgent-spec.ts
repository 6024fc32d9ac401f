import fc from 'fast-check';
import { TestScheduler } from 'rxjs/testing';
import {
  ChatAgent,
  chatCost,
  DEFAULT_CHAT_LIMITS,
  MAX_AGENT_ID_LENGTH,
  tokenize,
} from '../../examples/demo/chatAgent.js';
import type { ChatEvent, ChatLimits } from '../../examples/demo/chatAgent.js';
import { isRejection, OperationError } from '../../src/index.js';
import type { ClientMessage } from '../../src/index.js';

/** The chat agent's bounds, in virtual time: every token 10 ms after the one before. */

let testScheduler: TestScheduler;

beforeEach(() => {
  testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
});

/** A connection: what the agent sent it, and the signal that says it left. */
function connection() {
  const controller = new AbortController();
  const sent: ChatEvent[] = [];
  return {
    sent,
    leave: () => controller.abort(),
    context: { signal: controller.signal, send: (e: unknown) => (sent.push(e as ChatEvent), true) },
  };
}

function chat(text: string, id?: string, agent_id?: unknown): ClientMessage {
  return { type: 'chat.message', id, payload: { text, agent_id } };
}

function agentWith(limits: Partial<ChatLimits>): ChatAgent {
  return new ChatAgent({ tokenDelayMs: 10, scheduler: testScheduler, limits });
}

/** The code of the refusal `receive` throws, or 'ok'. */
function outcome(work: () => unknown): string {
  try {
    work();
    return 'ok';
  } catch (error) {
    if (!isRejection(error)) throw error;
    return error.code!;
  }
}

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');

describe('ChatAgent limits', () => {
  it('refuses a text over maxTextLength or over maxReplyTokens with too_large, before any ack', () => {
    const agent = agentWith({ maxTextLength: 100, maxReplyTokens: 5 });
    const c = connection();
    expect(outcome(() => agent.receive(chat('x'.repeat(101)), c.context))).toBe('too_large');
    expect(outcome(() => agent.receive(chat(words(6)), c.context))).toBe('too_large');
    expect(outcome(() => agent.receive(chat(words(5)), c.context))).toBe('ok');
    expect(c.sent.map((e) => e.type)).toEqual(['chat.ack']);
  });

  it('refuses a 64 KiB chat of 32,768 words at once with the defaults: no reply of that size is ever streamed', () => {
    const agent = new ChatAgent({ scheduler: testScheduler });
    const c = connection();
    const text = 'a '.repeat(32 * 1024);
    expect(outcome(() => agent.receive(chat(text), c.context))).toBe('too_large');
    expect(c.sent).toEqual([]);
    expect(agent.streaming).toEqual({ replies: 0, tokens: 0, chars: 0 });
    // The longest accepted: 1,000 words.
    expect(
      outcome(() => agent.receive(chat(words(DEFAULT_CHAT_LIMITS.maxReplyTokens)), c.context)),
    ).toBe('ok');
  });

  it('refuses an agent_id longer than MAX_AGENT_ID_LENGTH with bad_request: it is echoed in every event', () => {
    const agent = agentWith({});
    const c = connection();
    const long = 'a'.repeat(MAX_AGENT_ID_LENGTH + 1);
    expect(outcome(() => agent.receive(chat('hi', 'x', long), c.context))).toBe('bad_request');
    expect(outcome(() => agent.receive(chat('hi', 'y', long.slice(1)), c.context))).toBe('ok');
    expect(() => agent.receive({ type: 'chat.message', payload: {} }, c.context)).toThrow(
      OperationError,
    );
  });

  it("refuses with busy a reply that would not fit in its connection's budget, until one ends; other connections go on", () => {
    const refusals: Array<[number, string]> = [];
    testScheduler.run(() => {
      const agent = agentWith({
        perConnection: { replies: 2, tokens: 10, chars: 1_000 },
        total: { replies: 100, tokens: 100, chars: 100_000 },
      });
      const a = connection();
      const b = connection();
      const at = (time: number, work: () => unknown) =>
        testScheduler.schedule(() => refusals.push([time, outcome(work)]), time);
      at(0, () => agent.receive(chat(words(6)), a.context)); // its last token at 60 ms
      at(0, () => agent.receive(chat(words(4)), a.context)); // at 40 ms: 10 tokens held
      at(1, () => agent.receive(chat('one'), a.context)); // no token left
      at(1, () => agent.receive(chat(words(10)), b.context)); // b's own budget
      at(41, () => agent.receive(chat(words(3)), a.context)); // 4 tokens given back
      at(42, () => agent.receive(chat('x'.repeat(999)), a.context)); // 2 replies held
      at(61, () => agent.receive(chat('x'.repeat(999)), a.context)); // 999 + 8 chars > 1,000
      at(72, () => agent.receive(chat('x'.repeat(999)), a.context)); // alone
    });
    expect(refusals).toEqual([
      [0, 'ok'],
      [0, 'ok'],
      [1, 'busy'],
      [1, 'ok'],
      [41, 'ok'],
      [42, 'busy'],
      [61, 'busy'],
      [72, 'ok'],
    ]);
  });

  it('refuses with busy past the total budget of all connections', () => {
    const agent = agentWith({
      perConnection: { replies: 10, tokens: 10, chars: 1_000 },
      total: { replies: 3, tokens: 15, chars: 1_000 },
    });
    const [a, b, c] = [connection(), connection(), connection()];
    expect(outcome(() => agent.receive(chat(words(10)), a.context))).toBe('ok');
    expect(outcome(() => agent.receive(chat(words(6)), b.context))).toBe('busy');
    expect(outcome(() => agent.receive(chat(words(5)), b.context))).toBe('ok');
    expect(outcome(() => agent.receive(chat('hi'), c.context))).toBe('busy');
    expect(agent.streaming).toEqual({ replies: 2, tokens: 15, chars: expect.any(Number) });
    a.leave();
    expect(outcome(() => agent.receive(chat('hi'), c.context))).toBe('ok');
  });

  it('gives back what a connection held when it leaves, and everything on stop', () => {
    const agent = agentWith({});
    const [a, b] = [connection(), connection()];
    agent.receive(chat(words(100)), a.context);
    agent.receive(chat(words(50)), b.context);
    expect(agent.streaming.tokens).toBe(150);
    a.leave();
    expect(agent.streaming).toEqual({ replies: 1, tokens: 50, chars: words(50).length });
    agent.stop();
    expect(agent.streaming).toEqual({ replies: 0, tokens: 0, chars: 0 });
  });

  it('never holds more than its limits, and holds nothing once every reply has ended (property)', () => {
    const limits: Partial<ChatLimits> = {
      maxReplyTokens: 8,
      perConnection: { replies: 3, tokens: 12, chars: 60 },
      total: { replies: 5, tokens: 20, chars: 100 },
    };
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('chat' as const),
        connection: fc.nat(2),
        words: fc.nat(10),
        at: fc.nat(200),
      }),
      fc.record({ kind: fc.constant('leave' as const), connection: fc.nat(2), at: fc.nat(200) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const violations: string[] = [];
        let held = { replies: -1, tokens: -1, chars: -1 };
        testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
        testScheduler.run(() => {
          const agent = agentWith(limits);
          const connections = [connection(), connection(), connection()];
          const check = () => {
            const now = agent.streaming;
            const total = limits.total!;
            if (now.replies > total.replies || now.tokens > total.tokens || now.chars > total.chars)
              violations.push(JSON.stringify(now));
          };
          for (const s of steps) {
            testScheduler.schedule(() => {
              const c = connections[s.connection];
              if (s.kind === 'leave') c.leave();
              else outcome(() => agent.receive(chat(words(s.words)), c.context));
              check();
            }, s.at);
          }
          testScheduler.schedule(() => (held = agent.streaming), 10_000);
        });
        expect(violations).toEqual([]);
        expect(held).toEqual({ replies: 0, tokens: 0, chars: 0 });
      }),
      { numRuns: 200 },
    );
  });
});

describe('chatCost', () => {
  it('costs one token per four words of the reply, at least one', () => {
    const limits = { maxTextLength: 1_000 };
    expect(chatCost(chat('Test 999'), limits)).toBe(1);
    expect(chatCost(chat(words(7)), limits)).toBe(2);
    expect(chatCost(chat(words(100)), limits)).toBe(26);
    expect(tokenize(words(100))).toHaveLength(100);
  });

  it('costs one token for what the agent refuses before any work', () => {
    const limits = { maxTextLength: 10 };
    expect(chatCost(chat(words(50)), limits)).toBe(1);
    expect(chatCost({ type: 'chat.message', payload: 'nope' }, limits)).toBe(1);
    expect(chatCost({ type: 'chat.message' }, limits)).toBe(1);
  });
});
