/**
 * Server child of `bench/socket.ts`: one arm, one connection, in a process of its own so that its
 * CPU time and RSS are the arm's alone.
 *
 *   argv: <arm> <messages> <perTurn> <warmup>
 *
 * Runs a warm-up phase (so every arm is measured with its code optimised), then the measured
 * phase. Each phase starts when the client sends `#go` and ends with `#phase-end` once every
 * message has been handed to the socket; the client's next `#go` acknowledges it. CPU and RSS are
 * read from the start of the measured phase to that acknowledgement, so they include flushing
 * the socket but not the client's decoding.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as IoServer } from 'socket.io';
import type { Socket as IoSocket } from 'socket.io';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { OutboxStats, WsOutboxOptions } from '../../src/index.js';
import { toParent } from './child.js';
import { serverLibrary } from './library.js';
import { ALL_ARMS, CONTROL, TICK_SCHEMA, TICK_TEXT } from './protocol.js';
import type { ArmName, ServerResult, Tick } from './protocol.js';
import { cpuSecondsSince, epochMs, forceGc, RssPeak } from './stats.js';

const { inlineGzipCompressor, WsOutbox } = serverLibrary();

const [armArg, messagesArg, perTurnArg, warmupArg] = process.argv.slice(2);
if (!ALL_ARMS.includes(armArg as ArmName)) throw new Error(`unknown arm ${armArg}`);
const arm = armArg as ArmName;
const MESSAGES = Number(messagesArg);
const PER_TURN = Number(perTurnArg);
const WARMUP = Number(warmupArg);
/** Diagnosis only: options merged into both outbox arms (the reported figures use none). */
const OVERRIDES = JSON.parse(process.env.OUTBOX_OPTIONS ?? '{}') as WsOutboxOptions<Tick>;

/**
 * One options object for every phase's outbox, as a `ConnectionManager` gives all of its
 * outboxes: what is derived from it (the schema's serializer) is built once, in the warm-up.
 */
const OUTBOX_OPTIONS: WsOutboxOptions<Tick> = {
  ...(arm === 'outbox-nocompress' ? { compressAbove: false } : {}),
  ...(arm === 'outbox-schema' ? { compressAbove: false, schema: TICK_SCHEMA } : {}),
  ...(arm === 'outbox-inline' ? { compressor: inlineGzipCompressor(256 * 1024) } : {}),
  ...OVERRIDES,
};

/** How one arm hands messages to its socket. A fresh one per phase. */
interface Sender {
  send(message: Tick): void;
  /** Called after each turn's messages. */
  endTurn(): void;
  /** Only for a producer that waits: resolves when the next turn may start. */
  beforeTurn?(): Promise<void>;
  /** The outbox arms: `ws.bufferedAmount` when a message was first refused. */
  bufferedAtFirstDrop?(): number | undefined;
  /** After the last message: resolves once the arm has handed everything to the socket. */
  finish(): Promise<OutboxStats | undefined>;
}

type Transport = {
  newSender(): Sender;
  sendControl(text: string): void;
  onControl(listener: (text: string) => void): void;
  close(): Promise<void>;
};

function wsSender(ws: WebSocket): Sender {
  switch (arm) {
    case 'naive':
      return {
        send: (m) => ws.send(JSON.stringify(m)),
        endTurn: () => {},
        finish: async () => undefined,
      };
    case 'floor': {
      let parts: string[] = [];
      return {
        send: (m) => parts.push(JSON.stringify(m)),
        endTurn: () => {
          if (parts.length === 0) return;
          ws.send(parts.join('\n'));
          parts = [];
        },
        finish: async () => undefined,
      };
    }
    case 'outbox':
    case 'outbox-nocompress':
    case 'outbox-schema':
    case 'outbox-wait':
    case 'outbox-inline': {
      const outbox = new WsOutbox<Tick>(ws, OUTBOX_OPTIONS).start();
      let bufferedAtFirstDrop: number | undefined;
      return {
        // The producer ignores send's verdict on purpose: drops show up in stats().
        send: (m) => {
          if (!outbox.send(m) && bufferedAtFirstDrop === undefined) {
            bufferedAtFirstDrop = ws.bufferedAmount;
          }
        },
        bufferedAtFirstDrop: () => bufferedAtFirstDrop,
        endTurn: () => {},
        finish: () => outbox.stop({ timeoutMs: 60_000 }),
        // Waits at turn boundaries only, so the turns keep the other arms' shape.
        beforeTurn: arm === 'outbox-wait' ? () => outbox.whenReady() : undefined,
      };
    }
    default:
      throw new Error(`arm ${arm} does not run on bare ws`);
  }
}

function listenWs(): Promise<{ port: number; connection: Promise<Transport> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const connection = new Promise<Transport>((resolve) => {
    wss.once('connection', (ws) => {
      resolve({
        newSender: () => wsSender(ws),
        sendControl: (text) => ws.send(text),
        onControl: (listener) => ws.on('message', (data) => listener(String(data))),
        close: () =>
          new Promise((done) => {
            ws.terminate();
            wss.close(() => done());
          }),
      });
    });
  });
  return new Promise((resolve, reject) => {
    wss.once('error', reject);
    wss.once('listening', () => resolve({ port: (wss.address() as AddressInfo).port, connection }));
  });
}

function listenSocketIo(): Promise<{ port: number; connection: Promise<Transport> }> {
  const http = createServer();
  const io = new IoServer(http, { transports: ['websocket'], serveClient: false });
  const connection = new Promise<Transport>((resolve) => {
    io.once('connection', (socket: IoSocket) => {
      resolve({
        newSender: () => ({
          send: (m) => void socket.emit('tick', m),
          endTurn: () => {},
          finish: async () => undefined,
        }),
        sendControl: (text) => void socket.emit(text),
        onControl: (listener) => socket.on(CONTROL.go, () => listener(CONTROL.go)),
        close: () => new Promise((done) => void io.close(() => done())),
      });
    });
  });
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () =>
      resolve({ port: (http.address() as AddressInfo).port, connection }),
    );
  });
}

/**
 * Produces `count` ticks, `PER_TURN` per `setImmediate` turn, regardless of the socket (except in
 * the `outbox-wait` arm, which waits for `whenReady()` between turns).
 */
function produce(count: number, sender: Sender): Promise<void> {
  return new Promise((resolve) => {
    let seq = 0;
    const turn = () => {
      const end = Math.min(count, seq + PER_TURN);
      for (; seq < end; seq++) {
        sender.send({ type: 'tick', seq, ts: epochMs(), text: TICK_TEXT });
      }
      sender.endTurn();
      if (seq >= count) resolve();
      else if (sender.beforeTurn) void sender.beforeTurn().then(() => setImmediate(turn));
      else setImmediate(turn);
    };
    turn();
  });
}

async function main(): Promise<void> {
  const { port, connection } = arm === 'socket.io' ? await listenSocketIo() : await listenWs();
  await toParent({ type: 'listening', port });
  const transport = await connection;

  const goes: Array<() => void> = [];
  let pendingGoes = 0;
  transport.onControl((text) => {
    if (text !== CONTROL.go) return;
    const waiter = goes.shift();
    if (waiter) waiter();
    else pendingGoes++;
  });
  const nextGo = () =>
    new Promise<void>((resolve) => {
      if (pendingGoes > 0) {
        pendingGoes--;
        resolve();
      } else goes.push(resolve);
    });

  await nextGo();
  if (WARMUP > 0) {
    const sender = transport.newSender();
    await produce(WARMUP, sender);
    await sender.finish();
    transport.sendControl(CONTROL.phaseEnd);
    await nextGo();
  }

  forceGc();
  const rss = new RssPeak();
  const cpuStart = process.cpuUsage();
  const firstEnqueue = epochMs();
  const sender = transport.newSender();
  await produce(MESSAGES, sender);
  const outboxStats = await sender.finish();
  transport.sendControl(CONTROL.phaseEnd);
  await nextGo();
  const cpuSeconds = cpuSecondsSince(cpuStart);
  const systemSeconds = process.cpuUsage(cpuStart).system / 1e6;
  const rssPeak = rss.stop();

  const result: ServerResult = {
    type: 'result',
    produced: MESSAGES,
    firstEnqueue,
    cpuSeconds,
    systemSeconds,
    rssStart: rss.start,
    rssPeak,
    bufferedAtFirstDrop: sender.bufferedAtFirstDrop?.(),
    outboxStats: outboxStats && {
      accepted: outboxStats.accepted,
      delivered: outboxStats.delivered,
      dropped: outboxStats.dropped,
      failed: outboxStats.failed,
    },
  };
  await toParent(result);
  await transport.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(`server (${arm}):`, error);
  process.exit(1);
});
