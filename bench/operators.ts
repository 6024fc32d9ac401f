/**
 * Operators benchmark: the pipe `boundedBuffer → coalesce → ndjson` against a bare loop that
 * does `JSON.stringify` + `join` on the same batches, in one process, arms alternated.
 *
 *   npm run bench:operators            # 1M messages, 7 rounds
 *   MESSAGES=200000 ROUNDS=3 npm run bench:operators
 *
 * Two message shapes: `chat.delta` (strings and an integer: what the demo streams, and the
 * shape the targets are judged on) and `tick` (with a fractional number, where
 * fast-json-stringify has no edge over V8's JSON.stringify). Prints one Markdown table per
 * shape; the ratio is bare ms / arm ms (≥ 1 means the arm is faster than the bare loop).
 */
import { Subject } from 'rxjs';
import { boundedBuffer, coalesce, ndjson } from '../operators/index.js';

const MESSAGES = Number(process.env.MESSAGES ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const BATCH = 512;

interface Shape {
  name: string;
  schema: object;
  make: (seq: number) => object;
}

const words = ['the ', 'quick ', 'brown ', 'fox ', 'jumps ', 'over ', 'a ', 'lazy ', 'dog. '];
const shapes: Shape[] = [
  {
    name: 'chat.delta {type, message_id, seq, text}',
    schema: {
      type: 'object',
      properties: {
        type: { type: 'string' },
        message_id: { type: 'string' },
        seq: { type: 'integer' },
        text: { type: 'string' },
      },
      required: ['type', 'message_id', 'seq', 'text'],
    },
    make: (seq) => ({
      type: 'chat.delta',
      message_id: `m-${seq >> 6}`,
      seq,
      text: words[seq % words.length],
    }),
  },
  {
    name: 'tick {type, seq, value: float, tag}',
    schema: {
      type: 'object',
      properties: {
        type: { type: 'string' },
        seq: { type: 'integer' },
        value: { type: 'number' },
        tag: { type: 'string' },
      },
      required: ['type', 'seq', 'value', 'tag'],
    },
    make: (seq) => ({ type: 'tick', seq, value: seq / 7, tag: seq % 3 === 0 ? 'alpha' : 'beta' }),
  },
];

function bareLoop(batches: object[][]): number {
  let bytes = 0;
  for (const batch of batches) {
    const parts = new Array<string>(batch.length);
    for (let i = 0; i < batch.length; i++) parts[i] = JSON.stringify(batch[i]);
    bytes += parts.join('\n').length;
  }
  return bytes;
}

function pipe(messages: object[], schema: object | undefined): number {
  let bytes = 0;
  const source = new Subject<object>();
  // A window far longer than the run: batches close on maxBatch, and the last one on complete,
  // so no timer fires during the run and the pipe forms the same batches as the bare loop.
  const subscription = source
    .pipe(
      boundedBuffer(BATCH),
      coalesce<object>(60_000, { maxBatch: BATCH }),
      ndjson<object>(schema ? { schema } : {}),
    )
    .subscribe((text) => {
      bytes += text.length;
    });
  for (let i = 0; i < messages.length; i++) source.next(messages[i]);
  source.complete();
  subscription.unsubscribe();
  return bytes;
}

const gc = (globalThis as { gc?: () => void }).gc;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(
  `${MESSAGES.toLocaleString('en')} messages, batches of ${BATCH}, median of ${ROUNDS} rounds, arms rotated, node ${process.version}`,
);
for (const shape of shapes) {
  const messages = Array.from({ length: MESSAGES }, (_, seq) => shape.make(seq));
  // The bare loop sees exactly the batches the pipe forms (maxBatch-sized, in order).
  const batches: object[][] = [];
  for (let i = 0; i < messages.length; i += BATCH) batches.push(messages.slice(i, i + BATCH));

  const arms = [
    { name: 'bare JSON.stringify + join', run: () => bareLoop(batches) },
    { name: 'pipe, no schema', run: () => pipe(messages, undefined) },
    { name: 'pipe, schema (fast-json-stringify)', run: () => pipe(messages, shape.schema) },
  ];
  const timings = new Map<string, number[]>(arms.map((arm) => [arm.name, []]));
  let expectedBytes: number | undefined;
  // One warm-up round so every arm is optimised before it is timed.
  for (const arm of arms) arm.run();
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no arm always runs first, or always right after a GC.
    for (let k = 0; k < arms.length; k++) {
      const arm = arms[(round + k) % arms.length];
      gc?.();
      const start = process.hrtime.bigint();
      const bytes = arm.run();
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      expectedBytes ??= bytes;
      if (bytes !== expectedBytes) {
        throw new Error(`${arm.name} produced ${bytes} bytes, the first arm ${expectedBytes}`);
      }
      timings.get(arm.name)!.push(ms);
    }
  }

  const bare = median(timings.get(arms[0].name)!);
  console.log(`\n${shape.name}\n`);
  console.log('| arm | median ms | msgs/s | ratio vs bare |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const arm of arms) {
    const ms = median(timings.get(arm.name)!);
    const rate = Math.round((MESSAGES / ms) * 1000).toLocaleString('en');
    console.log(`| ${arm.name} | ${ms.toFixed(1)} | ${rate} | ${(bare / ms).toFixed(2)} |`);
  }
}
