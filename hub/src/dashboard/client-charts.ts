// Hand-written SVG charts for the dashboard (no CDN, no dependencies): time-series lines with
// bands and threshold lines, grouped bars with per-category markers; units on every axis, local times.
// Browser JavaScript kept as a string so `tsc` ships it inside dist (no copy step); no backticks inside.

export const CHARTS_JS = String.raw`
var SVGNS = 'http://www.w3.org/2000/svg';
var TZ = (function () { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time'; } catch (e) { return 'local time'; } })();

function svgEl(tag, attrs, children) {
  var n = document.createElementNS(SVGNS, tag);
  if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) n.setAttribute(k, String(attrs[k]));
  (children || []).forEach(function (c) { if (c !== null && c !== undefined) n.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
  return n;
}

function niceStep(span, count) {
  var raw = span / Math.max(1, count);
  var mag = Math.pow(10, Math.floor(Math.log10(raw)));
  var f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

function niceTicks(min, max, count) {
  if (!(max > min)) max = min + 1;
  var step = niceStep(max - min, count);
  var lo = Math.floor(min / step) * step;
  var hi = Math.ceil(max / step) * step;
  var out = [];
  for (var v = lo; v <= hi + step / 2; v += step) out.push(Math.abs(v) < step / 1e6 ? 0 : v);
  return out;
}

function fmtNum(v) {
  if (v === null || v === undefined || !isFinite(v)) return '–';
  var a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(a >= 1e5 ? 0 : 1) + 'k';
  if (a >= 100 || a === 0) return String(Math.round(v));
  if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
  if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, '');
  return Number(v.toPrecision(2)).toString();
}

var TIME_STEPS = [60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 172800e3, 604800e3];

function timeTicks(from, to, count) {
  var step = TIME_STEPS[TIME_STEPS.length - 1];
  for (var i = 0; i < TIME_STEPS.length; i++) if ((to - from) / TIME_STEPS[i] <= count) { step = TIME_STEPS[i]; break; }
  // align ticks to the viewer's wall clock, not UTC
  var off = -new Date(from).getTimezoneOffset() * 60e3;
  var out = [];
  for (var t = Math.ceil((from + off) / step) * step - off; t <= to; t += step) out.push(t);
  return out;
}

function fmtClock(t, span) {
  var d = new Date(t);
  if (span > 2 * 86400e3) return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  var s = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return span > 86400e3 ? d.toLocaleDateString([], { weekday: 'short' }) + ' ' + s : s;
}

var W = 640, H = 250, ML = 58, MR = 14, MT = 12, MB = 44;

/** A narrower drawing on phones keeps 12-px text readable once the SVG is scaled to the screen. */
function sizeFor() {
  var narrow = window.innerWidth < 640;
  W = narrow ? 400 : 640;
  H = narrow ? 230 : 250;
}

function frame(title, cls) {
  var svg = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart ' + (cls || ''), role: 'img', 'aria-label': title, preserveAspectRatio: 'xMidYMid meet' });
  return svg;
}

function yAxis(svg, ticks, y, unit, fmt) {
  var g = svgEl('g', { class: 'axis axis-y' });
  ticks.forEach(function (v) {
    var py = y(v);
    g.appendChild(svgEl('line', { x1: ML, x2: W - MR, y1: py, y2: py, class: 'grid' }));
    g.appendChild(svgEl('text', { x: ML - 6, y: py + 4, 'text-anchor': 'end', class: 'tick' }, [fmt(v)]));
  });
  svg.appendChild(g);
  svg.appendChild(svgEl('text', { class: 'axis-label axis-label-y', x: 0, y: 0, transform: 'translate(14 ' + (MT + (H - MT - MB) / 2) + ') rotate(-90)', 'text-anchor': 'middle' }, [unit]));
}

function legend(items) {
  var box = document.createElement('div');
  box.className = 'legend';
  items.forEach(function (it) {
    var s = document.createElement('span');
    s.className = 'key ' + it.cls;
    var sw = document.createElement('i');
    s.appendChild(sw);
    s.appendChild(document.createTextNode(it.name));
    box.appendChild(s);
  });
  return box;
}

function figure(title, svg, items, note) {
  var f = document.createElement('figure');
  f.className = 'chart-box';
  var h = document.createElement('figcaption');
  h.textContent = title;
  f.appendChild(h);
  f.appendChild(svg);
  if (items && items.length) f.appendChild(legend(items));
  if (note) { var p = document.createElement('p'); p.className = 'chart-note'; p.textContent = note; f.appendChild(p); }
  return f;
}

function emptyPlot(svg, msg) {
  var g = svgEl('g', { class: 'plot empty', 'data-points': 0 });
  g.appendChild(svgEl('text', { x: ML + (W - ML - MR) / 2, y: MT + (H - MT - MB) / 2, 'text-anchor': 'middle', class: 'no-data' }, [msg]));
  svg.appendChild(g);
}

/**
 * Time series. opts: { title, unit, from, to, series: [{ name, cls, points: [[t, v|null]] }],
 * band: { name, cls, points: [[t, low, high]] }, thresholds: [{ name, value }], thresholdSeries: { name, points },
 * yMin, yMax, fmt, note, empty }
 */
function lineChart(opts) {
  sizeFor();
  var svg = frame(opts.title, 'line-chart');
  var fmt = opts.fmt || fmtNum;
  var vals = [];
  (opts.series || []).forEach(function (s) { s.points.forEach(function (p) { if (p[1] !== null && isFinite(p[1])) vals.push(p[1]); }); });
  var bandPts = opts.band ? opts.band.points.filter(function (p) { return p[1] !== null && p[2] !== null; }) : [];
  bandPts.forEach(function (p) { vals.push(p[1], p[2]); });
  var thr = (opts.thresholds || []).filter(function (t) { return t.value !== null && isFinite(t.value); });
  var tsPts = opts.thresholdSeries ? opts.thresholdSeries.points.filter(function (p) { return p[1] !== null && isFinite(p[1]); }) : [];
  var dataCount = vals.length;
  thr.forEach(function (t) { vals.push(t.value); });
  tsPts.forEach(function (p) { vals.push(p[1]); });
  var from = opts.from, to = opts.to;
  var x = function (t) { return ML + ((t - from) / Math.max(1, to - from)) * (W - ML - MR); };
  var yMin = opts.yMin !== undefined ? opts.yMin : Math.min.apply(null, vals.concat([0]));
  var yMaxData = vals.length ? Math.max.apply(null, vals) : 1;
  var yMax = opts.yMax !== undefined ? Math.max(opts.yMax, opts.yMaxGrow ? yMaxData : opts.yMax) : yMaxData * 1.1;
  if (!(yMax > yMin)) yMax = yMin + 1;
  var ticks = niceTicks(yMin, yMax, 4);
  var lo = ticks[0], hi = ticks[ticks.length - 1];
  var y = function (v) { return MT + (1 - (v - lo) / (hi - lo)) * (H - MT - MB); };
  yAxis(svg, ticks, y, opts.unit, fmt);
  var gx = svgEl('g', { class: 'axis axis-x' });
  gx.appendChild(svgEl('line', { x1: ML, x2: W - MR, y1: H - MB, y2: H - MB, class: 'baseline' }));
  timeTicks(from, to, W < 500 ? 4 : 6).forEach(function (t) {
    gx.appendChild(svgEl('line', { x1: x(t), x2: x(t), y1: H - MB, y2: H - MB + 4, class: 'tickmark' }));
    gx.appendChild(svgEl('text', { x: x(t), y: H - MB + 16, 'text-anchor': 'middle', class: 'tick' }, [fmtClock(t, to - from)]));
  });
  svg.appendChild(gx);
  svg.appendChild(svgEl('text', { class: 'axis-label axis-label-x', x: ML + (W - ML - MR) / 2, y: H - 6, 'text-anchor': 'middle' }, ['time (' + TZ + ')']));
  var items = [];
  if (!dataCount) {
    emptyPlot(svg, opts.empty || 'no data in this time range');
  } else {
    var plot = svgEl('g', { class: 'plot', 'data-points': dataCount });
    if (bandPts.length) {
      var up = bandPts.map(function (p) { return x(p[0]).toFixed(1) + ',' + y(p[2]).toFixed(1); });
      var down = bandPts.slice().reverse().map(function (p) { return x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1); });
      plot.appendChild(svgEl('path', { class: 'band ' + (opts.band.cls || ''), d: 'M' + up.concat(down).join('L') + 'Z' }));
      items.push({ name: opts.band.name, cls: 'band ' + (opts.band.cls || '') });
    }
    (opts.series || []).forEach(function (s) {
      var d = '', pen = false, n = 0;
      s.points.forEach(function (p) {
        if (p[1] === null || !isFinite(p[1])) { pen = false; return; }
        d += (pen ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1);
        pen = true; n++;
      });
      if (!n) return;
      plot.appendChild(svgEl('path', { class: 'series ' + s.cls, d: d }, [svgEl('title', null, [s.name])]));
      if (n <= 3 || opts.dots) s.points.forEach(function (p) {
        if (p[1] !== null && isFinite(p[1])) plot.appendChild(svgEl('circle', { class: 'dot ' + s.cls, cx: x(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r: 3 }, [svgEl('title', null, [s.name + ' ' + fmt(p[1]) + ' at ' + new Date(p[0]).toLocaleTimeString()])]));
      });
      items.push({ name: s.name, cls: s.cls });
    });
    svg.appendChild(plot);
  }
  thr.forEach(function (t) {
    var py = y(t.value);
    svg.appendChild(svgEl('line', { class: 'threshold', x1: ML, x2: W - MR, y1: py, y2: py }, [svgEl('title', null, [t.name + ' ' + fmt(t.value)])]));
    svg.appendChild(svgEl('text', { class: 'threshold-label', x: W - MR - 4, y: py - 4, 'text-anchor': 'end' }, [t.name + ' ' + fmt(t.value)]));
    items.push({ name: t.name, cls: 'threshold' });
  });
  if (tsPts.length) {
    var d2 = '';
    tsPts.forEach(function (p, i) { d2 += (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1); });
    if (tsPts.length === 1) d2 += 'L' + (W - MR) + ',' + y(tsPts[0][1]).toFixed(1);
    svg.appendChild(svgEl('path', { class: 'threshold', d: d2 }, [svgEl('title', null, [opts.thresholdSeries.name])]));
    items.push({ name: opts.thresholdSeries.name, cls: 'threshold' });
  }
  return figure(opts.title, svg, items, opts.note);
}

/**
 * Grouped bars per category. opts: { title, unit, labels, groups: [{ name, cls, values }],
 * markers: { name, values } (a threshold tick per category), yMax, fmt, note, empty }
 */
function barChart(opts) {
  sizeFor();
  var svg = frame(opts.title, 'bar-chart');
  var fmt = opts.fmt || fmtNum;
  var groups = (opts.groups || []).filter(function (g) { return g.values; });
  var vals = [];
  groups.forEach(function (g) { g.values.forEach(function (v) { if (v !== null && isFinite(v)) vals.push(v); }); });
  var dataCount = vals.length;
  var marks = opts.markers ? opts.markers.values : [];
  marks.forEach(function (v) { if (v !== null && isFinite(v)) vals.push(v); });
  var yMax = opts.yMax !== undefined ? Math.max(opts.yMax, Math.max.apply(null, vals.concat([0]))) : Math.max.apply(null, vals.concat([0])) * 1.1;
  if (!(yMax > 0)) yMax = 1;
  var ticks = niceTicks(0, yMax, 4);
  var hi = ticks[ticks.length - 1];
  var y = function (v) { return MT + (1 - v / hi) * (H - MT - MB); };
  yAxis(svg, ticks, y, opts.unit, fmt);
  var n = opts.labels.length;
  var slot = (W - ML - MR) / Math.max(1, n);
  var gx = svgEl('g', { class: 'axis axis-x' });
  gx.appendChild(svgEl('line', { x1: ML, x2: W - MR, y1: H - MB, y2: H - MB, class: 'baseline' }));
  var every = Math.ceil(n / (W < 500 ? 6 : 12));
  opts.labels.forEach(function (l, i) {
    if (i % every) return;
    var lbl = String(l).length > 12 ? String(l).slice(0, 11) + '…' : String(l);
    gx.appendChild(svgEl('text', { x: ML + slot * (i + 0.5), y: H - MB + 16, 'text-anchor': 'middle', class: 'tick' }, [lbl]));
  });
  svg.appendChild(gx);
  svg.appendChild(svgEl('text', { class: 'axis-label axis-label-x', x: ML + (W - ML - MR) / 2, y: H - 6, 'text-anchor': 'middle' }, [opts.xLabel || '']));
  var items = [];
  if (!dataCount) {
    emptyPlot(svg, opts.empty || 'no data in this time range');
  } else {
    var plot = svgEl('g', { class: 'plot', 'data-points': dataCount });
    var bw = (slot * 0.8) / Math.max(1, groups.length);
    groups.forEach(function (g, gi) {
      g.values.forEach(function (v, i) {
        if (v === null || !isFinite(v)) return;
        var x0 = ML + slot * i + slot * 0.1 + bw * gi;
        plot.appendChild(svgEl('rect', { class: 'bar ' + g.cls + (g.flag && g.flag[i] ? ' flagged' : ''), x: x0.toFixed(1), y: y(v).toFixed(1), width: Math.max(1, bw - 1).toFixed(1), height: Math.max(0.5, y(0) - y(v)).toFixed(1) }, [svgEl('title', null, [opts.labels[i] + ': ' + g.name + ' ' + fmt(v)])]));
      });
      items.push({ name: g.name, cls: g.cls });
    });
    svg.appendChild(plot);
  }
  if (marks.length) {
    marks.forEach(function (v, i) {
      if (v === null || !isFinite(v)) return;
      svg.appendChild(svgEl('line', { class: 'threshold', x1: (ML + slot * i + slot * 0.05).toFixed(1), x2: (ML + slot * (i + 1) - slot * 0.05).toFixed(1), y1: y(v).toFixed(1), y2: y(v).toFixed(1) }, [svgEl('title', null, [opts.labels[i] + ': ' + opts.markers.name + ' ' + fmt(v)])]));
    });
    items.push({ name: opts.markers.name, cls: 'threshold' });
  }
  return figure(opts.title, svg, items, opts.note);
}

/** Wilson score interval (95%), as the hub computes it (design §6). */
function wilsonInterval(k, n) {
  if (!(n > 0)) return null;
  var z = 1.96, p = k / n, z2 = z * z, den = 1 + z2 / n;
  var c = (p + z2 / (2 * n)) / den;
  var h = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / den;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}
`;
