// A time-series chart in SVG, drawn by hand: lines for the series, dots for
// the exemplars.

import { h, s, append, fmtTime } from './dom.js';
import { fmtNum } from './units.js';

export { fmtNum };

export const COLORS = ['#3b6fd8', '#e0742a', '#2a9d6f', '#b54bb8', '#c9a227', '#d04a5a', '#4bb0c9', '#7a6a5a'];

const W = 960, H = 300, ML = 76, MR = 16, MT = 12, MB = 28;

// niceStep returns a round step (1, 2 or 5 times a power of ten) that splits
// span into about n parts.
function niceStep(span, n) {
  const raw = span / n;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
  .map((s) => s * 1000);

function timeLabel(ms, stepMs) {
  const t = fmtTime(new Date(ms));
  return stepMs < 60000 ? t.slice(11, 19) : stepMs < 86400000 ? t.slice(11, 16) : t.slice(5, 16);
}

// chart draws series [{name, points: [[ms, value], …]}] and exemplars
// [{t: ms, v, traceID, spanID, error, …}] between start and end (ms). A
// click on an exemplar's dot calls onExemplar with it. stepMs breaks lines
// at gaps. fmtY shows the series' values (on the axis and under the
// pointer), fmtEx the exemplars' (plain numbers by default).
export function chart({ series, exemplars, start, end, stepMs, onExemplar, fmtY = fmtNum, fmtEx = fmtNum }) {
  const values = [];
  for (const sr of series) for (const [, v] of sr.points) if (isFinite(v)) values.push(v);
  for (const e of exemplars) if (isFinite(e.v)) values.push(e.v);
  let lo = Math.min(0, ...values), hi = Math.max(...values, 0);
  if (hi === lo) hi = lo + 1;
  const yStep = niceStep(hi - lo, 5);
  lo = Math.floor(lo / yStep) * yStep;
  hi = Math.ceil(hi / yStep) * yStep;
  const x = (ms) => ML + ((ms - start) / (end - start)) * (W - ML - MR);
  const y = (v) => MT + (1 - (v - lo) / (hi - lo)) * (H - MT - MB);

  const svg = s('svg', {
    class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Chart of ${series.length} series and ${exemplars.length} exemplars`,
  });
  const axes = s('g', { class: 'axes' });
  for (let v = lo; v <= hi + yStep / 2; v += yStep) {
    axes.append(s('line', { class: 'grid', x1: ML, x2: W - MR, y1: y(v), y2: y(v) }),
      s('text', { class: 'tick', x: ML - 6, y: y(v) + 4, 'text-anchor': 'end', text: fmtY(v) }));
  }
  const xStep = TIME_STEPS.find((st) => (end - start) / st <= 8) ?? 86400000 * Math.ceil((end - start) / 8 / 86400000);
  for (let t = Math.ceil(start / xStep) * xStep; t <= end; t += xStep) {
    axes.append(s('line', { class: 'grid', x1: x(t), x2: x(t), y1: MT, y2: H - MB }),
      s('text', { class: 'tick', x: x(t), y: H - MB + 16, 'text-anchor': 'middle', text: timeLabel(t, xStep) }));
  }
  axes.append(s('line', { class: 'axis', x1: ML, x2: W - MR, y1: H - MB, y2: H - MB }),
    s('line', { class: 'axis', x1: ML, x2: ML, y1: MT, y2: H - MB }));
  svg.append(axes);

  series.forEach((sr, i) => {
    let d = '';
    let prev = null;
    for (const [t, v] of sr.points) {
      if (!isFinite(v)) {
        prev = null;
        continue;
      }
      d += (prev === null || t - prev > 2.5 * stepMs ? 'M' : 'L') + x(t).toFixed(1) + ',' + y(v).toFixed(1);
      prev = t;
    }
    const color = COLORS[i % COLORS.length];
    const g = s('g', { class: 'series' }, s('title', { text: sr.name }));
    g.append(s('path', { d, stroke: color, fill: 'none', 'stroke-width': 2 }));
    // Lone points (no neighbour within the gap) are dots, or they would not show.
    if (sr.points.length <= 2) {
      for (const [t, v] of sr.points) if (isFinite(v)) g.append(s('circle', { cx: x(t), cy: y(v), r: 2.5, fill: color }));
    }
    svg.append(g);
  });

  svg.append(hover(svg, series, { start, end, stepMs, fmtY }));

  const dots = s('g', { class: 'exemplars' });
  for (const e of exemplars) {
    const label = `Exemplar ${fmtEx(e.v)}${e.error ? ' (error)' : ''} at ${fmtTime(new Date(e.t))}: trace ${e.traceID}, span ${e.spanID}`;
    dots.append(s('circle', {
      class: e.error ? 'exemplar error' : 'exemplar', cx: x(Math.min(Math.max(e.t, start), end)), cy: y(e.v), r: 3.5,
      dataset: { traceId: e.traceID, spanId: e.spanID },
      on: { click: () => onExemplar(e) },
    }, s('title', { text: label })));
  }
  svg.append(dots);
  return svg;
}

export function legend(series) {
  return h('ul', { class: 'legend' }, series.map((sr, i) => {
    const sw = h('span', { class: 'swatch' });
    sw.style.background = COLORS[i % COLORS.length];
    return h('li', {}, sw, sr.name);
  }));
}

// hover shows, under the pointer, the time and each series' value there.
function hover(svg, series, { start, end, stepMs, fmtY }) {
  const line = s('line', { class: 'crosshair', y1: MT, y2: H - MB, visibility: 'hidden' });
  const box = s('g', { class: 'readout', visibility: 'hidden' });
  const area = s('rect', { class: 'hover-area', x: ML, y: MT, width: W - ML - MR, height: H - MT - MB });
  const hide = () => {
    line.setAttribute('visibility', 'hidden');
    box.setAttribute('visibility', 'hidden');
  };
  area.addEventListener('mouseleave', hide);
  area.addEventListener('mousemove', (e) => {
    const r = svg.getBoundingClientRect();
    const vx = ((e.clientX - r.left) * W) / r.width;
    const t = start + ((vx - ML) / (W - ML - MR)) * (end - start);
    const rows = [];
    series.forEach((sr, i) => {
      let best = null;
      for (const p of sr.points) if (isFinite(p[1]) && (!best || Math.abs(p[0] - t) < Math.abs(best[0] - t))) best = p;
      if (best && Math.abs(best[0] - t) <= 1.5 * stepMs) rows.push([i, sr.name, best[1]]);
    });
    if (!rows.length) return hide();
    line.setAttribute('x1', vx);
    line.setAttribute('x2', vx);
    line.setAttribute('visibility', 'visible');
    box.replaceChildren();
    append(box, [s('rect', { class: 'readout-bg', rx: 3 }),
      s('text', { x: 8, y: 16, class: 'readout-time', text: fmtTime(new Date(t)).slice(11, 19) }),
      rows.slice(0, 8).map(([i, name, v], j) => s('text', { x: 8, y: 32 + 15 * j, fill: COLORS[i % COLORS.length],
        text: `${fmtY(v)}  ${name.length > 60 ? name.slice(0, 59) + '…' : name}` }))]);
    box.setAttribute('visibility', 'visible');
    const bb = box.getBBox();
    box.firstChild.setAttribute('width', bb.width + 16);
    box.firstChild.setAttribute('height', bb.height + 10);
    const bx = vx + 12 + bb.width + 16 > W - MR ? vx - 12 - bb.width - 16 : vx + 12;
    box.setAttribute('transform', `translate(${bx},${MT + 4})`);
  });
  return s('g', { class: 'hover' }, area, line, box);
}
