// Hand-written SVG charts for the dashboard (no CDN, no dependencies): time-series lines with
// bands and threshold lines, grouped bars with per-category markers; units on every axis, local times.
// Time axes zoom to the data they hold; charts compared side by side can share their axes (`shareAxes`).

import { svgEl } from './dom.js';
import { boxFor, drawn, emptyPlot, figure, fmtClock, frame, labelLayout, type LegendItem, LINE, niceTicks, plotBottom, plotWidth, ROTATE, shortLabels, textWidth, thresholdMark, timeStep, timeTicks, yAxis } from './chart-parts.js';
import { TZ, duration, fmtNum } from './format.js';

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
  /** The time range asked for. */
  from: number;
  to: number;
  /** Fit the time axis to the data (default) or show the whole range asked for. */
  zoom?: boolean;
  /** An explicit time axis (charts compared side by side share one); wins over `zoom`. */
  domain?: readonly [number, number];
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

/** Below this share of the range asked for, a time axis zooms to its data. */
const ZOOM_BELOW = 0.9;

/** The time axis for data from `first` to `last` in the range [from, to]: a small margin either side. */
export function fitTimeDomain(first: number, last: number, from: number, to: number): [number, number] {
  // 5 % either side; a lone point gets half a minute each way
  const pad = last > first ? (last - first) * 0.05 : 30e3;
  const a = Math.max(from, first - pad);
  const b = Math.min(to, last + pad);
  return b - a >= ZOOM_BELOW * (to - from) ? [from, to] : [a, b];
}

/** What a line chart would draw, before any axis is chosen: its values, their times and natural y range. */
function lineData(opts: LineChartOptions) {
  const vals: number[] = [];
  const times: number[] = [];
  for (const s of opts.series || []) {
    for (const p of s.points) {
      if (drawn(p[1])) vals.push(p[1]), times.push(p[0]);
    }
  }
  const bandPts = opts.band ? opts.band.points.filter((p): p is readonly [number, number, number] => drawn(p[1]) && drawn(p[2])) : [];
  for (const p of bandPts) vals.push(p[1], p[2]), times.push(p[0]);
  const thr = (opts.thresholds || []).filter((t): t is { name: string; value: number } => drawn(t.value));
  const tsPts = opts.thresholdSeries ? opts.thresholdSeries.points.filter((p): p is readonly [number, number] => drawn(p[1])) : [];
  const dataCount = vals.length;
  for (const t of thr) vals.push(t.value);
  for (const p of tsPts) vals.push(p[1]);
  const yMin = opts.yMin !== undefined ? opts.yMin : Math.min(...vals, 0);
  const yMaxData = vals.length ? Math.max(...vals) : 1;
  const yMax = opts.yMax !== undefined ? Math.max(opts.yMax, opts.yMaxGrow ? yMaxData : opts.yMax) : yMaxData * 1.1;
  const first = times.length ? Math.min(...times) : null;
  const last = times.length ? Math.max(...times) : null;
  return { dataCount, bandPts, thr, tsPts, yMin, yMax, first, last };
}

/** A time series chart, axes in the viewer's time zone, zoomed to its data unless told otherwise. */
export function lineChart(opts: LineChartOptions): HTMLElement {
  const b = boxFor();
  const svg = frame(b, opts.title, 'line-chart');
  const fmt = opts.fmt || fmtNum;
  const series = opts.series || [];
  const { dataCount, bandPts, thr, tsPts, yMin, first, last, yMax: natural } = lineData(opts);
  let yMax = natural;
  const [from, to] =
    opts.domain ?? (opts.zoom !== false && first !== null && last !== null ? fitTimeDomain(first, last, opts.from, opts.to) : [opts.from, opts.to]);
  const zoomed = to - from < opts.to - opts.from - 1;
  svg.setAttribute('data-x-from', String(Math.round(from)));
  svg.setAttribute('data-x-to', String(Math.round(to)));
  svg.setAttribute('data-zoom', zoomed ? 'data' : 'range');
  const x = (t: number) => b.ml + ((t - from) / Math.max(1, to - from)) * plotWidth(b);
  if (!(yMax > yMin)) yMax = yMin + 1;
  const ticks = niceTicks(yMin, yMax, 4);
  const lo = ticks[0] ?? yMin;
  const hi = ticks[ticks.length - 1] ?? yMax;
  const y = (v: number) => b.mt + (1 - (v - lo) / (hi - lo)) * (plotBottom(b) - b.mt);
  yAxis(svg, b, ticks, y, opts.unit, fmt);
  const gx = svgEl('g', { class: 'axis axis-x' });
  const base = plotBottom(b);
  gx.appendChild(svgEl('line', { x1: b.ml, x2: b.w - b.mr, y1: base, y2: base, class: 'baseline' }));
  const step = timeStep(from, to, b.w < 500 ? 4 : 6);
  for (const t of timeTicks(from, to, step)) {
    gx.appendChild(svgEl('line', { x1: x(t), x2: x(t), y1: base, y2: base + 4, class: 'tickmark' }));
    gx.appendChild(svgEl('text', { x: x(t), y: base + 16, 'text-anchor': 'middle', class: 'tick' }, [fmtClock(t, to - from, step)]));
  }
  svg.appendChild(gx);
  svg.appendChild(svgEl('text', { class: 'axis-label axis-label-x', x: b.ml, y: b.h - 6, 'text-anchor': 'start' }, ['time (' + TZ + ')']));
  // the span the axis really shows, and of what range when it zoomed in
  const span = duration((to - from) / 1000) + (zoomed ? ' shown of ' + duration((opts.to - opts.from) / 1000) : '');
  svg.appendChild(svgEl('text', { class: 'axis-span', x: b.w - b.mr, y: b.h - 6, 'text-anchor': 'end' }, [span]));
  const items: LegendItem[] = [];
  if (!dataCount) {
    emptyPlot(svg, b, opts.empty || 'no data in this time range');
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
    svg.appendChild(thresholdMark({ x1: b.ml, x2: b.w - b.mr, y1: py, y2: py }, t.name + ' ' + fmt(t.value)));
    svg.appendChild(svgEl('text', { class: 'threshold-label', x: b.w - b.mr - 4, y: py - 4, 'text-anchor': 'end' }, [t.name + ' ' + fmt(t.value)]));
    items.push({ name: t.name, cls: 'threshold' });
  }
  const firstThr = tsPts[0];
  if (opts.thresholdSeries && firstThr) {
    let d2 = '';
    tsPts.forEach((p, i) => {
      d2 += (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1);
    });
    if (tsPts.length === 1) d2 += 'L' + (b.w - b.mr) + ',' + y(firstThr[1]).toFixed(1);
    svg.appendChild(thresholdMark({ d: d2 }, opts.thresholdSeries.name));
    items.push({ name: opts.thresholdSeries.name, cls: 'threshold' });
  }
  return figure(opts.title, svg, items, opts.note);
}

export interface BarGroup {
  name: string;
  cls: string;
  /** One value per label; a group without values (null) is left out. */
  values: ReadonlyArray<number | null> | null;
  /** Bars to set apart (drifted ones): hatched in `flagged.cls`, marked with `flagged.mark` above the bar. */
  flag?: readonly boolean[];
  flagged?: { name: string; cls: string; mark: string };
}

export interface BarChartOptions extends ChartOptions {
  xLabel?: string;
  labels: readonly string[];
  groups?: BarGroup[];
  /** A threshold tick per category. */
  markers?: { name: string; values: ReadonlyArray<number | null> };
}

function barData(opts: BarChartOptions) {
  const groups = (opts.groups || []).flatMap((g) => (g.values ? [{ ...g, values: g.values }] : []));
  const vals: number[] = [];
  for (const g of groups) for (const v of g.values) if (drawn(v)) vals.push(v);
  const dataCount = vals.length;
  const marks = opts.markers ? opts.markers.values : [];
  for (const v of marks) if (drawn(v)) vals.push(v);
  const yMax = opts.yMax !== undefined ? Math.max(opts.yMax, Math.max(...vals, 0)) : Math.max(...vals, 0) * 1.1;
  return { groups, dataCount, marks, yMax };
}

let hatches = 0;

/** Grouped bars per category; flagged bars hatched and marked, labels shown whole. */
export function barChart(opts: BarChartOptions): HTMLElement {
  const fmt = opts.fmt || fmtNum;
  const { groups, dataCount, marks, yMax: natural } = barData(opts);
  let yMax = natural;
  const short = shortLabels(opts.labels);
  const n = short.labels.length;
  const probe = boxFor();
  const every = Math.ceil(n / (probe.w < 500 ? 6 : 12));
  const slot = plotWidth(probe) / Math.max(1, n);
  const layout = labelLayout(short.labels, slot * every);
  const b = boxFor(layout.extra);
  const svg = frame(b, opts.title, 'bar-chart');
  if (!(yMax > 0)) yMax = 1;
  const ticks = niceTicks(0, yMax, 4);
  const hi = ticks[ticks.length - 1] ?? yMax;
  const y = (v: number) => b.mt + (1 - v / hi) * (plotBottom(b) - b.mt);
  yAxis(svg, b, ticks, y, opts.unit, fmt);
  const base = plotBottom(b);
  const gx = svgEl('g', { class: 'axis axis-x' + (layout.rotate ? ' rotated' : '') });
  gx.appendChild(svgEl('line', { x1: b.ml, x2: b.w - b.mr, y1: base, y2: base, class: 'baseline' }));
  short.labels.forEach((_, i) => {
    if (i % every) return;
    const cx = b.ml + slot * (i + 0.5);
    const lines = layout.lines[i] ?? [];
    const full = String(opts.labels[i]);
    const attrs = layout.rotate
      ? { x: cx, y: base + 14, 'text-anchor': 'end', transform: 'rotate(-' + ROTATE + ' ' + cx.toFixed(1) + ' ' + (base + 14) + ')', class: 'tick category', 'data-label': full }
      : { x: cx, y: base + 16, 'text-anchor': 'middle', class: 'tick category', 'data-label': full };
    const kids: SVGElement[] = [svgEl('title', null, [full])];
    lines.forEach((l, li) => kids.push(svgEl('tspan', { x: cx.toFixed(1), dy: li ? LINE : 0 }, [l])));
    gx.appendChild(svgEl('text', attrs, kids));
  });
  svg.appendChild(gx);
  const xLabel = (opts.xLabel || '') + (short.prefix ? ' (' + short.prefix + '…)' : '');
  svg.appendChild(svgEl('text', { class: 'axis-label axis-label-x', x: b.ml + plotWidth(b) / 2, y: b.h - 6, 'text-anchor': 'middle' }, [xLabel]));
  const items: LegendItem[] = [];
  if (!dataCount) {
    emptyPlot(svg, b, opts.empty || 'no data in this time range');
  } else {
    const plot = svgEl('g', { class: 'plot', 'data-points': dataCount });
    const bw = (slot * 0.8) / Math.max(1, groups.length);
    groups.forEach((g, gi) => {
      const hatch = g.flagged ? 'hatch-' + ++hatches : '';
      if (g.flagged) {
        const pat = svgEl('pattern', { id: hatch, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' }, [
          svgEl('rect', { width: 6, height: 6, class: 'hatch-fill ' + g.flagged.cls }),
          svgEl('line', { x1: 0, y1: 0, x2: 0, y2: 6, class: 'hatch-line' }),
        ]);
        svg.insertBefore(svgEl('defs', null, [pat]), svg.firstChild);
      }
      let flaggedAny = false;
      g.values.forEach((v, i) => {
        if (!drawn(v)) return;
        const x0 = b.ml + slot * i + slot * 0.1 + bw * gi;
        const flagged = !!(g.flagged && g.flag && g.flag[i]);
        const label = String(opts.labels[i]);
        const rect: Record<string, string> = {
          class: 'bar ' + (flagged && g.flagged ? 'flagged ' + g.flagged.cls : g.cls),
          'data-label': label,
          x: x0.toFixed(1),
          y: y(v).toFixed(1),
          width: Math.max(1, bw - 1).toFixed(1),
          height: Math.max(0.5, y(0) - y(v)).toFixed(1),
        };
        // a presentation attribute, not a style: the page's CSP allows no inline styles
        if (flagged) rect.fill = 'url(#' + hatch + ')';
        const tip = label + ': ' + g.name + ' ' + fmt(v) + (flagged && g.flagged ? ' (' + g.flagged.mark + ')' : '');
        plot.appendChild(svgEl('rect', rect, [svgEl('title', null, [tip])]));
        if (flagged && g.flagged) {
          flaggedAny = true;
          // a word above the bar: the flag does not rest on colour alone
          const word = textWidth(g.flagged.mark) * 0.92 <= slot ? g.flagged.mark : '!';
          plot.appendChild(svgEl('text', { class: 'flag-mark ' + g.flagged.cls, x: (x0 + bw / 2).toFixed(1), y: Math.max(b.mt + 10, y(v) - 4).toFixed(1), 'text-anchor': 'middle' }, [word]));
        }
      });
      items.push({ name: g.name, cls: g.cls });
      if (g.flagged && (flaggedAny || g.flag)) items.push({ name: g.flagged.name, cls: 'flagged ' + g.flagged.cls });
    });
    svg.appendChild(plot);
  }
  if (opts.markers && marks.length) {
    const name = opts.markers.name;
    marks.forEach((v, i) => {
      if (!drawn(v)) return;
      const line = { x1: (b.ml + slot * i + slot * 0.05).toFixed(1), x2: (b.ml + slot * (i + 1) - slot * 0.05).toFixed(1), y1: y(v).toFixed(1), y2: y(v).toFixed(1) };
      svg.appendChild(thresholdMark(line, opts.labels[i] + ': ' + name + ' ' + fmt(v)));
    });
    items.push({ name, cls: 'threshold' });
  }
  return figure(opts.title, svg, items, opts.note);
}

/** A chart described before it is drawn, so that charts compared side by side can share their axes first. */
export type Chart = { kind: 'line'; opts: LineChartOptions } | { kind: 'bar'; opts: BarChartOptions };

export function drawChart(c: Chart): HTMLElement {
  return c.kind === 'line' ? lineChart(c.opts) : barChart(c.opts);
}

/**
 * Gives charts of the same title across columns (versions compared) one y scale, and line charts one
 * time axis: the union of their data's spans (or of their ranges when not zoomed). Charts without data
 * follow the others but do not widen them.
 */
export function shareAxes(columns: ReadonlyArray<readonly Chart[]>): void {
  const byTitle = new Map<string, Chart[]>();
  for (const col of columns) for (const c of col) byTitle.set(c.kind + ':' + c.opts.title, [...(byTitle.get(c.kind + ':' + c.opts.title) || []), c]);
  for (const same of byTitle.values()) {
    if (same.length < 2) continue;
    const lines = same.flatMap((c) => (c.kind === 'line' ? [c.opts] : []));
    const bars = same.flatMap((c) => (c.kind === 'bar' ? [c.opts] : []));
    if (lines.length) {
      const data = lines.map((o) => ({ o, d: lineData(o) }));
      const withData = data.filter((x) => x.d.dataCount > 0);
      if (!withData.length) continue;
      const yMax = Math.max(...withData.map((x) => x.d.yMax));
      const yMin = Math.min(...withData.map((x) => x.d.yMin));
      const from = Math.min(...lines.map((o) => o.from));
      const to = Math.max(...lines.map((o) => o.to));
      const zoom = lines.every((o) => o.zoom !== false);
      const first = Math.min(...withData.map((x) => x.d.first ?? Infinity));
      const last = Math.max(...withData.map((x) => x.d.last ?? -Infinity));
      const domain = zoom ? fitTimeDomain(first, last, from, to) : ([from, to] as const);
      for (const o of lines) Object.assign(o, { yMax, yMin, yMaxGrow: false, domain });
    }
    if (bars.length) {
      const data = bars.map((o) => barData(o)).filter((d) => d.dataCount > 0);
      if (!data.length) continue;
      const yMax = Math.max(...data.map((d) => d.yMax));
      for (const o of bars) o.yMax = yMax;
    }
  }
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
