// The router: every view is a hash route, so its URL can be shared.
//
//   #/services?range=1h (the home page)
//   #/metrics?q=…&range=1h&metric=…&sg=p95&exemplars=all
//   #/traces?service=…&operation=…&tags=k%3Dv&lookback=1h&minDuration=…&maxDuration=…&limit=20
//   #/trace/<trace id>?span=<span id>
//   #/logs?service=…&severity=…&q=…&lookback=1h&trace_id=…&span_id=…

import { h, errorBox, tzLabel } from './dom.js';
import { renderMetrics } from './metrics.js';
import { renderServices } from './services.js';
import { renderTraces } from './traces.js';
import { renderTrace } from './trace.js';
import { renderLogs } from './logs.js';

const main = document.getElementById('main');
let current = null; // the AbortController of the view on screen
let shown = null; // the context of the view on screen: its signal, and reselect for a trace
let drawing = null; // the context of the view being drawn, until it is done

export function parseRoute(hash) {
  const raw = hash.replace(/^#/, '');
  const i = raw.indexOf('?');
  const path = i < 0 ? raw : raw.slice(0, i);
  const params = new URLSearchParams(i < 0 ? '' : raw.slice(i + 1));
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params };
}

// route draws the view of the URL. A quiet route (a live refresh) draws
// it aside and swaps it in when done, so the page neither flickers nor
// scrolls; the swap keeps what the user is doing (see swap).
async function route(quiet) {
  const { parts, params } = parseRoute(location.hash);
  if (parts.length === 0) {
    history.replaceState(null, '', '#/services');
    return route();
  }
  const view = parts[0];
  // Another span of the trace on screen (Back after a span click) is
  // selected in place.
  if (view === 'trace' && shown?.reselect?.(parts[1] || '', params.get('span') || '')) return;
  current?.abort();
  current = new AbortController();
  const ctx = { signal: current.signal, quiet };
  shown = ctx;
  drawing = ctx;
  for (const a of document.querySelectorAll('header nav a')) {
    const on = a.dataset.view === view || (view === 'trace' && a.dataset.view === 'traces');
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // Each view renders into a container of its own: when the user moves on
  // before a view has finished, what it still writes goes nowhere.
  const box = h('div', { class: 'view', dataset: { view } });
  if (!quiet) main.replaceChildren(box);
  try {
    switch (view) {
      case 'services':
        document.title = 'Services · Loupe';
        await renderServices(box, params, ctx);
        break;
      case 'metrics':
        document.title = 'Metrics · Loupe';
        await renderMetrics(box, params, ctx);
        break;
      case 'traces':
        document.title = 'Traces · Loupe';
        await renderTraces(box, params, ctx);
        break;
      case 'trace':
        document.title = 'Trace · Loupe';
        await renderTrace(box, parts[1] || '', params, ctx);
        break;
      case 'logs':
        document.title = 'Logs · Loupe';
        await renderLogs(box, params, ctx);
        break;
      default:
        box.append(errorBox(`No view "${view}". Pick one above.`));
    }
  } catch (err) {
    if (err.name === 'AbortError' || ctx.signal.aborted) return;
    box.append(errorBox(err));
  } finally {
    if (drawing === ctx) drawing = null;
  }
  if (ctx.signal.aborted) return;
  box.dataset.drawn = String(Date.now());
  if (quiet) swap(box);
}

// busy tells whether the user is typing in the view or has selected text
// in it: a live refresh then waits, as replacing the view would lose the
// caret or the selection.
function busy() {
  const el = document.activeElement;
  if (main.contains(el) && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) return true;
  const sel = document.getSelection();
  return Boolean(sel && !sel.isCollapsed && main.contains(sel.anchorNode));
}

// counterpart finds in a view drawn again the element that stands for el
// of the view before: the one with its id, else the same kind of element
// with the same link, name and text (a row's link names its trace or
// service, a chip its query); null when it is gone.
function counterpart(el, box) {
  if (el.id) return box.querySelector('#' + CSS.escape(el.id));
  const key = (e) => [e.namespaceURI, e.getAttribute('href'), e.getAttribute('name'), e.textContent].join('\n');
  const k = key(el);
  return [...box.querySelectorAll(el.localName)].find((e) => key(e) === k) || null;
}

// swap puts a view drawn aside on screen in place of the one there,
// keeping the window's scroll position, the focus (on the new view's
// counterpart of the focused element) and the values the user changed in
// the view's forms but has not submitted. It does nothing while the user
// is busy in the view.
function swap(box) {
  if (busy()) return;
  const old = main.querySelector(':scope > .view');
  const focused = old?.contains(document.activeElement) ? document.activeElement : null;
  for (const el of old?.querySelectorAll('[data-edited]') || []) {
    const c = counterpart(el, box);
    if (c && 'value' in c) {
      c.value = el.value;
      c.dataset.edited = '';
    }
  }
  const y = window.scrollY;
  main.replaceChildren(box);
  window.scrollTo(0, y);
  if (focused) counterpart(focused, box)?.focus({ preventScroll: true });
}

// A form control the user changes is marked, so that a live refresh keeps
// its value (see swap).
main.addEventListener('input', (e) => {
  if (e.target instanceof HTMLElement && 'value' in e.target) e.target.dataset.edited = '';
});

// Live, on by default: every LIVE_MS the view on screen is drawn again
// with new data, as Grafana's auto-refresh and Aspire's dashboard do,
// unless the tab is hidden, a view is being drawn, the user is busy in it
// (see busy), or it is a trace (which does not change). The toggle pauses
// it, stopping a refresh under way; the choice lasts the tab's session. An
// empty state is drawn again whether Live is on or not: a new user opens
// the page before the first export arrives, and should see the data come
// without reloading.
const LIVE_MS = 5000;
const LIVE_VIEWS = new Set(['services', 'metrics', 'traces', 'logs']);
const LIVE_KEY = 'loupe.live';
const liveButton = document.getElementById('live-toggle');
const liveOn = () => sessionStorage.getItem(LIVE_KEY) !== '0';
function showLive() {
  const on = liveOn();
  liveButton.setAttribute('aria-pressed', String(on));
  liveButton.textContent = on ? 'Live ● pause' : 'Live ○ paused';
}
liveButton.addEventListener('click', () => {
  sessionStorage.setItem(LIVE_KEY, liveOn() ? '0' : '1');
  if (!liveOn() && drawing?.quiet) current.abort();
  showLive();
});
showLive();
setInterval(() => {
  if (document.hidden || drawing) return;
  const waiting = main.querySelector('#empty-state') !== null;
  if (!waiting && !liveOn()) return;
  if (busy()) return;
  if (!LIVE_VIEWS.has(parseRoute(location.hash).parts[0])) return;
  route(true);
}, LIVE_MS);

window.addEventListener('hashchange', () => route());
route();
// The time zone's name (tzLabel) needs Intl's time zone data, whose first
// load took 33-70 ms in Chromium: it is loaded when the browser is idle,
// not when the first trace or list with times opens.
window.requestIdleCallback?.(() => tzLabel());
