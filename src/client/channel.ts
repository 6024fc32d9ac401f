/**
 * The connection as the client's parts (requests, topics) see it: whether one is open, and a
 * way to send on it. {@link OutboxClient} provides it; the parts know nothing of sockets.
 */
export interface Channel {
  /** The open connection messages would go out on now, or `undefined` when there is none. */
  current(): object | undefined;
  /** Sends one message on the current connection, which {@link current} has just shown open. */
  send(message: object): void;
}
