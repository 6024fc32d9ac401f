import { asyncScheduler } from 'rxjs';
import type { SchedulerLike, Subscription } from 'rxjs';

/** What {@link exitOnSignals} listens to: `process`, or an emitter standing in for it. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

/** Options of {@link exitOnSignals}. */
export interface ExitOnSignalsOptions {
  /** The most the graceful close may take: past it, the process exits with 1 all the same. */
  timeoutMs: number;
  /** Default `process`. */
  signals?: SignalSource;
  /** Default `process.exit`. */
  exit?: (code: number) => void;
  /** Default `console.log`. */
  log?: (line: string) => void;
  /** Times the deadline. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * Closes `server` gracefully on SIGINT or SIGTERM, then exits: 0 once it has closed, 1 if the
 * close failed or did not end within `timeoutMs`, and 1 at once on a second signal (the
 * operator does not want to wait).
 *
 * @returns A function that stops listening to the signals.
 */
export function exitOnSignals(
  server: { close(): Promise<void> },
  options: ExitOnSignalsOptions,
): () => void {
  const {
    timeoutMs,
    signals = process,
    exit = (code: number) => process.exit(code),
    log = console.log,
    scheduler = asyncScheduler,
  } = options;
  let deadline: Subscription | undefined;
  const finish = (code: number) => {
    deadline?.unsubscribe();
    exit(code);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (deadline) {
      log(`${signal} again: exiting now`);
      return finish(1);
    }
    log(`${signal}: closing connections (at most ${timeoutMs} ms)…`);
    deadline = scheduler.schedule(() => {
      log(`shutdown did not finish within ${timeoutMs} ms: exiting`);
      exit(1);
    }, timeoutMs);
    server.close().then(
      () => finish(0),
      (error: unknown) => {
        log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        finish(1);
      },
    );
  };
  for (const signal of SIGNALS) signals.on(signal, onSignal);
  return () => {
    for (const signal of SIGNALS) signals.off(signal, onSignal);
  };
}
