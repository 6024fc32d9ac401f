/**
 * Many nodes on one Redis: ws-outbox's topics on a `RedisTopicStore` against socket.io 4 with
 * `@socket.io/redis-adapter`, with the same subscribers and the same publish rate. Three node
 * processes and one `redis-server` (started here, on a free port, no persistence), the
 * subscribers in one more process; arms alternated over rounds, medians reported.
 *
 *   npm run bench:cluster
 *   SUBSCRIBERS=60 RATE=300 DURATION_MS=2000 WARMUP_MS=500 ROUNDS=1 APPENDS=20000 npm run bench:cluster
 *
 * Environment: SUBSCRIBERS (300: subscriber i on node i % 3, in room ⌊i / 3⌋ % ROOMS, so that
 * every room has subscribers on every node), ROOMS (3), RATE (600 publications/s, all nodes
 * together, each node a third, rooms in turn: 200 per room per second, about 5 per room in
 * each 25 ms coalescing window),
 * DURATION_MS (10,000, the measured phase), WARMUP_MS (2,000), ROUNDS (3), APPENDS (200,000:
 * publications appended as fast as one node's store takes them), KILL (1; 0 skips the kill
 * phase), KILL_PHASE_MS (4,000; a node is SIGKILLed a quarter in), ARMS (ws-outbox,socket.io),
 * CPU_PROF_DIR (write a V8 CPU profile of every node that exits by itself there), LIBRARY
 * (`sources` to have the nodes run the TypeScript sources through tsx instead of the library
 * compiled as users run it).
 *
 * Reports, per arm: deliveries per second and per server CPU-second (the three nodes' user +
 * system time; with Redis's too), publish-to-receive latency, Redis commands per publication
 * (INFO commandstats, which counts the commands a script runs too), publications missed or
 * repeated; for ws-outbox the appends per second with the publisher's coalescing; and after a node is killed, how long its subscribers take
 * from their reconnect to caught up (socket.io: to their next publication, having missed those
 * published meanwhile).
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { startChild } from './lib/child.js';
import type { Child } from './lib/child.js';
import { CLUSTER_ARMS } from './lib/clusterProtocol.js';
import type {
  ClientPhase,
  ClusterArm,
  NodeAppends,
  NodeCpu,
  NodeListening,
  NodeStopped,
} from './lib/clusterProtocol.js';
import { compileLibrary, LIBRARY_ENV, removeLibrary } from './lib/library.js';
import { RedisServer } from '../spec/helpers/redisServer.js';
import { envInt, fmtInt, printTargets, median } from './lib/stats.js';
import type { Target } from './lib/stats.js';

const SUBSCRIBERS = envInt('SUBSCRIBERS', 300);
const ROOMS = envInt('ROOMS', 3);
const RATE = envInt('RATE', 600);
const DURATION_MS = envInt('DURATION_MS', 10_000);
const WARMUP_MS = process.env.WARMUP_MS === '0' ? 0 : envInt('WARMUP_MS', 2_000);
const ROUNDS = envInt('ROUNDS', 3);
const APPENDS = envInt('APPENDS', 200_000);
const KILL = process.env.KILL !== '0';
const KILL_PHASE_MS = envInt('KILL_PHASE_MS', 4_000);
const NODES = 3;
const SELECTED: ClusterArm[] = process.env.ARMS
  ? process.env.ARMS.split(',').map((name) => {
      if (!CLUSTER_ARMS.includes(name as ClusterArm))
        throw new Error(`unknown arm ${name} in ARMS`);
      return name as ClusterArm;
    })
  : [...CLUSTER_ARMS];
/** Bound on any one wait, so that a stuck arm fails the run instead of hanging it. */
const TIMEOUT_MS = 180_000;

type Redis = ReturnType<typeof createClient>;

interface Run {
  delivered: number;
  published: number;
  seconds: number;
  nodeCpu: number;
  redisCpu: number;
  /** Redis commands, those run by scripts included. */
  commands: number;
  /** Of which script calls. */
  scriptCalls: number;
  measured: ClientPhase;
  publishErrors: number;
  appends?: NodeAppends;
  kill?: ClientPhase;
}

const nodeScript = join(__dirname, 'lib', 'clusterNode.ts');
const clientScript = join(__dirname, 'lib', 'clusterClient.ts');
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls since Redis started: of every command but INFO (the bench's own), those a script runs
 * included (Redis counts them too); and of scripts (EVALSHA, EVAL).
 */
async function commandCalls(redis: Redis): Promise<{ all: number; scripts: number }> {
  const info = await redis.info('commandstats');
  let all = 0;
  let scripts = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] === 'info') continue;
    all += Number(match[2]);
    if (match[1] === 'evalsha' || match[1] === 'eval') scripts += Number(match[2]);
  }
  return { all, scripts };
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_sys') + field('used_cpu_user');
}

/**
 * One phase of publishing: every node at its share of `RATE` for `ms`, then stopped; resolves
 * once the subscribers have every publication of the nodes still alive.
 */
async function publishPhase(
  nodes: Child[],
  client: Child,
  alive: boolean[],
  ms: number,
  during?: (elapsed: number) => void,
): Promise<{ stopped: NodeStopped[]; drained: ClientPhase }> {
  client.send({ type: 'phase' });
  for (const node of nodes) node.send({ type: 'publish', rate: RATE / NODES });
  if (during) during(0);
  await wait(ms);
  const stopped: NodeStopped[] = [];
  for (let index = 0; index < nodes.length; index++) {
    if (!alive[index]) continue;
    nodes[index]!.send({ type: 'stop' });
    stopped.push(await nodes[index]!.next<NodeStopped>('stopped', TIMEOUT_MS));
  }
  const last = nodes.map((_, index) => stopped.find((s) => s.node === index)?.last ?? null);
  client.send({ type: 'drain', last });
  const drained = await client.next<ClientPhase>('drained', TIMEOUT_MS);
  // NaN (a percentile of nothing) comes over IPC as null.
  for (const key of ['p50', 'p99', 'resumeP50', 'resumeP99'] as const) drained[key] ??= NaN;
  if (drained.timedOut) {
    process.stderr.write(
      `  (${drained.undrained} subscribers did not get everything within the drain bound)\n`,
    );
  }
  return { stopped, drained };
}

async function runArm(arm: ClusterArm, redis: Redis, redisUrl: string): Promise<Run> {
  await redis.flushAll();
  const children: Child[] = [];
  try {
    const nodes = Array.from({ length: NODES }, (_, index) =>
      startChild(
        `node ${index} (${arm})`,
        nodeScript,
        [arm, redisUrl, String(index), String(ROOMS)],
        process.env.CPU_PROF_DIR
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF_DIR}`]
          : [],
      ),
    );
    children.push(...nodes);
    const ports = await Promise.all(
      nodes.map(async (node) => (await node.next<NodeListening>('listening', 60_000)).port),
    );
    const client = startChild(`subscribers (${arm})`, clientScript, [
      arm,
      String(ROOMS),
      String(SUBSCRIBERS),
      ports.map((port) => `ws://127.0.0.1:${port}`).join(','),
    ]);
    children.push(client);
    await client.next('connected', TIMEOUT_MS);
    const alive = nodes.map(() => true);

    if (WARMUP_MS > 0) await publishPhase(nodes, client, alive, WARMUP_MS);

    const commandsBefore = await commandCalls(redis);
    const redisCpuBefore = await redisCpuSeconds(redis);
    const start = performance.now();
    const { stopped, drained } = await publishPhase(nodes, client, alive, DURATION_MS);
    const seconds = (performance.now() - start) / 1000;
    let nodeCpu = 0;
    for (const node of nodes) {
      node.send({ type: 'cpu' });
      nodeCpu += (await node.next<NodeCpu>('cpu', TIMEOUT_MS)).cpuSeconds;
    }
    const commandsAfter = await commandCalls(redis);
    const run: Run = {
      delivered: drained.received,
      published: stopped.reduce((sum, s) => sum + s.published, 0),
      seconds,
      nodeCpu,
      redisCpu: (await redisCpuSeconds(redis)) - redisCpuBefore,
      commands: commandsAfter.all - commandsBefore.all,
      scriptCalls: commandsAfter.scripts - commandsBefore.scripts,
      measured: drained,
      publishErrors: stopped.reduce((sum, s) => sum + s.publishErrors, 0),
    };

    if (arm === 'ws-outbox') {
      nodes[0]!.send({ type: 'appends', count: APPENDS });
      run.appends = await nodes[0]!.next<NodeAppends>('appended', TIMEOUT_MS);
    }

    if (KILL) {
      const victim = 0;
      const { drained: afterKill } = await publishPhase(nodes, client, alive, KILL_PHASE_MS, () => {
        setTimeout(() => {
          alive[victim] = false;
          void nodes[victim]!.kill();
        }, KILL_PHASE_MS / 4);
      });
      run.kill = afterKill;
    }

    for (const child of children) child.send({ type: 'exit' });
    await Promise.all(children.map((child) => child.stop()));
    return run;
  } catch (error) {
    await Promise.all(children.map((child) => child.kill()));
    throw error;
  }
}

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  // The nodes load the library compiled, as users run it (see lib/library.ts).
  if (process.env.LIBRARY !== 'sources') {
    const dir = await compileLibrary();
    process.env[LIBRARY_ENV] = dir;
    process.on('exit', () => removeLibrary(dir));
  }
  // The tests' own: a redis-server on a free port, with no persistence.
  const server = await RedisServer.start();
  const redis: Redis = createClient({ url: server.url });
  redis.on('error', () => {});
  await redis.connect();
  const runs = new Map<ClusterArm, Run[]>(SELECTED.map((arm) => [arm, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < SELECTED.length; k++) {
        const arm = SELECTED[(round + k) % SELECTED.length]!;
        const run = await runArm(arm, redis, server.url);
        runs.get(arm)!.push(run);
        process.stderr.write(
          `round ${round + 1}/${ROUNDS} ${arm}: ${fmtInt(run.delivered / run.seconds)} deliveries/s, ` +
            `${fmtInt(run.delivered / run.nodeCpu)} per node CPU-s, p99 ${run.measured.p99.toFixed(1)} ms, ` +
            `${(run.commands / run.published).toFixed(2)} Redis commands per publication` +
            (run.kill
              ? `; kill: ${run.kill.caughtUp}/${run.kill.reconnected} caught up, p99 ${run.kill.resumeP99.toFixed(1)} ms, ${run.kill.missed} missed`
              : '') +
            '\n',
        );
      }
    }
  } finally {
    redis.destroy();
    await server.stop();
  }
  report(runs, loadAtStart);
}

function report(runs: Map<ClusterArm, Run[]>, loadAtStart: number[]): void {
  const m = (arm: ClusterArm, pick: (run: Run) => number) =>
    runs.has(arm) ? median(runs.get(arm)!.map(pick)) : NaN;
  const cpu = cpus();
  console.log(
    `\n${NODES} nodes, one Redis, ${fmtInt(SUBSCRIBERS)} subscribers in ${ROOMS} rooms ` +
      `(about ${fmtInt(SUBSCRIBERS / ROOMS)} per room), ${fmtInt(RATE)} publications/s for ` +
      `${fmtInt(DURATION_MS)} ms after ${fmtInt(WARMUP_MS)} ms of warm-up, ${ROUNDS} rounds, medians. ` +
      `${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, node ${process.version}, load average ` +
      `${loadAtStart.map((l) => l.toFixed(2)).join(' ')} at start, ` +
      `${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at end.\n`,
  );
  console.log(
    '| arm | deliveries/s | per node CPU-s | per CPU-s with Redis | p50 ms | p99 ms | Redis commands / publication | of which script calls | missed | repeated | publish errors |',
  );
  console.log('| --- |' + ' ---: |'.repeat(10));
  for (const arm of SELECTED) {
    const all = runs.get(arm)!;
    console.log(
      [
        '',
        arm === 'socket.io' ? 'socket.io 4 + redis-adapter' : 'ws-outbox + RedisTopicStore',
        fmtInt(m(arm, (r) => r.delivered / r.seconds)),
        fmtInt(m(arm, (r) => r.delivered / r.nodeCpu)),
        fmtInt(m(arm, (r) => r.delivered / (r.nodeCpu + r.redisCpu))),
        m(arm, (r) => r.measured.p50).toFixed(1),
        m(arm, (r) => r.measured.p99).toFixed(1),
        m(arm, (r) => r.commands / r.published).toFixed(2),
        m(arm, (r) => r.scriptCalls / r.published).toFixed(2),
        fmtInt(Math.max(...all.map((r) => r.measured.missed))),
        fmtInt(Math.max(...all.map((r) => r.measured.duplicates))),
        fmtInt(Math.max(...all.map((r) => r.publishErrors))),
        '',
      ]
        .join(' | ')
        .trim(),
    );
  }

  const outbox = runs.get('ws-outbox');
  if (outbox?.[0]?.appends) {
    console.log(
      `\nAppends with the publisher's coalescing (one node, ${fmtInt(APPENDS)} publications to 10 topics, ` +
        'as fast as the store takes them):\n',
    );
    console.log('| publications/s | publications per script call | node CPU s |');
    console.log('| ---: | ---: | ---: |');
    console.log(
      `| ${fmtInt(m('ws-outbox', (r) => r.appends!.count / r.appends!.seconds))} | ` +
        `${m('ws-outbox', (r) => r.appends!.count / r.appends!.scriptCalls).toFixed(0)} | ` +
        `${m('ws-outbox', (r) => r.appends!.cpuSeconds).toFixed(2)} |`,
    );
  }

  if (KILL) {
    console.log(
      `\nA node SIGKILLed ${fmtInt(KILL_PHASE_MS / 4)} ms into a ${fmtInt(KILL_PHASE_MS)} ms phase; ` +
        'its subscribers reconnect to the next node at once:\n',
    );
    console.log(
      '| arm | reconnected | caught up | reconnect → caught up p50 ms | p99 ms | publications missed | repeated | told recovered: false | short at the drain bound |',
    );
    console.log('| --- |' + ' ---: |'.repeat(8));
    for (const arm of SELECTED) {
      const all = runs.get(arm)!;
      console.log(
        [
          '',
          arm === 'socket.io' ? 'socket.io (to its next publication)' : 'ws-outbox (replay done)',
          fmtInt(m(arm, (r) => r.kill!.reconnected)),
          fmtInt(m(arm, (r) => r.kill!.caughtUp)),
          m(arm, (r) => r.kill!.resumeP50).toFixed(1),
          m(arm, (r) => r.kill!.resumeP99).toFixed(1),
          fmtInt(Math.max(...all.map((r) => r.kill!.missed))),
          fmtInt(Math.max(...all.map((r) => r.kill!.duplicates))),
          fmtInt(Math.max(...all.map((r) => r.kill!.notRecovered))),
          fmtInt(Math.max(...all.map((r) => r.kill!.undrained))),
          '',
        ]
          .join(' | ')
          .trim(),
      );
    }
  }

  const perCpu = (arm: ClusterArm) => m(arm, (r) => r.delivered / r.nodeCpu);
  const targets: Target[] = [
    [
      'deliveries per node CPU-second, ws-outbox ÷ socket.io',
      perCpu('ws-outbox') / perCpu('socket.io'),
      '≥ 3',
      perCpu('ws-outbox') / perCpu('socket.io') >= 3,
    ],
    [
      'p99 publish-to-receive, ws-outbox, ms',
      m('ws-outbox', (r) => r.measured.p99),
      '≤ 80',
      m('ws-outbox', (r) => r.measured.p99) <= 80,
    ],
    [
      'publications appended per second, ws-outbox',
      m('ws-outbox', (r) => (r.appends ? r.appends.count / r.appends.seconds : NaN)),
      '≥ 50,000',
      m('ws-outbox', (r) => (r.appends ? r.appends.count / r.appends.seconds : NaN)) >= 50_000,
    ],
    [
      'resume after a node kill, reconnect → caught up p99, ms',
      KILL ? m('ws-outbox', (r) => r.kill!.resumeP99) : NaN,
      '≤ 100',
      KILL && m('ws-outbox', (r) => r.kill!.resumeP99) <= 100,
    ],
    [
      'publications missed after a node kill, ws-outbox',
      KILL && runs.has('ws-outbox')
        ? Math.max(...runs.get('ws-outbox')!.map((r) => r.kill!.missed))
        : NaN,
      '0',
      KILL &&
        runs.has('ws-outbox') &&
        Math.max(...runs.get('ws-outbox')!.map((r) => r.kill!.missed)) === 0,
    ],
  ];
  printTargets(targets);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
