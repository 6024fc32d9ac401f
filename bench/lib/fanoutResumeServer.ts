/**
 * Server child of the resume part of `bench/fanout.ts`: a ws-outbox server whose clients may
 * subscribe to any topic. On the parent's `cut`, it drops every connection, waits until it has
 * seen them close, publishes `missed` publications to the topic, and says so; the client then
 * reconnects and resumes.
 *
 *   argv: <topic> <missed>
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { toParent } from './child.js';
import { serverLibrary } from './library.js';
import { FANOUT_TEXT } from './fanoutProtocol.js';

const [topic, missedArg] = process.argv.slice(2);
const MISSED = Number(missedArg);
const { ConnectionManager, MemoryTopicStore, Operations } = serverLibrary();
/** Diagnosis only: options merged into the outboxes' (the reported figures use none). */
const OUTBOX_OPTIONS = JSON.parse(process.env.OUTBOX_OPTIONS ?? '{}') as object;

async function main(): Promise<void> {
  // The default history holds 1,000 publications; more missed would be answered `too_old`.
  const store = new MemoryTopicStore({ maxPublications: Math.max(1_000, MISSED) });
  const manager = new ConnectionManager({
    outbox: { ...OUTBOX_OPTIONS, metrics: new Registry() },
    topics: { store, authorize: () => true },
  });
  const operations = new Operations({ topics: manager });
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws, request) => {
    operations.attach(ws, manager.connect(ws, { request }), undefined);
  });
  await once(wss, 'listening');
  let n = 0;
  process.on('message', (raw) => {
    const message = raw as { type: string };
    if (message.type === 'exit') process.exit(0);
    if (message.type !== 'cut') return;
    void (async () => {
      const sockets = [...wss.clients];
      const closed = sockets.map((ws) => once(ws, 'close'));
      for (const ws of sockets) ws.terminate();
      await Promise.all(closed);
      let last = 0;
      for (let i = 0; i < MISSED; i++) {
        last = await manager.publish(topic, { n: ++n, text: FANOUT_TEXT });
      }
      await toParent({ type: 'published', last, n });
    })().catch((error: unknown) => {
      console.error('resume server:', error);
      process.exit(1);
    });
  });
  await toParent({ type: 'listening', port: (wss.address() as AddressInfo).port });
}

main().catch((error: unknown) => {
  console.error('resume server:', error);
  process.exit(1);
});
