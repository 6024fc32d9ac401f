/**
 * Client child of `bench/fanout.ts`: every subscriber socket of one arm, in one process. Opens
 * `topics × subscribers` connections (`?topic=<index>`, each socket in one topic), waits until
 * each is in its topic, then records every publication: per socket, that its seq only increases
 * and how many of the measured window it got; for all, the publish-to-receive latency.
 *
 *   argv: <arm> <url> <topics> <subscribers per topic>
 *
 * The clients are what users of each arm run: `ws` with `JSON.parse` for the naive loop,
 * socket.io-client for socket.io, and `OutboxClient` (`ws-outbox/client`, `listen(topic)`) for
 * ws-outbox, or (the default, `CLIENT=raw`) bare `ws` decoding its frames and checking offsets
 * the way `OutboxClient` does, so that the client process, which holds hundreds of sockets, is as
 * cheap as the naive arm's and does not itself add latency.
 */
import { gunzipSync } from 'node:zlib';
import { filter, firstValueFrom } from 'rxjs';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { toParent } from './child.js';
import { clientLibrary } from './library.js';
import { topicName } from './fanoutProtocol.js';
import type { FanoutArm, FanoutClientResult, FanoutData } from './fanoutProtocol.js';
import { epochMs, percentileSorted } from './stats.js';

const [armArg, url, topicsArg, subscribersArg] = process.argv.slice(2);
const arm = armArg as FanoutArm;
const TOPICS = Number(topicsArg);
const SUBSCRIBERS = Number(subscribersArg);
const SOCKETS = TOPICS * SUBSCRIBERS;
const { OutboxClient } = clientLibrary();
/**
 * ws-outbox's client: `raw` (default) decodes frames as `OutboxClient` does, and checks offsets
 * as it does, with nothing else (the naive arm's client is as bare); `outbox` runs one
 * `OutboxClient` per socket.
 */
const CLIENT = process.env.CLIENT ?? 'raw';
if (CLIENT !== 'raw' && CLIENT !== 'outbox')
  throw new Error(`CLIENT is raw or outbox, not ${CLIENT}`);
/** Connections opened at once. */
const AT_ONCE = 100;

const lastSeq = new Float64Array(SOCKETS).fill(-1);
const counts = new Uint32Array(SOCKETS);
let latencies = new Float64Array(1 << 20);
let delivered = 0;
let outOfOrder = 0;
/** ws-outbox, raw client: a `pub` whose offset is not the last one's + 1. */
let offsetErrors = 0;
let cpuStart: NodeJS.CpuUsage | undefined;
let firstReceive = 0;
let expected: number[] | undefined;
let expectedTotal = Infinity;
let reported = false;

function record(socket: number, data: FanoutData, receivedAt: number): void {
  if (data.seq <= lastSeq[socket]) outOfOrder++;
  lastSeq[socket] = data.seq;
  if (data.m !== 1) return;
  if (cpuStart === undefined) {
    cpuStart = process.cpuUsage();
    firstReceive = receivedAt;
  }
  counts[socket]++;
  if (delivered === latencies.length) {
    const grown = new Float64Array(latencies.length * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[delivered++] = receivedAt - data.ts;
  if (delivered >= expectedTotal) void report();
}

async function report(): Promise<void> {
  if (reported) return;
  reported = true;
  const cpu = cpuStart === undefined ? 0 : process.cpuUsage(cpuStart);
  const sorted = latencies.subarray(0, delivered).sort();
  let socketsShort = 0;
  for (let socket = 0; socket < SOCKETS; socket++) {
    if (counts[socket] < (expected?.[socket % TOPICS] ?? 0)) socketsShort++;
  }
  const result: FanoutClientResult = {
    type: 'delivered',
    delivered,
    expected: expectedTotal,
    socketsShort,
    outOfOrder: outOfOrder + offsetErrors,
    p50: percentileSorted(sorted, 50),
    p99: percentileSorted(sorted, 99),
    max: sorted.length > 0 ? sorted[sorted.length - 1] : NaN,
    cpuSeconds: cpu === 0 ? 0 : (cpu.user + cpu.system) / 1e6,
    receiveSeconds: (epochMs() - firstReceive) / 1000,
  };
  await toParent(result);
}

/** Opens socket `index`; resolves once it is in its topic. */
function open(index: number): Promise<void> {
  // Socket i is in topic i % TOPICS, as `report` counts it.
  const topic = index % TOPICS;
  const target = `${url}/?topic=${topic}`;
  if (arm === 'naive') {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(target, { perMessageDeflate: false });
      ws.on('message', (data: Buffer) => {
        const receivedAt = epochMs();
        if (data[0] === 0x23 /* '#': '#joined' */) resolve();
        else record(index, JSON.parse(data.toString()) as FanoutData, receivedAt);
      });
      ws.once('error', reject);
    });
  }
  if (arm === 'socket.io') {
    return new Promise((resolve, reject) => {
      const socket = io(url, {
        query: { topic: String(topic) },
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
      });
      socket.once('joined', () => resolve());
      socket.on('pub', (data: FanoutData) => record(index, data, epochMs()));
      socket.once('connect_error', reject);
    });
  }
  const name = topicName(topic);
  if (CLIENT === 'raw') {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(target, { perMessageDeflate: false });
      let lastOffset = -1;
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const receivedAt = epochMs();
        // A binary frame is gzipped NDJSON (none are, at these sizes: frames stay under 10 kB).
        const text = (isBinary ? gunzipSync(data) : data).toString();
        for (const line of text.split('\n')) {
          const message = JSON.parse(line) as { type: string; offset: number; data: FanoutData };
          if (message.type === 'subscribed') {
            lastOffset = message.offset;
            resolve();
          } else if (message.type === 'pub') {
            // What the client library checks: offsets follow each other, no duplicate, no hole.
            if (message.offset !== lastOffset + 1) offsetErrors++;
            lastOffset = message.offset;
            record(index, message.data, receivedAt);
          }
        }
      });
      ws.once('error', reject);
    });
  }
  const client = new OutboxClient(target, { WebSocket, reconnect: false });
  const joined = firstValueFrom(
    client.messages$.pipe(
      filter((message) => message.type === 'subscribed' && message.topic === name),
    ),
  );
  client.listen<FanoutData>(name).subscribe((data) => record(index, data, epochMs()));
  return joined.then(() => undefined);
}

async function main(): Promise<void> {
  for (let first = 0; first < SOCKETS; first += AT_ONCE) {
    const batch = Math.min(AT_ONCE, SOCKETS - first);
    await Promise.all(Array.from({ length: batch }, (_, k) => open(first + k)));
  }
  await toParent({ type: 'connected', sockets: SOCKETS });
}

process.on('message', (raw) => {
  const message = raw as { type: string; perTopic?: number[] };
  if (message.type === 'expect') {
    expected = message.perTopic!;
    expectedTotal = expected.reduce((sum, n) => sum + n, 0) * SUBSCRIBERS;
    if (delivered >= expectedTotal) void report();
  } else if (message.type === 'report') {
    // The parent's deadline: report what came (nothing, if reported already).
    void report();
  } else if (message.type === 'exit') {
    process.exit(0);
  }
});

main().catch((error: unknown) => {
  console.error(`fan-out client (${arm}):`, error);
  process.exit(1);
});
