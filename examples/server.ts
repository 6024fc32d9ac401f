import { createDemoServer, DEFAULT_CORPUS_SIZE, DEFAULT_SHUTDOWN_TIMEOUT_MS } from './demo/app.js';
import { exitOnSignals } from './demo/signals.js';

// The demo that `npm start` runs. PORT and HOST choose where it listens; OPERATION_TIMEOUT_MS is
// the deadline of a memory operation; MEMORY_CORPUS_SIZE the memories generated at start;
// SHUTDOWN_TIMEOUT_MS the most a SIGTERM (or SIGINT) waits before the process exits.
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
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

async function main(): Promise<void> {
  const server = await createDemoServer({
    port,
    host,
    operationTimeoutMs,
    shutdownTimeoutMs,
    memory: { corpusSize },
  });
  const seconds = (server.memoryBuildMs / 1000).toFixed(2);
  console.log(
    `ws-outbox demo on ${server.url}  (ws: /ws, metrics: /metrics); ` +
      `${server.memory.corpusSize} memories indexed in ${seconds} s, ` +
      `operation timeout ${operationTimeoutMs} ms`,
  );

  exitOnSignals(server, { timeoutMs: shutdownTimeoutMs });
}

main().catch((error: unknown) => {
  console.error('ws-outbox demo failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
