/**
 * Fan-out: one publication to many local subscribers, three ways (a naive `ws.send` loop,
 * socket.io 4 rooms, ws-outbox topics), then ws-outbox's resume after a dropped connection.
 * Each arm runs its server in a fresh child process and all of its subscriber sockets in another,
 * so that the server's CPU time is the arm's alone; arms alternate over several rounds, in
 * rotated order, and medians are reported.
 *
 *   npm run bench:fanout                                      # 10 s windows, 3 rounds
 *   DURATION_S=2 WARMUP_S=1 ROUNDS=1 RESUME_REPS=20 npm run bench:fanout   # a quick check
 *
 * Environment (every number a positive integer):
 *   SCENARIOS        one,ten (default both; empty for the resume part alone): `one` is 1 topic
 *                    × SUBSCRIBERS sockets × RATE publications/s; `ten` is TOPICS topics ×
 *                    TOPIC_SUBSCRIBERS sockets each × TOPIC_RATE publications/s per topic.
 *   SUBSCRIBERS 500, RATE 400, TOPICS 10, TOPIC_SUBSCRIBERS 100, TOPIC_RATE 40
 *   DURATION_S 10    the measured window; WARMUP_S 3 of publishing before it, no pause between.
 *   ROUNDS 3, ARMS naive,socket.io,ws-outbox, TICK_MS 5 (the publisher's timer)
 *   DRAIN_MS 30000   how long after the window the client may take to receive everything.
 *   RESUME_REPS 100  repetitions of the resume measurement (RESUME=0 skips it);
 *   RESUME_MISSED 1000 publications missed each time.
 *   CPU_PROF_DIR     write a V8 CPU profile of every fan-out server child there.
 *   OUTBOX_OPTIONS   JSON merged into ws-outbox's outbox options (e.g. '{"coalesceMs":10}'), to
 *                    test a hypothesis; the header says when it is set.
 *   CLIENT           ws-outbox's subscribers: `raw` (default: `ws`, frames decoded and offsets
 *                    checked as `OutboxClient` does) or `outbox` (one `OutboxClient` each).
 *   LIBRARY          `sources` to run the library's TypeScript through tsx in the children;
 *                    by default they load it compiled by esbuild, as users run it compiled.
 *
 * Prints Markdown: a table per scenario, the targets, and the resume latencies.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { startChild } from './lib/child.js';
import type { Child } from './lib/child.js';
import { compileLibrary, LIBRARY_ENV, removeLibrary } from './lib/library.js';
import { FANOUT_ARMS, FANOUT_LABELS } from './lib/fanoutProtocol.js';
import type {
  FanoutArm,
  FanoutClientResult,
  FanoutServerResult,
  Published,
  ResumeResult,
  Scenario,
} from './lib/fanoutProtocol.js';
import { envInt, fmtInt, median, percentileSorted, printTargets } from './lib/stats.js';
import type { Target } from './lib/stats.js';

const SCENARIOS: Record<string, Scenario> = {
  one: {
    name: 'one',
    topics: 1,
    subscribers: envInt('SUBSCRIBERS', 500),
    ratePerTopic: envInt('RATE', 400),
  },
  ten: {
    name: 'ten',
    topics: envInt('TOPICS', 10),
    subscribers: envInt('TOPIC_SUBSCRIBERS', 100),
    ratePerTopic: envInt('TOPIC_RATE', 40),
  },
};
const SELECTED_SCENARIOS = (process.env.SCENARIOS ?? 'one,ten')
  .split(',')
  .filter((name) => name !== '')
  .map((name) => {
    const scenario = SCENARIOS[name];
    if (!scenario) throw new Error(`unknown scenario ${name} in SCENARIOS (one, ten)`);
    return scenario;
  });
const ARMS: FanoutArm[] = process.env.ARMS
  ? process.env.ARMS.split(',').map((name) => {
      if (!FANOUT_ARMS.includes(name as FanoutArm)) throw new Error(`unknown arm ${name} in ARMS`);
      return name as FanoutArm;
    })
  : [...FANOUT_ARMS];
const DURATION_MS = envInt('DURATION_S', 10) * 1000;
const WARMUP_MS = envInt('WARMUP_S', 3) * 1000;
const ROUNDS = envInt('ROUNDS', 3);
const TICK_MS = envInt('TICK_MS', 5);
const DRAIN_MS = envInt('DRAIN_MS', 30_000);
const RESUME = process.env.RESUME !== '0';
const RESUME_REPS = envInt('RESUME_REPS', 100);
const RESUME_MISSED = envInt('RESUME_MISSED', 1_000);
/** Bounds on the steps that do not depend on the window, so a stuck child fails the run. */
const SETUP_TIMEOUT_MS = 120_000;
const REPORT_TIMEOUT_MS = 60_000;

interface Run {
  server: FanoutServerResult;
  client: FanoutClientResult;
  /** Server CPU per delivered publication, µs. */
  cpuPerDelivery: number;
}

const serverScript = join(__dirname, 'lib', 'fanoutServer.ts');
const clientScript = join(__dirname, 'lib', 'fanoutClient.ts');

async function runArm(arm: FanoutArm, scenario: Scenario): Promise<Run> {
  const children: Child[] = [];
  try {
    const server = startChild(
      `server(${arm})`,
      serverScript,
      [arm, String(scenario.topics), String(scenario.ratePerTopic)],
      process.env.CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF_DIR}`] : [],
    );
    children.push(server);
    const { port } = await server.next<{ type: 'listening'; port: number }>('listening', 60_000);
    const client = startChild(`client(${arm})`, clientScript, [
      arm,
      `ws://127.0.0.1:${port}`,
      String(scenario.topics),
      String(scenario.subscribers),
    ]);
    children.push(client);
    await client.next('connected', SETUP_TIMEOUT_MS);

    server.send({ type: 'start', warmupMs: WARMUP_MS, durationMs: DURATION_MS, tickMs: TICK_MS });
    // An arm that cannot keep to the schedule takes longer to publish it all.
    const published = await server.next<Published>(
      'published',
      4 * (WARMUP_MS + DURATION_MS) + SETUP_TIMEOUT_MS,
    );
    client.send({ type: 'expect', perTopic: published.perTopic });
    const delivered = await client
      .next<FanoutClientResult>('delivered', DRAIN_MS)
      .catch((error: Error) => {
        if (!error.message.includes("no 'delivered'")) throw error;
        // Not everything came in time: what did.
        client.send({ type: 'report' });
        return client.next<FanoutClientResult>('delivered', REPORT_TIMEOUT_MS);
      });
    server.send({ type: 'stop' });
    const result = await server.next<FanoutServerResult>('result', REPORT_TIMEOUT_MS);
    for (const child of children) child.send({ type: 'exit' });
    await Promise.all(children.map((child) => child.stop()));
    return {
      server: result,
      client: delivered,
      cpuPerDelivery: (result.cpuSeconds / Math.max(1, delivered.delivered)) * 1e6,
    };
  } catch (error) {
    await Promise.all(children.map((child) => child.kill()));
    throw error;
  }
}

interface Resumed {
  latencies: number[];
  answered: number[];
  wrong: number;
  notRecovered: number;
}

async function runResume(): Promise<Resumed> {
  const children: Child[] = [];
  const topic = 'bench:resume';
  try {
    const server = startChild('resume server', join(__dirname, 'lib', 'fanoutResumeServer.ts'), [
      topic,
      String(RESUME_MISSED),
    ]);
    children.push(server);
    const { port } = await server.next<{ type: 'listening'; port: number }>('listening', 60_000);
    const client = startChild('resume client', join(__dirname, 'lib', 'fanoutResumeClient.ts'), [
      `ws://127.0.0.1:${port}`,
      topic,
      String(RESUME_REPS),
    ]);
    children.push(client);
    await client.next('ready', SETUP_TIMEOUT_MS);
    for (let rep = 1; rep <= RESUME_REPS; rep++) {
      server.send({ type: 'cut' });
      const { n } = await server.next<{ type: 'published'; n: number }>(
        'published',
        SETUP_TIMEOUT_MS,
      );
      client.send({ type: 'go', n });
      await client.next('repetition', SETUP_TIMEOUT_MS);
    }
    const result = await client.next<ResumeResult>('resumed', REPORT_TIMEOUT_MS);
    for (const child of children) child.send({ type: 'exit' });
    await Promise.all(children.map((child) => child.stop()));
    return result;
  } catch (error) {
    await Promise.all(children.map((child) => child.kill()));
    throw error;
  }
}

const loadAtStart = loadavg();
const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const loadNow = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  // The children load the library compiled, as users run it (see lib/library.ts).
  if (process.env.LIBRARY !== 'sources') {
    const dir = await compileLibrary();
    process.env[LIBRARY_ENV] = dir;
    process.on('exit', () => removeLibrary(dir));
  }
  const results = new Map<Scenario, Map<FanoutArm, Run[]>>();
  for (const scenario of SELECTED_SCENARIOS) {
    const runs = new Map<FanoutArm, Run[]>(ARMS.map((arm) => [arm, []]));
    results.set(scenario, runs);
    for (let round = 0; round < ROUNDS; round++) {
      // Rotated, so that no arm always runs first, on a machine not yet busy with the others.
      for (let k = 0; k < ARMS.length; k++) {
        const arm = ARMS[(round + k) % ARMS.length];
        const run = await runArm(arm, scenario);
        runs.get(arm)!.push(run);
        process.stderr.write(
          `${scenario.name} round ${round + 1}/${ROUNDS} ${arm}: ` +
            `${fmt(run.cpuPerDelivery, 2)} µs CPU / delivered, ` +
            `p50 ${fmt(run.client.p50)} ms, p99 ${fmt(run.client.p99)} ms, ` +
            `${fmtInt(run.client.delivered)}/${fmtInt(run.client.expected)} delivered (load ${loadNow()})\n`,
        );
      }
    }
  }
  const resumed = RESUME ? await runResume() : undefined;
  report(results, resumed);
}

function describe(scenario: Scenario): string {
  const perSecond = scenario.topics * scenario.subscribers * scenario.ratePerTopic;
  return (
    `${scenario.topics} topic${scenario.topics === 1 ? '' : 's'} × ${fmtInt(scenario.subscribers)} ` +
    `subscribers × ${fmtInt(scenario.ratePerTopic)} publications/s per topic ` +
    `(${fmtInt(perSecond)} deliveries/s)`
  );
}

function report(results: Map<Scenario, Map<FanoutArm, Run[]>>, resumed?: Resumed): void {
  const cpu = cpus();
  console.log(
    `\nWindows of ${DURATION_MS / 1000} s after ${WARMUP_MS / 1000} s of warm-up, publisher timer ` +
      `${TICK_MS} ms, ${ROUNDS} round${ROUNDS === 1 ? '' : 's'}, arms rotated, medians. ` +
      `${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, node ${process.version}, ` +
      `load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} at start, ${loadNow()} at end. ` +
      (process.env.LIBRARY === 'sources'
        ? 'The library run from its TypeScript sources through tsx (LIBRARY=sources).'
        : 'The library compiled to JavaScript (esbuild, no keepNames), as users run it.') +
      (process.env.OUTBOX_OPTIONS ? ` OUTBOX_OPTIONS=${process.env.OUTBOX_OPTIONS}.` : '') +
      (process.env.CLIENT === 'outbox'
        ? ' ws-outbox subscribers: one `OutboxClient` each.'
        : ' ws-outbox subscribers: bare `ws`, frames decoded and offsets checked.'),
  );
  const targets: Target[] = [];
  for (const [scenario, runs] of results) {
    const m = (arm: FanoutArm, pick: (run: Run) => number) =>
      runs.has(arm) ? median(runs.get(arm)!.map(pick)) : NaN;
    console.log(`\n### ${describe(scenario)}\n`);
    console.log(
      '| arm | server CPU µs / delivered | (min–max) | server CPU, % of a core | p50 ms | p99 ms | max ms ' +
        '| delivered / expected (worst round) | sockets short | out of order | publisher late, max ms ' +
        '| client CPU, % of a core |',
    );
    console.log('| --- |' + ' ---: |'.repeat(11));
    for (const arm of ARMS) {
      const armRuns = runs.get(arm)!;
      const worst = armRuns.reduce((a, b) =>
        b.client.delivered / b.client.expected < a.client.delivered / a.client.expected ? b : a,
      );
      const perDelivery = armRuns.map((r) => r.cpuPerDelivery);
      console.log(
        [
          '',
          FANOUT_LABELS[arm],
          fmt(
            m(arm, (r) => r.cpuPerDelivery),
            2,
          ),
          `${fmt(Math.min(...perDelivery), 2)}–${fmt(Math.max(...perDelivery), 2)}`,
          `${Math.round(m(arm, (r) => r.server.cpuSeconds / r.server.windowSeconds) * 100)} %`,
          fmt(m(arm, (r) => r.client.p50)),
          fmt(m(arm, (r) => r.client.p99)),
          fmt(m(arm, (r) => r.client.max)),
          `${fmtInt(worst.client.delivered)} / ${fmtInt(worst.client.expected)}`,
          fmtInt(Math.max(...armRuns.map((r) => r.client.socketsShort))),
          fmtInt(Math.max(...armRuns.map((r) => r.client.outOfOrder))),
          fmt(Math.max(...armRuns.map((r) => r.server.maxTickLagMs))),
          `${Math.round(m(arm, (r) => r.client.cpuSeconds / r.client.receiveSeconds) * 100)} %`,
          '',
        ]
          .join(' | ')
          .trim(),
      );
    }
    const outboxRuns = runs.get('ws-outbox');
    if (outboxRuns) {
      console.log("\nws-outbox's metrics over the measured window, each round:\n");
      const names = Object.keys(outboxRuns[0].server.counters ?? {});
      console.log(
        `| round | ${names.map((n) => `\`${n}\``).join(' | ')} | publications per shared frame ` +
          '| server CPU µs per frame sent |',
      );
      console.log('| ---: |' + ' ---: |'.repeat(names.length + 2));
      outboxRuns.forEach((run, i) => {
        const c = run.server.counters ?? {};
        const perFrame = c.ws_outbox_topic_publications_total / c.ws_outbox_topic_frames_total;
        const cpuPerFrame = (run.server.cpuSeconds / c.ws_outbox_frames_sent_total) * 1e6;
        console.log(
          `| ${i + 1} | ${names.map((n) => fmtInt(c[n] ?? NaN)).join(' | ')} | ` +
            `${fmt(perFrame)} | ${fmt(cpuPerFrame)} |`,
        );
      });
      const ours = m('ws-outbox', (r) => r.cpuPerDelivery);
      for (const other of ['naive', 'socket.io'] as const) {
        if (!runs.has(other)) continue;
        const ratio = m(other, (r) => r.cpuPerDelivery) / ours;
        targets.push([
          `${scenario.name}: server CPU per delivered, ${other} ÷ ws-outbox`,
          ratio,
          '≥ 3',
          ratio >= 3,
        ]);
      }
      const p99 = m('ws-outbox', (r) => r.client.p99);
      targets.push([`${scenario.name}: ws-outbox p99 ms`, p99, '≤ 60', p99 <= 60]);
      const worstShare = Math.min(...outboxRuns.map((r) => r.client.delivered / r.client.expected));
      targets.push([
        `${scenario.name}: ws-outbox delivered / expected, worst round`,
        worstShare * 100,
        '100 %',
        worstShare === 1,
      ]);
    }
  }

  if (resumed) {
    const sorted = [...resumed.latencies].sort((a, b) => a - b);
    const p99 = percentileSorted(sorted, 99);
    console.log(
      `\n### Resume: reconnect to caught up, ${fmtInt(RESUME_MISSED)} missed publications\n`,
    );
    const toAnswer = [...resumed.answered].sort((x, y) => x - y);
    console.log("| from the reconnect's start to … | repetitions | p50 ms | p99 ms | max ms |");
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const [what, values] of [
      ["the server's `subscribed` (connected, resubscribed with `since`)", toAnswer],
      ['the last missed publication received (caught up)', sorted],
    ] as const) {
      console.log(
        `| ${what} | ${fmtInt(values.length)} | ${fmt(percentileSorted(values, 50))} | ` +
          `${fmt(percentileSorted(values, 99))} | ${fmt(values[values.length - 1])} |`,
      );
    }
    console.log(
      `\nRepetitions whose publications after the reconnect were not exactly the missed ones: ` +
        `${resumed.wrong}; \`recovered: false\`: ${resumed.notRecovered}.`,
    );
    targets.push(['resume: reconnect to caught up, p99 ms', p99, '≤ 50', p99 <= 50]);
    targets.push([
      'resume: repetitions not exact, or not recovered',
      resumed.wrong + resumed.notRecovered,
      '0',
      resumed.wrong + resumed.notRecovered === 0,
    ]);
  }

  printTargets(targets);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
