import type { ConcurrencyLimiter } from './concurrencyLimiter.js';
import type { MessageHandler, OperationHandler } from './handler.js';
import type { ClientMessage } from './protocol.js';

/**
 * What a message costs against its connection's rate limit, in tokens: a number, or a function
 * of the message (its `data` and other fields unvalidated). Every frame costs one token as it
 * arrives; a message of a registered type costs this many in all, so that a frame that starts
 * much work (a long reply, a big search) counts for that work, not for one frame.
 *
 * The function must be cheap (it runs before the rate limit is applied) and return 1 for a
 * message it cannot read: the handler refuses those. A result is rounded up and kept within
 * `[1, burst]`, so a message can always pass once the bucket is full.
 */
export type MessageCost = number | ((message: ClientMessage) => number);

/** Options of `Operations.on`. */
export interface MessageOptions {
  /** Tokens a message of this type costs; see {@link MessageCost}. Default 1. */
  readonly cost?: MessageCost;
}

/** Options of `Operations.register`. */
export interface OperationOptions extends MessageOptions {
  /**
   * Runs the operations of this type under a limit shared by every connection: with no slot
   * free and the limiter's queue full, a request is refused with `busy` before its handler is
   * called. Give the CPU-bound types one (the same one to share the slots).
   */
  readonly limiter?: ConcurrencyLimiter;
}

/**
 * Types a client cannot start: `cancel`, `subscribe` and `unsubscribe` are protocol, `error` is
 * what the server answers.
 */
const RESERVED_TYPES: ReadonlySet<string> = new Set([
  'cancel',
  'error',
  'subscribe',
  'unsubscribe',
]);

/** Longest type accepted at registration; it ends up in metric labels and event names. */
const MAX_TYPE_LENGTH = 128;

/** What a registered type resolves to. */
export type Registration<S> =
  | {
      readonly kind: 'operation';
      readonly handler: OperationHandler<S>;
      readonly options: OperationOptions;
    }
  | {
      readonly kind: 'message';
      readonly handler: MessageHandler<S>;
      readonly options: MessageOptions;
    };

/**
 * The handlers by message type: operations and plain message handlers share one namespace, so
 * that a type means one thing.
 */
export class HandlerRegistry<S = void> {
  private readonly registrations = new Map<string, Registration<S>>();

  /**
   * Registers an operation handler.
   * @throws Error when `type` is empty, too long, reserved or already registered; RangeError on
   * a fixed `cost` that is not a positive integer.
   */
  register(type: string, handler: OperationHandler<S>, options: OperationOptions = {}): void {
    this.add(type, { kind: 'operation', handler, options });
  }

  /**
   * Registers a plain message handler.
   * @throws Error when `type` is empty, too long, reserved or already registered; RangeError on
   * a fixed `cost` that is not a positive integer.
   */
  on(type: string, handler: MessageHandler<S>, options: MessageOptions = {}): void {
    this.add(type, { kind: 'message', handler, options });
  }

  /** The registration of `type`, if any. */
  lookup(type: string): Registration<S> | undefined {
    return this.registrations.get(type);
  }

  private add(type: string, registration: Registration<S>): void {
    if (typeof type !== 'string' || type.length === 0 || type.length > MAX_TYPE_LENGTH) {
      throw new Error(`Operations: a type must be 1 to ${MAX_TYPE_LENGTH} characters`);
    }
    if (RESERVED_TYPES.has(type)) throw new Error(`Operations: '${type}' is reserved`);
    if (this.registrations.has(type)) {
      throw new Error(`Operations: '${type}' is already registered`);
    }
    if (typeof registration.handler !== 'function') {
      throw new TypeError(`Operations: the handler of '${type}' is not a function`);
    }
    const { cost } = registration.options;
    if (typeof cost === 'number' && !(Number.isInteger(cost) && cost >= 1)) {
      throw new RangeError(`Operations: the cost of '${type}' must be a positive integer`);
    }
    this.registrations.set(type, registration);
  }
}
