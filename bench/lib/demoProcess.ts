/**
 * The demo server (`examples/server.ts`, as `npm start` runs it) in a child process on
 * 127.0.0.1 and a free port, and the small clients the abuse probes drive it with.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import WebSocket from 'ws';
import { decodeFrame, parseNdjson } from '../../operators/index.js';

/** A running demo. */
export interface DemoProcess {
  readonly url: string;
  readonly wsUrl: string;
  readonly proc: ChildProcess;
  /** Resolves when the process exits, with when (performance.now()) and how. */
  readonly exited: Promise<{ at: number; code: number | null; signal: string | null }>;
  /** A sample of its /metrics, NaN when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `examples/server.ts` with PORT=0 and waits for the line that names its URL.
 * @param env More environment (MEMORY_CORPUS_SIZE, SHUTDOWN_TIMEOUT_MS, …).
 * @param timeoutMs How long the start (corpus generation included) may take.
 */
export async function startDemo(
  env: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<DemoProcess> {
  const root = join(__dirname, '..', '..');
  const proc = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples', 'server.ts')], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ at: number; code: number | null; signal: string | null }>(
    (resolve) =>
      proc.once('exit', (code, signal) => resolve({ at: performance.now(), code, signal })),
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /demo on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        resolve(match[1]);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`demo exited before listening:\n${output}`));
    });
  });
  // Keep draining its output so that it never blocks on a full pipe.
  proc.stdout!.resume();
  return {
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/ws`,
    proc,
    exited,
    async metric(name, labels = {}) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      for (const line of text.split('\n')) {
        if (!line.startsWith(name)) continue;
        const [series, value] = line.split(' ');
        const bare = series === name;
        const labelled = series.startsWith(`${name}{`) && wanted.every((w) => series.includes(w));
        if ((bare && wanted.length === 0) || labelled) return Number(value);
      }
      return NaN;
    },
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A reply as the probes read it. */
export interface Reply {
  type: string;
  id?: string;
  message_id?: string;
  code?: string;
  [field: string]: unknown;
}

/** A WebSocket client of the demo that decodes every frame and hands each reply to `onReply`. */
export class DemoClient {
  onReply: (reply: Reply) => void = () => undefined;
  private readonly waiters = new Set<{
    match: (r: Reply) => boolean;
    resolve: (r: Reply) => void;
  }>();
  private chain = Promise.resolve();

  private constructor(readonly ws: WebSocket) {
    ws.on('error', () => {});
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
      const raw = isBinary ? bytes : bytes.toString('utf8');
      // In order: a text frame behind a gzip one waits for it.
      this.chain = this.chain.then(async () => {
        for (const reply of parseNdjson(await decodeFrame(raw)) as Reply[]) {
          this.onReply(reply);
          for (const waiter of this.waiters) {
            if (!waiter.match(reply)) continue;
            this.waiters.delete(waiter);
            waiter.resolve(reply);
          }
        }
      });
    });
  }

  static async open(wsUrl: string, timeoutMs = 30_000): Promise<DemoClient> {
    const ws = new WebSocket(wsUrl, { maxPayload: 64 * 1024 * 1024 });
    const timer = setTimeout(() => ws.terminate(), timeoutMs);
    try {
      await once(ws, 'open');
    } finally {
      clearTimeout(timer);
    }
    return new DemoClient(ws);
  }

  send(message: object | string): void {
    if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
    }
  }

  /** Resolves with the first reply that `match` accepts, or rejects after `timeoutMs`. */
  next(match: (reply: Reply) => boolean, timeoutMs: number): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (reply: Reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/**
 * A fresh client's chat: connects, sends a short chat.message, and times its ack and its done
 * from the send, in ms (Infinity when it did not come within `timeoutMs`).
 */
export async function freshChat(
  wsUrl: string,
  timeoutMs = 30_000,
): Promise<{ ackMs: number; doneMs: number; refused?: string }> {
  const started = performance.now();
  let client: DemoClient | undefined;
  try {
    client = await DemoClient.open(wsUrl, timeoutMs);
    const sent = performance.now();
    const mine = (r: Reply) => r.message_id === 'fresh' || r.id === 'fresh';
    const ack = client.next(
      (r) => mine(r) && (r.type === 'chat.ack' || r.type === 'error'),
      timeoutMs,
    );
    const done = client.next(
      (r) => mine(r) && (r.type === 'chat.done' || r.type === 'error'),
      timeoutMs,
    );
    client.send({
      type: 'chat.message',
      id: 'fresh',
      payload: { text: 'hello there', agent_id: 'a' },
    });
    const ackReply = await ack;
    const ackMs = performance.now() - sent;
    if (ackReply.type === 'error') return { ackMs, doneMs: Infinity, refused: ackReply.code };
    await done;
    return { ackMs, doneMs: performance.now() - sent };
  } catch {
    return {
      ackMs: Infinity,
      doneMs: Infinity,
      refused: `no reply in ${timeoutMs} ms (${Math.round(performance.now() - started)} ms)`,
    };
  } finally {
    client?.close();
  }
}
