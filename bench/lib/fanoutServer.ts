/**
 * Server child of `bench/fanout.ts`: one arm, in a process of its own so that its CPU time is the
 * arm's alone. Sockets connect with `?topic=<index>` and are put in that topic; each learns it is
 * in (naive: a `#joined` text frame; socket.io: a `joined` event; ws-outbox: its `subscribed`).
 *
 *   argv: <arm> <topics> <ratePerTopic>
 *
 * On the parent's `start`, it publishes to every topic at `ratePerTopic` a second, paced by a
 * timer from elapsed time: a warm-up, then the measured window, without a pause between them.
 * Each publication carries the time it was due (`ts`, epoch ms), so the latency the client
 * measures includes any delay of the publisher behind its schedule.
 * CPU is read from the first publication of the window to the parent's `stop`, which comes once
 * the client has received everything (so the flushing of every socket is counted).
 */
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { Server as IoServer } from 'socket.io';
import type { Socket as IoSocket } from 'socket.io';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { fromParent, toParent } from './child.js';
import type { IpcMessage } from './child.js';
import { serverLibrary } from './library.js';
import { FANOUT_ARMS, FANOUT_TEXT, topicName } from './fanoutProtocol.js';
import type { FanoutArm, FanoutData, FanoutServerResult, Published } from './fanoutProtocol.js';
import { cpuSecondsSince } from './stats.js';

const [armArg, topicsArg, rateArg] = process.argv.slice(2);
if (!FANOUT_ARMS.includes(armArg as FanoutArm)) throw new Error(`unknown arm ${armArg}`);
const arm = armArg as FanoutArm;
const TOPICS = Number(topicsArg);
const RATE = Number(rateArg);
const { ConnectionManager } = serverLibrary();
/** Diagnosis only: options merged into the outboxes' (the reported figures use none). */
const OUTBOX_OPTIONS = JSON.parse(process.env.OUTBOX_OPTIONS ?? '{}') as object;

/** How an arm puts sockets in topics and publishes to them. */
interface Fanout {
  port: number;
  publish(topic: number, data: FanoutData): void;
  counters?(): Promise<Record<string, number>>;
}

function topicOf(request: IncomingMessage): number {
  const topic = Number(new URL(request.url ?? '/', 'http://localhost').searchParams.get('topic'));
  if (!(Number.isInteger(topic) && topic >= 0 && topic < TOPICS)) {
    throw new Error(`bad topic in ${request.url}`);
  }
  return topic;
}

async function listen(
  http: ReturnType<typeof createServer>,
  setup: () => Omit<Fanout, 'port'>,
): Promise<Fanout> {
  const fanout = setup();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', resolve);
  });
  return { ...fanout, port: (http.address() as AddressInfo).port };
}

function naive(): Promise<Fanout> {
  const http = createServer();
  return listen(http, () => {
    const members = Array.from({ length: TOPICS }, () => new Set<WebSocket>());
    const wss = new WebSocketServer({ server: http });
    wss.on('connection', (ws, request) => {
      const set = members[topicOf(request)];
      set.add(ws);
      ws.on('close', () => set.delete(ws));
      ws.send('#joined');
    });
    return {
      publish(topic, data) {
        // Serialized once per publication, as anyone would; then one send per subscriber.
        const json = JSON.stringify(data);
        for (const ws of members[topic]) ws.send(json);
      },
    };
  });
}

function socketIo(): Promise<Fanout> {
  const http = createServer();
  return listen(http, () => {
    const io = new IoServer(http, { transports: ['websocket'], serveClient: false });
    io.on('connection', (socket: IoSocket) => {
      void socket.join(topicName(topicOf(socket.request)));
      socket.emit('joined');
    });
    return {
      publish(topic, data) {
        io.to(topicName(topic)).emit('pub', data);
      },
    };
  });
}

function wsOutbox(): Promise<Fanout> {
  const http = createServer();
  return listen(http, () => {
    const registry = new Registry();
    // The defaults a user gets, with metrics in a registry of our own (to read them at the end).
    const manager = new ConnectionManager({ outbox: { ...OUTBOX_OPTIONS, metrics: registry } });
    const wss = new WebSocketServer({ server: http });
    wss.on('connection', (ws, request) => {
      manager.connect(ws, { request });
      void manager.join(ws, topicName(topicOf(request)));
    });
    return {
      publish(topic, data) {
        manager.publish(topicName(topic), data).catch((error: unknown) => {
          console.error('publish failed:', error);
          process.exit(1);
        });
      },
      async counters() {
        const counters: Record<string, number> = {};
        for (const metric of await registry.getMetricsAsJSON()) {
          if (!COUNTERS.includes(metric.name)) continue;
          counters[metric.name] = metric.values.reduce((sum, { value }) => sum + value, 0);
        }
        return counters;
      },
    };
  });
}

/** The ws-outbox counters reported, over the measured window. */
let countersAtStart: Record<string, number> | undefined;

const COUNTERS = [
  'ws_outbox_topic_publications_total',
  'ws_outbox_topic_frames_total',
  'ws_outbox_frames_sent_total',
  'ws_outbox_messages_sent_total',
  'ws_outbox_dropped_messages_total',
  'ws_outbox_topic_gaps_total',
];

interface Start extends IpcMessage {
  type: 'start';
  warmupMs: number;
  durationMs: number;
  tickMs: number;
}

/**
 * Publishes `ratePerTopic` a second to every topic, from elapsed time on a `tickMs` timer:
 * publication `i` of each topic is due `(i + 1) / rate` seconds after the start, and a late tick
 * publishes everything due. Resolves after the measured window's last publication.
 */
function publishAll(
  fanout: Fanout,
  { warmupMs, durationMs, tickMs }: Start,
): Promise<{
  cpuStart: NodeJS.CpuUsage;
  windowStart: number;
  publishSeconds: number;
  maxTickLagMs: number;
}> {
  const warmup = Math.floor((warmupMs / 1000) * RATE);
  const total = warmup + Math.floor((durationMs / 1000) * RATE);
  const periodMs = 1000 / RATE;
  return new Promise((resolve) => {
    const t0 = performance.now();
    const epochT0 = performance.timeOrigin + t0;
    let published = 0;
    let cpuStart: NodeJS.CpuUsage | undefined;
    let windowStart = 0;
    let maxTickLagMs = 0;
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - t0) / 1000) * RATE));
      if (due > published && published >= warmup) {
        maxTickLagMs = Math.max(maxTickLagMs, now - t0 - (published + 1) * periodMs);
      }
      for (; published < due; published++) {
        if (published === warmup) {
          // Read within a microtask, before any of the window's publications is fanned out.
          void fanout.counters?.().then((counters) => (countersAtStart = counters));
          cpuStart = process.cpuUsage();
          windowStart = performance.now();
        }
        const m = published >= warmup ? 1 : 0;
        for (let topic = 0; topic < TOPICS; topic++) {
          // Stamped with when it was due: a server behind its schedule shows it in the latency.
          const ts = epochT0 + (published + 1) * periodMs;
          fanout.publish(topic, { seq: published, ts, m, text: FANOUT_TEXT });
        }
      }
      if (published < total) {
        setTimeout(tick, tickMs);
        return;
      }
      resolve({
        cpuStart: cpuStart!,
        windowStart,
        publishSeconds: (performance.now() - windowStart) / 1000,
        maxTickLagMs,
      });
    };
    setTimeout(tick, tickMs);
  });
}

function difference(
  end: Record<string, number> | undefined,
  start: Record<string, number> | undefined,
): Record<string, number> | undefined {
  if (end === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(end).map(([name, n]) => [name, n - (start?.[name] ?? 0)]),
  );
}

async function main(): Promise<void> {
  const fanout = await (arm === 'naive' ? naive() : arm === 'socket.io' ? socketIo() : wsOutbox());
  const exit = fromParent('exit');
  const stop = fromParent('stop');
  await toParent({ type: 'listening', port: fanout.port });
  const start = await fromParent<Start>('start');
  const { cpuStart, windowStart, publishSeconds, maxTickLagMs } = await publishAll(fanout, start);
  const measured = Math.floor((start.durationMs / 1000) * RATE);
  const published: Published = {
    type: 'published',
    perTopic: Array.from({ length: TOPICS }, () => measured),
  };
  await toParent(published);
  await stop;
  const cpuSeconds = cpuSecondsSince(cpuStart);
  const windowSeconds = (performance.now() - windowStart) / 1000;
  const systemSeconds = process.cpuUsage(cpuStart).system / 1e6;
  const result: FanoutServerResult = {
    type: 'result',
    cpuSeconds,
    windowSeconds,
    systemSeconds,
    publishSeconds,
    maxTickLagMs,
    counters: difference(await fanout.counters?.(), countersAtStart),
  };
  await toParent(result);
  await exit;
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(`fan-out server (${arm}):`, error);
  process.exit(1);
});
