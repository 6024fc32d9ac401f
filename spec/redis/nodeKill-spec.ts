import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConnectionManager } from '../../src/index.js';
import { RedisTopicStore } from '../../src/redis/index.js';
import { connectTestClient, RedisServer } from '../helpers/redisServer.js';
import type { TestRedisClient } from '../helpers/redisServer.js';
import { range, WatchedClient } from './clusterClient.js';

const NODE_SCRIPT = join(__dirname, 'clusterNodeProcess.ts');
const NODES = 3;
const CLIENTS = 60;
const ROOMS = 3;
const RATE = 1_000; // publications per second, all topics
const DURATION_MS = 10_000;
const KILL_AT_MS = 3_000;
/** Of every 10 publications, this many go to the rooms, the rest to the sessions. */
const ROOM_SHARE = 6;
/** Enough for the whole run: the test reads every topic's full history as its reference. */
const MAX_LENGTH = 20_000;

/** A node process: its URL once listening, and its exit. */
interface NodeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<void>;
}

async function startNode(redisUrl: string): Promise<NodeProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', NODE_SCRIPT, redisUrl, String(MAX_LENGTH)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const { value, done } = await lines.next();
  const match = done ? null : /^listening (\S+)$/.exec(String(value));
  if (!match) {
    child.kill('SIGKILL');
    throw new Error(`a node process did not start: ${String(value)}`);
  }
  return { child, url: match[1]!, exited };
}

/** Every publication's `n` in a topic's history, in offset order (the run's reference). */
async function history(store: RedisTopicStore, topic: string): Promise<number[]> {
  const numbers: number[] = [];
  let after = 0;
  for (;;) {
    const page = await store.read(topic, after, 1_000);
    if (page.oldest !== 1) throw new Error(`${topic}: history trimmed (oldest ${page.oldest})`);
    for (const { offset, data } of page.publications) {
      numbers.push((JSON.parse(data) as { n: number }).n);
      after = offset;
    }
    if (after >= page.top || page.publications.length === 0) return numbers;
  }
}

describe('a node killed under load', () => {
  let redis: RedisServer;
  let redisClient: TestRedisClient;
  const nodes: NodeProcess[] = [];
  const clients: WatchedClient[] = [];
  let store: RedisTopicStore | undefined;
  let publisher: ConnectionManager | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start();
    redisClient = await connectTestClient(redis);
  });

  afterAll(async () => {
    for (const client of clients.splice(0)) client.close();
    await publisher?.closeAll();
    await store?.close();
    for (const { child } of nodes) child.stdin?.end();
    await Promise.all(
      nodes.map(async ({ child, exited }) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    redisClient.destroy();
    await redis.stop();
  });

  it('gives every client every publication of its topics exactly once, in order, its node killed or not', async () => {
    nodes.push(...(await Promise.all(range(1, NODES).map(() => startNode(redis.url)))));

    // Client i starts on node i % 3, in room ⌊i / 3⌋ % 3 (so every node has clients of every
    // room), joined by the server to session:c<i>. Each connection attempt after the first
    // tries the next node: a client of the killed node moves to a live one.
    const roomOf = (i: number) => `room:${Math.floor(i / NODES) % ROOMS}`;
    const sessionOf = (i: number) => `session:c${i}`;
    const homeOf = (i: number) => i % NODES;
    for (let i = 0; i < CLIENTS; i++) {
      let attempt = 0;
      const url = () => `${nodes[(homeOf(i) + attempt++) % NODES]!.url}?s=c${i}`;
      clients.push(new WatchedClient(url, 50).follow(roomOf(i)).follow(sessionOf(i), 'listen'));
    }
    await Promise.all(
      clients.map((client, i) =>
        client.until(
          () =>
            client.answersOf(roomOf(i)).length === 1 && client.answersOf(sessionOf(i)).length === 1,
          `client ${i} in its room and session`,
        ),
      ),
    );

    store = new RedisTopicStore({
      client: redisClient,
      maxLength: MAX_LENGTH,
      commandTimeoutMs: 10_000,
    });
    publisher = new ConnectionManager({
      heartbeat: false,
      outbox: { metrics: false },
      topics: { store },
    });
    const topics = [
      ...range(0, ROOMS - 1).map((r) => `room:${r}`),
      ...range(0, CLIENTS - 1).map(sessionOf),
    ];
    const counts = new Map(topics.map((topic) => [topic, 0]));
    const failures: unknown[] = [];
    const appends: Array<Promise<unknown>> = [];
    let sent = 0;
    const publish = () => {
      // Six of ten to the rooms in turn, four to the sessions in turn.
      const slot = sent % 10;
      const topic =
        slot < ROOM_SHARE
          ? `room:${Math.floor(sent / 10) % ROOMS}`
          : sessionOf((Math.floor(sent / 10) * (10 - ROOM_SHARE) + slot - ROOM_SHARE) % CLIENTS);
      const n = counts.get(topic)! + 1;
      counts.set(topic, n);
      sent++;
      appends.push(
        publisher!.publish(topic, { n }).catch((error: unknown) => failures.push(error)),
      );
    };

    // The load: RATE per second, paced on the clock, for DURATION_MS; one node is SIGKILLed
    // at KILL_AT_MS. The clock only shapes the load; every check below waits on events.
    const victim = 1;
    const start = Date.now();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const elapsed = Date.now() - start;
        if (elapsed >= KILL_AT_MS && nodes[victim]!.child.exitCode === null) {
          nodes[victim]!.child.kill('SIGKILL');
        }
        const due = Math.min(DURATION_MS, elapsed) * (RATE / 1_000);
        while (sent < due) publish();
        if (elapsed >= DURATION_MS) {
          clearInterval(tick);
          resolve();
        }
      }, 5);
    });
    await Promise.all(appends);
    await nodes[victim]!.exited;

    expect(failures).toEqual([]);
    expect(sent).toBe((RATE * DURATION_MS) / 1_000);
    const expected = new Map<string, number[]>();
    for (const topic of topics) {
      const numbers = await history(store, topic);
      // One publisher, in order: each topic's history is 1..its count.
      expect(numbers).toEqual(range(1, counts.get(topic)!));
      expected.set(topic, numbers);
    }
    await Promise.all(
      clients.map((client, i) =>
        client.until(
          () =>
            client.of(roomOf(i)).length >= expected.get(roomOf(i))!.length &&
            client.of(sessionOf(i)).length >= expected.get(sessionOf(i))!.length,
          `client ${i} caught up`,
          60_000,
        ),
      ),
    );

    clients.forEach((client, i) => {
      expect(client.of(roomOf(i))).toEqual(expected.get(roomOf(i)));
      expect(client.of(sessionOf(i))).toEqual(expected.get(sessionOf(i)));
      expect(client.recoveries).toEqual([]);
      // Only the killed node's clients reconnected.
      if (homeOf(i) === victim) expect(client.opens).toBeGreaterThanOrEqual(2);
      else expect(client.opens).toBe(1);
    });
  }, 120_000);
});
