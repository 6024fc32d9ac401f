import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { ConnectionManager } from '../src/index.js';
import { countingScheduler } from './helpers/countingScheduler.js';
import { nextTurn, until } from './helpers/until.js';

const COUNT = 10_000;
const CLIENT = join(__dirname, 'helpers', 'connectionsClient.ts');

/** Listeners of the events the binding uses, on one socket. */
function listeners(socket: WebSocket): number[] {
  return ['close', 'open', 'pong', 'message', 'error'].map((event) => socket.listenerCount(event));
}

/**
 * Checks `predicate` after each event-loop turn, where send callbacks and 'close' events come,
 * for at most `turns` turns.
 */
async function afterTurns(predicate: () => boolean, turns = 200_000): Promise<void> {
  for (let turn = 0; turn < turns; turn++) {
    if (predicate()) return;
    await nextTurn();
  }
  throw new Error(`afterTurns: the condition did not hold within ${turns} turns`);
}

describe(`${COUNT.toLocaleString('en')} idle connections`, () => {
  it('should cost one shared timer and one listener of each kind per socket, and leave nothing once closed', async () => {
    const outboxScheduler = countingScheduler();
    const heartbeatScheduler = countingScheduler();
    const manager = new ConnectionManager({
      outbox: { metrics: new Registry(), scheduler: outboxScheduler },
      heartbeat: { scheduler: heartbeatScheduler, metrics: false },
    });
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    const sockets: WebSocket[] = [];
    // What ws itself listens to on a socket, before the manager adds anything.
    let bare: number[] | undefined;
    wss.on('connection', (socket: WebSocket) => {
      bare ??= listeners(socket);
      sockets.push(socket);
      manager.connect(socket);
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const { port } = http.address() as AddressInfo;
    const client = spawn(
      process.execPath,
      ['--import', 'tsx', CLIENT, `ws://127.0.0.1:${port}`, String(COUNT)],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines = createInterface({ input: client.stdout })[Symbol.asyncIterator]();
    const next = async () => (await lines.next()).value as string;

    try {
      expect(await next()).toBe('open');
      await until(() => manager.size === COUNT, wss, 'connection', { timeoutMs: 60_000 });

      // Idle: no outbox holds a pipeline, a timer or a listener; the heartbeat holds one
      // interval for all, and one 'close' and one 'pong' listener per socket are the manager's.
      expect(outboxScheduler.live).toBe(0);
      expect(heartbeatScheduler.live).toBe(1);
      const idle = [bare![0] + 1, bare![1], bare![2] + 1, bare![3], bare![4]];
      expect(sockets.every((socket) => listeners(socket).join() === idle.join())).toBe(true);

      // One message each: a pipeline each, with its coalescing window; once the frame is called
      // back, the pipeline is kept for releaseAfterMs (one timer each; its release is tested in
      // virtual time), and the close below must release it with its timer.
      for (const socket of sockets) manager.sendMessage(socket, { type: 'hello' });
      expect(outboxScheduler.live).toBe(COUNT);
      await afterTurns(() =>
        sockets.every((socket) => manager.outbox(socket)!.stats().delivered === 1),
      );
      expect(outboxScheduler.live).toBe(COUNT);

      client.stdin.write('close\n');
      expect(await next()).toBe('closed');
      await afterTurns(() => manager.size === 0);
      expect(heartbeatScheduler.live).toBe(0);
      expect(outboxScheduler.live).toBe(0);
      expect(
        sockets.every((socket) => {
          const [close, , pong] = listeners(socket);
          return close <= bare![0] && pong === bare![2];
        }),
      ).toBe(true);
    } finally {
      client.kill();
      await manager.closeAll();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  }, 180_000);
});
