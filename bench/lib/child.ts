/**
 * Child processes for the socket benchmarks: each server arm and each client runs in its own
 * process, so that CPU time and memory read inside one belong to that side alone.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** What children and parent exchange over IPC: plain objects tagged by `type`. */
export interface IpcMessage {
  type: string;
  [key: string]: unknown;
}

/** A forked bench script, with typed waits on its IPC messages. */
export interface Child {
  readonly name: string;
  /** Resolves with the next message of this type; rejects if the child exits or time runs out. */
  next<M extends IpcMessage>(type: string, timeoutMs: number): Promise<M>;
  send(message: IpcMessage): void;
  /** Waits for the child to exit by itself, then kills it if it has not within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Kills the child at once (after a failure) and waits for it to go. */
  kill(): Promise<void>;
}

/**
 * Forks `script` (a .ts file, loaded through tsx) with `--expose-gc`.
 * @param name How errors name this child.
 * @param script Absolute path of the script.
 * @param args Its argv, after the script.
 * @param extraExecArgv More node flags, e.g. `--cpu-prof`.
 */
export function startChild(
  name: string,
  script: string,
  args: string[],
  extraExecArgv: string[] = [],
): Child {
  const proc: ChildProcess = fork(script, args, {
    execArgv: ['--expose-gc', '--import', 'tsx', ...extraExecArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // Messages that arrived before anyone asked for them, so none is missed between two awaits.
  const inbox: IpcMessage[] = [];
  const waiters: Array<{ type: string; resolve: (m: IpcMessage) => void }> = [];
  let exitError: Error | undefined;
  const exitListeners: Array<(error: Error) => void> = [];
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      exitError = new Error(`${name} exited (code ${code}, signal ${signal})`);
      for (const listener of exitListeners.splice(0)) listener(exitError);
      resolve();
    });
  });

  proc.on('message', (raw) => {
    const message = raw as IpcMessage;
    const index = waiters.findIndex((w) => w.type === message.type);
    if (index >= 0) waiters.splice(index, 1)[0].resolve(message);
    else inbox.push(message);
  });

  return {
    name,
    next<M extends IpcMessage>(type: string, timeoutMs: number): Promise<M> {
      const queued = inbox.findIndex((m) => m.type === type);
      if (queued >= 0) return Promise.resolve(inbox.splice(queued, 1)[0] as M);
      if (exitError) return Promise.reject(exitError);
      return new Promise<M>((resolve, reject) => {
        const timer = setTimeout(() => {
          const index = waiters.indexOf(waiter);
          if (index >= 0) waiters.splice(index, 1);
          reject(new Error(`${name}: no '${type}' message within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = {
          type,
          resolve: (m: IpcMessage) => {
            clearTimeout(timer);
            resolve(m as M);
          },
        };
        waiters.push(waiter);
        exitListeners.push((error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
    },
    send(message: IpcMessage) {
      if (proc.connected) proc.send(message);
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      });
      const late = await Promise.race([exited.then(() => false), timedOut]);
      clearTimeout(timer);
      if (late) {
        console.error(`${name} did not exit within ${graceMs} ms: killing it`);
        proc.kill('SIGKILL');
        await exited;
      }
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Sends `message` to the parent process and resolves once it is handed to the IPC channel. */
export function toParent(message: IpcMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('not started by a bench parent (no IPC channel)'));
      return;
    }
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

/** Resolves with the next message of this type from the parent. */
export function fromParent<M extends IpcMessage>(type: string): Promise<M> {
  return new Promise((resolve) => {
    const listener = (raw: unknown) => {
      const message = raw as IpcMessage;
      if (message.type !== type) return;
      process.off('message', listener);
      resolve(message as M);
    };
    process.on('message', listener);
  });
}
