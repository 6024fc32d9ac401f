/**
 * Socket throughput: one connection on loopback, small messages produced a few hundred per
 * event-loop turn, five ways of sending them. Each arm runs its server in a fresh child process
 * and its client in another, so the server's CPU time and peak RSS are the arm's alone; arms are
 * alternated over several rounds, in rotated order, and medians reported.
 *
 *   npm run bench:socket                       # 200k messages, 7 rounds
 *   MESSAGES=50000 ROUNDS=1 npm run bench:socket
 *
 * Environment: MESSAGES (200000), ROUNDS (7), PER_TURN (250), WARMUP (20000, 0 for none),
 * ARMS (comma-separated, from naive,socket.io,floor,outbox,outbox-nocompress,outbox-schema, and two extra
 * WsOutbox arms: outbox-wait, whose producer awaits `whenReady()` between turns, and
 * outbox-inline, which gzips frames up to 256 KiB on the event loop; the first six by default),
 * OUTBOX_OPTIONS (JSON merged into every WsOutbox arm's options, to test a hypothesis: the figures
 * in docs/benchmarks.md use none; the header says when it is set),
 * CPU_PROF_DIR (write a V8 CPU profile of every server child there, to see where an arm's
 * time goes: open the .cpuprofile in Chrome DevTools), LIBRARY (`sources` to run the library's
 * TypeScript through tsx in the server children; by default they load it compiled by esbuild,
 * as users run it compiled: see lib/library.ts).
 *
 * Prints Markdown: one table of medians, the outboxes' counts, and the ratios the issue sets.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { startChild } from './lib/child.js';
import { compileLibrary, LIBRARY_ENV, removeLibrary } from './lib/library.js';
import type { Child } from './lib/child.js';
import { ALL_ARMS, ARM_LABELS, ARMS, TICK_TEXT } from './lib/protocol.js';
import type { ArmName, ClientResult, ServerResult } from './lib/protocol.js';
import { envInt, fmtInt, printTargets, fmtMiB, median } from './lib/stats.js';
import type { Target } from './lib/stats.js';

const MESSAGES = envInt('MESSAGES', 200_000);
const ROUNDS = envInt('ROUNDS', 7);
const PER_TURN = envInt('PER_TURN', 250);
const WARMUP = process.env.WARMUP === '0' ? 0 : envInt('WARMUP', 20_000);
const SELECTED: ArmName[] = process.env.ARMS
  ? process.env.ARMS.split(',').map((name) => {
      if (!ALL_ARMS.includes(name as ArmName)) throw new Error(`unknown arm ${name} in ARMS`);
      return name as ArmName;
    })
  : [...ARMS];
/** Bound on any one phase, so a stuck arm fails the run instead of hanging it. */
const PHASE_TIMEOUT_MS = 180_000;

interface Run {
  server: ServerResult;
  client: ClientResult;
  rate: number;
  undelivered: number;
  clientBusy: number;
}

const serverScript = join(__dirname, 'lib', 'socketServer.ts');
const clientScript = join(__dirname, 'lib', 'socketClient.ts');

async function runArm(arm: ArmName): Promise<Run> {
  const children: Child[] = [];
  try {
    const server = startChild(
      `server(${arm})`,
      serverScript,
      [arm, String(MESSAGES), String(PER_TURN), String(WARMUP)],
      process.env.CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF_DIR}`] : [],
    );
    children.push(server);
    const { port } = await server.next<{ type: 'listening'; port: number }>('listening', 60_000);
    const kind = arm === 'socket.io' ? 'socket.io' : 'ws';
    const client = startChild(`client(${arm})`, clientScript, [kind, `ws://127.0.0.1:${port}`]);
    children.push(client);

    let measured = await client.next<ClientResult>('phase', PHASE_TIMEOUT_MS);
    if (WARMUP > 0) measured = await client.next<ClientResult>('phase', PHASE_TIMEOUT_MS);
    const result = await server.next<ServerResult>('result', PHASE_TIMEOUT_MS);
    await Promise.all(children.map((child) => child.stop()));

    const seconds = (measured.lastReceive - result.firstEnqueue) / 1000;
    return {
      server: result,
      client: measured,
      rate: measured.received / seconds,
      undelivered: result.produced - measured.received,
      clientBusy: measured.cpuSeconds / seconds,
    };
  } catch (error) {
    await Promise.all(children.map((child) => child.kill()));
    throw error;
  }
}

const loadAtStart = loadavg();

async function main(): Promise<void> {
  // The server children load the library compiled, as users run it (see lib/library.ts).
  if (process.env.LIBRARY !== 'sources') {
    const dir = await compileLibrary();
    process.env[LIBRARY_ENV] = dir;
    process.on('exit', () => removeLibrary(dir));
  }
  const runs = new Map<ArmName, Run[]>(SELECTED.map((arm) => [arm, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so that no arm always runs first, on a machine not yet busy with the others.
    for (let k = 0; k < SELECTED.length; k++) {
      const arm = SELECTED[(round + k) % SELECTED.length];
      const run = await runArm(arm);
      runs.get(arm)!.push(run);
      process.stderr.write(
        `round ${round + 1}/${ROUNDS} ${arm}: ${fmtInt(run.rate)} msgs/s, ` +
          `${run.server.cpuSeconds.toFixed(3)} s CPU (${run.server.systemSeconds.toFixed(3)} system), ` +
          `${run.undelivered} undelivered\n`,
      );
    }
  }
  report(runs);
}

function report(runs: Map<ArmName, Run[]>): void {
  const m = (arm: ArmName, pick: (run: Run) => number) => median(runs.get(arm)!.map(pick));
  const cpu = cpus();
  console.log(
    `\n${fmtInt(MESSAGES)} messages per arm (about ${exampleBytes()} bytes of JSON each), ` +
      `${PER_TURN} per setImmediate turn, warm-up ${fmtInt(WARMUP)}, ${ROUNDS} rounds, ` +
      `medians. ${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, node ${process.version}, ` +
      `load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} at start, ` +
      `${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at end.` +
      (process.env.OUTBOX_OPTIONS ? ` OUTBOX_OPTIONS=${process.env.OUTBOX_OPTIONS}.` : '') +
      (process.env.LIBRARY === 'sources'
        ? ' The library run from its TypeScript sources through tsx (LIBRARY=sources).'
        : ' The library compiled to JavaScript (esbuild, no keepNames), as users run it.') +
      '\n',
  );
  console.log(
    '| arm | delivered msgs/s | (min–max) | frames | payload bytes | server CPU s / 1M delivered | p50 ms | p99 ms ' +
      '| peak RSS Δ MiB | not delivered (worst round) | out of order | client CPU ÷ delivery time |',
  );
  console.log('| --- |' + ' ---: |'.repeat(11));
  for (const arm of SELECTED) {
    const armRuns = runs.get(arm)!;
    console.log(
      [
        '',
        ARM_LABELS[arm],
        fmtInt(m(arm, (r) => r.rate)),
        `${fmtInt(Math.min(...armRuns.map((r) => r.rate)))}–${fmtInt(Math.max(...armRuns.map((r) => r.rate)))}`,
        fmtInt(m(arm, (r) => r.client.frames)),
        fmtInt(m(arm, (r) => r.client.bytes)),
        // Per delivered message: a dropped message costs next to nothing and would flatter the arm.
        m(arm, (r) => (r.server.cpuSeconds / r.client.received) * 1e6).toFixed(3),
        m(arm, (r) => r.client.p50).toFixed(1),
        m(arm, (r) => r.client.p99).toFixed(1),
        fmtMiB(m(arm, (r) => r.server.rssPeak - r.server.rssStart)),
        fmtInt(Math.max(...armRuns.map((r) => r.undelivered))),
        fmtInt(Math.max(...armRuns.map((r) => r.client.outOfOrder))),
        `${Math.round(m(arm, (r) => r.clientBusy) * 100)} %`,
        '',
      ]
        .join(' | ')
        .trim(),
    );
  }

  const outboxArms = SELECTED.filter((arm) => arm.startsWith('outbox'));
  if (outboxArms.length > 0) {
    console.log('\n`WsOutbox.stats()` after `stop()`, every round:\n');
    console.log(
      '| arm | round | accepted | delivered | dropped | failed | received by client ' +
        '| `ws.bufferedAmount` at the first drop |',
    );
    console.log('| --- |' + ' ---: |'.repeat(7));
    for (const arm of outboxArms) {
      runs.get(arm)!.forEach((run, i) => {
        const s = run.server.outboxStats!;
        console.log(
          `| ${ARM_LABELS[arm]} | ${i + 1} | ${fmtInt(s.accepted)} | ${fmtInt(s.delivered)} | ` +
            `${fmtInt(s.dropped)} | ${fmtInt(s.failed)} | ${fmtInt(run.client.received)} | ` +
            `${run.server.bufferedAtFirstDrop === undefined ? '' : fmtInt(run.server.bufferedAtFirstDrop)} |`,
        );
      });
    }
  }

  const rate = (arm: ArmName) => (runs.has(arm) ? m(arm, (r) => r.rate) : NaN);
  const worst = (arm: ArmName) =>
    runs.has(arm) ? Math.max(...runs.get(arm)!.map((r) => r.undelivered)) : NaN;
  // Server CPU per delivered message: what the code costs, much less at the mercy of the
  // machine than msgs/s (which also waits on the client process).
  const cpuPerMessage = (arm: ArmName) =>
    runs.has(arm) ? m(arm, (r) => r.server.cpuSeconds / r.client.received) : NaN;
  const overFloor = (arm: ArmName) => cpuPerMessage(arm) / cpuPerMessage('floor');
  const targets: Target[] = [
    [
      'server CPU per delivered message, WsOutbox (compression off) ÷ floor',
      overFloor('outbox-nocompress'),
      '≤ 1.15',
      overFloor('outbox-nocompress') <= 1.15,
    ],
    [
      'server CPU per delivered message, WsOutbox (compression off, schema) ÷ floor',
      overFloor('outbox-schema'),
      '≤ 0.9',
      overFloor('outbox-schema') <= 0.9,
    ],
    [
      'WsOutbox (defaults) ÷ naive, msgs/s',
      rate('outbox') / rate('naive'),
      '≥ 8',
      rate('outbox') / rate('naive') >= 8,
    ],
    ...ARMS.filter((arm) => arm.startsWith('outbox') && runs.has(arm)).map(
      (arm): [string, number, string, boolean] => [
        `not delivered, ${ARM_LABELS[arm]}, worst round`,
        worst(arm),
        '0',
        worst(arm) === 0,
      ],
    ),
  ];
  printTargets(targets);

  const cpuRatios: Array<[string, number]> = [
    ['naive ÷ WsOutbox (defaults)', cpuPerMessage('naive') / cpuPerMessage('outbox')],
    ['naive ÷ floor', cpuPerMessage('naive') / cpuPerMessage('floor')],
    ['floor ÷ naive, msgs/s', rate('floor') / rate('naive')],
  ];
  console.log('\n| for context | ratio |');
  console.log('| --- | ---: |');
  for (const [name, value] of cpuRatios) {
    console.log(`| ${name} | ${Number.isNaN(value) ? 'n/a' : value.toFixed(2)} |`);
  }
}

function exampleBytes(): number {
  return JSON.stringify({
    type: 'tick',
    seq: 123_456,
    ts: performance.timeOrigin + performance.now(),
    text: TICK_TEXT,
  }).length;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
