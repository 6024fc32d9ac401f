/**
 * The parts of a node-redis client (`redis` 6) the store uses. A client from `createClient()`
 * fits as it is, whatever its modules, scripts or RESP version: the store sends raw commands
 * whose replies have the same shape in RESP2 and RESP3.
 */
export interface RedisCommandClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  sendCommand<T = unknown>(
    args: readonly string[],
    options?: { abortSignal?: AbortSignal },
  ): Promise<T>;
  /** A new client with the same options, not yet connected; the store subscribes through it. */
  duplicate(): RedisSubscriberClient;
}

/** What a message listener of node-redis receives. */
export type ChannelListener = (message: string, channel: string) => unknown;

/** The parts of the store's own subscriber connection (a duplicate of the client) it uses. */
export interface RedisSubscriberClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: ChannelListener): Promise<unknown>;
  unsubscribe(channel: string, listener: ChannelListener): Promise<unknown>;
  destroy(): unknown;
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}
