/**
 * The socket binding: {@link WsOutbox} (one socket's whole outgoing pipeline),
 * {@link ConnectionManager} (an outbox per socket, the shared {@link Heartbeat}, and topics:
 * `publish`, `join`, `leave`), {@link socketSink} (the socket's half of a pipeline of your own),
 * {@link Operations} (cancellable client requests, and the clients' topic requests),
 * {@link MemoryTopicStore} (the default home of topics) and the prom-client metrics. Every
 * operator of `ws-outbox/operators` is exported here too.
 *
 * @module ws-outbox
 */
export * from '../operators/index.js';
export { socketSink } from './socketSink.js';
export type {
  Frame,
  SendableSocket,
  SendResult,
  SocketSink,
  SocketSinkConfig,
} from './socketSink.js';
export { OutboxEndedError, WsOutbox } from './wsOutbox.js';
export type { FrameReport, OutboxStats, SendOptions, WsOutboxOptions } from './wsOutbox.js';
export { ConnectionManager } from './connectionManager.js';
export type {
  ConnectOptions,
  ConnectionManagerOptions,
  ManagedSocket,
} from './connectionManager.js';
export { Heartbeat } from './heartbeat.js';
export type { HeartbeatOptions, HeartbeatSocket } from './heartbeat.js';
export {
  outboxMetrics,
  BATCH_SIZE_BUCKETS,
  OPERATION_DURATION_BUCKETS,
  SEND_LATENCY_BUCKETS,
} from './metrics.js';
export type { OutboxMetrics } from './metrics.js';
export * from './operations/index.js';
export * from './topics/index.js';
