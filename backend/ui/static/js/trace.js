// The trace view: a waterfall of spans; the selected span's attributes,
// events, resource and logs.

import { h, append, href, traceHref, errorBox, loading, fmtTime, fmtDuration, fmtValue, kvTable, tzLabel } from './dom.js';
import { getJSON } from './api.js';
import { summary, isError } from './traces.js';
import { COLORS } from './chart.js';

// KINDS are the marks of span kinds (internal spans have none).
// ROW_H is the height of a waterfall row in pixels (the CSS's too);
// ROW_MARGIN how many rows are drawn beyond each edge of the window.
const ROW_H = 28;
const ROW_MARGIN = 20;

const KINDS = { server: 'server', client: 'client', producer: 'producer', consumer: 'consumer' };

// order returns the spans depth first, children by start time, each with
// its depth; spans whose parent is missing are roots.
export function order(spans) {
  const byID = new Map(spans.map((sp) => [sp.spanID, sp]));
  const kids = new Map();
  const roots = [];
  for (const sp of spans) {
    const parent = (sp.references || []).find((r) => r.refType === 'CHILD_OF' && byID.has(r.spanID));
    if (parent) {
      if (!kids.has(parent.spanID)) kids.set(parent.spanID, []);
      kids.get(parent.spanID).push(sp);
    } else roots.push(sp);
  }
  const byStart = (a, b) => a.startTime - b.startTime;
  const out = [];
  const seen = new Set();
  const walk = (sp, depth) => {
    if (seen.has(sp.spanID)) return;
    seen.add(sp.spanID);
    out.push({ span: sp, depth });
    for (const c of (kids.get(sp.spanID) || []).sort(byStart)) walk(c, depth + 1);
  };
  for (const r of roots.sort(byStart)) walk(r, 0);
  return out;
}

const tag = (sp, key) => (sp.tags || []).find((t) => t.key === key)?.value;

export async function renderTrace(main, traceID, params, ctx) {
  const { signal } = ctx;
  let reselect = null;
  ctx.reselect = (id, span) => id === traceID && reselect !== null && reselect(span);
  main.append(loading('the trace'));
  let r;
  try {
    // compact: without what the spans repeat (27% fewer bytes at 10,000
    // spans, whose transfer into the page was the largest part of their
    // opening): each span's traceID, a reference's within the trace, the
    // types of tags.
    r = await getJSON('/api/traces/' + encodeURIComponent(traceID), { compact: 'true' }, signal);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    main.replaceChildren(h('h1', {}, 'Trace ', h('span', { class: 'mono', text: traceID })), errorBox(err));
    if (err.status === 404) main.append(h('p', { class: 'muted', text: 'The trace may have aged out of the store, or its spans have not arrived yet.' }));
    return;
  }
  main.replaceChildren();
  const t = (r.data || [])[0];
  if (!t || !(t.spans || []).length) {
    main.append(errorBox(`Trace ${traceID} has no spans.`));
    return;
  }
  const sum = summary(t);
  document.title = `${sum.name} · Loupe`;
  const rows = order(t.spans);
  const t0 = sum.start, total = Math.max(sum.duration, 1);
  let selected = params.get('span') || '';
  if (!rows.some((x) => x.span.spanID === selected)) selected = rows[0].span.spanID;

  main.append(
    h('h1', {}, sum.name),
    h('p', { class: 'trace-meta' },
      h('span', {}, 'Trace ', h('span', { class: 'mono', id: 'trace-id', text: t.traceID })),
      h('span', { id: 'trace-start', text: `${fmtTime(new Date(t0 / 1000))} (${tzLabel(new Date(t0 / 1000))})` }),
      h('span', { text: `${fmtDuration(sum.duration)}` }),
      h('span', { text: `${sum.spans} spans` }),
      h('span', { class: 'critical-key', title: 'The spans the trace waited on: a dark line over their bars', text: '▔ critical path' }),
      h('span', { class: sum.errors ? 'error-count' : '', text: `${sum.errors} errors` }),
      h('span', { text: sum.services.join(', ') }),
      h('a', { href: href('/logs', { trace_id: t.traceID }), id: 'trace-logs-link', text: 'All logs of this trace' })));

  // The waterfall.
  const ticks = h('div', { class: 'wf-ticks', 'aria-hidden': 'true' },
    [0, 0.25, 0.5, 0.75, 1].map((f) => {
      const tk = h('span', { text: fmtDuration(f * total) });
      tk.style.left = `${f * 100}%`;
      return tk;
    }));
  const list = h('div', { class: 'waterfall', id: 'waterfall', role: 'listbox', 'aria-label': 'Spans' },
    h('div', { class: 'wf-head' }, h('div', { class: 'wf-label', text: 'Service: operation' }), h('div', { class: 'wf-time' }, ticks)));
  const details = h('section', { class: 'span-details', id: 'span-details', 'aria-live': 'polite' });
  const index = new Map(rows.map((x, i) => [x.span.spanID, i]));
  // The tree: rows are depth first, so a row's subtree is the rows after it
  // that are deeper (up to end[i]), and its parent the last shallower row.
  const end = new Array(rows.length).fill(rows.length);
  const parent = new Array(rows.length).fill(-1);
  const stack = [];
  rows.forEach(({ depth }, i) => {
    while (stack.length && rows[stack[stack.length - 1]].depth >= depth) end[stack.pop()] = i;
    if (stack.length) parent[i] = stack[stack.length - 1];
    stack.push(i);
  });
  const critical = criticalPath(rows, parent);
  const collapsed = new Set(); // rows whose subtree is folded
  let vis = []; // the rows shown, by position
  let pos = new Map(); // row → position
  // The rows are virtual: only those in and near the scrolled window are
  // in the page, each ROW_H pixels high, so that a trace of 10,000 spans
  // opens and scrolls as fast as one of ten.
  const scroller = h('div', { class: 'wf-scroll', id: 'wf-scroll' });
  const spacer = h('div', { class: 'wf-spacer' });
  scroller.append(spacer);
  list.append(scroller);
  const built = new Map(); // position → row element in the page
  const build = (v) => {
    const i = vis[v];
    const { span: sp, depth } = rows[i];
    const err = isError(sp);
    const service = t.processes?.[sp.processID]?.serviceName ?? '?';
    // Bars take their service's colour; failed ones stay red.
    const color = COLORS[sum.services.indexOf(service) % COLORS.length] || COLORS[0];
    const bar = h('span', { class: err ? 'wf-bar error' : 'wf-bar' });
    if (!err) bar.style.background = color;
    const kind = KINDS[tag(sp, 'span.kind')];
    const swatch = h('span', { class: 'swatch' });
    swatch.style.background = color;
    bar.style.left = `${(100 * (sp.startTime - t0)) / total}%`;
    bar.style.width = `${(100 * sp.duration) / total}%`;
    const kids = end[i] - i - 1;
    const folded = collapsed.has(i);
    const fold = kids ? h('button', {
      type: 'button', class: 'wf-fold', 'aria-expanded': String(!folded), tabindex: -1,
      title: folded ? `Show the ${kids} spans below` : `Hide the ${kids} spans below`, text: folded ? '▸' : '▾',
    }) : h('span', { class: 'wf-fold-none' });
    fold.addEventListener('click', (e) => {
      e.stopPropagation();
      toggle(i);
    });
    const label = h('div', { class: 'wf-label' }, fold,
      err ? h('span', { class: 'err-mark', title: 'error', text: '!' }) : null,
      swatch, h('span', { class: 'svc', text: service }), ' ', h('span', { text: sp.operationName }),
      kind ? h('span', { class: `kind kind-${kind}`, title: `span kind ${kind}`, text: kind }) : null,
      folded ? h('span', { class: 'folded', text: `+${kids}` }) : null);
    label.style.paddingLeft = `${0.2 + Math.min(depth, 40) * 1.1}rem`;
    const on = sp.spanID === selected;
    const b = h('div', {
      class: 'wf-row' + (err ? ' error' : '') + (on ? ' selected' : '') + (critical.has(i) ? ' critical' : ''), role: 'option', tabindex: on ? 0 : -1,
      'aria-selected': String(on), 'aria-posinset': v + 1, 'aria-setsize': vis.length, dataset: { spanId: sp.spanID },
      title: `${service}: ${sp.operationName} · ${fmtDuration(sp.duration)}`,
    }, label, h('div', { class: 'wf-time' }, bar, (sp.logs || []).map((l) => {
      const mark = h('span', { class: 'wf-event', title: (l.fields || []).find((f) => f.key === 'event')?.value ?? 'event' });
      mark.style.left = `${(100 * (l.timestamp - t0)) / total}%`;
      return mark;
    }), h('span', { class: 'wf-dur', text: fmtDuration(sp.duration) })));
    b.style.top = `${v * ROW_H}px`;
    b.addEventListener('click', () => select(sp.spanID, false, true));
    b.addEventListener('keydown', (e) => {
      // Up and down move; left folds the subtree, right unfolds it.
      if ((e.key === 'ArrowLeft' && kids && !folded) || (e.key === 'ArrowRight' && folded)) {
        e.preventDefault();
        toggle(i);
        built.get(pos.get(i))?.focus();
        return;
      }
      const next = e.key === 'ArrowDown' ? v + 1 : e.key === 'ArrowUp' ? v - 1 : -1;
      if (next >= 0 && next < vis.length) {
        e.preventDefault();
        select(rows[vis[next]].span.spanID, true);
      }
    });
    return b;
  };
  // draw puts in the page the rows of the scrolled window and a margin.
  const draw = () => {
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_H) - ROW_MARGIN);
    const last = Math.min(vis.length, Math.ceil((scroller.scrollTop + (scroller.clientHeight || 600)) / ROW_H) + ROW_MARGIN);
    for (const [v, b] of built) {
      if ((v < first || v >= last) && b !== document.activeElement) {
        b.remove();
        built.delete(v);
      }
    }
    for (let v = first; v < last; v++) {
      if (!built.has(v)) {
        const b = build(v);
        built.set(v, b);
        scroller.append(b);
      }
    }
  };
  // layout works out the rows shown, folded subtrees left out, and draws
  // them again.
  const layout = () => {
    vis = [];
    pos = new Map();
    for (let i = 0; i < rows.length; i = collapsed.has(i) ? end[i] : i + 1) {
      pos.set(i, vis.length);
      vis.push(i);
    }
    spacer.style.height = `${vis.length * ROW_H}px`;
    for (const b of built.values()) b.remove();
    built.clear();
    draw();
  };
  // toggle folds or unfolds row i's subtree; a selected span it hides
  // gives the selection to row i.
  const toggle = (i) => {
    if (collapsed.has(i)) collapsed.delete(i);
    else collapsed.add(i);
    layout();
    const sel = index.get(selected);
    if (!pos.has(sel)) select(rows[i].span.spanID, false);
  };
  let pending = false;
  scroller.addEventListener('scroll', () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  });
  // reveal scrolls position v into the window when it is outside.
  const reveal = (v) => {
    const top = v * ROW_H, h0 = scroller.clientHeight || 600;
    if (top < scroller.scrollTop) scroller.scrollTop = top;
    else if (top + ROW_H > scroller.scrollTop + h0) scroller.scrollTop = top + ROW_H - h0;
    draw();
  };
  // select shows span id, unfolding what hides it; a click makes a history
  // entry, so that Back returns to the span selected before (keys and the
  // first selection replace the entry).
  const select = (id, focus, push) => {
    if (push && id !== selected) history.pushState(null, '', traceHref(t.traceID, id));
    else history.replaceState(null, '', traceHref(t.traceID, id));
    selected = id;
    const i = index.get(id);
    if (!pos.has(i)) {
      for (let p = parent[i]; p >= 0; p = parent[p]) collapsed.delete(p);
      layout();
    }
    const v = pos.get(i);
    reveal(v);
    for (const [bv, b] of built) {
      const on = bv === v;
      b.classList.toggle('selected', on);
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
    }
    if (focus) built.get(v).focus();
    showSpan(details, t, rows[i].span, t0, signal);
  };
  main.append(h('div', { class: 'trace-layout' }, list, details));
  layout();
  select(selected, false);
  // Back and Forward between spans of this trace select them in place.
  reselect = (span) => {
    if (index.has(span)) select(span, false);
    return index.has(span);
  };
}

// criticalPath returns the rows on the critical path of each root, as
// Jaeger UI finds it: from a span's end back to its start, the child that
// ends last before the current point is on the path, which continues from
// that child's start; rows are depth first and parent gives each row's.
export function criticalPath(rows, parent) {
  const kids = rows.map(() => []);
  parent.forEach((p, i) => { if (p >= 0) kids[p].push(i); });
  const endOf = (i) => rows[i].span.startTime + rows[i].span.duration;
  const out = new Set();
  const stack = [];
  rows.forEach((_, i) => { if (parent[i] < 0) stack.push([i, endOf(i)]); });
  while (stack.length) {
    const [i, bound] = stack.pop();
    out.add(i);
    const start = rows[i].span.startTime;
    let t = Math.min(endOf(i), bound);
    for (const k of kids[i].slice().sort((a, b) => endOf(b) - endOf(a))) {
      if (t <= start) break;
      if (rows[k].span.startTime >= t) continue;
      stack.push([k, t]);
      t = rows[k].span.startTime;
    }
  }
  return out;
}

function showSpan(details, t, sp, t0, signal) {
  const proc = t.processes?.[sp.processID] || {};
  const parent = (sp.references || []).find((r) => r.refType === 'CHILD_OF');
  const status = tag(sp, 'otel.status_code');
  const err = isError(sp);
  const attrs = (sp.tags || []).filter((x) => !['span.kind', 'otel.status_code', 'otel.status_description', 'error'].includes(x.key));
  const logsBox = h('div', { id: 'span-logs', 'aria-live': 'polite' }, loading('logs'));
  details.replaceChildren();
  append(details, [
    h('h2', {}, err ? h('span', { class: 'err-mark', text: '!' }) : null, sp.operationName),
    h('dl', { class: 'facts' },
      fact('Service', proc.serviceName),
      fact('Span', sp.spanID, 'selected-span-id'),
      fact('Parent', !parent ? '(root)' : t.spans.some((x) => x.spanID === parent.spanID) ? parent.spanID
        : `${parent.spanID} (not in the trace: shown as a root)`, 'selected-span-parent'),
      fact('Kind', tag(sp, 'span.kind')),
      fact('Status', (status || 'UNSET') + (tag(sp, 'otel.status_description') ? ` — ${tag(sp, 'otel.status_description')}` : '')),
      fact('Start', `${fmtTime(new Date(sp.startTime / 1000))} (+${fmtDuration(sp.startTime - t0)})`),
      fact('Duration', fmtDuration(sp.duration))),
    h('section', { class: 'span-logs' },
      h('h3', {}, 'Logs of this span ',
        h('a', { href: href('/logs', { trace_id: t.traceID }), class: 'small', text: '(all logs of the trace)' })),
      logsBox),
    kvTable(attrs, 'Attributes'),
    events(sp, t0),
    kvTable([{ key: 'service.name', value: proc.serviceName }, ...(proc.tags || [])], 'Resource'),
    (sp.references || []).filter((r) => r.refType !== 'CHILD_OF').length
      ? h('div', {}, h('h3', { text: 'Links' }), h('ul', {}, sp.references.filter((r) => r.refType !== 'CHILD_OF')
        .map((r) => h('li', {}, h('a', { href: traceHref(r.traceID || t.traceID, r.spanID), class: 'mono', text: `${r.traceID || t.traceID} / ${r.spanID}` })))))
      : null]);
  getJSON('/api/logs', { trace_id: t.traceID, span_id: sp.spanID, limit: 200 }, signal).then((r) => {
    // Oldest first: the span's story (the API gives the newest first).
    logsBox.replaceChildren(r.logs?.length ? logList(r.logs.slice().reverse(), { compact: true }) :
      h('p', { class: 'muted', id: 'no-span-logs', text: 'No logs carry this span\'s id.' }));
  }, (err) => {
    if (err.name !== 'AbortError') logsBox.replaceChildren(errorBox(err));
  });
}

function fact(k, v, id) {
  return [h('dt', { text: k }), h('dd', { id, text: v ?? '' })];
}

function events(sp, t0) {
  const logs = sp.logs || [];
  if (!logs.length) return h('p', { class: 'muted', text: 'No events.' });
  return h('div', { class: 'events' }, h('h3', { text: `Events (${logs.length})` }),
    h('ol', {}, logs.map((l) => {
      const name = (l.fields || []).find((f) => f.key === 'event')?.value;
      const rest = (l.fields || []).filter((f) => f.key !== 'event');
      return h('li', {},
        h('span', { class: 'muted', text: `+${fmtDuration(l.timestamp - t0)} ` }),
        h('strong', { text: name ?? '(event)' }),
        rest.length ? h('span', { class: 'kvs', text: ' ' + rest.map((f) => `${f.key}=${fmtValue(f.value)}`).join(' ') }) : null);
    })));
}

const SEVERITY = (n) => (n >= 21 ? 'fatal' : n >= 17 ? 'error' : n >= 13 ? 'warn' : n >= 9 ? 'info' : n >= 5 ? 'debug' : n >= 1 ? 'trace' : 'unset');

// logList shows log records; those with a trace id link to their trace and span.
export function logList(logs, { compact } = {}) {
  return h('ol', { class: 'logs' + (compact ? ' compact' : '') }, logs.map((l) => {
    const sev = SEVERITY(l.severityNumber);
    const attrs = Object.entries(l.attributes || {});
    return h('li', { class: `log sev-${sev}`, dataset: { traceId: l.traceId || '', spanId: l.spanId || '' } },
      h('div', { class: 'log-head' },
        h('time', { datetime: l.time, text: fmtTime(new Date(l.time)) }),
        h('span', { class: `sev sev-${sev}`, text: l.severityText || sev.toUpperCase() }),
        compact ? null : h('span', { class: 'svc', text: l.service }),
        !compact && l.traceId ? h('a', { class: 'mono trace-link', href: traceHref(l.traceId, l.spanId), text: `trace ${l.traceId.slice(0, 8)}…${l.spanId ? ' / span ' + l.spanId.slice(0, 8) + '…' : ''}` }) : null),
      h('div', { class: 'log-body', text: fmtValue(l.body) }),
      attrs.length ? h('div', { class: 'kvs', text: attrs.map(([k, v]) => `${k}=${fmtValue(v)}`).join('  ') }) : null);
  }));
}
