import fc from 'fast-check';
import { Registry } from 'prom-client';
import { MAX_ID_LENGTH, Operations, result, WsOutbox } from '../../src/index.js';
import { FrameCollector } from '../helpers/frameCollector.js';
import { sample } from '../helpers/metricsText.js';
import { TestServer } from '../helpers/wsServer.js';
import { LEAK_PATTERN } from './support.js';
import type { Reply } from './support.js';

const FRAMES = 10_000;
/** Frames sent before waiting for their replies: a client that reads what it is sent. */
const ROUND = 500;
const SEED = 20_260_220;

interface FuzzFrame {
  readonly data: string | Uint8Array;
  readonly binary: boolean;
}

const text = (data: string): FuzzFrame => ({ data, binary: false });

/** Any JSON value except one that would be a valid request: `echo` with a good id, or `cancel`. */
const notAValidRequest = (frame: FuzzFrame): boolean => {
  if (frame.binary) return true;
  let value: unknown;
  try {
    value = JSON.parse(frame.data as string);
  } catch {
    return true;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return true;
  const { type } = value as Record<string, unknown>;
  // A cancel with a valid id is answered by nothing when that id is not running.
  if (type === 'cancel') return expectedId(frame) === undefined;
  return !(type === 'echo' && expectedId(frame) !== undefined);
};

/** The id a reply must carry: the frame's, when it is a JSON object with a valid id. */
function expectedId(frame: FuzzFrame): string | undefined {
  if (frame.binary) return undefined;
  try {
    const value: unknown = JSON.parse(frame.data as string);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const { id } = value as Record<string, unknown>;
    return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH ? id : undefined;
  } catch {
    return undefined;
  }
}

const anything = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object({ maxDepth: 2 }),
);

const frames: fc.Arbitrary<FuzzFrame> = fc
  .oneof(
    // Random text, any code point.
    fc.string({ unit: 'binary', maxLength: 200 }).map(text),
    // Random JSON values.
    fc.json({ maxDepth: 3 }).map(text),
    // Objects shaped like messages, with every kind of type, id and data.
    fc
      .record(
        {
          type: fc.oneof(fc.string({ maxLength: 20 }), anything),
          id: fc.oneof(
            fc.string({ maxLength: 20 }),
            fc.string({ minLength: MAX_ID_LENGTH + 1, maxLength: MAX_ID_LENGTH + 20 }),
            anything,
          ),
          data: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: [] },
      )
      .map((message) => text(JSON.stringify(message))),
    // Nearly valid: the registered type or cancel with a missing or bad id.
    fc
      .record(
        {
          type: fc.constantFrom('echo', 'cancel'),
          id: fc.oneof(
            fc.constant(''),
            fc.integer(),
            fc.constant(null),
            fc.string({ minLength: MAX_ID_LENGTH + 1, maxLength: MAX_ID_LENGTH + 5 }),
          ),
        },
        { requiredKeys: ['type'] },
      )
      .map((message) => text(JSON.stringify(message))),
    // A valid request cut short.
    fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.nat()).map(([id, cut]) => {
      const full = JSON.stringify({ type: 'echo', id, data: { query: 'q' } });
      return text(full.slice(0, cut % full.length));
    }),
    // Prototype keys, where a plain object lookup would find something.
    fc
      .constantFrom(
        '{"type":"__proto__","id":"p1"}',
        '{"__proto__":{"type":"echo","id":"p2"}}',
        '{"type":"constructor"}',
        '{"type":"toString","id":"p3"}',
        '{"type":"hasOwnProperty"}',
        '{"type":"echo.result","id":"p4"}',
        '{"type":"error","id":"p5"}',
      )
      .map(text),
    // Binary frames.
    fc.uint8Array({ maxLength: 200 }).map((data): FuzzFrame => ({ data, binary: true })),
  )
  .filter(notAValidRequest);

describe('Operations under 10,000 malformed frames', () => {
  let server: TestServer;
  let outbox: WsOutbox | undefined;

  beforeEach(async () => {
    server = await TestServer.start();
  });

  afterEach(async () => {
    await outbox?.stop({ timeoutMs: 1_000 });
    await server.close();
  });

  it('should answer every frame with exactly one error code, no stack trace, and stay up', async () => {
    const registry = new Registry();
    const reported: unknown[] = [];
    const operations = new Operations({
      metrics: registry,
      rateLimit: false,
      onHandlerError: (error) => reported.push(error),
    }).register('echo', (data) => [result(data)]);
    const { client, server: socket } = await server.pair();
    outbox = new WsOutbox(socket, { metrics: registry }).start();
    operations.attach(socket, outbox);
    const replies = new FrameCollector(client);

    const sent = fc.sample(frames, { numRuns: FRAMES, seed: SEED });
    expect(sent).toHaveLength(FRAMES);
    for (let start = 0; start < FRAMES; start += ROUND) {
      const round = sent.slice(start, start + ROUND);
      for (const frame of round) client.send(frame.data, { binary: frame.binary });
      await replies.untilValues(start + round.length);
    }

    const values = replies.values as Reply[];
    expect(values).toHaveLength(FRAMES);
    // Checked in one pass and asserted once: 50,000 expect() calls would cost seconds.
    const codes = new Map<string, number>();
    const wrong: Array<{ index: number; frame: FuzzFrame; reply: Reply }> = [];
    values.forEach((reply, index) => {
      codes.set(String(reply.code), (codes.get(String(reply.code)) ?? 0) + 1);
      const ok =
        reply.type === 'error' &&
        (reply.code === 'bad_request' || reply.code === 'unknown_operation') &&
        // Replies come in frame order: each carries its own frame's id, or none.
        reply.id === expectedId(sent[index]) &&
        (reply.id !== undefined || !('id' in reply)) &&
        typeof reply.message === 'string' &&
        !LEAK_PATTERN.test(JSON.stringify({ ...reply, id: undefined }));
      if (!ok) wrong.push({ index, frame: sent[index], reply });
    });
    expect(wrong.slice(0, 5)).toEqual([]);
    expect([...codes.keys()].sort()).toEqual(['bad_request', 'unknown_operation']);
    // Fixed texts only: nothing of a frame is echoed but a valid id.
    expect(new Set(values.map((reply) => reply.message))).toEqual(
      new Set([
        'Send JSON text frames; binary frames are not accepted.',
        'The frame is not valid JSON.',
        'A message must be a JSON object with a non-empty string "type".',
        `"id" must be a non-empty string of at most ${MAX_ID_LENGTH} characters.`,
        'No operation or message of this type.',
        'An operation needs an "id".',
        'cancel needs the "id" of a running operation.',
      ]),
    );
    expect(reported).toEqual([]);

    // Still up, on the same connection: nothing was dropped, and a real request works.
    expect(outbox.stats()).toMatchObject({ dropped: 0, failed: 0 });
    client.send(JSON.stringify({ type: 'echo', id: 'after', data: 'still here' }));
    await replies.untilValues(FRAMES + 2);
    expect(replies.values.slice(FRAMES)).toEqual([
      { type: 'echo.result', id: 'after', data: 'still here' },
      { type: 'echo.complete', id: 'after' },
    ]);
    const text = await registry.metrics();
    const rejected = (code: string) => sample(text, 'ws_outbox_rejected_messages_total', { code });
    expect(rejected('bad_request')).toBe(codes.get('bad_request'));
    expect(rejected('unknown_operation')).toBe(codes.get('unknown_operation'));
  });
});
