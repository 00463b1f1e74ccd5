// The router: every view is a hash route, so its URL can be shared.
//
//   #/services?range=1h (the home page)
//   #/metrics?q=…&range=1h&metric=…&sg=p95&exemplars=all
//   #/traces?service=…&operation=…&tags=k%3Dv&lookback=1h&minDuration=…&maxDuration=…&limit=20
//   #/trace/<trace id>?span=<span id>
//   #/logs?service=…&severity=…&q=…&lookback=1h&trace_id=…&span_id=…

import { h, errorBox } from './dom.js';
import { renderMetrics } from './metrics.js';
import { renderServices } from './services.js';
import { renderTraces } from './traces.js';
import { renderTrace } from './trace.js';
import { renderLogs } from './logs.js';

const main = document.getElementById('main');
let current = null; // the AbortController of the view on screen
let shown = null; // the context of the view on screen: its signal, and reselect for a trace

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
// scrolls.
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
  const ctx = { signal: current.signal };
  shown = ctx;
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
  }
  if (ctx.signal.aborted) return;
  box.dataset.drawn = String(Date.now());
  if (quiet) {
    const y = window.scrollY;
    main.replaceChildren(box);
    window.scrollTo(0, y);
  }
}

// Live: every LIVE_MS the view on screen is drawn again with new data,
// unless the tab is hidden, the user is typing in it, or it is a trace
// (which does not change). The toggle pauses it; the choice lasts the tab's
// session. An empty state is drawn again whether Live is on or not: a new
// user opens the page before the first export arrives, and should see the
// data come without reloading.
const LIVE_MS = 5000;
const LIVE_VIEWS = new Set(['services', 'metrics', 'traces', 'logs']);
const LIVE_KEY = 'loupe.live';
const liveButton = document.getElementById('live-toggle');
function showLive() {
  const on = sessionStorage.getItem(LIVE_KEY) === '1';
  liveButton.setAttribute('aria-pressed', String(on));
  liveButton.textContent = on ? 'Live ● pause' : 'Live ○ paused';
}
liveButton.addEventListener('click', () => {
  sessionStorage.setItem(LIVE_KEY, sessionStorage.getItem(LIVE_KEY) === '1' ? '0' : '1');
  showLive();
});
showLive();
setInterval(() => {
  if (document.hidden) return;
  const waiting = main.querySelector('#empty-state') !== null;
  if (!waiting && sessionStorage.getItem(LIVE_KEY) !== '1') return;
  if (main.contains(document.activeElement) && /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) return;
  if (!LIVE_VIEWS.has(parseRoute(location.hash).parts[0])) return;
  route(true);
}, LIVE_MS);

window.addEventListener('hashchange', () => route());
route();
