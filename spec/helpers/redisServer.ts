import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { createClient } from 'redis';

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';
const READY_LINE = /Ready to accept connections/;
const START_TIMEOUT_MS = 15_000;

/**
 * A `redis-server` of the test's own, on 127.0.0.1 and a free port, with no persistence: every
 * start, first or after a stop, is an empty Redis.
 */
export class RedisServer {
  private process: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The server's process id while it runs (for SIGSTOP/SIGCONT). */
  get pid(): number {
    const pid = this.process?.pid;
    if (pid === undefined) throw new Error('redis-server is not running');
    return pid;
  }

  /**
   * Starts a server on a free port; resolves once it accepts connections.
   * Fails with a clear message when `redis-server` is not installed.
   */
  static async start(): Promise<RedisServer> {
    // Another process can take the port between the probe and the server's bind: try again then.
    for (let attempt = 0; ; attempt++) {
      const server = new RedisServer(await freePort());
      try {
        await server.restart();
        return server;
      } catch (error) {
        if (attempt >= 4 || !String(error).includes('Address already in use')) throw error;
      }
    }
  }

  /** Starts the server (again) on its port, empty; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.process) throw new Error('redis-server is already running');
    const child = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        tmpdir(),
        '--daemonize',
        'no',
        '--loglevel',
        'notice',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.process = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const fail = (message: string) => {
        clearTimeout(timer);
        this.process = undefined;
        child.kill('SIGKILL');
        reject(new Error(`${message}\n${output}`));
      };
      const timer = setTimeout(
        () => fail('redis-server did not become ready in time'),
        START_TIMEOUT_MS,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (READY_LINE.test(output)) {
          clearTimeout(timer);
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', (error: NodeJS.ErrnoException) =>
        fail(
          error.code === 'ENOENT'
            ? `redis-server not found (${REDIS_SERVER}): install it, e.g. apt-get install redis-server`
            : `redis-server failed to start: ${error.message}`,
        ),
      );
      child.once('exit', (code, signal) => {
        if (this.process === child)
          fail(`redis-server exited (${code ?? signal}) before it was ready`);
      });
    });
  }

  /** Stops the server with SIGTERM; resolves once it has exited. Idempotent. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // A stopped (SIGSTOP) server must run again to handle SIGTERM.
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    await exited;
  }
}

/** Finds a port that is free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** A node-redis client as tests use it: the given server, quick reconnects, errors ignored. */
export type TestRedisClient = ReturnType<typeof createTestClient>;

/**
 * Creates a client of `server` that reconnects within 200 ms (so a restarted server is found
 * again soon) and whose connection errors, expected while a server is down, are ignored.
 * @param server The server.
 * @returns The client, not connected yet.
 */
export function createTestClient(server: RedisServer) {
  const client = createClient({
    url: server.url,
    socket: { reconnectStrategy: (retries: number) => Math.min(20 * 2 ** retries, 200) },
  });
  client.on('error', () => {});
  return client;
}

/**
 * Creates and connects a client of `server` (see {@link createTestClient}).
 * @param server The server.
 * @returns The connected client.
 */
export async function connectTestClient(server: RedisServer): Promise<TestRedisClient> {
  const client = createTestClient(server);
  await client.connect();
  return client;
}

/**
 * How many times Redis ran `command` since it started (`INFO commandstats`).
 * @param client A connected client.
 * @param command The command, lower case (`evalsha`).
 * @returns Its calls.
 */
export async function commandCalls(client: TestRedisClient, command: string): Promise<number> {
  const info = await client.info('commandstats');
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}
