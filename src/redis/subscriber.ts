import type { ChannelListener, RedisCommandClient, RedisSubscriberClient } from './client.js';

/**
 * The store's one pub/sub connection: a duplicate of the user's client, opened at the first
 * subscription. node-redis subscribes it again to every confirmed channel after a reconnect and
 * only then emits `ready`, so `onReconnect` runs once announcements flow again.
 */
export class Subscriber {
  private connection: RedisSubscriberClient | undefined;

  /**
   * @param source The client to duplicate.
   * @param onReconnect Runs each time the connection is back (and resubscribed) after a drop.
   * @param onError Sees the connection's errors (each failed reconnect attempt is one).
   */
  constructor(
    private readonly source: RedisCommandClient,
    private readonly onReconnect: () => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * Subscribes `listener` to `channel`.
   * @returns Resolves once Redis confirmed the subscription.
   */
  subscribe(channel: string, listener: ChannelListener): Promise<unknown> {
    return this.open().subscribe(channel, listener);
  }

  /** Unsubscribes `listener` from `channel`; the channel itself once it has no listener left. */
  unsubscribe(channel: string, listener: ChannelListener): void {
    const connection = this.connection;
    if (!connection?.isOpen) return;
    connection.unsubscribe(channel, listener).catch(this.onError);
  }

  /** Closes the connection at once; it is opened again by the next subscription. */
  close(): void {
    const connection = this.connection;
    this.connection = undefined;
    if (connection?.isOpen) connection.destroy();
  }

  private open(): RedisSubscriberClient {
    // A connection whose reconnect strategy gave up is closed: the next subscription opens anew.
    if (this.connection?.isOpen) return this.connection;
    const connection = this.source.duplicate();
    let connectedBefore = false;
    connection.on('error', this.onError);
    connection.on('ready', () => {
      if (connectedBefore && connection === this.connection) this.onReconnect();
      connectedBefore = true;
    });
    connection.connect().catch(this.onError);
    this.connection = connection;
    return connection;
  }
}
