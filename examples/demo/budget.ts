/** What one reply holds while it streams: counted against a {@link Budget}. */
export interface ReplyCost {
  /** Tokens of the reply (at least 1, so an empty reply counts too). */
  readonly tokens: number;
  /** Characters of text the reply holds (its tokens are slices of it). */
  readonly chars: number;
}

/** The most a {@link Budget} lets be held at once. */
export interface BudgetLimits {
  /** Replies streaming at once. */
  readonly replies: number;
  /** Tokens of those replies. */
  readonly tokens: number;
  /** Characters of those replies. */
  readonly chars: number;
}

/**
 * Counts the replies in progress against limits: one budget per connection, one for the whole
 * server. A reply is taken from every budget it belongs to before it starts, and given back when
 * it ends, however it ends; what does not fit is refused, never queued.
 */
export class Budget {
  private replies = 0;
  private tokens = 0;
  private chars = 0;

  constructor(readonly limits: BudgetLimits) {}

  /** Whether `cost` fits in what is left. */
  fits(cost: ReplyCost): boolean {
    const { limits } = this;
    return (
      this.replies + 1 <= limits.replies &&
      this.tokens + cost.tokens <= limits.tokens &&
      this.chars + cost.chars <= limits.chars
    );
  }

  /** Counts a reply in: call after {@link fits} said yes. */
  take(cost: ReplyCost): void {
    this.replies++;
    this.tokens += cost.tokens;
    this.chars += cost.chars;
  }

  /** Counts a reply out. */
  give(cost: ReplyCost): void {
    this.replies--;
    this.tokens -= cost.tokens;
    this.chars -= cost.chars;
  }

  /** What is held now. */
  get held(): BudgetLimits {
    return { replies: this.replies, tokens: this.tokens, chars: this.chars };
  }
}
