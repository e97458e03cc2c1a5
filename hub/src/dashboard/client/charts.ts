// Hand-written SVG charts for the dashboard (no CDN, no dependencies): time-series lines with
// bands and threshold lines, grouped bars with per-category markers; units on every axis, local times.

import { svgEl } from './dom.js';
import { TZ, fmtNum } from './format.js';

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

/** Round-numbered ticks covering [min, max]. */
function niceTicks(min: number, max: number, count: number): number[] {
  if (!(max > min)) max = min + 1;
  const step = niceStep(max - min, count);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const out: number[] = [];
  for (let v = lo; v <= hi + step / 2; v += step) out.push(Math.abs(v) < step / 1e6 ? 0 : v);
  return out;
}

const WEEK = 604800e3;
const TIME_STEPS = [60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 172800e3, WEEK];

function timeTicks(from: number, to: number, count: number): number[] {
  const step = TIME_STEPS.find((s) => (to - from) / s <= count) ?? WEEK;
  // align ticks to the viewer's wall clock, not UTC
  const off = -new Date(from).getTimezoneOffset() * 60e3;
  const out: number[] = [];
  for (let t = Math.ceil((from + off) / step) * step - off; t <= to; t += step) out.push(t);
  return out;
}

function fmtClock(t: number, span: number): string {
  const d = new Date(t);
  if (span > 2 * 86400e3) return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  const s = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return span > 86400e3 ? d.toLocaleDateString([], { weekday: 'short' }) + ' ' + s : s;
}

let W = 640;
let H = 250;
const ML = 58;
const MR = 14;
const MT = 12;
const MB = 44;

/** A narrower drawing on phones keeps 12-px text readable once the SVG is scaled to the screen. */
function sizeFor(): void {
  const narrow = window.innerWidth < 640;
  W = narrow ? 400 : 640;
  H = narrow ? 230 : 250;
}

function frame(title: string, cls: string): SVGElement {
  return svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart ' + cls, role: 'img', 'aria-label': title, preserveAspectRatio: 'xMidYMid meet' });
}

function yAxis(svg: SVGElement, ticks: readonly number[], y: (v: number) => number, unit: string, fmt: (v: number) => string): void {
  const g = svgEl('g', { class: 'axis axis-y' });
  for (const v of ticks) {
    const py = y(v);
    g.appendChild(svgEl('line', { x1: ML, x2: W - MR, y1: py, y2: py, class: 'grid' }));
    g.appendChild(svgEl('text', { x: ML - 6, y: py + 4, 'text-anchor': 'end', class: 'tick' }, [fmt(v)]));
  }
  svg.appendChild(g);
  svg.appendChild(svgEl('text', { class: 'axis-label axis-label-y', x: 0, y: 0, transform: 'translate(14 ' + (MT + (H - MT - MB) / 2) + ') rotate(-90)', 'text-anchor': 'middle' }, [unit]));
}

interface LegendItem {
  name: string;
  cls: string;
}

function legend(items: readonly LegendItem[]): HTMLDivElement {
  const box = document.createElement('div');
  box.className = 'legend';
  for (const it of items) {
    const s = document.createElement('span');
    s.className = 'key ' + it.cls;
    s.appendChild(document.createElement('i'));
    s.appendChild(document.createTextNode(it.name));
    box.appendChild(s);
  }
  return box;
}

function figure(title: string, svg: SVGElement, items: readonly LegendItem[], note: string | undefined): HTMLElement {
  const f = document.createElement('figure');
  f.className = 'chart-box';
  const h = document.createElement('figcaption');
  h.textContent = title;
  f.appendChild(h);
  f.appendChild(svg);
  if (items.length) f.appendChild(legend(items));
  if (note) {
    const p = document.createElement('p');
    p.className = 'chart-note';
    p.textContent = note;
    f.appendChild(p);
  }
  return f;
}

function emptyPlot(svg: SVGElement, msg: string): void {
  const g = svgEl('g', { class: 'plot empty', 'data-points': 0 });
  g.appendChild(svgEl('text', { x: ML + (W - ML - MR) / 2, y: MT + (H - MT - MB) / 2, 'text-anchor': 'middle', class: 'no-data' }, [msg]));
  svg.appendChild(g);
}

const drawn = (v: number | null | undefined): v is number => v !== null && v !== undefined && isFinite(v);

/** A point [t, value]; null leaves a gap in the line. */
export type Point = readonly [number, number | null];

/** What every chart takes: its caption, y axis and how it says there is nothing to draw. */
interface ChartOptions {
  title: string;
  /** The y axis label, with its unit. */
  unit: string;
  yMax?: number;
  fmt?: (v: number) => string;
  /** A line under the chart. */
  note?: string;
  /** Shown in the plot when there is no data. */
  empty?: string;
}

export interface LineChartOptions extends ChartOptions {
  from: number;
  to: number;
  series?: Array<{ name: string; cls: string; points: readonly Point[] }>;
  /** A shaded interval [t, low, high]. */
  band?: { name: string; cls?: string; points: ReadonlyArray<readonly [number, number | null, number | null]> };
  thresholds?: Array<{ name: string; value: number | null }>;
  /** A threshold that changes over time, drawn as a dashed line. */
  thresholdSeries?: { name: string; points: readonly Point[] };
  yMin?: number;
  /** With yMax: let the axis grow past it when the data does. */
  yMaxGrow?: boolean;
  dots?: boolean;
}

/** A time series chart, axes in the viewer's time zone. */
export function lineChart(opts: LineChartOptions): HTMLElement {
  sizeFor();
  const svg = frame(opts.title, 'line-chart');
  const fmt = opts.fmt || fmtNum;
  const series = opts.series || [];
  const vals: number[] = [];
  for (const s of series) for (const p of s.points) if (drawn(p[1])) vals.push(p[1]);
  const bandPts = opts.band ? opts.band.points.filter((p): p is readonly [number, number, number] => p[1] !== null && p[2] !== null) : [];
  for (const p of bandPts) vals.push(p[1], p[2]);
  const thr = (opts.thresholds || []).filter((t): t is { name: string; value: number } => drawn(t.value));
  const tsPts = opts.thresholdSeries ? opts.thresholdSeries.points.filter((p): p is readonly [number, number] => drawn(p[1])) : [];
  const dataCount = vals.length;
  for (const t of thr) vals.push(t.value);
  for (const p of tsPts) vals.push(p[1]);
  const { from, to } = opts;
  const x = (t: number) => ML + ((t - from) / Math.max(1, to - from)) * (W - ML - MR);
  const yMin = opts.yMin !== undefined ? opts.yMin : Math.min(...vals, 0);
  const yMaxData = vals.length ? Math.max(...vals) : 1;
  let yMax = opts.yMax !== undefined ? Math.max(opts.yMax, opts.yMaxGrow ? yMaxData : opts.yMax) : yMaxData * 1.1;
  if (!(yMax > yMin)) yMax = yMin + 1;
  const ticks = niceTicks(yMin, yMax, 4);
  const lo = ticks[0] ?? yMin;
  const hi = ticks[ticks.length - 1] ?? yMax;
  const y = (v: number) => MT + (1 - (v - lo) / (hi - lo)) * (H - MT - MB);
  yAxis(svg, ticks, y, opts.unit, fmt);
  const gx = svgEl('g', { class: 'axis axis-x' });
  gx.appendChild(svgEl('line', { x1: ML, x2: W - MR, y1: H - MB, y2: H - MB, class: 'baseline' }));
  for (const t of timeTicks(from, to, W < 500 ? 4 : 6)) {
    gx.appendChild(svgEl('line', { x1: x(t), x2: x(t), y1: H - MB, y2: H - MB + 4, class: 'tickmark' }));
    gx.appendChild(svgEl('text', { x: x(t), y: H - MB + 16, 'text-anchor': 'middle', class: 'tick' }, [fmtClock(t, to - from)]));
  }
  svg.appendChild(gx);
  svg.appendChild(svgEl('text', { class: 'axis-label axis-label-x', x: ML + (W - ML - MR) / 2, y: H - 6, 'text-anchor': 'middle' }, ['time (' + TZ + ')']));
  const items: LegendItem[] = [];
  if (!dataCount) {
    emptyPlot(svg, opts.empty || 'no data in this time range');
  } else {
    const plot = svgEl('g', { class: 'plot', 'data-points': dataCount });
    if (opts.band && bandPts.length) {
      const up = bandPts.map((p) => x(p[0]).toFixed(1) + ',' + y(p[2]).toFixed(1));
      const down = bandPts
        .slice()
        .reverse()
        .map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1));
      plot.appendChild(svgEl('path', { class: 'band ' + (opts.band.cls || ''), d: 'M' + up.concat(down).join('L') + 'Z' }));
      items.push({ name: opts.band.name, cls: 'band ' + (opts.band.cls || '') });
    }
    for (const s of series) {
      let d = '';
      let pen = false;
      let n = 0;
      for (const p of s.points) {
        if (!drawn(p[1])) {
          pen = false;
          continue;
        }
        d += (pen ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1);
        pen = true;
        n++;
      }
      if (!n) continue;
      plot.appendChild(svgEl('path', { class: 'series ' + s.cls, d }, [svgEl('title', null, [s.name])]));
      if (n <= 3 || opts.dots) {
        for (const p of s.points) {
          if (drawn(p[1])) {
            const tip = s.name + ' ' + fmt(p[1]) + ' at ' + new Date(p[0]).toLocaleTimeString();
            plot.appendChild(svgEl('circle', { class: 'dot ' + s.cls, cx: x(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r: 3 }, [svgEl('title', null, [tip])]));
          }
        }
      }
      items.push({ name: s.name, cls: s.cls });
    }
    svg.appendChild(plot);
  }
  for (const t of thr) {
    const py = y(t.value);
    svg.appendChild(svgEl('line', { class: 'threshold', x1: ML, x2: W - MR, y1: py, y2: py }, [svgEl('title', null, [t.name + ' ' + fmt(t.value)])]));
    svg.appendChild(svgEl('text', { class: 'threshold-label', x: W - MR - 4, y: py - 4, 'text-anchor': 'end' }, [t.name + ' ' + fmt(t.value)]));
    items.push({ name: t.name, cls: 'threshold' });
  }
  const first = tsPts[0];
  if (opts.thresholdSeries && first) {
    let d2 = '';
    tsPts.forEach((p, i) => {
      d2 += (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1);
    });
    if (tsPts.length === 1) d2 += 'L' + (W - MR) + ',' + y(first[1]).toFixed(1);
    svg.appendChild(svgEl('path', { class: 'threshold', d: d2 }, [svgEl('title', null, [opts.thresholdSeries.name])]));
    items.push({ name: opts.thresholdSeries.name, cls: 'threshold' });
  }
  return figure(opts.title, svg, items, opts.note);
}

export interface BarChartOptions extends ChartOptions {
  xLabel?: string;
  labels: readonly string[];
  /** One bar per label and group; a group without values (null) is left out. */
  groups?: Array<{ name: string; cls: string; values: ReadonlyArray<number | null> | null; flag?: readonly boolean[] }>;
  /** A threshold tick per category. */
  markers?: { name: string; values: ReadonlyArray<number | null> };
}

/** Grouped bars per category. */
export function barChart(opts: BarChartOptions): HTMLElement {
  sizeFor();
  const svg = frame(opts.title, 'bar-chart');
  const fmt = opts.fmt || fmtNum;
  const groups = (opts.groups || []).flatMap((g) => (g.values ? [{ ...g, values: g.values }] : []));
  const vals: number[] = [];
  for (const g of groups) for (const v of g.values) if (drawn(v)) vals.push(v);
  const dataCount = vals.length;
  const marks = opts.markers ? opts.markers.values : [];
  for (const v of marks) if (drawn(v)) vals.push(v);
  let yMax = opts.yMax !== undefined ? Math.max(opts.yMax, Math.max(...vals, 0)) : Math.max(...vals, 0) * 1.1;
  if (!(yMax > 0)) yMax = 1;
  const ticks = niceTicks(0, yMax, 4);
  const hi = ticks[ticks.length - 1] ?? yMax;
  const y = (v: number) => MT + (1 - v / hi) * (H - MT - MB);
  yAxis(svg, ticks, y, opts.unit, fmt);
  const n = opts.labels.length;
  const slot = (W - ML - MR) / Math.max(1, n);
  const gx = svgEl('g', { class: 'axis axis-x' });
  gx.appendChild(svgEl('line', { x1: ML, x2: W - MR, y1: H - MB, y2: H - MB, class: 'baseline' }));
  const every = Math.ceil(n / (W < 500 ? 6 : 12));
  opts.labels.forEach((l, i) => {
    if (i % every) return;
    const lbl = String(l).length > 12 ? String(l).slice(0, 11) + '…' : String(l);
    gx.appendChild(svgEl('text', { x: ML + slot * (i + 0.5), y: H - MB + 16, 'text-anchor': 'middle', class: 'tick' }, [lbl]));
  });
  svg.appendChild(gx);
  svg.appendChild(svgEl('text', { class: 'axis-label axis-label-x', x: ML + (W - ML - MR) / 2, y: H - 6, 'text-anchor': 'middle' }, [opts.xLabel || '']));
  const items: LegendItem[] = [];
  if (!dataCount) {
    emptyPlot(svg, opts.empty || 'no data in this time range');
  } else {
    const plot = svgEl('g', { class: 'plot', 'data-points': dataCount });
    const bw = (slot * 0.8) / Math.max(1, groups.length);
    groups.forEach((g, gi) => {
      g.values.forEach((v, i) => {
        if (!drawn(v)) return;
        const x0 = ML + slot * i + slot * 0.1 + bw * gi;
        const rect = { class: 'bar ' + g.cls + (g.flag && g.flag[i] ? ' flagged' : ''), x: x0.toFixed(1), y: y(v).toFixed(1), width: Math.max(1, bw - 1).toFixed(1), height: Math.max(0.5, y(0) - y(v)).toFixed(1) };
        plot.appendChild(svgEl('rect', rect, [svgEl('title', null, [opts.labels[i] + ': ' + g.name + ' ' + fmt(v)])]));
      });
      items.push({ name: g.name, cls: g.cls });
    });
    svg.appendChild(plot);
  }
  if (opts.markers && marks.length) {
    const name = opts.markers.name;
    marks.forEach((v, i) => {
      if (!drawn(v)) return;
      const line = { class: 'threshold', x1: (ML + slot * i + slot * 0.05).toFixed(1), x2: (ML + slot * (i + 1) - slot * 0.05).toFixed(1), y1: y(v).toFixed(1), y2: y(v).toFixed(1) };
      svg.appendChild(svgEl('line', line, [svgEl('title', null, [opts.labels[i] + ': ' + name + ' ' + fmt(v)])]));
    });
    items.push({ name, cls: 'threshold' });
  }
  return figure(opts.title, svg, items, opts.note);
}

/** Wilson score interval (95%), as the hub computes it (design §6). */
export function wilsonInterval(k: number, n: number): [number, number] | null {
  if (!(n > 0)) return null;
  const z = 1.96;
  const p = k / n;
  const z2 = z * z;
  const den = 1 + z2 / n;
  const c = (p + z2 / (2 * n)) / den;
  const h = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / den;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}
