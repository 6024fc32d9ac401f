/** How {@link OutboxClient} reconnects after the connection drops. */
export interface ReconnectOptions {
  /** Delay before the first attempt after a drop, before jitter. Default 500 ms. */
  initialDelayMs?: number;
  /** Cap of the delay, before jitter. Default 30,000 ms. */
  maxDelayMs?: number;
  /** Each failed attempt multiplies the delay by this. Default 2. */
  factor?: number;
  /**
   * Fraction of each delay that is random, from 0 (none) to 1 (anything from 0 to the delay).
   * Default 0.5: a delay `d` becomes a uniform pick in `[d/2, d]`, so that clients dropped
   * together do not come back together.
   */
  jitter?: number;
  /** Attempts in a row without an open connection before the client gives up. Default Infinity. */
  maxAttempts?: number;
  /** Source of randomness for the jitter, in `[0, 1)`. Default `Math.random`. */
  random?: () => number;
}

/** {@link ReconnectOptions} with every default filled in. */
export type ResolvedReconnectOptions = Required<ReconnectOptions>;

/**
 * Fills in the defaults of {@link ReconnectOptions} and checks the values.
 * @param options The options as given.
 * @returns Every option, defaults filled in.
 */
export function resolveReconnect(options: ReconnectOptions = {}): ResolvedReconnectOptions {
  const resolved: ResolvedReconnectOptions = {
    initialDelayMs: options.initialDelayMs ?? 500,
    maxDelayMs: options.maxDelayMs ?? 30_000,
    factor: options.factor ?? 2,
    jitter: options.jitter ?? 0.5,
    maxAttempts: options.maxAttempts ?? Infinity,
    random: options.random ?? Math.random,
  };
  const { initialDelayMs, maxDelayMs, factor, jitter, maxAttempts } = resolved;
  if (!(initialDelayMs >= 0) || !(maxDelayMs >= initialDelayMs)) {
    throw new RangeError('reconnect: need 0 <= initialDelayMs <= maxDelayMs');
  }
  if (!(factor >= 1)) throw new RangeError('reconnect.factor must be at least 1');
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError('reconnect.jitter must be in [0, 1]');
  if (!(maxAttempts >= 0)) throw new RangeError('reconnect.maxAttempts must be at least 0');
  return resolved;
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first after a drop): exponential,
 * capped, with jitter.
 *
 * ```
 * base  = min(maxDelayMs, initialDelayMs × factor^attempt)
 * delay = base × (1 − jitter × random())
 * ```
 *
 * @param attempt How many attempts have failed since the connection was last open.
 * @param options Resolved reconnect options.
 * @returns The delay in milliseconds.
 */
export function backoffDelay(attempt: number, options: ResolvedReconnectOptions): number {
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** attempt);
  return base * (1 - options.jitter * options.random());
}
