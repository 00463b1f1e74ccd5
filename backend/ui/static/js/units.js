// Units: what a query's values measure, from the unit of its metric
// (Prometheus metadata: "seconds", "bytes", …), and how to show them.

const TIME = [[1, 's'], [1e-3, 'ms'], [1e-6, 'µs'], [1e-9, 'ns']];
const BYTES = [[2 ** 40, 'TiB'], [2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB'], [1, 'B']];
const TO_SECONDS = { seconds: 1, milliseconds: 1e-3, microseconds: 1e-6, nanoseconds: 1e-9, minutes: 60, hours: 3600, days: 86400 };

const sig = (v) => String(+v.toPrecision(3));

// fmtScaled shows v with the largest prefix of scales whose value is at
// least 1 (the smallest otherwise).
function fmtScaled(v, scales) {
  const a = Math.abs(v);
  if (a === 0) return '0 ' + scales.find(([f]) => f === 1)[1];
  for (const [f, name] of scales) if (a >= f) return `${sig(v / f)} ${name}`;
  const [f, name] = scales[scales.length - 1];
  return `${sig(v / f)} ${name}`;
}

// fmtNum shows a number in at most 4 significant digits, with k/M/G for
// large ones.
export function fmtNum(v) {
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e9) return +(v / 1e9).toPrecision(3) + 'G';
  if (a >= 1e6) return +(v / 1e6).toPrecision(3) + 'M';
  if (a >= 1e4) return +(v / 1e3).toPrecision(3) + 'k';
  if (a === 0) return '0';
  return String(+v.toPrecision(4));
}

// fmtUnit shows v in unit: a time as ns, µs, ms or s, bytes as B to TiB,
// a ratio as a percentage, a rate ("/s" alone, or "bytes/s") with /s, any
// other unit after the number.
export function fmtUnit(v, unit) {
  if (!isFinite(v)) return String(v);
  if (!unit) return fmtNum(v);
  if (unit.endsWith('/s')) {
    const base = unit.slice(0, -2);
    return (base ? fmtUnit(v, base) : fmtNum(v)) + '/s';
  }
  if (unit in TO_SECONDS) return fmtScaled(v * TO_SECONDS[unit], TIME);
  if (unit === 'bytes') return fmtScaled(v, BYTES);
  if (unit === 'ratio') return sig(v * 100) + '%';
  return `${fmtNum(v)} ${unit}`;
}

// queryUnit is the unit of a query's values: a quantile or a gauge has its
// metric's unit; a rate of a histogram's count or of a counter without a
// unit is per second ("/s"), of a counter with one that unit per second
// ("bytes/s"); a ratio of two rates has none.
export function queryUnit(q, unit) {
  const rated = /\b(rate|irate)\s*\(/.test(q);
  if (rated && /\)\s*\/\s*[a-z(]/i.test(q)) return '';
  if (/\bhistogram_quantile\s*\(/.test(q) || /\{[^}]*quantile=/.test(q)) return unit;
  if (/\bhistogram_count\s*\(/.test(q) || /_count\b/.test(q) || /_bucket\b/.test(q)) return rated ? '/s' : '';
  if (/_sum\b/.test(q) || /\bhistogram_sum\s*\(/.test(q)) return rated ? `${unit}/s` : unit;
  if (rated) return unit ? `${unit}/s` : '/s';
  if (/\bincrease\s*\(/.test(q)) return unit;
  return unit;
}
