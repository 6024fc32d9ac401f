/**
 * The demo's memory backend: what it costs to start, what one search costs, and that a
 * cancelled search stops using the CPU.
 *
 *   node --expose-gc --import tsx bench/memory.ts
 *   MEMORY_CORPUS_SIZE=100000 ROUNDS=3 node --expose-gc --import tsx bench/memory.ts
 *
 * Environment: MEMORY_CORPUS_SIZE (the demo's default), ROUNDS (5; medians are reported).
 *
 * Starts the real demo server in this process, with a real ws client on loopback: a search is
 * timed from the client's send to its `memory_search.complete`. After a cancel, the process's
 * CPU time (user + system) is read over the next 200 ms and compared with 200 ms of an idle
 * server and 200 ms of a search left running.
 */
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import WebSocket from 'ws';
import { createDemoServer, DEFAULT_CORPUS_SIZE } from '../examples/demo/app.js';
import { decodeFrame, parseNdjson } from '../operators/index.js';
import { cpuSecondsSince, envInt, fmtInt, forceGc, median, MiB } from './lib/stats.js';

const CORPUS_SIZE = envInt('MEMORY_CORPUS_SIZE', DEFAULT_CORPUS_SIZE);
const ROUNDS = envInt('ROUNDS', 5);
const WINDOW_MS = 200;
const QUERIES = ['saffron', 'saffron risotto tuesday', 'the flaky deployment pipeline for orion'];

interface Reply {
  type: string;
  id?: string;
  data?: unknown;
}

async function main(): Promise<void> {
  forceGc();
  const heapBefore = process.memoryUsage().heapUsed;
  const server = await createDemoServer({
    port: 0,
    host: '127.0.0.1',
    memory: { corpusSize: CORPUS_SIZE },
  });
  forceGc();
  const heapAfter = process.memoryUsage().heapUsed;
  const ws = new WebSocket(server.wsUrl);
  const waiting = new Map<string, (reply: Reply) => void>();
  ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
    const raw = isBinary ? (data as Buffer) : data.toString();
    void decodeFrame(raw).then((text) => {
      for (const reply of parseNdjson(text) as Reply[]) {
        const key = `${reply.id}/${reply.type}`;
        waiting.get(key)?.(reply);
        waiting.delete(key);
      }
    });
  });
  await once(ws, 'open');
  const replyOf = (id: string, type: string) =>
    new Promise<Reply>((resolve) => waiting.set(`${id}/${type}`, resolve));
  let next = 0;

  const search = async (query: string) => {
    const id = `s${next++}`;
    const done = replyOf(id, 'memory_search.complete');
    const start = performance.now();
    const cpu = process.cpuUsage();
    ws.send(JSON.stringify({ type: 'memory_search', id, data: { query, limit: 10 } }));
    await done;
    return { ms: performance.now() - start, cpu: cpuSecondsSince(cpu) };
  };

  /** CPU seconds used by the whole process over the next WINDOW_MS. */
  const cpuOverWindow = async () => {
    const cpu = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    return cpuSecondsSince(cpu);
  };

  await search('warm up the JIT');
  const searches = QUERIES.map((query) => ({ query, ms: [] as number[], cpu: [] as number[] }));
  const idle: number[] = [];
  const running: number[] = [];
  const afterCancel: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const row of searches) {
      const { ms, cpu } = await search(row.query);
      row.ms.push(ms);
      row.cpu.push(cpu);
    }
    idle.push(await cpuOverWindow());
    const id = `c${next++}`;
    const progress = replyOf(id, 'memory_search.progress');
    const cancelled = replyOf(id, 'memory_search.cancelled');
    ws.send(JSON.stringify({ type: 'memory_search', id, data: { query: QUERIES[2] } }));
    await progress;
    running.push(await cpuOverWindow());
    ws.send(JSON.stringify({ type: 'cancel', id }));
    await cancelled;
    afterCancel.push(await cpuOverWindow());
  }
  ws.close();
  await server.close();

  const ms = (values: number[]) => `${fmtInt(median(values))} ms`;
  console.log(
    `## Demo memory backend (${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg()[0].toFixed(2)}, Node ${process.version})\n`,
  );
  console.log(
    `- corpus: ${fmtInt(CORPUS_SIZE)} memories, ${fmtInt(server.memory.index.vocabularySize)} distinct terms`,
  );
  console.log(`- build at start (generate + index): ${fmtInt(server.memoryBuildMs)} ms`);
  console.log(
    `- heap held by the server after GC: ${((heapAfter - heapBefore) / MiB).toFixed(1)} MiB`,
  );
  console.log(`\n| query | terms searched | full search, wall (median of ${ROUNDS}) | CPU |`);
  console.log('| --- | --- | --- | --- |');
  for (const row of searches) {
    const terms = new Set(row.query.toLowerCase().split(/\s+/)).size;
    console.log(
      `| ${row.query} | ${terms} | ${ms(row.ms)} | ${ms(row.cpu.map((s) => s * 1000))} |`,
    );
  }
  console.log(`\nCPU of the process over ${WINDOW_MS} ms (median of ${ROUNDS}):\n`);
  console.log(`| idle server | search running | right after its cancel |`);
  console.log('| --- | --- | --- |');
  const cpuMs = (values: number[]) => `${(median(values) * 1000).toFixed(1)} ms`;
  console.log(`| ${cpuMs(idle)} | ${cpuMs(running)} | ${cpuMs(afterCancel)} |`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
