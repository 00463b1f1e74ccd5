// The trace search: Jaeger API v1 /api/traces by service, operation,
// attributes (logfmt, as Jaeger UI takes them), lookback, minimum and
// maximum duration and limit; and a box that opens a trace by its id.

import { h, s, href, errorBox, loading, fmtTime, fmtDuration, tzLabel } from './dom.js';
import { getJSON, services } from './api.js';
import { emptyState } from './empty.js';

const LOOKBACKS = ['5m', '15m', '1h', '3h', '6h', '12h', '24h', '2d', '7d'];

// summary describes a Jaeger trace: its root span's service and operation,
// span and error counts, start and duration (µs).
export function summary(t) {
  const spans = t.spans || [];
  const ids = new Set(spans.map((sp) => sp.spanID));
  const roots = spans.filter((sp) => !(sp.references || []).some((r) => r.refType === 'CHILD_OF' && ids.has(r.spanID)));
  const root = roots.sort((a, b) => a.startTime - b.startTime)[0] || spans[0];
  const start = Math.min(...spans.map((sp) => sp.startTime));
  const end = Math.max(...spans.map((sp) => sp.startTime + sp.duration));
  return {
    traceID: t.traceID,
    name: root ? `${t.processes?.[root.processID]?.serviceName ?? '?'}: ${root.operationName}` : t.traceID,
    spans: spans.length,
    errors: spans.filter(isError).length,
    start, duration: end - start,
    services: [...new Set(spans.map((sp) => t.processes?.[sp.processID]?.serviceName).filter(Boolean))],
  };
}

// parseTags reads logfmt attributes, `http.route=/checkout error=true
// note="two words"`, into an object; it throws on a term without "=".
export function parseTags(text) {
  const out = {};
  const re = /\s*([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/y;
  let rest = text.trim();
  while (rest) {
    re.lastIndex = 0;
    const m = re.exec(rest);
    if (!m) throw new Error(`Attributes: "${rest.split(/\s+/)[0]}" is not key=value`);
    out[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
    rest = rest.slice(re.lastIndex).trim();
  }
  return out;
}

export function isError(span) {
  return (span.tags || []).some((t) => (t.key === 'error' && (t.value === true || t.value === 'true')) ||
    (t.key === 'otel.status_code' && t.value === 'ERROR'));
}

export async function renderTraces(main, params, { signal }) {
  main.append(h('h1', { text: 'Traces' }));
  const status = main.appendChild(loading('services'));
  const svcs = await services(signal);
  if (signal.aborted) return;
  status.remove();
  if (!svcs.length) {
    main.append(await emptyState('traces'));
    return;
  }
  let service = params.get('service') || '';
  if (!service) {
    service = svcs[0];
    history.replaceState(null, '', href('/traces', { ...Object.fromEntries(params), service }));
  }
  const operation = params.get('operation') || '';
  const lookback = params.get('lookback') || '1h';
  const minDuration = params.get('minDuration') || '';
  const maxDuration = params.get('maxDuration') || '';
  const tags = params.get('tags') || '';
  const limit = params.get('limit') || '20';

  const ops = await getJSON(`/api/services/${encodeURIComponent(service)}/operations`, null, signal)
    .then((r) => (r.data || []).slice().sort(), () => []);
  const svcSel = h('select', { id: 'service-select', name: 'service' },
    (svcs.includes(service) ? svcs : [service, ...svcs]).map((sv) => h('option', { value: sv, selected: sv === service, text: sv })));
  const opSel = h('select', { id: 'operation-select', name: 'operation' },
    h('option', { value: '', text: 'all operations' }),
    ops.map((o) => h('option', { value: o, selected: o === operation, text: o })));
  const lbSel = h('select', { id: 'lookback-select', name: 'lookback' },
    (LOOKBACKS.includes(lookback) ? LOOKBACKS : [lookback, ...LOOKBACKS]).map((l) => h('option', { value: l, selected: l === lookback, text: `last ${l}` })));
  const tagsIn = h('input', { id: 'tags-input', name: 'tags', value: tags, placeholder: 'http.route=/checkout error=true', size: 28, spellcheck: 'false' });
  const minIn = h('input', { id: 'min-duration', name: 'minDuration', value: minDuration, placeholder: 'e.g. 100ms', size: 8 });
  const maxIn = h('input', { id: 'max-duration', name: 'maxDuration', value: maxDuration, placeholder: 'e.g. 2s', size: 8 });
  const limIn = h('input', { id: 'limit-input', name: 'limit', type: 'number', min: 1, max: 1500, value: limit, size: 4 });
  const form = h('form', { class: 'controls', id: 'traces-form' },
    h('label', {}, 'Service ', svcSel),
    h('label', {}, 'Operation ', opSel),
    h('label', { class: 'grow' }, 'Attributes ', tagsIn),
    h('label', {}, 'Lookback ', lbSel),
    h('label', {}, 'Min duration ', minIn),
    h('label', {}, 'Max duration ', maxIn),
    h('label', {}, 'Limit ', limIn),
    h('button', { type: 'submit', text: 'Find traces' }));
  const read = () => ({
    service: svcSel.value, operation: opSel.value, tags: tagsIn.value.trim(), lookback: lbSel.value,
    minDuration: minIn.value.trim(), maxDuration: maxIn.value.trim(), limit: limIn.value.trim(),
  });
  svcSel.addEventListener('change', () => { location.hash = href('/traces', { ...read(), operation: '' }); });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = href('/traces', read());
  });
  const idIn = h('input', { id: 'trace-id-input', name: 'traceID', placeholder: 'trace id (hex)', size: 34, spellcheck: 'false', autocomplete: 'off' });
  const idForm = h('form', { class: 'controls trace-id-form', id: 'trace-id-form' },
    h('label', {}, 'Open a trace by id ', idIn), h('button', { type: 'submit', text: 'Open' }));
  idForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = idIn.value.trim().toLowerCase();
    if (/^[0-9a-f]{1,32}$/.test(id)) location.hash = href('/trace/' + id);
    else idIn.setCustomValidity('A trace id is up to 32 hexadecimal digits.'), idIn.reportValidity();
  });
  idIn.addEventListener('input', () => idIn.setCustomValidity(''));
  main.append(form, idForm);

  const result = h('section', { class: 'result', id: 'traces-result', 'aria-live': 'polite' }, loading('traces'));
  main.append(result);
  let r;
  try {
    const t = parseTags(tags);
    r = await getJSON('/api/traces', {
      service, operation, lookback, minDuration, maxDuration, limit,
      tags: Object.keys(t).length ? JSON.stringify(t) : '',
    }, signal);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    result.replaceChildren(errorBox(err));
    return;
  }
  result.replaceChildren();
  const traces = (r.data || []).filter((t) => (t.spans || []).length).map(summary).sort((a, b) => b.start - a.start);
  if (!traces.length) {
    result.append(h('p', { class: 'muted', id: 'no-traces', text: `No traces of ${service} in the last ${lookback} match.` }));
    return;
  }
  const longest = Math.max(...traces.map((t) => t.duration), 1);
  result.append(scatter(traces, longest));
  result.append(h('table', { class: 'list', id: 'trace-results' },
    h('caption', { text: `${traces.length} trace${traces.length === 1 ? '' : 's'}, newest first` }),
    h('thead', {}, h('tr', {}, ['Trace', 'Spans', 'Errors', 'Duration', `Start (${tzLabel()})`].map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, traces.map((t) => {
      const bar = h('span', { class: 'dur-bar' });
      bar.style.width = `${Math.max(1, (100 * t.duration) / longest)}%`;
      return h('tr', { class: t.errors ? 'has-error' : '', dataset: { traceId: t.traceID } },
        h('td', {}, h('a', { href: href('/trace/' + t.traceID), text: t.name }),
          h('div', { class: 'muted small' }, h('span', { class: 'mono', text: t.traceID.slice(0, 12) }), ' · ', t.services.join(', '))),
        h('td', { class: 'num', text: t.spans }),
        h('td', { class: t.errors ? 'num error-count' : 'num', text: t.errors }),
        h('td', { class: 'dur' }, fmtDuration(t.duration), bar),
        h('td', { text: fmtTime(new Date(t.start / 1000)) }));
    }))));
}

// scatter draws the traces found as dots, start time across and duration
// up (red when a span failed); a click on a dot opens its trace.
function scatter(traces, longest) {
  const W = 960, H = 150, ML = 70, MR = 12, MT = 10, MB = 22;
  const t0 = Math.min(...traces.map((t) => t.start)), t1 = Math.max(...traces.map((t) => t.start), t0 + 1);
  const x = (us) => ML + ((us - t0) / Math.max(1, t1 - t0)) * (W - ML - MR);
  const y = (d) => MT + (1 - d / longest) * (H - MT - MB);
  const svg = s('svg', { class: 'chart scatter', id: 'trace-scatter', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Durations of ${traces.length} traces over time` });
  for (const f of [0, 0.5, 1]) {
    svg.append(s('line', { class: 'grid', x1: ML, x2: W - MR, y1: y(f * longest), y2: y(f * longest) }),
      s('text', { class: 'tick', x: ML - 6, y: y(f * longest) + 4, 'text-anchor': 'end', text: fmtDuration(f * longest) }));
  }
  for (const [at, anchor] of [[t0, 'start'], [t1, 'end']]) {
    svg.append(s('text', { class: 'tick', x: x(at), y: H - 6, 'text-anchor': anchor, text: fmtTime(new Date(at / 1000)).slice(11, 19) }));
  }
  for (const t of traces) {
    svg.append(s('a', { href: href('/trace/' + t.traceID), class: 'dot', dataset: { traceId: t.traceID } },
      s('circle', { cx: x(t.start), cy: y(t.duration), r: 4, class: t.errors ? 'trace-dot error' : 'trace-dot' },
        s('title', { text: `${t.name}: ${fmtDuration(t.duration)}, ${t.errors} errors, ${fmtTime(new Date(t.start / 1000))}` }))));
  }
  return svg;
}
