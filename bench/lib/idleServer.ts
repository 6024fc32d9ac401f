/**
 * Server child of `bench/idle.ts`: one arm, `count` idle connections, heap and RSS read after a
 * full collection at each phase the parent asks for.
 *
 *   argv: <arm> <count>      arm: ws | socket.io | ws-outbox
 *
 * The ws-outbox arm runs its outboxes on a virtual scheduler, so that the parent can hold every
 * connection in the active state (one message waiting in its coalescing window) while the heap
 * is read, then let the windows close and read it again once every frame is called back.
 */
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { VirtualTimeScheduler } from 'rxjs';
import { Server as IoServer } from 'socket.io';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { ConnectionManager } from '../../src/index.js';
import { fromParent, toParent } from './child.js';
import { IDLE_ARMS } from './idleProtocol.js';
import type { IdleArm, IdlePhase, Measured } from './idleProtocol.js';
import { forceGc } from './stats.js';

const [armArg] = process.argv.slice(2);
const arm = armArg as IdleArm;

function snapshot(): { heap: number; rss: number } {
  forceGc();
  return { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage.rss() };
}

/**
 * Takes the outbox's code paths once on sockets of the process's own, so that the code V8
 * compiles for them (on the heap, once per process) is not counted as per-connection memory.
 */
async function warmUp(): Promise<void> {
  const scheduler = new VirtualTimeScheduler();
  const manager = new ConnectionManager<{ type: string }>({
    outbox: { metrics: new Registry(), scheduler },
  });
  const sockets = Array.from({ length: 200 }, () => {
    const socket = Object.assign(new EventEmitter(), {
      readyState: 1,
      send: (_data: unknown, callback: () => void) => setImmediate(callback),
      ping: () => {},
      terminate: () => {},
    });
    manager.connect(socket);
    return socket;
  });
  for (let round = 0; round < 5; round++) {
    for (const socket of sockets) manager.sendMessage(socket, { type: 'warm-up' });
    scheduler.flush();
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (const socket of sockets) socket.emit('close');
  await manager.closeAll();
}

async function main(): Promise<void> {
  if (!IDLE_ARMS.includes(arm)) throw new Error(`unknown arm ${armArg}`);
  const http = createServer();
  let connections = 0;
  const scheduler = new VirtualTimeScheduler();
  const manager =
    arm === 'ws-outbox'
      ? new ConnectionManager<{ type: string }>({
          outbox: { metrics: new Registry(), scheduler },
        })
      : undefined;
  let wss: WebSocketServer | undefined;
  if (arm === 'socket.io') {
    const io = new IoServer(http, { transports: ['websocket'], serveClient: false });
    io.on('connection', () => connections++);
  } else {
    wss = new WebSocketServer({ server: http });
    wss.on('connection', (ws: WebSocket) => {
      connections++;
      manager?.connect(ws);
    });
  }
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  if (arm === 'ws-outbox') await warmUp();
  const baseline = snapshot();
  await toParent({ type: 'listening', port: (http.address() as AddressInfo).port });

  const measure = async (phase: IdlePhase) => {
    const now = snapshot();
    const message: Measured = {
      type: 'measured',
      phase,
      connections,
      heapBytes: now.heap - baseline.heap,
      rssBytes: now.rss - baseline.rss,
    };
    await toParent(message);
  };

  await fromParent('measure');
  await measure('idle');
  if (arm === 'ws') {
    // The same one message on bare ws, so that what `ws` itself keeps after a send is not
    // counted against the outbox.
    await Promise.all(
      [...wss!.clients].map((ws) => new Promise((resolve) => ws.send('{"type":"hello"}', resolve))),
    );
    await measure('idle again');
  }
  if (manager) {
    for (const socket of manager.sockets()) manager.sendMessage(socket, { type: 'hello' });
    await measure('active');
    // The windows close; the frames go out; once called back, each outbox keeps its pipeline
    // for releaseAfterMs, then lets it go: the second flush is that time passing.
    scheduler.flush();
    const outboxes = manager.sockets().map((socket) => manager.outbox(socket)!);
    while (outboxes.some((outbox) => outbox.stats().delivered < 1)) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    scheduler.flush();
    await measure('idle again');
  }
  await fromParent('exit');
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(`idle server (${arm}):`, error);
  process.exit(1);
});
