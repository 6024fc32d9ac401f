/**
 * One node of the kill test, in a process of its own: a ws server whose `ConnectionManager`
 * keeps its topics in Redis, joining each connection to its session's topic (`?s=<id>` →
 * `session:<id>`) and letting clients subscribe to anything. Prints `listening <url>` once it
 * accepts connections; closes and exits when its stdin ends (or dies when killed).
 *
 * Usage: node --import tsx spec/redis/clusterNodeProcess.ts <redis url> <maxLength>
 */
import type { IncomingMessage } from 'node:http';
import { RedisNode } from './redisNode.js';

function sessionOf(request: IncomingMessage): string[] {
  const session = new URL(request.url ?? '/', 'http://x').searchParams.get('s');
  return session === null ? [] : [`session:${session}`];
}

async function main(): Promise<void> {
  const [redisUrl, maxLength] = process.argv.slice(2);
  if (!redisUrl || !maxLength) throw new Error('usage: <redis url> <maxLength>');
  const node = await RedisNode.start(
    redisUrl,
    { maxLength: Number(maxLength), commandTimeoutMs: 10_000 },
    { joins: sessionOf, topics: { maxReplay: Number(maxLength) } },
  );
  process.stdout.write(`listening ${node.url}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => {
    void node.close().then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
