// DOM helpers. Data only ever enters the page as text nodes, textContent or
// attribute values: never as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// append adds children: nodes, strings and numbers (as text), arrays of them;
// null and undefined are skipped.
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h makes an HTML element: h('a', {href: '#/x', class: 'c'}, 'text', child).
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s makes an SVG element.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function errorBox(err) {
  return h('div', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}

export function loading(what) {
  return h('p', { class: 'loading', role: 'status' }, `Loading ${what}…`);
}

// href builds a hash route: href('/trace/abc', {span: 'x'}) is
// '#/trace/abc?span=x'; empty parameters are left out.
export function href(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const qs = q.toString();
  return '#' + path + (qs ? '?' + qs : '');
}

export function traceHref(traceID, spanID) {
  return href('/trace/' + encodeURIComponent(traceID), { span: spanID });
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// fmtTime shows a Date in local time with milliseconds.
export function fmtTime(d) {
  if (!(d instanceof Date) || isNaN(d)) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// tzLabel names the time zone fmtTime shows times in, with its offset from
// UTC now: "Europe/Paris, UTC+01:00", or "UTC".
export function tzLabel(d = new Date()) {
  const off = -d.getTimezoneOffset();
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  if (off === 0 && /^(UTC|Etc\/UTC|GMT|Etc\/GMT)?$/.test(zone)) return 'UTC';
  const a = Math.abs(off);
  const utc = `UTC${off < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
  return zone ? `${zone}, ${utc}` : utc;
}

// fmtDuration shows microseconds as µs, ms or s.
export function fmtDuration(us) {
  if (!isFinite(us)) return '';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

// fmtValue shows a JSON value of an attribute or a log body as text.
export function fmtValue(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// kvTable shows key/value pairs (an object or [{key, value}]) as a table.
export function kvTable(pairs, caption) {
  const rows = Array.isArray(pairs) ? pairs.map((p) => [p.key, p.value]) : Object.entries(pairs || {});
  if (rows.length === 0) return h('p', { class: 'muted' }, `No ${caption.toLowerCase()}.`);
  rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return h('table', { class: 'kv' },
    h('caption', { text: caption }),
    h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row', text: k }), h('td', { text: fmtValue(v) })))));
}
