// The metrics view: a PromQL query over time with its exemplars; a click on
// an exemplar opens its trace with its span selected.

import { h, href, traceHref, errorBox, loading, fmtTime } from './dom.js';
import { getJSON, metricNames, services } from './api.js';
import { chart, legend, fmtNum } from './chart.js';
import { emptyState } from './empty.js';

export const RANGES = ['5m', '15m', '30m', '1h', '3h', '6h', '12h', '24h', '2d', '7d'];
const DEFAULT_RANGE = '1h';
const MAX_SERIES = 20;
const MAX_EXEMPLAR_ROWS = 50;

export function rangeSeconds(r) {
  const m = /^(\d+)([smhd])$/.exec(r || '');
  if (!m) return 3600;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

// stepSeconds gives about 240 points over the range.
function stepSeconds(rangeS) {
  return Math.max(1, Math.ceil(rangeS / 240));
}

// rateWindow is the range of rate(): four steps, at least a minute, as
// Grafana's $__rate_interval.
function rateWindow(rangeS) {
  const w = Math.max(60, 4 * stepSeconds(rangeS));
  return w % 60 === 0 ? `${w / 60}m` : `${w}s`;
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
// rate of a histogram, the rate of a counter, a gauge as it is.
export function suggestions(name, cat, rangeS) {
  const k = kind(name, cat);
  const w = rateWindow(rangeS);
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

function defaultQuery(name, cat, rangeS) {
  const sg = suggestions(name, cat, rangeS);
  return (sg.find((x) => x.label === 'p95') || sg[0]).q;
}

// pickMetric chooses what to show first: a histogram (a duration one if
// any), else a counter, else any metric but target_info.
function pickMetric(names, cat) {
  const real = names.filter((n) => n !== 'target_info');
  const hist = real.filter((n) => {
    const k = kind(n, cat);
    return (k.type === 'histogram' && n.endsWith('_bucket')) || (k.type === 'native histogram' && n === k.family);
  });
  return hist.find((n) => /duration|latency/.test(n)) || hist[0] ||
    real.find((n) => kind(n, cat).type === 'counter') || real[0] || '';
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
  if (!q) {
    metric ||= pickMetric(names, cat);
    if (metric) {
      q = defaultQuery(metric, cat, rangeS);
      history.replaceState(null, '', href('/metrics', { metric, q, range }));
    }
  }

  const go = (p) => {
    location.hash = href('/metrics', { metric: p.metric ?? metric, q: p.q ?? q, range: p.range ?? range });
  };

  // The form.
  const select = h('select', { id: 'metric-select', name: 'metric' },
    h('option', { value: '', text: names.length ? '— pick a metric —' : '(no metrics yet)' }),
    names.map((n) => h('option', { value: n, selected: n === metric, text: `${n}  (${kind(n, cat).type})` })));
  select.addEventListener('change', () => {
    if (select.value) go({ metric: select.value, q: defaultQuery(select.value, cat, rangeS) });
  });
  const input = h('input', {
    id: 'query-input', name: 'q', type: 'text', value: q, spellcheck: 'false', autocomplete: 'off',
    placeholder: 'PromQL, e.g. sum(rate(http_server_request_duration_seconds_count[5m]))',
    'aria-label': 'PromQL expression',
  });
  const rangeSel = h('select', { id: 'range-select', name: 'range', 'aria-label': 'Time range' },
    RANGES.map((r) => h('option', { value: r, selected: r === range, text: `last ${r}` })));
  rangeSel.addEventListener('change', () => {
    // Keep the query, with its rate window fitted to the new range when it
    // is one of the suggestions.
    const nr = rangeSeconds(rangeSel.value);
    const idx = metric ? suggestions(metric, cat, rangeS).findIndex((x) => x.q === q) : -1;
    go({ range: rangeSel.value, q: idx >= 0 ? suggestions(metric, cat, nr)[idx].q : q });
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
      suggestions(metric, cat, rangeS).map((sg) => h('a', {
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
  const step = stepSeconds(rangeS);
  const [rangeRes, exRes] = await Promise.allSettled([
    getJSON('/api/v1/query_range', { query: q, start: start.toFixed(3), end: end.toFixed(3), step }, signal),
    getJSON('/api/v1/query_exemplars', { query: q, start: start.toFixed(3), end: end.toFixed(3) }, signal),
  ]);
  if (signal.aborted) return;
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
  const exemplars = [];
  if (exRes.status === 'fulfilled') {
    // The API gives each exemplar once (cumulative exports repeat them).
    for (const sr of exRes.value.data || []) {
      for (const e of sr.exemplars || []) {
        const l = e.labels || {};
        if (!l.trace_id) continue;
        exemplars.push({
          t: Number(e.timestamp) * 1000, v: parseFloat(e.value), traceID: l.trace_id, spanID: l.span_id || '',
          series: seriesName(sr.seriesLabels),
        });
      }
    }
  }
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
  result.append(chart({ series, exemplars, start: start * 1000, end: end * 1000, stepMs: step * 1000, onExemplar: open }));
  if (all.length > series.length) result.append(h('p', { class: 'muted', text: `Showing ${series.length} of ${all.length} series.` }));
  if (series.length) result.append(legend(series));
  if (!series.length) result.append(h('p', { class: 'muted', text: 'The query has no samples in this range; the dots are its exemplars.' }));
  const hist = metric && kind(metric, cat).type === 'histogram' && !q.includes('_bucket');
  result.append(exemplarTable(exemplars, hist));
}

function exemplarTable(exemplars, histogramWithoutBuckets) {
  if (!exemplars.length) {
    return h('p', { class: 'muted', id: 'no-exemplars' }, histogramWithoutBuckets
      ? 'No exemplars: a histogram keeps them on its _bucket series, which the p50, p95 and p99 queries read.'
      : 'No exemplars in this range. Exemplars come from measurements recorded inside a sampled span.');
  }
  const rows = exemplars.slice().sort((a, b) => b.v - a.v).slice(0, MAX_EXEMPLAR_ROWS);
  return h('table', { class: 'list', id: 'exemplar-table' },
    h('caption', { text: `Exemplars (${exemplars.length}), highest value first: each opens its trace at its span` }),
    h('thead', {}, h('tr', {}, ['Value', 'Time', 'Trace', 'Span', 'Series'].map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, rows.map((e) => h('tr', { dataset: { traceId: e.traceID, spanId: e.spanID } },
      h('td', { class: 'num', text: fmtNum(e.v) }),
      h('td', { class: 'nowrap', text: fmtTime(new Date(e.t)) }),
      h('td', {}, h('a', { href: traceHref(e.traceID, e.spanID), class: 'mono', text: e.traceID })),
      h('td', { class: 'mono', text: e.spanID }),
      h('td', { class: 'labels', text: e.series })))));
}
