/**
 * Idle connections: heap and RSS per connection, server side, for bare `ws`, socket.io, and
 * ws-outbox under `ConnectionManager` (idle; active, with one message waiting in each coalescing
 * window; and idle again once every frame is called back). Each arm runs its server in a fresh
 * child process and its clients in another; arms alternate over several rounds; medians.
 *
 *   npm run bench:idle                     # 5,000 connections, 3 rounds
 *   CONNECTIONS=1000 ROUNDS=1 npm run bench:idle
 *
 * Prints Markdown: bytes per connection, and ws-outbox's over bare ws.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { startChild } from './lib/child.js';
import type { Child } from './lib/child.js';
import { IDLE_ARMS } from './lib/idleProtocol.js';
import type { IdleArm, IdlePhase, Measured } from './lib/idleProtocol.js';
import { envInt, fmtInt, median } from './lib/stats.js';

const CONNECTIONS = envInt('CONNECTIONS', 5_000);
const ROUNDS = envInt('ROUNDS', 3);
const TIMEOUT_MS = 180_000;

type Row = { arm: IdleArm; phase: IdlePhase };
const ROWS: Row[] = [
  { arm: 'ws', phase: 'idle' },
  { arm: 'ws', phase: 'idle again' },
  { arm: 'socket.io', phase: 'idle' },
  { arm: 'ws-outbox', phase: 'idle' },
  { arm: 'ws-outbox', phase: 'active' },
  { arm: 'ws-outbox', phase: 'idle again' },
];
const LABELS: Record<string, string> = {
  'ws idle': 'bare `ws`',
  'ws idle again': 'bare `ws`, after one message',
  'socket.io idle': 'socket.io 4',
  'ws-outbox idle': 'ws-outbox, idle',
  'ws-outbox active': 'ws-outbox, one message pending (active)',
  'ws-outbox idle again': 'ws-outbox, idle again after it',
};

async function runArm(arm: IdleArm): Promise<Measured[]> {
  const children: Child[] = [];
  try {
    const server = startChild(`server(${arm})`, join(__dirname, 'lib', 'idleServer.ts'), [
      arm,
      String(CONNECTIONS),
    ]);
    children.push(server);
    const { port } = await server.next<{ type: 'listening'; port: number }>('listening', 60_000);
    const client = startChild(`client(${arm})`, join(__dirname, 'lib', 'idleClient.ts'), [
      arm === 'socket.io' ? 'socket.io' : 'ws',
      `ws://127.0.0.1:${port}`,
      String(CONNECTIONS),
    ]);
    children.push(client);
    await client.next('connected', TIMEOUT_MS);
    server.send({ type: 'measure' });
    const phases = ROWS.filter((row) => row.arm === arm);
    const measured: Measured[] = [];
    for (let i = 0; i < phases.length; i++) {
      measured.push(await server.next<Measured>('measured', TIMEOUT_MS));
    }
    server.send({ type: 'exit' });
    client.send({ type: 'exit' });
    await Promise.all(children.map((child) => child.stop()));
    return measured;
  } catch (error) {
    await Promise.all(children.map((child) => child.kill()));
    throw error;
  }
}

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  const results = new Map<string, Measured[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < IDLE_ARMS.length; k++) {
      const arm = IDLE_ARMS[(round + k) % IDLE_ARMS.length];
      for (const measured of await runArm(arm)) {
        if (measured.connections !== CONNECTIONS) {
          throw new Error(`${arm}: ${measured.connections} connections, not ${CONNECTIONS}`);
        }
        const key = `${arm} ${measured.phase}`;
        results.set(key, [...(results.get(key) ?? []), measured]);
        process.stderr.write(
          `round ${round + 1}/${ROUNDS} ${key}: ${fmtInt(measured.heapBytes / CONNECTIONS)} B heap, ` +
            `${fmtInt(measured.rssBytes / CONNECTIONS)} B RSS per connection\n`,
        );
      }
    }
  }
  const perConnection = (key: string, pick: (m: Measured) => number) =>
    median(results.get(key)!.map((m) => pick(m) / CONNECTIONS));
  const cpu = cpus();
  console.log(
    `\n${fmtInt(CONNECTIONS)} connections per arm, ${ROUNDS} rounds, medians, server side. ` +
      `${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, node ${process.version}, load average ` +
      `${loadAtStart.map((l) => l.toFixed(2)).join(' ')} at start, ` +
      `${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at end.\n`,
  );
  console.log('| server | heap B / connection | over bare ws (same state) | RSS B / connection |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const { arm, phase } of ROWS) {
    const key = `${arm} ${phase}`;
    const heap = perConnection(key, (m) => m.heapBytes);
    // Against bare ws in the same state: after one message, ws itself keeps more.
    const bare = perConnection(phase === 'idle' ? 'ws idle' : 'ws idle again', (m) => m.heapBytes);
    console.log(
      `| ${LABELS[key]} | ${fmtInt(heap)} | ${arm === 'ws' ? '—' : `+${fmtInt(heap - bare)}`} | ` +
        `${fmtInt(perConnection(key, (m) => m.rssBytes))} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
