/**
 * The demo under abuse: probes a hostile client could run while staying inside every stated
 * limit (the rate limit, 64 KiB frames, 8 operations per connection), each against a fresh demo
 * server (`examples/server.ts`, started here on 127.0.0.1 and a free port), each with its figure
 * and its target. Prints a Markdown table; exits 1 when a target is missed.
 *
 *   npm run abuse
 *   ABUSE_PROBES=search,sigterm npm run abuse
 *
 * Environment: ABUSE_PROBES (chat64k,chatMax,preview,search,controls,sigterm), ABUSE_SECONDS
 * (40: the chat floods and the controls), MEMORY_CORPUS_SIZE (the demo's, 500,000 by default). Bounded: every probe has a
 * deadline, and every server is stopped (SIGKILL if it will not go).
 *
 * Not a test: timings depend on the machine and its load, which the table's header states.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { DemoClient, freshChat, startDemo } from './lib/demoProcess.js';
import type { DemoProcess, Reply } from './lib/demoProcess.js';
import { envInt, fmtInt, fmtMiB, median, MiB } from './lib/stats.js';

const PROBES = (
  process.env.ABUSE_PROBES ?? 'chat64k,chatMax,preview,search,controls,sigterm'
).split(',');
const SECONDS = envInt('ABUSE_SECONDS', 40);
const DEMO_ENV: Record<string, string> = process.env.MEMORY_CORPUS_SIZE
  ? { MEMORY_CORPUS_SIZE: process.env.MEMORY_CORPUS_SIZE }
  : {};

/** One line of the table. */
interface Row {
  probe: string;
  load: string;
  figure: string;
  target: string;
  met: boolean;
}

const rows: Row[] = [];

/** Resident memory of a process, bytes: /proc when there is one, else the demo's /metrics. */
async function rssOf(demo: DemoProcess): Promise<number> {
  try {
    const status = readFileSync(`/proc/${demo.proc.pid}/status`, 'utf8');
    const kib = /VmRSS:\s+(\d+) kB/.exec(status);
    if (kib) return Number(kib[1]) * 1024;
  } catch {
    // not Linux
  }
  return demo.metric('process_resident_memory_bytes');
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `work` with a demo of its own, stopped afterwards whatever happens. */
async function withDemo<T>(work: (demo: DemoProcess) => Promise<T>): Promise<T> {
  const demo = await startDemo(DEMO_ENV);
  try {
    return await work(demo);
  } finally {
    await demo.stop();
  }
}

/**
 * N connections that each send `frame(i)` and the next one as soon as the previous is answered
 * (acked or refused), for `seconds`; RSS sampled every second, a fresh client's chat timed every
 * 5 s.
 */
async function chatFlood(probe: string, connections: number, text: string, what: string) {
  await withDemo(async (demo) => {
    await delay(2_000); // let start-up garbage go
    const baseline = await rssOf(demo);
    let peak = baseline;
    const counts = { sent: 0, acked: 0, deltas: 0, refused: new Map<string, number>() };
    const clients = await Promise.all(
      Array.from({ length: connections }, () => DemoClient.open(demo.wsUrl)),
    );
    let running = true;
    const payload = JSON.stringify({ text, agent_id: 'a' });
    const sendNext = (client: DemoClient) => {
      if (!running) return;
      counts.sent++;
      client.send(`{"type":"chat.message","id":"c${counts.sent}","payload":${payload}}`);
    };
    for (const client of clients) {
      client.onReply = (reply: Reply) => {
        if (reply.type === 'chat.delta') counts.deltas++;
        else if (reply.type === 'chat.ack') {
          counts.acked++;
          sendNext(client);
        } else if (reply.type === 'error') {
          const code = reply.code ?? '?';
          counts.refused.set(code, (counts.refused.get(code) ?? 0) + 1);
          sendNext(client);
        }
      };
      sendNext(client);
    }
    const fresh: number[] = [];
    const refusedFresh: string[] = [];
    const started = performance.now();
    let lastFresh = started;
    while (performance.now() - started < SECONDS * 1000) {
      await delay(1_000);
      peak = Math.max(peak, await rssOf(demo));
      if (performance.now() - lastFresh >= 5_000) {
        lastFresh = performance.now();
        const chat = await freshChat(demo.wsUrl, 30_000);
        fresh.push(chat.doneMs);
        if (chat.refused) refusedFresh.push(chat.refused);
      }
    }
    running = false;
    for (const client of clients) client.close();
    const growth = peak - baseline;
    const worstFresh = Math.max(...fresh);
    const refused = [...counts.refused].map(([code, n]) => `${code} ${fmtInt(n)}`).join(', ');
    const load = `${connections} conns × ${what}, ${SECONDS} s`;
    rows.push({
      probe,
      load,
      figure:
        `RSS +${fmtMiB(growth)} MiB (peak ${fmtMiB(peak)}); ${fmtInt(counts.sent)} sent, ` +
        `${fmtInt(counts.acked)} acked, ${fmtInt(counts.deltas)} deltas; refused: ${refused || 'none'}`,
      target: 'RSS growth < 400 MiB',
      met: growth < 400 * MiB,
    });
    rows.push({
      probe,
      load,
      figure:
        `fresh client's chat done in ${fmtMs(median(fresh))} median, ${fmtMs(worstFresh)} worst ` +
        `(${fresh.length} tries${refusedFresh.length ? `, refused: ${refusedFresh.join(', ')}` : ''})`,
      target: 'fresh chat done < 3 s',
      met: worstFresh < 3_000,
    });
  });
}

/**
 * A thread filled by chats of 1,000 characters of short sentences (what a hostile client can
 * store), then 4 compress previews of it at once while a fresh client's chat ack is timed again
 * and again until they end.
 */
async function previews() {
  await withDemo(async (demo) => {
    const fillers = 25;
    const chatsEach = 16; // within a connection's 4,096 words in flight (250 each)
    const message = 'Ok. '.repeat(250);
    const clients = await Promise.all(
      Array.from({ length: fillers }, () => DemoClient.open(`${demo.wsUrl}?thread_id=filled`)),
    );
    await Promise.all(
      clients.map(async (client, c) => {
        const acks = Array.from({ length: chatsEach }, (_, i) =>
          client.next((r) => r.message_id === `f${c}-${i}` || r.id === `f${c}-${i}`, 60_000),
        );
        for (let i = 0; i < chatsEach; i++) {
          client.send({ type: 'chat.message', id: `f${c}-${i}`, payload: { text: message } });
        }
        await Promise.all(acks);
      }),
    );
    // Kept at receipt; leaving stops their replies, so only the previews load the server now.
    for (const client of clients) client.close();
    for (let i = 0; i < 100 && (await demo.metric('demo_chat_replies_streaming')) > 0; i++) {
      await delay(100);
    }
    const stored = await demo.metric('demo_memory_documents');
    const previewers = await Promise.all([0, 1, 2, 3].map(() => DemoClient.open(demo.wsUrl)));
    const started = performance.now();
    const ends = previewers.map((client, i) =>
      client
        .next(
          (r) => r.id === `p${i}` && (r.type.endsWith('.complete') || r.type === 'error'),
          120_000,
        )
        .then((r) => ({
          ms: performance.now() - started,
          outcome: r.type === 'error' ? r.code : 'complete',
        })),
    );
    previewers.forEach((client, i) =>
      client.send({
        type: 'memory_compress_preview',
        id: `p${i}`,
        data: { thread_id: 'filled', max_sentences: 50 },
      }),
    );
    let finished = false;
    const all = Promise.all(ends).finally(() => (finished = true));
    const acks: number[] = [];
    do {
      acks.push((await freshChat(demo.wsUrl, 30_000)).ackMs);
    } while (!finished && performance.now() - started < 120_000);
    const results = await all;
    for (const client of previewers) client.close();
    const worst = Math.max(...acks);
    rows.push({
      probe: 'compress preview',
      load: `${fmtInt(fillers * chatsEach)} chats of 250 sentences in one thread (${fmtInt(stored)} memories), 4 previews at once`,
      figure:
        `previews: ${results.map((r) => `${r.outcome} ${fmtMs(r.ms)}`).join(', ')}; ` +
        `fresh chat ack ${fmtMs(median(acks))} median, ${fmtMs(worst)} worst (${acks.length} tries)`,
      target: 'fresh chat ack < 1 s',
      met: worst < 1_000 && results.every((r) => r.outcome === 'complete'),
    });
  });
}

/** 50 connections × 8 searches at once, a fresh client's chat ack timed until they all end. */
async function searches() {
  await withDemo(async (demo) => {
    const connections = 50;
    const each = 8;
    const clients = await Promise.all(
      Array.from({ length: connections }, () => DemoClient.open(demo.wsUrl)),
    );
    const cpuBefore = await demo.metric('process_cpu_seconds_total');
    const started = performance.now();
    const outcomes = new Map<string, number>();
    const completedAt: number[] = [];
    const ends = clients.flatMap((client, c) =>
      Array.from({ length: each }, (_, i) =>
        client
          .next(
            (r) =>
              r.id === `s${c}-${i}` && (r.type === 'memory_search.complete' || r.type === 'error'),
            180_000,
          )
          .then(
            (r) => {
              const outcome = r.type === 'error' ? (r.code ?? 'error') : 'complete';
              outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
              if (outcome === 'complete') completedAt.push(performance.now() - started);
            },
            () => outcomes.set('no answer', (outcomes.get('no answer') ?? 0) + 1),
          ),
      ),
    );
    clients.forEach((client, c) => {
      for (let i = 0; i < each; i++) {
        client.send({
          type: 'memory_search',
          id: `s${c}-${i}`,
          data: { query: 'saffron risotto tuesday', limit: 10 },
        });
      }
    });
    let finished = false;
    const all = Promise.all(ends).finally(() => (finished = true));
    const acks: number[] = [];
    do {
      acks.push((await freshChat(demo.wsUrl, 30_000)).ackMs);
    } while (!finished && performance.now() - started < 180_000);
    await all;
    const wall = performance.now() - started;
    const cpu = (await demo.metric('process_cpu_seconds_total')) - cpuBefore;
    for (const client of clients) client.close();
    const worst = Math.max(...acks);
    const summary = [...outcomes].map(([o, n]) => `${o} ${n}`).join(', ');
    rows.push({
      probe: 'search overload',
      load: `${connections} conns × ${each} searches (3 terms) at once`,
      figure:
        `${summary}; completed by ${fmtMs(Math.max(0, ...completedAt))}, all answered in ${fmtMs(wall)}, ` +
        `${cpu.toFixed(1)} CPU-s; fresh chat ack ${fmtMs(median(acks))} median, ${fmtMs(worst)} worst (${acks.length} tries)`,
      target: 'fresh chat ack < 500 ms, searches completing',
      met: worst < 500 && (outcomes.get('complete') ?? 0) > 0,
    });
  });
}

/** SIGTERM with a half-sent HTTP request and a WebSocket client open: time to exit. */
async function sigterm() {
  const demo = await startDemo(DEMO_ENV);
  try {
    const client = await DemoClient.open(demo.wsUrl);
    const socket = connect(Number(new URL(demo.url).port), '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    // Time for the server to read it: this probe times the exit, not the request.
    await delay(500);
    const sent = performance.now();
    demo.proc.kill('SIGTERM');
    const deadline = delay(30_000).then(() => undefined);
    const exit = await Promise.race([demo.exited, deadline]);
    socket.destroy();
    client.close();
    const ms = exit ? exit.at - sent : Infinity;
    rows.push({
      probe: 'SIGTERM',
      load: 'one half-sent HTTP request and one WebSocket client open',
      figure: exit
        ? `exited in ${fmtMs(ms)} (code ${exit.code ?? exit.signal})`
        : 'still running after 30 s',
      target: 'exit < 10 s',
      met: ms < 10_000,
    });
  } finally {
    await demo.stop(1_000);
  }
}

/**
 * The page's controls, used as a hostile client would: connections that each name a session,
 * follow a room, stay slow readers (renewed as soon as they are released), burst as often as
 * their rate allows and post to the room, for `SECONDS`; RSS sampled every second, a fresh
 * client's chat timed every 5 s.
 */
async function controls() {
  await withDemo(async (demo) => {
    await delay(2_000);
    const baseline = await rssOf(demo);
    let peak = baseline;
    const connections = 50;
    const counts = { bursts: 0, posts: 0 };
    const clients = await Promise.all(
      Array.from({ length: connections }, (_, i) =>
        DemoClient.open(`${demo.wsUrl}?session=abuse-controls-${String(i).padStart(8, '0')}`),
      ),
    );
    for (const client of clients) {
      // Released after 60 s: slow again at once.
      client.onReply = (reply: Reply) => {
        if (reply.type === 'slow_reader') client.send({ type: 'slow_reader', on: true });
      };
      client.send({ type: 'subscribe', topic: 'room:abuse' });
      client.send({ type: 'slow_reader', on: true });
    }
    const fresh: number[] = [];
    const started = performance.now();
    let lastFresh = started;
    let round = 0;
    while (performance.now() - started < SECONDS * 1000) {
      round++;
      for (const [i, client] of clients.entries()) {
        client.send({ type: 'burst', id: `b${round}`, data: { count: 20_000 } });
        counts.bursts++;
        client.send({
          type: 'publish',
          topic: 'room:abuse',
          data: { from: i, text: 'x'.repeat(1_000) },
        });
        counts.posts++;
      }
      await delay(1_000);
      peak = Math.max(peak, await rssOf(demo));
      if (performance.now() - lastFresh >= 5_000) {
        lastFresh = performance.now();
        fresh.push((await freshChat(demo.wsUrl, 30_000)).doneMs);
      }
    }
    // What the server did, from its metrics: its answers are held by the slow readers' links.
    const bursts = await demo.metric('ws_outbox_operations_total', {
      operation: 'burst',
      outcome: 'complete',
    });
    const busy = await demo.metric('ws_outbox_rejected_messages_total', { code: 'busy' });
    const limited = await demo.metric('ws_outbox_rejected_messages_total', {
      code: 'rate_limited',
    });
    const dropped = await demo.metric('ws_outbox_dropped_messages_total');
    for (const client of clients) client.close();
    const growth = peak - baseline;
    const worstFresh = Math.max(...fresh);
    const refused = `busy ${fmtInt(busy)}, rate_limited ${fmtInt(limited)}`;
    const load = `${connections} slow readers × (a burst of 20,000 + a 1 kB post) a second, ${SECONDS} s`;
    rows.push({
      probe: 'controls',
      load,
      figure:
        `RSS +${fmtMiB(growth)} MiB (peak ${fmtMiB(peak)}); ${fmtInt(counts.bursts)} bursts and ` +
        `${fmtInt(counts.posts)} posts asked, ${fmtInt(bursts)} bursts run, ` +
        `${fmtInt(dropped)} messages dropped; refused: ${refused}`,
      target: 'RSS growth < 400 MiB',
      met: growth < 400 * MiB,
    });
    rows.push({
      probe: 'controls',
      load,
      figure: `fresh client's chat done in ${fmtMs(median(fresh))} median, ${fmtMs(worstFresh)} worst (${fresh.length} tries)`,
      target: 'fresh chat done < 3 s',
      met: worstFresh < 3_000,
    });
  });
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

async function main(): Promise<void> {
  const loadBefore = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  const startedAt = new Date().toISOString();
  const probes: Record<string, () => Promise<void>> = {
    chat64k: () =>
      chatFlood('chat flood 64 KiB', 30, 'a '.repeat(32_700), '64 KiB chats (32,700 words)'),
    chatMax: () =>
      chatFlood(
        'chat flood, largest accepted',
        30,
        'abcdefghijklmno '.repeat(1_000),
        '16,000-character chats (1,000 words)',
      ),
    preview: previews,
    search: searches,
    controls,
    sigterm,
  };
  for (const name of PROBES) {
    const probe = probes[name];
    if (!probe) throw new Error(`unknown probe ${name} in ABUSE_PROBES`);
    process.stderr.write(`abuse: ${name}…\n`);
    await probe();
  }
  const loadAfter = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  console.log(
    `\n${startedAt}; ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}; ` +
      `load average ${loadBefore} before, ${loadAfter} after\n`,
  );
  console.log('| probe | load | figure | target | met |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const row of rows) {
    console.log(
      `| ${row.probe} | ${row.load} | ${row.figure} | ${row.target} | ${row.met ? 'yes' : '**no**'} |`,
    );
  }
  if (rows.some((row) => !row.met)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
