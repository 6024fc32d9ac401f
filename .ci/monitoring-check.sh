#!/usr/bin/env bash
# The monitoring in docs/ holds together:
#   - promtool accepts the Prometheus alert rules (docs/prometheus/alerts.yml);
#   - the rules' unit tests pass: given input series, each alert fires (and stays quiet) as
#     expected (docs/prometheus/alerts.test.yml);
#   - the Grafana dashboard (docs/grafana/ws-outbox.json) is valid JSON, every panel has queries,
#     every query names only metrics that src/metrics.ts registers (histograms with their
#     _bucket/_sum/_count series), and the original design's five metrics all have a panel;
#   - every dashboard query parses as PromQL (promtool checks them as recording rules);
#   - the alert rules, their tests and docs/monitoring.md name no metric that does not exist.
#
# Needs no node_modules. Installs the Debian prometheus package when promtool is missing (CI
# runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
fi
promtool --version 2>&1 | head -1

promtool check rules docs/prometheus/alerts.yml
promtool test rules docs/prometheus/alerts.test.yml

node - <<'EOF'
const fs = require('fs');
const source = fs.readFileSync('src/metrics.ts', 'utf8');
const kinds = new Map();
// Each metric is made by the counter(), gauge() or histogram() helper: `counter(registry, {
// name: 'ws_outbox_…'`.
for (const [, kind, name] of source.matchAll(/\b(counter|gauge|histogram)\(registry, \{\s*name: '(ws_outbox_\w+)'/g)) {
  kinds.set(name, kind[0].toUpperCase() + kind.slice(1));
}
if (kinds.size < 5) throw new Error(`found only ${kinds.size} metrics in src/metrics.ts`);
const series = new Set(kinds.keys());
for (const [name, kind] of kinds) {
  if (kind === 'Histogram') for (const s of ['_bucket', '_sum', '_count']) series.add(name + s);
}
const failures = [];
const namesIn = (text) => text.match(/\bws_outbox_\w+/g) ?? [];
const checkNames = (where, text) => {
  for (const name of namesIn(text)) {
    if (!series.has(name)) failures.push(`${where}: unknown metric ${name}`);
  }
};

const file = 'docs/grafana/ws-outbox.json';
const dashboard = JSON.parse(fs.readFileSync(file, 'utf8'));
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
const used = new Set();
for (const panel of panels) {
  const exprs = (panel.targets ?? []).map((t) => t.expr);
  if (exprs.length === 0) failures.push(`${file}: panel "${panel.title}" has no queries`);
  for (const expr of exprs) {
    if (typeof expr !== 'string' || namesIn(expr).length === 0) {
      failures.push(`${file}: panel "${panel.title}": query names no ws_outbox_ metric: ${expr}`);
      continue;
    }
    checkNames(`${file}: panel "${panel.title}"`, expr);
    for (const name of namesIn(expr)) used.add(name.replace(/_(bucket|sum|count)$/, ''));
  }
}
for (const v of dashboard.templating?.list ?? []) checkNames(`${file}: variable ${v.name}`, JSON.stringify(v));
for (const name of [
  'ws_outbox_queue_size',
  'ws_outbox_batch_size',
  'ws_outbox_send_latency_seconds',
  'ws_outbox_dropped_messages_total',
  'ws_outbox_send_errors_total',
]) {
  if (!used.has(name)) failures.push(`${file}: no panel queries ${name}`);
}
for (const f of ['docs/prometheus/alerts.yml', 'docs/prometheus/alerts.test.yml', 'docs/monitoring.md']) {
  checkNames(f, fs.readFileSync(f, 'utf8'));
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(`${file}: ${panels.length} panels, metric names all in src/metrics.ts (${kinds.size} metrics)`);
EOF
# The dashboard's queries parse as PromQL: promtool checks them as recording rules (the job
# variable replaced by a regex that matches everything).
rules=$(mktemp --suffix=.yml)
trap 'rm -f "$rules"' EXIT
node -e '
  const d = JSON.parse(require("fs").readFileSync("docs/grafana/ws-outbox.json", "utf8"));
  const exprs = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).flatMap((p) => p.targets ?? []);
  const rules = exprs.map((t, i) => ({ record: `dashboard:query_${i}`, expr: t.expr.replaceAll("$job", ".*") }));
  console.log(JSON.stringify({ groups: [{ name: "dashboard", rules }] }));' >"$rules"
promtool check rules "$rules"

echo "monitoring check: ok"
