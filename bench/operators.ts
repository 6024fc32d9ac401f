/**
 * Operators benchmark: the pipe `boundedBuffer → coalesce → ndjson` against a bare loop that
 * does `JSON.stringify` + `join` on the same batches, in one process, arms alternated.
 *
 *   npm run bench:operators            # 1M messages, 7 rounds
 *   MESSAGES=200000 ROUNDS=3 npm run bench:operators
 *
 * Prints a Markdown table; the ratio is bare time / pipe time (≥ 1 means the pipe is faster).
 */
import { Subject } from 'rxjs';
import { boundedBuffer, coalesce, ndjson } from '../operators/index.js';

const MESSAGES = Number(process.env.MESSAGES ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const BATCH = 512;

interface Tick {
  type: string;
  seq: number;
  value: number;
  tag: string;
}

const tickSchema = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    seq: { type: 'integer' },
    value: { type: 'number' },
    tag: { type: 'string' },
  },
  required: ['type', 'seq', 'value', 'tag'],
} as const;

const messages: Tick[] = Array.from({ length: MESSAGES }, (_, seq) => ({
  type: 'chat.delta',
  seq,
  value: seq / 7,
  tag: seq % 3 === 0 ? 'alpha' : 'beta',
}));

// The bare loop sees exactly the batches the pipe forms (maxBatch-sized, in order).
const batches: Tick[][] = [];
for (let i = 0; i < messages.length; i += BATCH) batches.push(messages.slice(i, i + BATCH));

function bareLoop(): number {
  let bytes = 0;
  for (const batch of batches) {
    const parts = new Array<string>(batch.length);
    for (let i = 0; i < batch.length; i++) parts[i] = JSON.stringify(batch[i]);
    bytes += parts.join('\n').length;
  }
  return bytes;
}

function pipe(withSchema: boolean): number {
  let bytes = 0;
  const source = new Subject<Tick>();
  // A huge window: batches close on maxBatch, and the last one on complete, so no timer fires
  // during the run and the pipe forms the same batches as the bare loop.
  const subscription = source
    .pipe(
      boundedBuffer(BATCH),
      coalesce<Tick>(60_000, { maxBatch: BATCH }),
      ndjson<Tick>(withSchema ? { schema: tickSchema } : {}),
    )
    .subscribe((text) => {
      bytes += text.length;
    });
  for (let i = 0; i < messages.length; i++) source.next(messages[i]);
  source.complete();
  subscription.unsubscribe();
  return bytes;
}

type Arm = { name: string; run: () => number };
const arms: Arm[] = [
  { name: 'bare JSON.stringify + join', run: bareLoop },
  { name: 'pipe, no schema', run: () => pipe(false) },
  { name: 'pipe, schema (fast-json-stringify)', run: () => pipe(true) },
];

const gc = (globalThis as { gc?: () => void }).gc;
const timings = new Map<string, number[]>(arms.map((arm) => [arm.name, []]));
let expectedBytes: number | undefined;

// One warm-up round so every arm is optimised before it is timed.
for (const arm of arms) arm.run();
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round so no arm always runs first (or always after a GC).
  for (let k = 0; k < arms.length; k++) {
    const arm = arms[(round + k) % arms.length];
    gc?.();
    const start = process.hrtime.bigint();
    const bytes = arm.run();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    expectedBytes ??= bytes;
    if (bytes !== expectedBytes) throw new Error(`${arm.name} produced ${bytes} bytes, expected ${expectedBytes}`);
    timings.get(arm.name)!.push(ms);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const bare = median(timings.get(arms[0].name)!);
console.log(`${MESSAGES.toLocaleString('en')} messages, batches of ${BATCH}, ${ROUNDS} rounds (median), node ${process.version}\n`);
console.log('| arm | median ms | msgs/s | ratio vs bare (bare ms / arm ms) |');
console.log('| --- | ---: | ---: | ---: |');
for (const arm of arms) {
  const ms = median(timings.get(arm.name)!);
  const rate = Math.round((MESSAGES / ms) * 1000);
  console.log(`| ${arm.name} | ${ms.toFixed(1)} | ${rate.toLocaleString('en')} | ${(bare / ms).toFixed(2)} |`);
}
