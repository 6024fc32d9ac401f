/**
 * Client child of the resume part of `bench/fanout.ts`: one `OutboxClient` subscribed to a
 * topic. Each time the server drops it, its URL function (called once the backoff delay has
 * passed) waits for the parent's `go` (the server has published what the client missed), stamps
 * the reconnect's start and connects; the client resubscribes with its position and gets the
 * missed publications. The time to the last of them is one repetition's latency.
 *
 *   argv: <url> <topic> <repetitions>
 */
import { filter, firstValueFrom } from 'rxjs';
import WebSocket from 'ws';
import { toParent } from './child.js';
import { clientLibrary } from './library.js';
import type { ResumeResult } from './fanoutProtocol.js';
import { epochMs } from './stats.js';

const [url, topic, repetitionsArg] = process.argv.slice(2);
const REPETITIONS = Number(repetitionsArg);
const { OutboxClient } = clientLibrary();

/** The `go`s of the parent not yet taken, and the URL function waiting for the next one. */
let goes: Array<{ n: number }> = [];
let waiting: ((go: { n: number }) => void) | undefined;
process.on('message', (raw) => {
  const message = raw as { type: string; n?: number };
  if (message.type === 'exit') process.exit(0);
  if (message.type !== 'go') return;
  const go = { n: message.n! };
  if (waiting) {
    const resolve = waiting;
    waiting = undefined;
    resolve(go);
  } else goes.push(go);
});
function nextGo(): Promise<{ n: number }> {
  const queued = goes[0];
  if (queued) {
    goes = goes.slice(1);
    return Promise.resolve(queued);
  }
  return new Promise((resolve) => (waiting = resolve));
}

let connections = 0;
/** The repetition under way: when it started, and the last publication it must get. */
let current: { start: number; target: number } | undefined;
let expectedNext = 1;
const latencies: number[] = [];
/** Per repetition: ms from the reconnect's start to the server's `subscribed` answer. */
const answered: number[] = [];
let wrong = 0;
let notRecovered = 0;

async function urlOf(): Promise<string> {
  if (connections++ === 0) return url;
  const { n } = await nextGo();
  current = { start: epochMs(), target: n };
  return url;
}

function received({ n }: { n: number }): void {
  if (n !== expectedNext) wrong++;
  expectedNext = n + 1;
  if (current === undefined || n < current.target) return;
  latencies.push(epochMs() - current.start);
  current = undefined;
  void toParent({ type: 'repetition', done: latencies.length });
  if (latencies.length === REPETITIONS) {
    const result: ResumeResult = { type: 'resumed', latencies, answered, wrong, notRecovered };
    void toParent(result);
  }
}

async function main(): Promise<void> {
  const client = new OutboxClient(urlOf, {
    WebSocket,
    // The delay before reconnecting is not measured; keep it short so the run is.
    reconnect: { initialDelayMs: 5, maxDelayMs: 5 },
  });
  client.recoveries$.subscribe(() => notRecovered++);
  client.messages$
    .pipe(filter((message) => message.type === 'subscribed' && message.recovered !== undefined))
    .subscribe(() => {
      if (current !== undefined) answered.push(epochMs() - current.start);
    });
  const subscribed = firstValueFrom(
    client.messages$.pipe(filter((message) => message.type === 'subscribed')),
  );
  client.subscribe<{ n: number }>(topic).subscribe({
    next: received,
    error: (error: unknown) => {
      console.error('resume client: the subscription failed:', error);
      process.exit(1);
    },
  });
  await subscribed;
  await toParent({ type: 'ready' });
}

main().catch((error: unknown) => {
  console.error('resume client:', error);
  process.exit(1);
});
