import type { EventEmitter } from 'node:events';

/** Options of {@link until}. */
export interface UntilOptions {
  /**
   * A safety net, not a synchronisation: if the condition has not held by then the wait rejects
   * with `description`, so a broken build fails with a message instead of hanging until jest's
   * own timeout.
   */
  timeoutMs?: number;
  /** What was awaited, for the rejection message. */
  description?: string;
}

const DEFAULT_TIMEOUT_MS = 20_000;

/**
 * Resolves once `predicate()` holds: checked at once, then after every one of `events` that
 * `emitter` emits. Rejects if the predicate throws, or at the safety-net timeout.
 */
export function until(
  predicate: () => boolean,
  emitter: EventEmitter,
  events: string | readonly string[],
  { timeoutMs = DEFAULT_TIMEOUT_MS, description = 'condition' }: UntilOptions = {},
): Promise<void> {
  const names = typeof events === 'string' ? [events] : events;
  return new Promise<void>((resolve, reject) => {
    // Unref'd and cleared on settling, so a wait never holds the process open.
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`until: ${description} did not hold within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    const cleanup = () => {
      clearTimeout(timer);
      for (const name of names) emitter.off(name, check);
    };
    function check(): void {
      let done: boolean;
      try {
        done = predicate();
      } catch (error) {
        cleanup();
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (!done) return;
      cleanup();
      resolve();
    }
    for (const name of names) emitter.on(name, check);
    check();
  });
}

/** Resolves at the next `event` of `emitter` (with the safety-net timeout of {@link until}). */
export function nextEvent(
  emitter: EventEmitter,
  event: string,
  options: UntilOptions = {},
): Promise<void> {
  let seen = false;
  const mark = () => {
    seen = true;
  };
  emitter.once(event, mark);
  return until(() => seen, emitter, event, { description: `event '${event}'`, ...options }).finally(
    () => emitter.off(event, mark),
  );
}

/** Yields one turn of the event loop, so that I/O callbacks (send callbacks, reads) can run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
