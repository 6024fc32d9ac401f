import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  BATCH_SIZE_BUCKETS,
  OPERATION_DURATION_BUCKETS,
  outboxMetrics,
  SEND_LATENCY_BUCKETS,
} from '../src/metrics.js';
import { expectSeedMetrics, sample } from './helpers/metricsText.js';

type MetricsModule = typeof import('../src/metrics.js');

/** A fresh instance of the metrics module, with its own module registry (and prom-client). */
async function loadMetricsModule(): Promise<MetricsModule> {
  let loaded: MetricsModule | undefined;
  await jest.isolateModulesAsync(async () => {
    loaded = await import('../src/metrics.js');
  });
  return loaded!;
}

describe('outboxMetrics on a registry shared by two copies of the package', () => {
  it('should share one set of metrics between two module instances on one registry', async () => {
    const first = await loadMetricsModule();
    const second = await loadMetricsModule();
    expect(second.outboxMetrics).not.toBe(first.outboxMetrics);
    const registry = new Registry();

    const a = first.outboxMetrics(registry);
    const b = second.outboxMetrics(registry);
    a.droppedMessages.inc(2);
    b.droppedMessages.inc(3);
    b.batchSize.observe(7);
    a.operations.inc({ operation: 'search', outcome: 'complete' });

    const text = await registry.metrics();
    expectSeedMetrics(text);
    expect(sample(text, 'ws_outbox_dropped_messages_total')).toBe(5);
    expect(sample(text, 'ws_outbox_batch_size_count')).toBe(1);
    expect(
      sample(text, 'ws_outbox_operations_total', { operation: 'search', outcome: 'complete' }),
    ).toBe(1);
    // Each copy reads what the other recorded.
    expect((await a.batchSize.get()).values).toContainEqual(
      expect.objectContaining({ metricName: 'ws_outbox_batch_size_sum', value: 7 }),
    );
    expect((await b.droppedMessages.get()).values[0].value).toBe(5);
  });

  it('should reuse matching metrics registered before the first outbox', async () => {
    const registry = new Registry();
    const dropped = new Counter({
      name: 'ws_outbox_dropped_messages_total',
      help: 'Registered by the application.',
      registers: [registry],
    });
    const operations = new Counter({
      name: 'ws_outbox_operations_total',
      help: 'Registered by the application, label names in another order.',
      labelNames: ['outcome', 'operation'],
      registers: [registry],
    });
    const latency = new Histogram({
      name: 'ws_outbox_send_latency_seconds',
      help: 'Registered by the application.',
      buckets: SEND_LATENCY_BUCKETS,
      registers: [registry],
    });

    const metrics = outboxMetrics(registry);

    expect(metrics.droppedMessages).toBe(dropped);
    expect(metrics.operations).toBe(operations);
    expect(metrics.sendLatency).toBe(latency);
  });

  describe('a metric of the same name that does not match', () => {
    it.each([
      [
        'another type',
        (registry: Registry) =>
          new Gauge({ name: 'ws_outbox_batch_size', help: 'h', registers: [registry] }),
        'ws-outbox: the metric ws_outbox_batch_size is already registered with type gauge, ' +
          'but ws-outbox needs histogram',
      ],
      [
        'other label names',
        (registry: Registry) =>
          new Counter({
            name: 'ws_outbox_rejected_messages_total',
            help: 'h',
            labelNames: ['reason'],
            registers: [registry],
          }),
        'ws-outbox: the metric ws_outbox_rejected_messages_total is already registered with ' +
          'label names [reason], but ws-outbox needs [code]',
      ],
      [
        'no label names where some are needed',
        (registry: Registry) =>
          new Histogram({
            name: 'ws_outbox_operation_duration_seconds',
            help: 'h',
            buckets: OPERATION_DURATION_BUCKETS,
            registers: [registry],
          }),
        'ws-outbox: the metric ws_outbox_operation_duration_seconds is already registered ' +
          'with label names [], but ws-outbox needs [operation]',
      ],
      [
        'other buckets',
        (registry: Registry) =>
          new Histogram({
            name: 'ws_outbox_batch_size',
            help: 'h',
            buckets: [1, 10, 100],
            registers: [registry],
          }),
        'ws-outbox: the metric ws_outbox_batch_size is already registered with buckets ' +
          `[1, 10, 100], but ws-outbox needs [${BATCH_SIZE_BUCKETS.join(', ')}]`,
      ],
    ])('should throw an error naming the metric and the difference: %s', (_, register, message) => {
      const registry = new Registry();
      register(registry);

      expect(() => outboxMetrics(registry)).toThrow(message);
      // Nothing half-made is cached: the next call checks again.
      expect(() => outboxMetrics(registry)).toThrow(message);
    });

    it('should say how to get out of the conflict', () => {
      const registry = new Registry();
      new Counter({ name: 'ws_outbox_queue_size', help: 'h', registers: [registry] });

      expect(() => outboxMetrics(registry)).toThrow(/metrics: new Registry\(\)/);
    });
  });
});
