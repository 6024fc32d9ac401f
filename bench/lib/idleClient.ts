/**
 * Client child of `bench/idle.ts`: opens `count` connections to the server, a few hundred at a
 * time, and reports once all are open; then holds them until told to exit.
 *
 *   argv: <ws | socket.io> <url> <count>
 */
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { fromParent, toParent } from './child.js';

const [kind, url, countArg] = process.argv.slice(2);
const count = Number(countArg);
const AT_ONCE = 200;

function openWs(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

function openSocketIo(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

async function main(): Promise<void> {
  const open: () => Promise<WebSocket | Socket> = kind === 'socket.io' ? openSocketIo : openWs;
  const sockets: Array<WebSocket | Socket> = [];
  while (sockets.length < count) {
    const batch = Math.min(AT_ONCE, count - sockets.length);
    sockets.push(...(await Promise.all(Array.from({ length: batch }, open))));
  }
  await toParent({ type: 'connected', count: sockets.length });
  await fromParent('exit');
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(`idle client (${kind}):`, error);
  process.exit(1);
});
