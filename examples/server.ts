import { createDemoServer, DEFAULT_CORPUS_SIZE } from './demo/app.js';

// The demo that `npm start` runs. PORT and HOST choose where it listens; OPERATION_TIMEOUT_MS is
// the deadline of a memory operation; MEMORY_CORPUS_SIZE the memories generated at start.
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const operationTimeoutMs = positiveInteger('OPERATION_TIMEOUT_MS', 120_000);
const corpusSize = positiveInteger('MEMORY_CORPUS_SIZE', DEFAULT_CORPUS_SIZE);

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
    memory: { corpusSize },
  });
  const seconds = (server.memoryBuildMs / 1000).toFixed(2);
  console.log(
    `ws-outbox demo on ${server.url}  (ws: /ws, metrics: /metrics); ` +
      `${server.memory.corpusSize} memories indexed in ${seconds} s, ` +
      `operation timeout ${operationTimeoutMs} ms`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    // A second signal means the operator does not want to wait for the graceful path.
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`${signal}: closing connections…`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('shutdown failed:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error('ws-outbox demo failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
