import type { MessageHandler, OperationHandler } from './handler.js';

/** Types a client cannot start: `cancel` is protocol, `error` is what the server answers. */
const RESERVED_TYPES: ReadonlySet<string> = new Set(['cancel', 'error']);

/** Longest type accepted at registration; it ends up in metric labels and event names. */
const MAX_TYPE_LENGTH = 128;

/** What a registered type resolves to. */
export type Registration<S> =
  | { readonly kind: 'operation'; readonly handler: OperationHandler<S> }
  | { readonly kind: 'message'; readonly handler: MessageHandler<S> };

/**
 * The handlers by message type: operations and plain message handlers share one namespace, so
 * that a type means one thing.
 */
export class HandlerRegistry<S = void> {
  private readonly registrations = new Map<string, Registration<S>>();

  /**
   * Registers an operation handler.
   * @throws Error when `type` is empty, too long, reserved or already registered.
   */
  register(type: string, handler: OperationHandler<S>): void {
    this.add(type, { kind: 'operation', handler });
  }

  /**
   * Registers a plain message handler.
   * @throws Error when `type` is empty, too long, reserved or already registered.
   */
  on(type: string, handler: MessageHandler<S>): void {
    this.add(type, { kind: 'message', handler });
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
    this.registrations.set(type, registration);
  }
}
