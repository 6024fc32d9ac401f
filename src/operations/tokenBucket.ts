/** Options of {@link TokenBucket}. */
export interface RateLimit {
  /** Tokens when full: messages a client may send at once after being idle. */
  readonly burst: number;
  /** Tokens added per second, up to `burst`: the sustained rate. */
  readonly perSecond: number;
}

/** The default rate limit: a burst of 2,000 messages, refilled at 100 a second. */
export const DEFAULT_RATE_LIMIT: RateLimit = { burst: 2_000, perSecond: 100 };

/**
 * A token bucket: each message takes a token (or as many as it costs); tokens come back at
 * `perSecond`, up to `burst`.
 *
 * <span class="informal">Time comes from `now` (a scheduler's `now()`), read only when a token
 * is taken: no timer, so an idle connection costs nothing and virtual time tests it.</span>
 *
 * ## Example
 *
 * ```ts
 * const bucket = new TokenBucket({ burst: 2_000, perSecond: 100 }, () => scheduler.now());
 * if (!bucket.take()) reject('rate_limited');
 * ```
 */
export class TokenBucket {
  /**
   * Tokens × 1000: a refill adds `elapsed ms × perSecond` to it, exact in integers, where adding
   * `elapsed × perSecond / 1000` tokens drifts (ten 0.1 refills make 0.999…, not 1).
   */
  private milliTokens: number;
  private refilledAt: number;

  /**
   * @param limit `burst` (a positive integer) and `perSecond` (a positive number).
   * @param now Milliseconds, monotonic enough: `scheduler.now()`.
   * @throws RangeError on a limit out of range.
   */
  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number,
  ) {
    if (!Number.isInteger(limit.burst) || limit.burst < 1) {
      throw new RangeError(`TokenBucket: burst must be a positive integer, got ${limit.burst}`);
    }
    if (!(limit.perSecond > 0 && Number.isFinite(limit.perSecond))) {
      throw new RangeError(`TokenBucket: perSecond must be positive, got ${limit.perSecond}`);
    }
    this.milliTokens = limit.burst * 1000;
    this.refilledAt = now();
  }

  /** Tokens when full: the most one message may cost. */
  get burst(): number {
    return this.limit.burst;
  }

  /**
   * Takes `count` tokens if there are that many; takes none otherwise.
   * @param count Tokens the message costs: a positive integer, at most `burst`. Default 1.
   * @returns False when the bucket holds fewer: the message is over the limit.
   * @throws RangeError on a count that could never be taken.
   */
  take(count = 1): boolean {
    if (!Number.isInteger(count) || count < 1 || count > this.limit.burst) {
      throw new RangeError(`TokenBucket: count must be an integer in [1, burst], got ${count}`);
    }
    this.refill();
    if (this.milliTokens < count * 1000) return false;
    this.milliTokens -= count * 1000;
    return true;
  }

  /** Tokens available now (fractional between refills). */
  available(): number {
    this.refill();
    return this.milliTokens / 1000;
  }

  private refill(): void {
    const now = this.now();
    // A clock that steps back (a wall clock adjusted) must not drain the bucket.
    const elapsed = Math.max(0, now - this.refilledAt);
    this.refilledAt = now;
    this.milliTokens = Math.min(
      this.limit.burst * 1000,
      this.milliTokens + elapsed * this.limit.perSecond,
    );
  }
}
