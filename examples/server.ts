import type { TopicStore } from '../src/index.js';
import { createDemoServer, DEFAULT_CORPUS_SIZE, DEFAULT_SHUTDOWN_TIMEOUT_MS } from './demo/app.js';
import { ROOM_HISTORY } from './demo/rooms.js';
import { exitOnSignals } from './demo/signals.js';

// The demo that `npm start` runs. PORT and HOST choose where it listens; OPERATION_TIMEOUT_MS is
// the deadline of a memory operation; MEMORY_CORPUS_SIZE the memories generated at start;
// SHUTDOWN_TIMEOUT_MS the most a SIGTERM (or SIGINT) waits before the process exits.
// REDIS_URL keeps the topics (rooms, sessions) in Redis, shared with every node on it;
// NODE_NAME is the name the page shows (default host:port).
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const redisUrl = process.env.REDIS_URL || undefined;
const nodeName = process.env.NODE_NAME || undefined;
const operationTimeoutMs = positiveInteger('OPERATION_TIMEOUT_MS', 120_000);
const corpusSize = positiveInteger('MEMORY_CORPUS_SIZE', DEFAULT_CORPUS_SIZE);
const shutdownTimeoutMs = positiveInteger('SHUTDOWN_TIMEOUT_MS', DEFAULT_SHUTDOWN_TIMEOUT_MS);

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

/** The topics' store on Redis, and how to close it after the server; none without REDIS_URL. */
async function redisStore(url: string): Promise<{ store: TopicStore; close: () => Promise<void> }> {
  // Loaded only with REDIS_URL: `redis` is an optional peer dependency of the package.
  const { createClient } = await import('redis');
  const { RedisTopicStore } = await import('../src/redis/index.js');
  const client = createClient({ url });
  // node-redis needs a listener; it reconnects by itself, and the store retries its commands.
  client.on('error', () => {});
  await client.connect();
  const store = new RedisTopicStore({
    client,
    maxLength: ROOM_HISTORY.maxPublications,
    // Keys of a topic nobody publishes to (a closed page's session) go after 10 minutes.
    idleExpiryMs: 10 * 60_000,
  });
  return {
    store,
    close: async () => {
      await store.close();
      await client.close();
    },
  };
}

async function main(): Promise<void> {
  const redis = redisUrl === undefined ? undefined : await redisStore(redisUrl);
  const server = await createDemoServer({
    port,
    host,
    operationTimeoutMs,
    shutdownTimeoutMs,
    memory: { corpusSize },
    topicStore: redis?.store,
    nodeName,
  });
  const seconds = (server.memoryBuildMs / 1000).toFixed(2);
  console.log(
    `ws-outbox demo on ${server.url}  (ws: /ws, metrics: /metrics), node ${server.nodeName}; ` +
      `topics ${redis ? `on Redis (${new URL(redisUrl!).host})` : 'in memory'}; ` +
      `${server.memory.corpusSize} memories indexed in ${seconds} s, ` +
      `operation timeout ${operationTimeoutMs} ms`,
  );

  exitOnSignals(
    // The manager is closed before the store, and the store before its client.
    { close: () => server.close().finally(() => redis?.close()) },
    { timeoutMs: shutdownTimeoutMs },
  );
}

main().catch((error: unknown) => {
  console.error('ws-outbox demo failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
