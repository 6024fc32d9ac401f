import { Counter, Gauge, Histogram, register as globalRegistry } from 'prom-client';
import type { Registry } from 'prom-client';

/** Buckets of `ws_outbox_batch_size`, exactly as the original design gives them. */
export const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100];
/** Buckets of `ws_outbox_send_latency_seconds`, exactly as the original design gives them. */
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
  /** `ws_outbox_topic_subscriptions`: sockets subscribed to topics on this node (one per topic). */
  readonly topicSubscriptions: Gauge;
  /** `ws_outbox_topic_publications_total`: publications this node fanned out to its subscribers. */
  readonly topicPublications: Counter;
  /** `ws_outbox_topic_frames_total`: frames built once for all of a topic's local subscribers. */
  readonly topicFrames: Counter;
  /** `ws_outbox_topic_gaps_total`: `gap`s sent to sockets that fell behind a topic. */
  readonly topicGaps: Counter;
  /**
   * `ws_outbox_topic_resumes_total{outcome}`: subscriptions with a position, by outcome
   * (recovered, epoch, too_old, too_many).
   */
  readonly topicResumes: Counter<'outcome'>;
  /** `ws_outbox_publish_errors_total`: publications the topic store refused or could not take. */
  readonly publishErrors: Counter;
}

const metricsByRegistry = new WeakMap<Registry, OutboxMetrics>();

/**
 * Returns the outbox metrics registered in `registry`, creating them on first use.
 *
 * prom-client refuses a second metric of the same name in one registry, so every outbox of a
 * registry must share one set: this is the one place that creates them. Metrics of these names
 * already in the registry are reused when they match (same type, label names and buckets), so
 * two copies of this package in one process (its CommonJS and ES module builds, or two
 * versions) share one set instead of failing at the second copy's first outbox.
 *
 * @param registry Where the metrics live. Defaults to prom-client's global registry.
 * @returns The shared metrics of that registry.
 * @throws {Error} When a metric of one of these names is registered with another type, other
 * label names or other buckets.
 */
export function outboxMetrics(registry: Registry = globalRegistry): OutboxMetrics {
  let metrics = metricsByRegistry.get(registry);
  if (metrics) return metrics;
  metrics = {
    queueSize: gauge(registry, {
      name: 'ws_outbox_queue_size',
      help: 'Messages held in outbox buffers, across all live outboxes.',
    }),
    batchSize: histogram(registry, {
      name: 'ws_outbox_batch_size',
      help: 'Messages per frame sent.',
      buckets: BATCH_SIZE_BUCKETS,
    }),
    sendLatency: histogram(registry, {
      name: 'ws_outbox_send_latency_seconds',
      help: 'Seconds from batch emission to the socket send callback.',
      buckets: SEND_LATENCY_BUCKETS,
    }),
    droppedMessages: counter(registry, {
      name: 'ws_outbox_dropped_messages_total',
      help: 'Messages dropped: buffer overflow, socket closed, or stop timeout.',
    }),
    sendErrors: counter(registry, {
      name: 'ws_outbox_send_errors_total',
      help: 'Frames whose send failed.',
    }),
    serializeErrors: counter(registry, {
      name: 'ws_outbox_serialize_errors_total',
      help: 'Messages left out because they could not be serialized to JSON.',
    }),
    messagesSent: counter(registry, {
      name: 'ws_outbox_messages_sent_total',
      help: 'Messages in frames whose send succeeded.',
    }),
    framesSent: counter(registry, {
      name: 'ws_outbox_frames_sent_total',
      help: 'Frames whose send succeeded.',
    }),
    bytesSent: counter(registry, {
      name: 'ws_outbox_bytes_sent_total',
      help: 'Payload bytes of frames whose send succeeded (after compression).',
    }),
    compressedFrames: counter(registry, {
      name: 'ws_outbox_compressed_frames_total',
      help: 'Frames sent gzipped.',
    }),
    heartbeatTerminations: counter(registry, {
      name: 'ws_outbox_heartbeat_terminations_total',
      help: 'Sockets the heartbeat terminated because a ping went unanswered for an interval.',
    }),
    operations: counter(registry, {
      name: 'ws_outbox_operations_total',
      help: 'Operations ended, by type and outcome (complete, cancelled, rejected, timeout, error, disconnected).',
      labelNames: ['operation', 'outcome'] as const,
    }),
    operationDuration: histogram(registry, {
      name: 'ws_outbox_operation_duration_seconds',
      help: 'Seconds from the start of an operation to its end, whatever the outcome.',
      labelNames: ['operation'] as const,
      buckets: OPERATION_DURATION_BUCKETS,
    }),
    rejectedMessages: counter(registry, {
      name: 'ws_outbox_rejected_messages_total',
      help: 'Incoming messages refused before any handler ran, by error code.',
      labelNames: ['code'] as const,
    }),
    topicSubscriptions: gauge(registry, {
      name: 'ws_outbox_topic_subscriptions',
      help: 'Socket subscriptions to topics on this node.',
    }),
    topicPublications: counter(registry, {
      name: 'ws_outbox_topic_publications_total',
      help: 'Publications this node fanned out to its local subscribers.',
    }),
    topicFrames: counter(registry, {
      name: 'ws_outbox_topic_frames_total',
      help: "Frames built once for all of a topic's local subscribers.",
    }),
    topicGaps: counter(registry, {
      name: 'ws_outbox_topic_gaps_total',
      help: 'Gaps sent to sockets that fell behind a topic and are replayed from its history.',
    }),
    topicResumes: counter(registry, {
      name: 'ws_outbox_topic_resumes_total',
      help: 'Subscriptions with a position, by outcome (recovered, epoch, too_old, too_many).',
      labelNames: ['outcome'] as const,
    }),
    publishErrors: counter(registry, {
      name: 'ws_outbox_publish_errors_total',
      help: 'Publications the topic store refused or could not take.',
    }),
  };
  metricsByRegistry.set(registry, metrics);
  return metrics;
}

/** What {@link outboxMetrics} asks of one metric. */
interface MetricSpec<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
  readonly buckets?: readonly number[];
}

function counter<L extends string = string>(registry: Registry, spec: MetricSpec<L>): Counter<L> {
  return (
    (registered(registry, 'counter', spec) as Counter<L> | undefined) ??
    new Counter<L>({ ...spec, labelNames: spec.labelNames ?? [], registers: [registry] })
  );
}

function gauge<L extends string = string>(registry: Registry, spec: MetricSpec<L>): Gauge<L> {
  return (
    (registered(registry, 'gauge', spec) as Gauge<L> | undefined) ??
    new Gauge<L>({ ...spec, labelNames: spec.labelNames ?? [], registers: [registry] })
  );
}

function histogram<L extends string = string>(
  registry: Registry,
  spec: MetricSpec<L>,
): Histogram<L> {
  return (
    (registered(registry, 'histogram', spec) as Histogram<L> | undefined) ??
    new Histogram<L>({
      ...spec,
      labelNames: spec.labelNames ?? [],
      buckets: [...(spec.buckets ?? [])],
      registers: [registry],
    })
  );
}

/**
 * The fields of a registered prom-client metric that decide whether it can stand for the one
 * asked for. prom-client sets them on every metric (its text exposition reads them) but does
 * not declare them; reading them rather than testing `instanceof` also accepts a metric made
 * by another copy of prom-client.
 */
interface RegisteredShape {
  readonly type?: unknown;
  readonly labelNames?: unknown;
  readonly upperBounds?: unknown;
}

/**
 * The metric of `spec.name` already in `registry`, if any, once checked to match `spec`.
 *
 * @throws {Error} When it has another type, other label names or (histograms) other buckets.
 */
function registered(
  registry: Registry,
  type: 'counter' | 'gauge' | 'histogram',
  spec: MetricSpec<string>,
): unknown {
  const existing = registry.getSingleMetric(spec.name);
  if (existing === undefined) return undefined;
  const shape = existing as RegisteredShape;
  const mismatch = (what: string, found: unknown, wanted: unknown) =>
    new Error(
      `ws-outbox: the metric ${spec.name} is already registered with ${what} ${format(found)}, ` +
        `but ws-outbox needs ${format(wanted)}; remove it from the registry, or give ws-outbox ` +
        `a registry of its own (\`metrics: new Registry()\`)`,
    );
  if (shape.type !== type) throw mismatch('type', shape.type, type);
  const labelNames = [...(spec.labelNames ?? [])].sort();
  const foundLabelNames = Array.isArray(shape.labelNames)
    ? [...(shape.labelNames as unknown[])].sort()
    : shape.labelNames;
  if (!sameList(foundLabelNames, labelNames)) {
    throw mismatch('label names', foundLabelNames, labelNames);
  }
  if (type === 'histogram' && !sameList(shape.upperBounds, spec.buckets ?? [])) {
    throw mismatch('buckets', shape.upperBounds, spec.buckets);
  }
  return existing;
}

function sameList(found: unknown, wanted: readonly unknown[]): boolean {
  return (
    Array.isArray(found) &&
    found.length === wanted.length &&
    found.every((item, index) => item === wanted[index])
  );
}

function format(value: unknown): string {
  return Array.isArray(value) ? `[${value.join(', ')}]` : String(value);
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
