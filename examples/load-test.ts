import { WebSocket } from 'ws';
import { decodeFrame } from '../src/index.js';

/**
 * The original design's load test against the demo: 1000 `chat.message` sent as fast as the socket takes
 * them, then every reply awaited and checked.
 *
 *   npm run load-test -- ws://127.0.0.1:8080/ws
 *
 * Env: WS_URL (or HOST/PORT), COUNT (default 1000), TIMEOUT_MS (default 30,000).
 * Exits 1 if a chat.done is missing at the deadline or a reply does not match its request.
 */

const url =
  process.argv[2] ??
  process.env.WS_URL ??
  `ws://${process.env.HOST ?? '127.0.0.1'}:${process.env.PORT ?? 8080}/ws`;
const count = Number(process.env.COUNT ?? 1000);
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 30_000);
if (!(Number.isInteger(count) && count > 0 && timeoutMs > 0)) {
  console.error('COUNT must be a positive integer and TIMEOUT_MS a positive number');
  process.exit(2);
}

interface Reply {
  type: string;
  message_id?: string;
  delta?: string;
  text?: string;
  code?: string;
  message?: string;
}

const counts = { frames: 0, binaryFrames: 0, messages: 0, ack: 0, delta: 0, done: 0, error: 0 };
const streamed = new Map<string, string>();
const expected = new Set(Array.from({ length: count }, (_, i) => `Test ${i}`));
const problems: string[] = [];

function fail(message: string): never {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

function onReply(reply: Reply): void {
  counts.messages++;
  const id = reply.message_id ?? '';
  switch (reply.type) {
    case 'chat.ack':
      counts.ack++;
      streamed.set(id, '');
      break;
    case 'chat.delta':
      counts.delta++;
      streamed.set(id, (streamed.get(id) ?? '') + reply.delta);
      break;
    case 'chat.done':
      counts.done++;
      if (streamed.get(id) !== reply.text) {
        problems.push(
          `${id}: deltas ${JSON.stringify(streamed.get(id))} != ${JSON.stringify(reply.text)}`,
        );
      }
      if (!expected.delete(reply.text ?? ''))
        problems.push(`${id}: unexpected text ${JSON.stringify(reply.text)}`);
      streamed.delete(id);
      break;
    case 'error':
      counts.error++;
      problems.push(`error ${reply.code}: ${reply.message}`);
      break;
  }
}

async function main(): Promise<void> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  }).catch((error: Error) => fail(`cannot connect to ${url}: ${error.message}`));
  ws.on('error', (error) => fail(`socket error: ${error.message}`));

  const start = performance.now();
  let allDone!: () => void;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  // Gzip frames decode asynchronously; chaining keeps the replies in arrival order.
  let decoding = Promise.resolve();
  ws.on('message', (data: Buffer, isBinary) => {
    counts.frames++;
    if (isBinary) counts.binaryFrames++;
    decoding = decoding
      .then(() => (isBinary ? decodeFrame(data) : data.toString()))
      .then((text) => {
        for (const line of text.split('\n')) onReply(JSON.parse(line) as Reply);
        if (counts.done === count) allDone();
      })
      .catch((error: Error) => fail(`undecodable frame: ${error.message}`));
  });
  ws.on('close', (code) => {
    if (counts.done < count)
      fail(`server closed the socket (${code}) after ${counts.done}/${count} chat.done`);
  });

  await new Promise<void>((resolve, reject) => {
    let flushed = 0;
    for (let i = 0; i < count; i++) {
      const message = { type: 'chat.message', payload: { text: `Test ${i}`, agent_id: 'anima' } };
      ws.send(JSON.stringify(message), (error) => {
        if (error) reject(error);
        else if (++flushed === count) resolve();
      });
    }
  }).catch((error: Error) => fail(`send failed: ${error.message}`));
  const sentSeconds = (performance.now() - start) / 1000;
  console.log(`Sent ${count} msgs in ${sentSeconds.toFixed(2)} s`);

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>(
    (resolve) => (timer = setTimeout(resolve, timeoutMs, 'timeout')),
  );
  if ((await Promise.race([done, timedOut])) === 'timeout') {
    fail(
      `timed out after ${timeoutMs / 1000} s: ${counts.done}/${count} chat.done received ` +
        `(${counts.ack} chat.ack, ${counts.delta} chat.delta, ${counts.frames} frames)`,
    );
  }
  clearTimeout(timer);
  const seconds = (performance.now() - start) / 1000;
  console.log(
    `Received ${counts.ack} chat.ack, ${counts.delta} chat.delta, ${counts.done} chat.done, ` +
      `${counts.error} error in ${seconds.toFixed(2)} s`,
  );
  console.log(
    `${counts.messages} messages in ${counts.frames} frames (${counts.binaryFrames} gzip): ` +
      `${(counts.messages / counts.frames).toFixed(1)} messages per frame`,
  );
  if (counts.ack !== count) problems.push(`${counts.ack} chat.ack for ${count} chat.message`);
  if (expected.size > 0) problems.push(`${expected.size} texts never echoed`);
  if (problems.length > 0)
    fail(`${problems.length} problems:\n  ${problems.slice(0, 10).join('\n  ')}`);

  ws.removeAllListeners('close');
  ws.close(1000);
  await new Promise((resolve) => ws.once('close', resolve));
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
