import type { RedisCommandClient } from './client.js';
import { TopicStoreUnavailableError } from './errors.js';

/** How commands are timed out and retried. */
export interface RetryPolicy {
  readonly commandTimeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
}

/** The client is not connected: the attempt was not sent. */
class NotConnectedError extends Error {
  constructor() {
    super('the connection to Redis is not ready');
  }
}

/** The attempt got no answer in time. */
class CommandTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

// Replies of a server that is starting, failing over or busy: the same command can succeed soon.
// Any other error reply (a wrong type at one of the store's keys, a script error) would fail again.
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS) /;
// Redis error replies start with an upper-case code (`ERR`, `WRONGTYPE`…); node-redis's and
// Node's own errors (closed socket, refused connection, full queue) do not.
const ERROR_REPLY = /^[A-Z][A-Z_-]+ /;

function isRetryable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return !ERROR_REPLY.test(error.message) || TRANSIENT_REPLY.test(error.message);
}

/**
 * The delay before retry number `attempt` (0 for the first retry): doubling from `retryDelayMs`,
 * capped at `maxRetryDelayMs`.
 * @param policy The policy.
 * @param attempt Retries already made.
 * @returns The delay in ms.
 */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.retryDelayMs * 2 ** Math.min(attempt, 30), policy.maxRetryDelayMs);
}

/**
 * Runs `command` with the policy's timeout and retries.
 *
 * An attempt is not sent while the client is not ready, so that a Redis that is down fails fast
 * instead of filling the client's offline queue; an attempt that times out is aborted, which
 * takes it out of the client's queue if it was not written yet. Only what may succeed on a retry
 * is retried; `command` must be safe to run twice.
 * @param client The client the command goes through.
 * @param policy Timeout and retries.
 * @param operation What is done, for the error message.
 * @param command Sends one attempt; gets the signal that aborts it.
 * @param onRetry Sees each retry.
 * @returns The command's result.
 * @throws {TopicStoreUnavailableError} When every attempt failed with a retryable error.
 * @throws The command's own error when it cannot succeed on a retry (an error reply).
 */
export async function withRetries<T>(
  client: RedisCommandClient,
  policy: RetryPolicy,
  operation: string,
  command: (signal: AbortSignal) => Promise<T>,
  onRetry: () => void = () => {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await withTimeout(client, policy.commandTimeoutMs, command);
    } catch (error) {
      if (!isRetryable(error)) throw error;
      if (attempt >= policy.retries) throw new TopicStoreUnavailableError(operation, error);
    }
    onRetry();
    await new Promise((resolve) => setTimeout(resolve, retryDelay(policy, attempt)));
  }
}

function withTimeout<T>(
  client: RedisCommandClient,
  ms: number,
  command: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (!client.isReady) return Promise.reject(new NotConnectedError());
  const controller = new AbortController();
  return within(command(controller.signal), ms, () => {
    controller.abort();
    return new CommandTimeoutError(ms);
  });
}

/**
 * Settles as `promise` does, or rejects with `onTimeout()` once `ms` have passed.
 * @param promise What is awaited.
 * @param ms The time it has.
 * @param onTimeout Runs at the timeout; returns the rejection.
 * @returns The race.
 */
export function within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
