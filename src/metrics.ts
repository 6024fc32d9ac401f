import { Counter, Gauge, Histogram, register as globalRegistry } from 'prom-client';
import type { Registry } from 'prom-client';

/** Buckets of `ws_outbox_batch_size`, exactly as the seed gives them. */
export const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100];
/** Buckets of `ws_outbox_send_latency_seconds`, exactly as the seed gives them. */
export const SEND_LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
/**
 * Buckets of `ws_outbox_operation_duration_seconds`: from a quick lookup (10 ms) to the default
 * deadline (120 s), so timeouts land in the top bucket and nothing under it is lost in +Inf.
 */
export const OPERATION_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * The Prometheus metrics every outbox of one registry shares.
 *
 * Gauges and counters are process-wide sums over all live outboxes: a dashboard reads one
 * series per process, not one per socket (a label per socket would be a cardinality bomb).
 */
export interface OutboxMetrics {
  /** `ws_outbox_queue_size`: messages held, across all live outboxes. */
  readonly queueSize: Gauge;
  /** `ws_outbox_batch_size`: messages per frame. */
  readonly batchSize: Histogram;
  /** `ws_outbox_send_latency_seconds`: from batch emission to the send callback. */
  readonly sendLatency: Histogram;
  /** `ws_outbox_dropped_messages_total`: messages dropped by overflow, close or stop timeout. */
  readonly droppedMessages: Counter;
  /** `ws_outbox_send_errors_total`: frames whose send failed. */
  readonly sendErrors: Counter;
  /** `ws_outbox_serialize_errors_total`: messages that could not be serialized. */
  readonly serializeErrors: Counter;
  /** `ws_outbox_messages_sent_total`: messages in frames whose send succeeded. */
  readonly messagesSent: Counter;
  /** `ws_outbox_frames_sent_total`: frames whose send succeeded. */
  readonly framesSent: Counter;
  /** `ws_outbox_bytes_sent_total`: payload bytes of frames whose send succeeded. */
  readonly bytesSent: Counter;
  /** `ws_outbox_compressed_frames_total`: frames that went out gzipped. */
  readonly compressedFrames: Counter;
  /** `ws_outbox_heartbeat_terminations_total`: sockets terminated for an unanswered ping. */
  readonly heartbeatTerminations: Counter;
  /**
   * `ws_outbox_operations_total{operation,outcome}`: operations ended, by registered type and
   * outcome (complete, cancelled, rejected, timeout, error, disconnected). `rejected` is the
   * client's doing (the handler refused the request); `timeout` and `error` are the server's.
   */
  readonly operations: Counter<'operation' | 'outcome'>;
  /** `ws_outbox_operation_duration_seconds{operation}`: from an operation's start to its end. */
  readonly operationDuration: Histogram<'operation'>;
  /**
   * `ws_outbox_rejected_messages_total{code}`: incoming messages refused before any handler ran
   * (bad_request, unknown_operation, too_many_operations, rate_limited, busy).
   */
  readonly rejectedMessages: Counter<'code'>;
}

const metricsByRegistry = new WeakMap<Registry, OutboxMetrics>();

/**
 * Returns the outbox metrics registered in `registry`, creating them on first use.
 *
 * prom-client refuses a second metric of the same name in one registry, so every outbox of a
 * registry must share one set: this is the one place that creates them.
 *
 * @param registry Where the metrics live. Defaults to prom-client's global registry.
 * @returns The shared metrics of that registry.
 */
export function outboxMetrics(registry: Registry = globalRegistry): OutboxMetrics {
  let metrics = metricsByRegistry.get(registry);
  if (metrics) return metrics;
  const registers = [registry];
  metrics = {
    queueSize: new Gauge({
      name: 'ws_outbox_queue_size',
      help: 'Messages held in outbox buffers, across all live outboxes.',
      registers,
    }),
    batchSize: new Histogram({
      name: 'ws_outbox_batch_size',
      help: 'Messages per frame sent.',
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    }),
    sendLatency: new Histogram({
      name: 'ws_outbox_send_latency_seconds',
      help: 'Seconds from batch emission to the socket send callback.',
      buckets: SEND_LATENCY_BUCKETS,
      registers,
    }),
    droppedMessages: new Counter({
      name: 'ws_outbox_dropped_messages_total',
      help: 'Messages dropped: buffer overflow, socket closed, or stop timeout.',
      registers,
    }),
    sendErrors: new Counter({
      name: 'ws_outbox_send_errors_total',
      help: 'Frames whose send failed.',
      registers,
    }),
    serializeErrors: new Counter({
      name: 'ws_outbox_serialize_errors_total',
      help: 'Messages left out because they could not be serialized to JSON.',
      registers,
    }),
    messagesSent: new Counter({
      name: 'ws_outbox_messages_sent_total',
      help: 'Messages in frames whose send succeeded.',
      registers,
    }),
    framesSent: new Counter({
      name: 'ws_outbox_frames_sent_total',
      help: 'Frames whose send succeeded.',
      registers,
    }),
    bytesSent: new Counter({
      name: 'ws_outbox_bytes_sent_total',
      help: 'Payload bytes of frames whose send succeeded (after compression).',
      registers,
    }),
    compressedFrames: new Counter({
      name: 'ws_outbox_compressed_frames_total',
      help: 'Frames sent gzipped.',
      registers,
    }),
    heartbeatTerminations: new Counter({
      name: 'ws_outbox_heartbeat_terminations_total',
      help: 'Sockets the heartbeat terminated because a ping went unanswered for an interval.',
      registers,
    }),
    operations: new Counter({
      name: 'ws_outbox_operations_total',
      help: 'Operations ended, by type and outcome (complete, cancelled, rejected, timeout, error, disconnected).',
      labelNames: ['operation', 'outcome'] as const,
      registers,
    }),
    operationDuration: new Histogram({
      name: 'ws_outbox_operation_duration_seconds',
      help: 'Seconds from the start of an operation to its end, whatever the outcome.',
      labelNames: ['operation'] as const,
      buckets: OPERATION_DURATION_BUCKETS,
      registers,
    }),
    rejectedMessages: new Counter({
      name: 'ws_outbox_rejected_messages_total',
      help: 'Incoming messages refused before any handler ran, by error code.',
      labelNames: ['code'] as const,
      registers,
    }),
  };
  metricsByRegistry.set(registry, metrics);
  return metrics;
}

/** How a component is told where its metrics go: a shared set, a registry, or `false`. */
export type MetricsOption = OutboxMetrics | Registry | false | undefined;

/**
 * Resolves a `metrics` option: `false` for none, a set as is, a registry (or nothing: the
 * global registry) to its shared set.
 *
 * @param option The component's `metrics` option.
 * @returns The metrics to record into, or undefined for none.
 */
export function resolveMetrics(option: MetricsOption): OutboxMetrics | undefined {
  if (option === false) return undefined;
  if (option && 'queueSize' in option) return option;
  return outboxMetrics(option);
}
