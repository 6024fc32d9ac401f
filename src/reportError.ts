/**
 * Reports an error nobody handles as RxJS does: thrown out of band, so the code that met it goes
 * on (the next tick, the other sockets) and the process's `uncaughtException` handling decides
 * what happens.
 *
 * @param error What went wrong.
 */
export function reportUnhandledError(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
