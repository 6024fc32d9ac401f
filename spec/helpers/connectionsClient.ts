/**
 * A child process that holds many client connections for a test, so that the test process only
 * holds the server ends (a process has a bounded number of file descriptors).
 *
 *   argv: <url> <count>
 *   stdout: "open" once every connection is open, "closed" once every one has closed.
 *   stdin:  "close" closes them all.
 */
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const [url, countArg] = process.argv.slice(2);
const count = Number(countArg);
const AT_ONCE = 250;

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function main(): Promise<void> {
  const sockets: WebSocket[] = [];
  while (sockets.length < count) {
    const batch = Math.min(AT_ONCE, count - sockets.length);
    sockets.push(...(await Promise.all(Array.from({ length: batch }, open))));
  }
  process.stdout.write('open\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== 'close') continue;
    await Promise.all(
      sockets.map((socket) => {
        const closed = new Promise((resolve) => socket.once('close', resolve));
        socket.close();
        return closed;
      }),
    );
    process.stdout.write('closed\n');
    process.exit(0);
  }
}

main().catch((error: unknown) => {
  console.error('connections client:', error);
  process.exit(1);
});
