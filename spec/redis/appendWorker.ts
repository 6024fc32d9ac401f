/**
 * One publishing process of the concurrent-append spec: connects its own store to the Redis at
 * `url`, says `ready`, waits for `go` on stdin, appends `count` publications to `topic` (in
 * bursts of concurrent appends), and prints the offset each got, in its order of appending.
 *
 * Usage: node --import tsx spec/redis/appendWorker.ts <url> <topic> <worker> <count>
 */
import { once } from 'node:events';
import { createClient } from 'redis';
import { RedisTopicStore } from '../../src/redis/index.js';

const BURST = 10;

async function main(): Promise<void> {
  const [url, topic, worker, countText] = process.argv.slice(2);
  if (!url || !topic || !worker || !countText)
    throw new Error('usage: <url> <topic> <worker> <count>');
  const count = Number(countText);
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  const store = new RedisTopicStore({ client });
  process.stdout.write('ready\n');
  await once(process.stdin, 'data');
  const offsets: number[] = [];
  for (let start = 0; start < count; start += BURST) {
    const burst = [];
    for (let seq = start; seq < Math.min(start + BURST, count); seq++) {
      burst.push(store.append(topic, [JSON.stringify({ worker, seq })]));
    }
    for (const { first } of await Promise.all(burst)) offsets.push(first);
  }
  await store.close();
  client.destroy();
  process.stdout.write(`${JSON.stringify(offsets)}\n`);
  process.stdin.pause();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
