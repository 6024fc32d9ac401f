/**
 * The value of one sample in Prometheus text exposition, e.g. `sample(text,
 * 'ws_outbox_batch_size_bucket', { le: '10' })`. Throws when the sample is absent, so a renamed
 * metric fails loudly instead of reading as 0.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = (match[2] ?? '').split(',').filter(Boolean).sort().join(',');
    if (found === wanted) return Number(match[3]);
  }
  throw new Error(`metric sample ${name}{${wanted}} not found`);
}

/** The `le` labels of a histogram's buckets, in the order the text lists them. */
export function bucketBounds(text: string, histogram: string): string[] {
  const bounds: string[] = [];
  const pattern = new RegExp(`^${histogram}_bucket\\{(?:.*,)?le="([^"]+)"`);
  for (const line of text.split('\n')) {
    const match = pattern.exec(line);
    if (match) bounds.push(match[1]);
  }
  return bounds;
}

/**
 * Asserts the original design's five metrics are in `text` with their types, and the two histograms with
 * the original design's buckets exactly (literal here, not imported from src/, so a changed constant fails).
 */
export function expectSeedMetrics(text: string): void {
  expect(text).toContain('# TYPE ws_outbox_queue_size gauge');
  expect(text).toContain('# TYPE ws_outbox_batch_size histogram');
  expect(text).toContain('# TYPE ws_outbox_send_latency_seconds histogram');
  expect(text).toContain('# TYPE ws_outbox_dropped_messages_total counter');
  expect(text).toContain('# TYPE ws_outbox_send_errors_total counter');
  expect(bucketBounds(text, 'ws_outbox_batch_size')).toEqual([
    '1',
    '2',
    '5',
    '10',
    '20',
    '50',
    '100',
    '+Inf',
  ]);
  expect(bucketBounds(text, 'ws_outbox_send_latency_seconds')).toEqual([
    '0.001',
    '0.005',
    '0.01',
    '0.025',
    '0.05',
    '0.1',
    '0.25',
    '+Inf',
  ]);
}
