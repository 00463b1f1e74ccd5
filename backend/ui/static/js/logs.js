// The log search: by service, minimum severity, text and lookback, or by
// trace and span id. Each record with ids links to its trace and span.

import { h, href, traceHref, errorBox, loading, tzLabel } from './dom.js';
import { getJSON, services } from './api.js';
import { emptyState } from './empty.js';
import { logList } from './trace.js';

const SEVERITIES = ['', 'trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const LOOKBACKS = ['', '5m', '15m', '1h', '3h', '6h', '12h', '24h', '2d', '7d'];

export async function renderLogs(main, params, { signal }) {
  const p = {
    service: params.get('service') || '', severity: params.get('severity') || '', q: params.get('q') || '',
    lookback: params.has('lookback') ? params.get('lookback') : '1h', limit: params.get('limit') || '100',
    trace_id: params.get('trace_id') || '', span_id: params.get('span_id') || '',
  };
  // A trace's logs are wanted whatever their age.
  if ((p.trace_id || p.span_id) && !params.has('lookback')) p.lookback = '';
  main.append(h('h1', { text: 'Logs' }));
  const svcs = await services(signal).catch(() => []);

  const svcIn = h('input', { id: 'log-service', name: 'service', value: p.service, list: 'log-services', placeholder: 'any', size: 14 });
  const sevSel = h('select', { id: 'log-severity', name: 'severity' },
    SEVERITIES.map((sv) => h('option', { value: sv, selected: sv === p.severity.toLowerCase(), text: sv ? `${sv} and above` : 'any' })));
  const qIn = h('input', { id: 'log-text', name: 'q', type: 'search', value: p.q, placeholder: 'text in body or attributes, or key=value', size: 32,
    title: 'Matches, in any case, text in the body or in an attribute\'s value, or an attribute as key=value' });
  const lbSel = h('select', { id: 'log-lookback', name: 'lookback' },
    (LOOKBACKS.includes(p.lookback) ? LOOKBACKS : [p.lookback, ...LOOKBACKS]).map((l) => h('option', { value: l, selected: l === p.lookback, text: l ? `last ${l}` : 'all time' })));
  const limIn = h('input', { id: 'log-limit', name: 'limit', type: 'number', min: 1, max: 10000, value: p.limit, size: 5 });
  const form = h('form', { class: 'controls', id: 'logs-form' },
    h('label', {}, 'Service ', svcIn, h('datalist', { id: 'log-services' }, svcs.map((sv) => h('option', { value: sv })))),
    h('label', {}, 'Severity ', sevSel),
    h('label', { class: 'grow' }, 'Text ', qIn),
    h('label', {}, 'Lookback ', lbSel),
    h('label', {}, 'Limit ', limIn),
    h('button', { type: 'submit', text: 'Search logs' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = href('/logs', {
      service: svcIn.value.trim(), severity: sevSel.value, q: qIn.value.trim(), lookback: lbSel.value,
      limit: limIn.value.trim(), trace_id: p.trace_id, span_id: p.span_id,
    });
  });
  main.append(form);
  if (p.trace_id || p.span_id) {
    const rest = { ...p, trace_id: '', span_id: '' };
    main.append(h('p', { class: 'filters' }, 'Only the logs of ',
      p.trace_id ? h('a', { href: traceHref(p.trace_id, p.span_id), class: 'mono', text: `trace ${p.trace_id}` }) : null,
      p.span_id ? h('span', { class: 'mono', text: `, span ${p.span_id}` }) : null, ' ',
      h('a', { href: href('/logs', rest), class: 'chip', text: 'clear ×' })));
  }

  const result = h('section', { class: 'result', id: 'logs-result', 'aria-live': 'polite' }, loading('logs'));
  main.append(result);
  let r;
  try {
    r = await getJSON('/api/logs', p, signal);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    result.replaceChildren(errorBox(err));
    return;
  }
  result.replaceChildren();
  if (!r.logs?.length) {
    result.append(h('p', { class: 'muted', id: 'no-logs', text: 'No log records match.' }));
    if (!svcs.length) result.append(await emptyState('logs'));
    return;
  }
  // A trace's or a span's logs read as a story, oldest first; a search
  // shows the newest first.
  const story = Boolean(p.trace_id || p.span_id);
  result.append(h('p', { class: 'muted', id: 'logs-caption', text: `${r.logs.length} record${r.logs.length === 1 ? '' : 's'}, ` +
    `${story ? 'oldest' : 'newest'} first, times in ${tzLabel()}` +
    (r.logs.length >= r.limit ? ` (the limit, ${r.limit}: narrow the search to see ${story ? 'newer' : 'older'} ones)` : '') }));
  result.append(logList(story ? r.logs.slice().reverse() : r.logs));
}
