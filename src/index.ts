export * from '../operators/index.js';
export { socketSink } from './socketSink.js';
export type {
  Frame,
  SendableSocket,
  SendResult,
  SocketSink,
  SocketSinkConfig,
} from './socketSink.js';
export { WsOutbox } from './wsOutbox.js';
export type { OutboxStats, WsOutboxOptions } from './wsOutbox.js';
export { ConnectionManager } from './connectionManager.js';
export type { ConnectionManagerOptions } from './connectionManager.js';
export { RawJson } from './rawJson.js';
export { outboxMetrics, BATCH_SIZE_BUCKETS, SEND_LATENCY_BUCKETS } from './metrics.js';
export type { OutboxMetrics } from './metrics.js';
