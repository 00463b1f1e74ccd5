// The metrics view: a PromQL query over time with its exemplars; a click on
// an exemplar opens its trace with its span selected.

import { h, href, traceHref, errorBox, loading, fmtTime, tzLabel } from './dom.js';
import { getJSON, metricNames, services } from './api.js';
import { chart, legend } from './chart.js';
import { emptyState } from './empty.js';
import { fmtUnit, queryUnit } from './units.js';

export const RANGES = ['5m', '15m', '30m', '1h', '3h', '6h', '12h', '24h', '2d', '7d'];
const DEFAULT_RANGE = '1h';
const MAX_SERIES = 20;
const MAX_EXEMPLAR_ROWS = 50;
// EXEMPLAR_BUCKETS is how many time buckets the chart's width holds for
// thinning exemplars: each keeps its slowest exemplar and its slowest error.
const EXEMPLAR_BUCKETS = 60;

export function rangeSeconds(r) {
  const m = /^(\d+)([smhd])$/.exec(r || '');
  if (!m) return 3600;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

// stepSeconds gives about 240 points over the range.
export function stepSeconds(rangeS) {
  return Math.max(1, Math.ceil(rangeS / 240));
}

// fallbackWindow is the range of rate() when the server cannot measure
// one: four times the SDKs' default export interval of 60 s, or more at
// long steps (Grafana's $__rate_interval for that interval).
function fallbackWindow(rangeS) {
  const w = Math.max(240, 60 + stepSeconds(rangeS));
  return w % 60 === 0 ? `${w / 60}m` : `${w}s`;
}

// rateWindow asks the server for the range a rate() of selector needs over
// the last rangeS seconds: from the spacing of the series' samples, so that
// it always holds two of them (the SDKs export every 60 s by default).
export async function rateWindow(selector, rangeS, signal) {
  if (!selector) return fallbackWindow(rangeS);
  const end = Date.now() / 1000;
  try {
    const r = await getJSON('/api/v1/rate_interval', {
      query: selector, start: (end - rangeS).toFixed(3), end: end.toFixed(3), step: stepSeconds(rangeS),
    }, signal);
    return r.data?.rateInterval || fallbackWindow(rangeS);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    return fallbackWindow(rangeS);
  }
}

// promString writes v as a PromQL string literal: quotes, backslashes and
// control characters escaped, and U+FFFD (what the APIs show for bytes
// that are not UTF-8) as \uFFFD, since PromQL's lexer refuses it written
// out.
export function promString(v) {
  return JSON.stringify(String(v)).replaceAll('\uFFFD', '\\uFFFD');
}

// selectorOf is the series whose sample spacing gives the rate window of
// a metric's suggestions: of a histogram or summary, its _count, whose
// samples come with the others' (a classic histogram's _bucket is 16
// series for one _count, the SDKs' default bounds).
function selectorOf(name, cat) {
  const k = kind(name, cat);
  if (k.type === 'histogram' || k.type === 'summary') return k.family + '_count';
  return name;
}

// unitOf is the unit of a metric's family in the metadata ("seconds",
// "bytes", …), or ''.
export function unitOf(name, cat) {
  return cat.meta[kind(name, cat).family]?.[0]?.unit || '';
}

// kind tells what a metric name is, from the metadata of its family (cat
// is {meta, names}: the /api/v1/metadata answer and a Set of the names). A
// classic histogram F has the series F_bucket, F_count and F_sum; an
// exponential one is served as a native histogram F (with F_count and F_sum).
export function kind(name, cat) {
  const type = (n) => cat.meta[n]?.[0]?.type;
  for (const suffix of ['_bucket', '_count', '_sum']) {
    if (!name.endsWith(suffix)) continue;
    const family = name.slice(0, -suffix.length);
    if (type(family) === 'histogram') {
      const native = !cat.names.has(family + '_bucket') && cat.names.has(family);
      return { type: native ? 'native histogram' : 'histogram', family };
    }
    if (type(family) === 'summary') return { type: 'summary', family };
  }
  const t = type(name);
  if (t === 'histogram' && !cat.names.has(name + '_bucket')) return { type: 'native histogram', family: name };
  if (t === 'counter' || (!t && name.endsWith('_total'))) return { type: 'counter', family: name };
  return { type: t || 'gauge', family: name };
}

// suggestions are the usual queries of a metric: quantiles and the request
// rate of a histogram, the rate of a counter, a gauge as it is; w is the
// range of their rate().
export function suggestions(name, cat, w) {
  const k = kind(name, cat);
  const f = k.family;
  const quantiles = (q) => [0.5, 0.95, 0.99].map((p) => ({ label: `p${Math.round(p * 100)}`, q: q(p) }));
  switch (k.type) {
    case 'histogram':
      return [...quantiles((p) => `histogram_quantile(${p}, sum by (le) (rate(${f}_bucket[${w}])))`),
        { label: 'rate', q: `sum(rate(${f}_count[${w}]))` }];
    case 'native histogram':
      return [...quantiles((p) => `histogram_quantile(${p}, sum(rate(${f}[${w}])))`),
        { label: 'rate', q: `sum(histogram_count(rate(${f}[${w}])))` }];
    case 'summary':
      return [{ label: 'quantiles', q: f }, { label: 'rate', q: `sum(rate(${f}_count[${w}]))` }];
    case 'counter':
      return [
        { label: 'rate', q: `sum(rate(${name}[${w}]))` },
        { label: 'rate by job', q: `sum by (job) (rate(${name}[${w}]))` },
      ];
  }
  return [{ label: 'value', q: name }];
}

// suggested is the suggestion of a metric labelled label (p95 by
// default), or its first one.
function suggested(name, cat, w, label) {
  const sg = suggestions(name, cat, w);
  return (sg.find((x) => x.label === (label || 'p95')) || sg[0]).q;
}

// pickMetric chooses what to show first: the HTTP or RPC server duration
// histogram, else another server duration, else any duration or latency
// histogram, else a histogram, a counter, any metric but target_info.
export function pickMetric(names, cat) {
  const real = names.filter((n) => n !== 'target_info');
  const hist = real.filter((n) => {
    const k = kind(n, cat);
    return (k.type === 'histogram' && n.endsWith('_bucket')) || (k.type === 'native histogram' && n === k.family);
  });
  return hist.find((n) => /^(http|rpc)_server_(request_|call_)?duration/.test(n)) ||
    hist.find((n) => /server.*(duration|latency)/.test(n)) ||
    hist.find((n) => /duration|latency/.test(n)) || hist[0] ||
    real.find((n) => kind(n, cat).type === 'counter') || real[0] || '';
}

// metricOf is the longest metric name the query reads.
function metricOf(q, names) {
  let best = '';
  for (const n of names) if (n.length > best.length && new RegExp(`\\b${n}\\b`).test(q)) best = n;
  return best;
}

// isErrorSeries tells an exemplar's series of a failed request: a 5xx HTTP
// status, a gRPC status other than OK, an error.type or an ERROR status.
export function isErrorSeries(labels) {
  const l = labels || {};
  return Number(l.http_response_status_code) >= 500 || Number(l.http_status_code) >= 500 ||
    (l.rpc_grpc_status_code !== undefined && l.rpc_grpc_status_code !== '0') ||
    Boolean(l.error_type) || l.otel_status_code === 'ERROR';
}

// thin keeps, in each of n time buckets of [start, end], the slowest
// exemplar and the slowest error: the ones that tell the most.
export function thin(exemplars, start, end, n) {
  const keep = new Map();
  const width = (end - start) / n || 1;
  for (const e of exemplars) {
    const b = Math.max(0, Math.min(n - 1, Math.floor((e.t - start) / width)));
    for (const key of e.error ? [`${b}`, `${b}e`] : [`${b}`]) {
      const cur = keep.get(key);
      if (!cur || e.v > cur.v) keep.set(key, e);
    }
  }
  return [...new Set(keep.values())].sort((a, b) => a.t - b.t);
}

// earliest is the time (ms) of the first point of a query_range result or
// the first exemplar, Infinity when there is none.
function earliest(result, exemplars) {
  let first = Infinity;
  for (const r of result || []) {
    const t = r.values?.[0]?.[0] ?? r.histograms?.[0]?.[0];
    if (t !== undefined) first = Math.min(first, t * 1000);
  }
  for (const e of exemplars) first = Math.min(first, e.t);
  return first;
}

// youngStart is where the chart of young data starts: a tenth of the
// data's span, or a step, before its first sample (first), and not before
// since (where the query began). Grafana keeps the axis at the range
// picked, which draws a service started 30 s ago as a stub at the right
// edge of an hour, and its users then narrow the range by hand. Here the
// range keeps its meaning (the queries cover it, and nothing in it is
// older) and only the empty past is left out, the page saying so; the
// axis grows with the data until it spans the range.
function youngStart(since, first, end, stepMs) {
  if (!isFinite(first)) return since;
  return Math.max(since, first - Math.max(stepMs, (end - first) / 10));
}

function seriesName(metric) {
  const labels = Object.entries(metric || {}).filter(([k]) => k !== '__name__');
  const inner = labels.map(([k, v]) => `${k}="${v}"`).join(', ');
  const name = metric?.__name__ || '';
  return name + (inner ? `{${inner}}` : '');
}

export async function renderMetrics(main, params, { signal }) {
  const range = RANGES.includes(params.get('range')) ? params.get('range') : DEFAULT_RANGE;
  const rangeS = rangeSeconds(range);
  main.append(loading('metric names'));
  const [names, meta] = await Promise.all([
    metricNames(signal),
    getJSON('/api/v1/metadata', null, signal).then((r) => r.data || {}, () => ({})),
  ]);
  if (signal.aborted) return;
  main.replaceChildren();
  const cat = { meta, names: new Set(names) };

  let metric = params.get('metric') || '';
  let q = params.get('q') || '';
  const allExemplars = params.get('exemplars') === 'all';
  if (!q) metric ||= pickMetric(names, cat);
  const w = metric && names.includes(metric) ? await rateWindow(selectorOf(metric, cat), rangeS, signal) : fallbackWindow(rangeS);
  if (signal.aborted) return;
  if (!q && metric) {
    q = suggested(metric, cat, w, params.get('sg'));
    history.replaceState(null, '', href('/metrics', { metric, q, range }));
  }

  const go = (p) => {
    location.hash = href('/metrics', {
      metric: p.metric ?? metric, q: p.q ?? q, range: p.range ?? range, sg: p.sg,
      exemplars: (p.exemplars ?? allExemplars) ? 'all' : '',
    });
  };

  // The form.
  const select = h('select', { id: 'metric-select', name: 'metric' },
    h('option', { value: '', text: names.length ? '— pick a metric —' : '(no metrics yet)' }),
    names.map((n) => h('option', { value: n, selected: n === metric, text: `${n}  (${kind(n, cat).type})` })));
  select.addEventListener('change', () => {
    if (select.value) go({ metric: select.value, q: '' });
  });
  const input = h('input', {
    id: 'query-input', name: 'q', type: 'text', value: q, spellcheck: 'false', autocomplete: 'off',
    placeholder: 'PromQL, e.g. sum(rate(http_server_request_duration_seconds_count[5m]))',
    'aria-label': 'PromQL expression',
  });
  const rangeSel = h('select', { id: 'range-select', name: 'range', 'aria-label': 'Time range' },
    RANGES.map((r) => h('option', { value: r, selected: r === range, text: `last ${r}` })));
  rangeSel.addEventListener('change', () => {
    // Keep the query; a suggestion is made again for the new range, whose
    // rate window may differ.
    const sg = metric ? suggestions(metric, cat, w).find((x) => x.q === q) : null;
    go({ range: rangeSel.value, q: sg ? '' : q, sg: sg?.label });
  });
  const form = h('form', { class: 'controls', id: 'metrics-form' },
    h('label', {}, 'Metric ', select),
    h('label', { class: 'grow' }, 'Query ', input),
    rangeSel,
    h('button', { type: 'submit', text: 'Run' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go({ q: input.value.trim() });
  });
  main.append(h('h1', { text: 'Metrics' }), form);

  if (metric && names.includes(metric)) {
    main.append(h('div', { class: 'suggestions', role: 'group', 'aria-label': 'Suggested queries' },
      'Suggested: ',
      suggestions(metric, cat, w).map((sg) => h('a', {
        href: href('/metrics', { metric, q: sg.q, range }), class: sg.q === q ? 'chip on' : 'chip',
        title: sg.q, text: sg.label,
      }))));
  }

  if (!names.length) {
    const svc = await services(signal).catch(() => []);
    main.append(await emptyState(svc.length ? 'metrics' : 'data'));
    if (!q) return;
  }
  if (!q) {
    main.append(h('p', { class: 'muted' }, 'Pick a metric or type a PromQL expression.'));
    return;
  }

  const result = h('section', { class: 'result', id: 'metrics-result', 'aria-live': 'polite' }, loading('the query'));
  main.append(result);
  const end = Date.now() / 1000;
  const start = end - rangeS;
  let step = stepSeconds(rangeS);
  const rangeQuery = (from, st) => getJSON('/api/v1/query_range', { query: q, start: from.toFixed(3), end: end.toFixed(3), step: st }, signal);
  let [rangeRes, exRes] = await Promise.allSettled([
    rangeQuery(start, step),
    getJSON('/api/v1/query_exemplars', { query: q, start: start.toFixed(3), end: end.toFixed(3) }, signal),
  ]);
  if (signal.aborted) return;
  const exemplars = [];
  if (exRes.status === 'fulfilled') {
    // The API gives each exemplar once (cumulative exports repeat them).
    for (const sr of exRes.value.data || []) {
      for (const e of sr.exemplars || []) {
        const l = e.labels || {};
        if (!l.trace_id) continue;
        exemplars.push({
          t: Number(e.timestamp) * 1000, v: parseFloat(e.value), traceID: l.trace_id, spanID: l.span_id || '',
          series: seriesName(sr.seriesLabels), error: isErrorSeries(sr.seriesLabels) || isErrorSeries(l),
        });
      }
    }
  }
  // Young data, which begins later than half the range: the query runs
  // again from a step before its first point, at a step fit for that span,
  // and the chart starts shortly before its first sample (see youngStart).
  let from = start * 1000;
  const firstAt = (res) => earliest(res.status === 'fulfilled' ? res.value.data?.result : null, exemplars);
  const first1 = firstAt(rangeRes);
  if (isFinite(first1) && first1 - from > (rangeS * 1000) / 2) {
    const since = first1 / 1000 - step;
    const fine = stepSeconds(end - since);
    const again = await Promise.allSettled([rangeQuery(since, fine)]);
    if (signal.aborted) return;
    if (again[0].status === 'fulfilled') {
      [rangeRes, step] = [again[0], fine];
      from = youngStart(since * 1000, firstAt(rangeRes), end * 1000, step * 1000);
    }
  }
  result.replaceChildren();
  if (rangeRes.status === 'rejected') {
    result.append(errorBox(rangeRes.reason));
    return;
  }
  const data = rangeRes.value.data || {};
  const all = (data.result || []).map((r) => ({
    name: seriesName(r.metric) || q,
    points: (r.values || []).map(([t, v]) => [t * 1000, parseFloat(v)]),
  }));
  const nativeOnly = (data.result || []).filter((r) => r.histograms?.length && !r.values?.length).length;
  const series = all.filter((sr) => sr.points.length).slice(0, MAX_SERIES);
  for (const w of [...(rangeRes.value.warnings || []), ...(rangeRes.value.infos || [])]) {
    result.append(h('p', { class: 'warning', text: w }));
  }
  if (exRes.status === 'rejected') result.append(h('p', { class: 'warning', text: `Exemplars: ${exRes.reason.message}` }));
  if (nativeOnly) {
    result.append(h('p', { class: 'warning', id: 'native-note', text: `${nativeOnly} series are native histograms, which a line cannot show: ` +
      'chart histogram_quantile(0.95, sum(rate(…[5m]))) or histogram_count(rate(…[5m])) of them.' }));
  }
  if (!series.length && !exemplars.length) {
    result.append(h('p', { class: 'muted', id: 'no-samples' }, `No samples in the last ${range}. `,
      'A rate() needs two samples of a series within its window.'));
    return;
  }
  const open = (e) => { location.hash = traceHref(e.traceID, e.spanID); };
  // Units: the values' from the query over the metric it reads; the
  // exemplars' are measurements, in the metric's own unit.
  const read = metricOf(q, names) || metric;
  const unit = read ? unitOf(read, cat) : '';
  const fmtY = (v) => fmtUnit(v, queryUnit(q, unit));
  const fmtEx = (v) => fmtUnit(v, unit);
  const total = exemplars.length;
  const dots = allExemplars ? exemplars : thin(exemplars, from, end * 1000, EXEMPLAR_BUCKETS);
  result.append(chart({ series, exemplars: dots, start: from, end: end * 1000, stepMs: step * 1000, onExemplar: open, fmtY, fmtEx }));
  if (from > start * 1000) {
    result.append(h('p', { class: 'muted small', id: 'young-note', text: `The chart starts at ${fmtTime(new Date(from)).slice(11, 19)}, ` +
      `shortly before the first sample: the data covers less than half the last ${range}.` }));
  }
  if (total) {
    const toggle = h('a', {
      id: 'exemplar-toggle', class: 'chip',
      href: href('/metrics', { metric, q, range, exemplars: allExemplars ? '' : 'all' }),
      text: allExemplars ? `Show the slowest and errors only` : `Show all ${total} exemplars`,
    });
    result.append(h('p', { class: 'muted small', id: 'exemplar-note' },
      allExemplars ? `All ${total} exemplars. ` : `${dots.length} of ${total} exemplars: the slowest and the slowest error of each of ${EXEMPLAR_BUCKETS} time slices. `,
      total > dots.length || allExemplars ? toggle : null));
  }
  if (all.length > series.length) result.append(h('p', { class: 'muted', text: `Showing ${series.length} of ${all.length} series.` }));
  if (series.length) result.append(legend(series));
  if (!series.length) result.append(h('p', { class: 'muted', text: 'The query has no samples in this range; the dots are its exemplars.' }));
  // Series whose every value is NaN draw nothing: say so, and why a
  // quantile can be NaN.
  if (series.length && !series.some((sr) => sr.points.some(([, v]) => isFinite(v)))) {
    result.append(h('p', { class: 'muted', id: 'nan-note' }, 'Every value of the query in this range is NaN, so nothing is drawn.',
      /histogram_quantile/.test(q)
        ? ' histogram_quantile gives NaN where the window holds no request, or where the histogram has no bucket but +Inf (it was recorded without bounds): its rate still counts the requests.'
        : ''));
  }
  const hist = metric && kind(metric, cat).type === 'histogram' && !q.includes('_bucket');
  result.append(exemplarTable(exemplars, hist, fmtEx));
}

function exemplarTable(exemplars, histogramWithoutBuckets, fmtEx) {
  if (!exemplars.length) {
    return h('p', { class: 'muted', id: 'no-exemplars' }, histogramWithoutBuckets
      ? 'No exemplars: a histogram keeps them on its _bucket series, which the p50, p95 and p99 queries read.'
      : 'No exemplars in this range. Exemplars come from measurements recorded inside a sampled span.');
  }
  const rows = exemplars.slice().sort((a, b) => b.v - a.v).slice(0, MAX_EXEMPLAR_ROWS);
  return h('table', { class: 'list', id: 'exemplar-table' },
    h('caption', { text: `Exemplars (${exemplars.length}), highest value first: each opens its trace at its span` }),
    h('thead', {}, h('tr', {}, ['Value', `Time (${tzLabel()})`, 'Trace', 'Span', 'Series'].map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, rows.map((e) => h('tr', { class: e.error ? 'has-error' : '', dataset: { traceId: e.traceID, spanId: e.spanID } },
      h('td', { class: 'num nowrap' }, e.error ? h('span', { class: 'err-mark', title: 'a failed request', text: '!' }) : null, fmtEx(e.v)),
      h('td', { class: 'nowrap', text: fmtTime(new Date(e.t)) }),
      h('td', {}, h('a', { href: traceHref(e.traceID, e.spanID), class: 'mono', text: e.traceID })),
      h('td', { class: 'mono', text: e.spanID }),
      h('td', { class: 'labels', text: e.series })))));
}
