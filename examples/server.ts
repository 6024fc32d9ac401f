import { createDemoServer } from './demo/app.js';

// The demo that `npm start` runs. PORT and HOST choose where it listens.
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';

async function main(): Promise<void> {
  const server = await createDemoServer({ port, host });
  console.log(`ws-outbox demo on ${server.url}  (ws: /ws, metrics: /metrics)`);

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
