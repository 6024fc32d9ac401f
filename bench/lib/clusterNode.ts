/**
 * Node child of `bench/cluster.ts`: one server of the cluster, in a process of its own so that
 * its CPU time is its own. Each connection names its room in the URL (`?room=room:3`) and the
 * server puts it there; the node publishes to the rooms in turn at the rate the parent asks for.
 *
 *   argv: <arm> <redis url> <node index> <rooms>
 *
 * - ws-outbox: a `ConnectionManager` whose topics live in a `RedisTopicStore`; a room is a
 *   topic the server joins the socket to (`join`), resumed from the `resume` parameter of a
 *   reconnecting client; a publication is `manager.publish(room, tick)`.
 * - socket.io 4 with `@socket.io/redis-adapter` on node-redis: `socket.join(room)`, and a
 *   publication is `io.to(room).emit('pub', tick)`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server as IoServer } from 'socket.io';
import { WebSocketServer } from 'ws';
import { fromParent, toParent } from './child.js';
import { redisLibrary, serverLibrary } from './library.js';
import type { IpcMessage } from './child.js';
import { CLUSTER_ARMS, roomName } from './clusterProtocol.js';
import type {
  ClusterArm,
  ClusterTick,
  NodeAppends,
  NodeCpu,
  NodeStopped,
} from './clusterProtocol.js';
import { cpuSecondsSince, epochMs } from './stats.js';

const [armArg, redisUrl, nodeArg, roomsArg] = process.argv.slice(2);
if (!CLUSTER_ARMS.includes(armArg as ClusterArm)) throw new Error(`unknown arm ${armArg}`);
const arm = armArg as ClusterArm;
const node = Number(nodeArg);
const ROOMS = Number(roomsArg);
const { ConnectionManager } = serverLibrary();
const { RedisTopicStore } = redisLibrary();

interface Arm {
  publish(room: number, tick: ClusterTick): void;
  publishErrors(): number;
  /** ws-outbox only: appends `count` publications as fast as the store takes them. */
  appends?(count: number): Promise<Omit<NodeAppends, 'type'>>;
}

function roomOf(url: string | undefined): string {
  const room = new URL(url ?? '/', 'http://x').searchParams.get('room');
  if (room === null) throw new Error('a connection without ?room=');
  return room;
}

async function wsOutboxArm(http: ReturnType<typeof createServer>): Promise<Arm> {
  const client = createClient({ url: redisUrl });
  client.on('error', () => {});
  await client.connect();
  const store = new RedisTopicStore({ client });
  const manager = new ConnectionManager({
    heartbeat: false,
    outbox: { metrics: false },
    topics: { store },
  });
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws, request) => {
    manager.connect(ws, { request });
    void manager.join(ws, roomOf(request.url));
  });
  let errors = 0;
  const failed = () => void errors++;
  return {
    publish: (room, tick) => void manager.publish(roomName(room), tick).catch(failed),
    publishErrors: () => errors,
    async appends(count) {
      const before = store.counters.scriptCalls;
      const cpu = process.cpuUsage();
      const start = performance.now();
      // As fast as it goes, with at most MAX_PENDING waiting (under the store's own bound):
      // each turn adds publications to ten topics, which the store sends as one script call
      // per topic.
      const MAX_PENDING = 8_000;
      let sent = 0;
      let done = 0;
      await new Promise<void>((resolve, reject) => {
        const answered = () => {
          if (++done === count) resolve();
        };
        const step = () => {
          while (sent < count && sent - done < MAX_PENDING) {
            const tick: ClusterTick = { n: node, r: sent % 10, s: sent, t: epochMs() };
            manager.publish(`append:${sent % 10}`, tick).then(answered, reject);
            sent++;
          }
          if (sent < count) setImmediate(step);
        };
        step();
      });
      return {
        count,
        seconds: (performance.now() - start) / 1000,
        scriptCalls: store.counters.scriptCalls - before,
        cpuSeconds: cpuSecondsSince(cpu),
      };
    },
  };
}

async function socketIoArm(http: ReturnType<typeof createServer>): Promise<Arm> {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  pub.on('error', () => {});
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const io = new IoServer(http, {
    transports: ['websocket'],
    serveClient: false,
    adapter: createAdapter(pub, sub),
  });
  io.on('connection', (socket) => void socket.join(roomOf(socket.request.url)));
  return {
    publish: (room, tick) => void io.to(roomName(room)).emit('pub', tick),
    publishErrors: () => 0,
  };
}

async function main(): Promise<void> {
  const http = createServer();
  const server = arm === 'ws-outbox' ? await wsOutboxArm(http) : await socketIoArm(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  await toParent({ type: 'listening', port: (http.address() as AddressInfo).port });

  const last = Array.from({ length: ROOMS }, () => 0);
  let published = 0;
  let timer: NodeJS.Timeout | undefined;
  let cpu = process.cpuUsage();
  process.on('message', (raw) => {
    const message = raw as IpcMessage;
    if (message.type === 'publish') {
      // Paced on the clock: every 5 ms, whatever is due at `rate` per second since the start.
      const rate = message.rate as number;
      const start = performance.now();
      let sent = 0;
      cpu = process.cpuUsage();
      clearInterval(timer);
      timer = setInterval(() => {
        const due = Math.floor(((performance.now() - start) * rate) / 1000);
        for (; sent < due; sent++) {
          const room = (node + sent) % ROOMS;
          server.publish(room, { n: node, r: room, s: ++last[room]!, t: epochMs() });
          published++;
        }
      }, 5);
    } else if (message.type === 'stop') {
      clearInterval(timer);
      const stopped: NodeStopped = {
        type: 'stopped',
        node,
        published,
        last: [...last],
        publishErrors: server.publishErrors(),
      };
      published = 0;
      void toParent(stopped);
    } else if (message.type === 'cpu') {
      const reply: NodeCpu = { type: 'cpu', cpuSeconds: cpuSecondsSince(cpu) };
      void toParent(reply);
    } else if (message.type === 'appends') {
      if (!server.appends) throw new Error(`${arm} has no appends phase`);
      void server
        .appends(message.count as number)
        .then((result) => toParent({ type: 'appended', ...result }));
    }
  });
  await fromParent('exit');
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(`cluster node ${node} (${arm}):`, error);
  process.exit(1);
});
