import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RedisTopicStore } from '../../src/redis/index.js';
import { connectTestClient, RedisServer } from '../helpers/redisServer.js';
import type { TestRedisClient } from '../helpers/redisServer.js';

const WORKER = join(__dirname, 'appendWorker.ts');

/** A worker process, with its output lines as they come. */
function startWorker(url: string, topic: string, worker: string, count: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', WORKER, url, topic, worker, String(count)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`worker ${worker} ended without output`);
    return value as string;
  };
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, nextLine, exited };
}

describe('RedisTopicStore across processes', () => {
  let server: RedisServer;
  let client: TestRedisClient;

  beforeAll(async () => {
    server = await RedisServer.start();
    client = await connectTestClient(server);
  });

  afterAll(async () => {
    client.destroy();
    await server.stop();
  });

  it('gives concurrent appends from three processes offsets 1..N, each once, each process in order', async () => {
    const topic = 'room:shared';
    const count = 150;
    const workers = ['a', 'b', 'c'].map((name) => ({
      name,
      ...startWorker(server.url, topic, name, count),
    }));
    try {
      for (const worker of workers) expect(await worker.nextLine()).toBe('ready');
      for (const worker of workers) worker.child.stdin.write('go\n');
      const results = await Promise.all(
        workers.map(async (worker) => JSON.parse(await worker.nextLine()) as number[]),
      );
      expect(await Promise.all(workers.map(({ exited }) => exited))).toEqual([0, 0, 0]);

      const total = workers.length * count;
      expect(results.flat().sort((a, b) => a - b)).toEqual(
        Array.from({ length: total }, (_, index) => index + 1),
      );
      for (const offsets of results) {
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      }
      // The stream agrees: each offset holds the publication its process was told it got.
      const store = new RedisTopicStore({ client });
      const page = await store.read(topic, 0, total);
      await store.close();
      expect(page.top).toBe(total);
      const stored = new Map(page.publications.map(({ offset, data }) => [offset, data]));
      workers.forEach(({ name }, index) => {
        results[index]!.forEach((offset, seq) => {
          expect(stored.get(offset)).toBe(JSON.stringify({ worker: name, seq }));
        });
      });
    } finally {
      for (const { child } of workers) if (child.exitCode === null) child.kill();
    }
  });
});
