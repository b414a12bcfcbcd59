// Checks the Grafana dashboard: valid JSON, unique panel ids, every query
// non-empty and on the dashboard's Prometheus datasource variable, only the
// metric names prune-service exports (common/metrics/README.md, the list below),
// and the panels operations relies on.
// Usage: node grafana_check.js DASHBOARD.json
'use strict';
const fs = require('fs');

// The exported metrics. Histograms also expose _bucket, _sum and _count.
const COUNTERS_AND_GAUGES = [
  'prune_rpc_requests_total', 'prune_upload_bytes_total', 'prune_jobs_created_total',
  'prune_jobs', 'prune_job_attempts_total', 'prune_job_rescues_total', 'prune_worker_busy',
  'prune_evaluations_total', 'prune_search_episodes_total', 'prune_best_accuracy',
];
const HISTOGRAMS = [
  'prune_rpc_duration_seconds', 'prune_job_queue_wait_seconds', 'prune_job_duration_seconds',
  'prune_evaluation_duration_seconds',
];
const allowed = new Set(COUNTERS_AND_GAUGES);
for (const h of HISTOGRAMS) for (const s of ['_bucket', '_sum', '_count']) allowed.add(h + s);

// Panels the issue asks for: a query matching each pattern must exist.
const REQUIRED = {
  'queue depth by state': /prune_jobs\b[^{]*\)|by \(state\) \(prune_jobs\)/,
  'job throughput': /rate\(prune_job_duration_seconds_count/,
  'job failures': /prune_job_duration_seconds_count\{outcome="failed"\}/,
  'job duration p50': /histogram_quantile\(0\.5, .*rate\(prune_job_duration_seconds_bucket/,
  'job duration p95': /histogram_quantile\(0\.95, .*rate\(prune_job_duration_seconds_bucket/,
  'job duration p99': /histogram_quantile\(0\.99, .*rate\(prune_job_duration_seconds_bucket/,
  'evaluations per second': /rate\(prune_evaluations_total/,
  'RPC error rate by code': /sum by \(code\) \(rate\(prune_rpc_requests_total/,
};

const file = process.argv[2];
const problems = [];
let dash;
try {
  dash = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`${file}: ${e.message}`);
  process.exit(1);
}
const datasourceVar = ((dash.templating || {}).list || []).find((v) => v.type === 'datasource');
if (!datasourceVar || datasourceVar.query !== 'prometheus') problems.push('needs a Prometheus datasource variable');
const dsRef = datasourceVar ? `\${${datasourceVar.name}}` : undefined;

const panels = [];
(function walk(list) {
  for (const p of list || []) { panels.push(p); walk(p.panels); }
})(dash.panels);
const ids = new Set();
const exprs = [];
for (const p of panels) {
  if (ids.has(p.id)) problems.push(`panel id ${p.id} is used twice`);
  ids.add(p.id);
  if (p.type === 'row') continue;
  if (!p.title) problems.push(`panel ${p.id} has no title`);
  if (!p.targets || p.targets.length === 0) problems.push(`panel "${p.title}" has no queries`);
  for (const t of p.targets || []) {
    if (typeof t.expr !== 'string' || !t.expr.trim()) { problems.push(`panel "${p.title}" has an empty query`); continue; }
    if (!t.datasource || t.datasource.uid !== dsRef) problems.push(`panel "${p.title}" query ${t.refId} is not on ${dsRef}`);
    exprs.push(t.expr);
    for (const name of t.expr.match(/\bprune_[a-zA-Z0-9_]*/g) || []) {
      if (!allowed.has(name)) problems.push(`panel "${p.title}": unknown metric ${name}`);
    }
    const opens = (t.expr.match(/\(/g) || []).length;
    const closes = (t.expr.match(/\)/g) || []).length;
    if (opens !== closes) problems.push(`panel "${p.title}": unbalanced parentheses in ${t.expr}`);
  }
}
for (const [what, re] of Object.entries(REQUIRED)) {
  if (!exprs.some((e) => re.test(e))) problems.push(`no panel shows ${what}`);
}
for (const p of problems) console.error(`${file}: ${p}`);
console.log(`grafana_check: ${panels.length} panels, ${exprs.length} queries, ${problems.length} problems`);
process.exit(problems.length === 0 ? 0 : 1);
