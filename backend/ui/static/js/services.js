// The Services home: for each service its request rate, error rate and
// p50/p95/p99 latency over the range, from its server duration histogram
// or, for a service that sends no such metric, from its spans; a sparkline
// of its request rate; links to its traces, its slowest exemplars and its
// logs. Below, the service map from the spans' parent-child calls.

import { h, s, href, errorBox, loading } from './dom.js';
import { getJSON, metricNames, services } from './api.js';
import { emptyState } from './empty.js';
import { RANGES, rangeSeconds, stepSeconds, rateWindow, kind, pickMetric, promString } from './metrics.js';
import { isError } from './traces.js';
import { fmtUnit } from './units.js';

const DEFAULT_RANGE = '1h';
// SPAN_TRACES bounds the traces read per service that sends no metrics.
const SPAN_TRACES = 500;
const SPARK_POINTS = 40;
const QUANTILES = [0.5, 0.95, 0.99];

// serverHistogram is the HTTP or RPC server duration histogram, if the
// store has one: {family, native, errors} where errors selects failed calls.
function serverHistogram(names, cat) {
  const name = pickMetric(names, cat);
  if (!/^(http|rpc)_server_/.test(name)) return null;
  const k = kind(name, cat);
  if (k.type !== 'histogram' && k.type !== 'native histogram') return null;
  const errors = name.startsWith('http_') ? 'http_response_status_code=~"5.."' : 'rpc_grpc_status_code!~"0|"';
  return { family: k.family, native: k.type === 'native histogram', errors };
}

// serviceOf is the service name of a job label (namespace/name or name).
const serviceOf = (job) => job.slice(job.lastIndexOf('/') + 1);

async function vectorByJob(query, time, signal) {
  const r = await getJSON('/api/v1/query', { query, time: time.toFixed(3) }, signal);
  const out = new Map();
  for (const x of r.data?.result || []) out.set(x.metric?.job || '', parseFloat(x.value?.[1]));
  return out;
}

// covered is the time, in seconds, over which a rate divides a count: the
// range, or less when the data in it began later (a service started a
// minute ago, or the latest traces that a limit kept), so that a service
// doing 5 requests/s shows 5/s from its first minute, not 5/60 of it.
function covered(sinceFirst, rangeS) {
  return Math.min(rangeS, Math.max(1, sinceFirst));
}

// increase is the query of the requests counted by the server histogram
// over the range, of those that sel selects.
function increase(hist, range, sel = '') {
  const f = hist.family;
  return hist.native ? `histogram_count(increase(${f}${sel}[${range}]))` : `increase(${f}_count${sel}[${range}])`;
}

// requestTotals is the number of requests of each job over the range, from
// the server histogram: the services it has no row for are derived from
// spans, and can be started before the other metric queries end.
function requestTotals(hist, range, end, signal) {
  return vectorByJob(`sum by (job) (${increase(hist, range)})`, end, signal);
}

// stats asks, in one PromQL query, for what each job's row needs besides
// its request count: its failed requests over the range, the time of its
// first sample in the range (to a 720th of it) and its QUANTILES. Each part
// is labelled stat=…, and they are joined with "or": one query reads and
// translates the histogram's series once, where a query per figure read
// them five times (BENCHMARKS.md, "The Services home's requests to the
// Prometheus API").
function statsQuery(hist, rangeS, range) {
  const f = hist.family;
  const res = Math.max(1, Math.ceil(rangeS / 720));
  const parts = {
    errors: `sum by (job) (${increase(hist, range, `{${hist.errors}}`)})`,
    first: `min by (job) (min_over_time(timestamp(${hist.native ? f : `${f}_count`})[${range}:${res}s]))`,
  };
  for (const p of QUANTILES) {
    parts[`p${p}`] = hist.native
      ? `histogram_quantile(${p}, sum by (job) (increase(${f}[${range}])))`
      : `histogram_quantile(${p}, sum by (job, le) (increase(${f}_bucket[${range}])))`;
  }
  return {
    res,
    query: Object.entries(parts).map(([stat, q]) => `label_replace(${q}, "stat", "${stat}", "", "")`).join(' or '),
  };
}

// fromMetrics computes each job's row from the server histogram; totals
// is requestTotals' answer, pending.
async function fromMetrics(hist, totals, rangeS, range, end, signal) {
  const f = hist.family;
  const step = Math.max(stepSeconds(rangeS), Math.ceil(rangeS / SPARK_POINTS));
  const spark = (w) => hist.native ? `sum by (job) (histogram_count(rate(${f}[${w}])))` : `sum by (job) (rate(${f}_count[${w}]))`;
  // The spacing of the _count series' samples is the buckets' (one point
  // gives all of them), for a sixteenth of the series to read.
  const windowP = rateWindow(`${f}_count`, rangeS, signal);
  const { res, query } = statsQuery(hist, rangeS, range);
  const [total, stats, [w, sparkRes]] = await Promise.all([
    totals,
    getJSON('/api/v1/query', { query, time: end.toFixed(3) }, signal),
    windowP.then(async (w) => [w, await getJSON('/api/v1/query_range', { query: spark(w), start: (end - rangeS).toFixed(3), end: end.toFixed(3), step }, signal)]),
  ]);
  // by.get(stat).get(job) is a job's figure.
  const by = new Map();
  for (const x of stats.data?.result || []) {
    const stat = x.metric?.stat || '';
    if (!by.has(stat)) by.set(stat, new Map());
    by.get(stat).set(x.metric?.job || '', parseFloat(x.value?.[1]));
  }
  const stat = (name) => by.get(name) || new Map();
  const errors = stat('errors'), firsts = stat('first');
  const qs = QUANTILES.map((p) => stat(`p${p}`));
  const sparks = new Map((sparkRes.data?.result || []).map((x) => [x.metric?.job || '',
    (x.values || []).map(([t, v]) => [t * 1000, parseFloat(v)])]));
  const rows = [];
  for (const [job, n] of total) {
    const service = serviceOf(job);
    // No step of the subquery saw a sample of a job that has some: its
    // first came after the last step, less than res seconds ago.
    const since = end - (firsts.get(job) ?? end - res);
    rows.push({
      service, job, source: 'metrics', requests: n, rate: n / covered(since, rangeS), errorRate: n > 0 ? (errors.get(job) || 0) / n : NaN,
      quantiles: qs.map((m) => m.get(job)), spark: sparks.get(job) || [],
      slowest: href('/metrics', {
        metric: hist.native ? f : `${f}_bucket`, range,
        q: hist.native
          ? `histogram_quantile(0.95, sum(rate(${f}{job=${promString(job)}}[${w}])))`
          : `histogram_quantile(0.95, sum by (le) (rate(${f}_bucket{job=${promString(job)}}[${w}])))`,
      }),
    });
  }
  return rows;
}

// entrySpans are the spans by which requests enter service: those of the
// service whose parent is missing or in another service.
function entrySpans(trace, service) {
  const svc = (sp) => trace.processes?.[sp.processID]?.serviceName;
  const byID = new Map((trace.spans || []).map((sp) => [sp.spanID, sp]));
  return (trace.spans || []).filter((sp) => {
    if (svc(sp) !== service) return false;
    const ref = (sp.references || []).find((r) => r.refType === 'CHILD_OF');
    const parent = ref && byID.get(ref.spanID);
    return !parent || svc(parent) !== service;
  });
}

// quantile is the p-quantile of sorted values (nearest rank).
function quantile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

// fromSpans computes a service's row from its entry spans in the latest
// SPAN_TRACES traces of the range. The search sends only the service's own
// spans of each trace (spansOf), compact: a span whose parent is not among
// them entered the service, as entrySpans reads it, and the demo's worker
// answers 1.3 MB, not 10.9 MB of whole traces, two minutes into the demo.
async function fromSpans(service, rangeS, range, signal) {
  const r = await getJSON('/api/traces', { service, spansOf: service, compact: 'true', lookback: range, limit: SPAN_TRACES }, signal);
  const spans = (r.data || []).flatMap((t) => entrySpans(t, service));
  const end = Date.now();
  const full = (r.data || []).length < SPAN_TRACES;
  const oldest = Math.min(...spans.map((sp) => sp.startTime / 1000));
  const durations = spans.map((sp) => sp.duration / 1e6).sort((a, b) => a - b);
  const buckets = new Array(SPARK_POINTS).fill(0);
  const width = (rangeS * 1000) / SPARK_POINTS;
  for (const sp of spans) {
    const b = Math.floor((sp.startTime / 1000 - (end - rangeS * 1000)) / width);
    if (b >= 0 && b < SPARK_POINTS) buckets[b]++;
  }
  const errors = spans.filter(isError).length;
  const p95 = quantile(durations, 0.95);
  return {
    service, source: full ? 'spans' : `spans (latest ${SPAN_TRACES} traces)`,
    requests: spans.length, rate: spans.length / covered(spans.length ? (end - oldest) / 1000 : rangeS, rangeS), errorRate: spans.length ? errors / spans.length : NaN,
    quantiles: QUANTILES.map((p) => quantile(durations, p)),
    spark: buckets.map((n, i) => [end - rangeS * 1000 + (i + 0.5) * width, n / (width / 1000)]),
    slowest: href('/traces', { service, lookback: range, minDuration: isFinite(p95) ? `${Math.floor(p95 * 1e6)}us` : '' }),
  };
}

// sparkline draws [ms, value] points as a small line.
function sparkline(points, label) {
  const W = 120, H = 26;
  const vals = points.map(([, v]) => v).filter(isFinite);
  const svg = s('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': label });
  if (vals.length < 2) return svg;
  const t0 = points[0][0], t1 = points[points.length - 1][0] || t0 + 1;
  const hi = Math.max(...vals, 1e-9);
  let d = '';
  for (const [t, v] of points) {
    if (!isFinite(v)) continue;
    d += (d ? 'L' : 'M') + ((W - 2) * (t - t0) / Math.max(1, t1 - t0) + 1).toFixed(1) + ',' + (H - 2 - (H - 4) * v / hi).toFixed(1);
  }
  svg.append(s('path', { d, fill: 'none', stroke: '#3b6fd8', 'stroke-width': 1.5 }));
  return svg;
}

export async function renderServices(main, params, { signal }) {
  const range = RANGES.includes(params.get('range')) ? params.get('range') : DEFAULT_RANGE;
  const rangeS = rangeSeconds(range);
  main.append(h('h1', { text: 'Services' }), loading('services'));
  const [svcs, names, meta] = await Promise.all([
    services(signal).catch(() => []),
    metricNames(signal).catch(() => []),
    getJSON('/api/v1/metadata', null, signal).then((r) => r.data || {}, () => ({})),
  ]);
  if (signal.aborted) return;
  main.lastChild.remove();
  if (!svcs.length && !names.length) {
    // Logs alone name no service's requests: the page says where they are.
    const logs = await getJSON('/api/logs', { limit: 1, lookback: '' }, signal).then((r) => r.logs || [], () => []);
    if (signal.aborted) return;
    if (logs.length) {
      main.append(h('p', { id: 'logs-only' }, 'No spans or metrics yet, only ', h('a', { href: href('/logs'), text: 'logs' }), '.'));
    } else {
      main.append(await emptyState('data'));
    }
    return;
  }
  const rangeSel = h('select', { id: 'services-range', name: 'range', 'aria-label': 'Time range' },
    RANGES.map((r) => h('option', { value: r, selected: r === range, text: `last ${r}` })));
  rangeSel.addEventListener('change', () => { location.hash = href('/services', { range: rangeSel.value }); });
  main.append(h('div', { class: 'controls' }, h('label', {}, 'Range ', rangeSel)));

  const result = h('section', { class: 'result', id: 'services-result', 'aria-live': 'polite' }, loading('their figures'));
  main.append(result);
  const hist = serverHistogram(names, { meta, names: new Set(names) });
  let rows = [];
  try {
    // The services without a server histogram are known from the totals,
    // the first of the metric queries: their span searches run beside the
    // rest of them.
    const end = Date.now() / 1000;
    const totals = hist ? requestTotals(hist, range, end, signal) : Promise.resolve(new Map());
    const derived = totals.then((total) => {
      const have = new Set([...total.keys()].map(serviceOf));
      return Promise.all(svcs.filter((sv) => !have.has(sv)).map((sv) => fromSpans(sv, rangeS, range, signal)));
    });
    const [fromHist, fromSpanRows] = await Promise.all([hist ? fromMetrics(hist, totals, rangeS, range, end, signal) : [], derived]);
    rows = [...fromHist, ...fromSpanRows];
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    result.replaceChildren(errorBox(err));
    return;
  }
  if (signal.aborted) return;
  rows.sort((a, b) => a.service.localeCompare(b.service));
  const secs = (v) => (isFinite(v) ? fmtUnit(v, 'seconds') : '—');
  result.replaceChildren(h('table', { class: 'list', id: 'services-table' },
    h('caption', { text: `${rows.length} service${rows.length === 1 ? '' : 's'}, last ${range}: requests entering each service` }),
    h('thead', {}, h('tr', {}, ['Service', 'Requests', '', 'Errors', 'p50', 'p95', 'p99', 'From', 'Go to'].map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, rows.map((x) => h('tr', { class: x.errorRate > 0 ? 'has-error' : '', dataset: { service: x.service, source: x.source.split(' ')[0] } },
      h('th', { scope: 'row' }, h('a', { class: 'svc-link', href: href('/traces', { service: x.service, lookback: range }), text: x.service })),
      h('td', { class: 'num nowrap rate', text: fmtUnit(x.rate, '/s') }),
      h('td', {}, sparkline(x.spark, `requests per second of ${x.service}`)),
      h('td', { class: x.errorRate > 0 ? 'num error-count err-rate' : 'num err-rate', text: isFinite(x.errorRate) ? fmtUnit(x.errorRate, 'ratio') : '—' }),
      x.quantiles.map((v, i) => h('td', { class: `num nowrap p${Math.round(QUANTILES[i] * 100)}`, text: secs(v) })),
      h('td', { class: 'muted small', text: x.source }),
      h('td', { class: 'nowrap links' },
        h('a', { class: 'traces-link', href: href('/traces', { service: x.service, lookback: range }), text: 'traces' }), ' · ',
        h('a', { class: 'slowest-link', href: x.slowest, text: x.source === 'metrics' ? 'slowest exemplars' : 'slowest traces' }), ' · ',
        h('a', { class: 'logs-link', href: href('/logs', { service: x.service, lookback: range }), text: 'logs' })))))));

  const mapBox = h('section', { id: 'service-map-box' }, h('h2', { text: 'Service map' }), loading('the calls between services'));
  main.append(mapBox);
  try {
    const r = await getJSON('/api/dependencies', { endTs: Date.now(), lookback: rangeS * 1000 }, signal);
    mapBox.lastChild.replaceWith(serviceMap(r.data || [], range));
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    mapBox.lastChild.replaceWith(errorBox(err));
  }
}

// serviceMap draws the calls between services left to right: each service
// in the column of its longest chain of callers, an arrow per caller and
// callee with its count of calls.
export function serviceMap(links, range) {
  links = links.filter((l) => l.parent !== l.child);
  if (!links.length) return h('p', { class: 'muted', id: 'no-service-map', text: 'No calls between services in this range.' });
  const nodes = [...new Set(links.flatMap((l) => [l.parent, l.child]))].sort();
  const depth = new Map(nodes.map((n) => [n, 0]));
  // Longest path from a root, bounded by the number of nodes (cycles stop).
  for (let i = 0; i < nodes.length; i++) {
    for (const l of links) depth.set(l.child, Math.max(depth.get(l.child), Math.min(nodes.length - 1, depth.get(l.parent) + 1)));
  }
  const cols = [];
  for (const n of nodes) (cols[depth.get(n)] ||= []).push(n);
  const colsUsed = cols.filter(Boolean);
  const NW = 150, NH = 30, GX = 90, GY = 22;
  const rowsMax = Math.max(...colsUsed.map((c) => c.length));
  const W = colsUsed.length * NW + (colsUsed.length - 1) * GX + 20, H = rowsMax * NH + (rowsMax - 1) * GY + 20;
  const pos = new Map();
  colsUsed.forEach((c, ci) => c.forEach((n, ri) => {
    const off = ((rowsMax - c.length) * (NH + GY)) / 2;
    pos.set(n, { x: 10 + ci * (NW + GX), y: 10 + off + ri * (NH + GY) });
  }));
  const svg = s('svg', { class: 'service-map', id: 'service-map', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-label': `Service map: ${links.length} caller-callee pairs` });
  svg.append(s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    s('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#667085' }))));
  for (const l of links) {
    const a = pos.get(l.parent), b = pos.get(l.child);
    const back = b.x <= a.x;
    const x1 = back ? a.x + NW / 2 : a.x + NW, y1 = a.y + (back ? NH : NH / 2);
    const x2 = back ? b.x + NW / 2 : b.x, y2 = b.y + (back ? NH : NH / 2);
    const mx = (x1 + x2) / 2;
    const d = back ? `M${x1},${y1} C${x1},${y1 + 40} ${x2},${y2 + 40} ${x2},${y2}` : `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
    svg.append(s('g', { class: 'edge', dataset: { parent: l.parent, child: l.child } },
      s('title', { text: `${l.parent} → ${l.child}: ${l.callCount} calls` }),
      s('path', { d, fill: 'none', stroke: '#9aa3b1', 'stroke-width': 1.5, 'marker-end': 'url(#arrow)' }),
      // The count near the callee, where arrows into it part.
      s('text', { class: 'edge-count', x: back ? x2 + 14 : x2 - 8, y: y2 - 5, 'text-anchor': back ? 'start' : 'end', text: String(l.callCount) })));
  }
  for (const n of nodes) {
    const p = pos.get(n);
    const a = s('a', { href: href('/traces', { service: n, lookback: range }), class: 'node', dataset: { service: n } },
      s('rect', { x: p.x, y: p.y, width: NW, height: NH, rx: 5 }),
      s('text', { x: p.x + NW / 2, y: p.y + NH / 2 + 4, 'text-anchor': 'middle', text: n.length > 20 ? n.slice(0, 19) + '…' : n }));
    svg.append(a);
  }
  return h('div', { class: 'map-wrap' }, svg);
}
