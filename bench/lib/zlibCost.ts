/**
 * What one frame of the socket benchmark costs to gzip at level 1, in the thread pool (as
 * `gzipOver`'s default compressor does, two at a time) and inline (`gzipSync`). Explains the
 * gap between the WsOutbox arms with and without compression in `bench/socket.ts`.
 *
 *   node --import tsx bench/lib/zlibCost.ts          # FRAMES=3000
 */
import { performance } from 'node:perf_hooks';
import { gzip, gzipSync } from 'node:zlib';
import { TICK_TEXT } from './protocol.js';
import { envInt, epochMs } from './stats.js';

const FRAMES = envInt('FRAMES', 3000);
// The frame WsOutbox sends with its defaults: a batch of 512 ticks joined by "\n".
const frame = Buffer.from(
  Array.from({ length: 512 }, (_, seq) =>
    JSON.stringify({ type: 'tick', seq, ts: epochMs(), text: TICK_TEXT }),
  ).join('\n'),
);

function gzipAsync(input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    gzip(input, { level: 1 }, (error, output) => (error ? reject(error) : resolve(output))),
  );
}

async function threadPool(count: number): Promise<void> {
  const running: Array<Promise<Buffer>> = [];
  for (let i = 0; i < count; i++) {
    running.push(gzipAsync(frame));
    if (running.length >= 2) await running.shift();
  }
  await Promise.all(running);
}

async function main(): Promise<void> {
  await threadPool(300);
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  await threadPool(FRAMES);
  const loopMs = performance.eventLoopUtilization(elu).active / FRAMES;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000 / FRAMES;

  for (let i = 0; i < 300; i++) gzipSync(frame, { level: 1 });
  const start = performance.now();
  for (let i = 0; i < FRAMES; i++) gzipSync(frame, { level: 1 });
  const syncMs = (performance.now() - start) / FRAMES;

  const ratio = frame.length / gzipSync(frame, { level: 1 }).length;
  console.log(
    `frame ${frame.length.toLocaleString('en')} bytes (512 ticks), level 1, ratio ${ratio.toFixed(1)}×, ` +
      `${FRAMES} frames, node ${process.version}\n\n` +
      '| compressor | event-loop ms / frame | process CPU ms / frame |\n| --- | ---: | ---: |\n' +
      `| \`zlib.gzip\` (thread pool, 2 at a time) | ${loopMs.toFixed(3)} | ${cpuMs.toFixed(3)} |\n` +
      `| \`zlib.gzipSync\` (inline) | ${syncMs.toFixed(3)} | ${syncMs.toFixed(3)} |`,
  );
}

void main();
