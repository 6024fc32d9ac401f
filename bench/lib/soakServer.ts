/**
 * Server child of `bench/soak.ts`: produces `rate` messages of about 1 KiB per second, paced by
 * real timers, for `seconds`, to one client that has stopped reading; measures its own memory
 * after a forced GC before and at the end of that pause.
 *
 *   argv: <outbox|unbounded> <seconds> <rate>
 *
 * Phases: the client connects, pauses its socket and sends `#paused`; the server measures,
 * produces, measures again and reports `pause-end` to the parent; the parent resumes the client;
 * the server then stops the outbox (waiting for it to deliver what it holds), sends `#end` and
 * reports `result`.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { WsOutbox } from '../../src/index.js';
import type { OutboxStats } from '../../src/index.js';
import { toParent } from './child.js';
import { forceGc, RssPeak } from './stats.js';
import { soakMessage, SeqHash } from './soakMessages.js';
import type { MemorySnapshot, SoakPauseEnd, SoakResult } from './soakMessages.js';

const [armArg, secondsArg, rateArg] = process.argv.slice(2);
if (armArg !== 'outbox' && armArg !== 'unbounded') throw new Error(`unknown arm ${armArg}`);
const arm = armArg;
const SECONDS = Number(secondsArg);
const RATE = Number(rateArg);
const TICK_MS = 10;

function memory(): MemorySnapshot {
  const { heapUsed, external, arrayBuffers, rss } = process.memoryUsage();
  return { heapUsed, external, arrayBuffers, rss };
}

function settledMemory(): MemorySnapshot {
  forceGc();
  return memory();
}

async function main(): Promise<void> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  await toParent({ type: 'listening', port: (wss.address() as AddressInfo).port });

  const ws = await new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  await new Promise<void>((resolve) =>
    ws.once('message', (data) => {
      if (String(data) !== '#paused') throw new Error(`expected #paused, got ${String(data)}`);
      resolve();
    }),
  );

  const outbox = arm === 'outbox' ? new WsOutbox(ws).start() : undefined;
  // The seqs the outbox accepted without dropping, folded in order: the client must see exactly these.
  const kept = new SeqHash();
  let refused = 0;
  const send =
    outbox === undefined
      ? (seq: number) => {
          ws.send(JSON.stringify(soakMessage(seq)));
          kept.add(seq);
        }
      : (seq: number) => {
          if (outbox.send(soakMessage(seq))) kept.add(seq);
          else refused++;
        };

  const before = settledMemory();
  const rss = new RssPeak(100);
  let peakUnsettled = before.heapUsed + before.external;
  const total = SECONDS * RATE;
  let produced = 0;
  await new Promise<void>((resolve) => {
    const start = performance.now();
    let lastSample = start;
    // Paced from elapsed time, not tick count, so timer lateness does not lower the rate.
    const timer = setInterval(() => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * RATE) / 1000));
      while (produced < due) send(produced++);
      if (now - lastSample >= 1000) {
        lastSample = now;
        const m = memory();
        peakUnsettled = Math.max(peakUnsettled, m.heapUsed + m.external);
      }
      if (produced >= total) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  const after = settledMemory();
  const rssPeak = rss.stop();

  const pauseEnd: SoakPauseEnd = {
    type: 'pause-end',
    produced,
    before,
    after,
    peakUnsettled,
    rssPeak,
    bufferedAmount: ws.bufferedAmount,
    statsAtPauseEnd: outbox?.stats(),
  };
  await toParent(pauseEnd);

  // The parent resumes the client now; stop() waits for what the outbox holds to go out.
  let finalStats: OutboxStats | undefined;
  if (outbox) finalStats = await outbox.stop({ timeoutMs: 120_000 });
  await new Promise<void>((resolve, reject) =>
    ws.send('#end', (error) => (error ? reject(error) : resolve())),
  );
  const result: SoakResult = {
    type: 'result',
    kept: kept.count,
    keptHash: kept.value,
    refused,
    finalStats,
  };
  await toParent(result);
  ws.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(`soak server (${arm}):`, error);
  process.exit(1);
});
