// Two copies of the package in one process, as when one dependency imports ws-outbox (the ES
// module build) and another requires it (the CommonJS build): both resolve their metrics on one
// prom-client registry, the second reusing the first's, and record into the same series.
// Run after `npm run build` (`npm run check:package` does).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

// The package by its own name, as its users load it.
const esm = await import('ws-outbox');
const cjs = require('ws-outbox');
assert.match(fileURLToPath(import.meta.resolve('ws-outbox')), /dist\/esm\/src\/index\.js$/);
assert.match(require.resolve('ws-outbox'), /dist\/cjs\/src\/index\.js$/);
assert.notEqual(esm.outboxMetrics, cjs.outboxMetrics, 'expected two copies of the package');

const { Registry, register: globalRegistry } = require('prom-client');
for (const [name, registry] of [
  ['a registry of its own', new Registry()],
  ['the global registry (the default)', undefined],
]) {
  const fromEsm = esm.outboxMetrics(registry);
  const fromCjs = cjs.outboxMetrics(registry);
  fromEsm.droppedMessages.inc(2);
  fromCjs.droppedMessages.inc(3);
  fromCjs.batchSize.observe(4);
  const text = await (registry ?? globalRegistry).metrics();
  assert.match(text, /^ws_outbox_dropped_messages_total 5$/m, name);
  assert.match(text, /^ws_outbox_batch_size_count 1$/m, name);
  console.log(`two builds, ${name}: one set of metrics`);
}
