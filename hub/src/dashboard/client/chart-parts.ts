// The pieces the dashboard's charts are built from: nice ticks on number and time axes, the plot box,
// axes, threshold marks, legends and the figure around a chart, and category labels that fit their slot.

import { svgEl } from './dom.js';
import { TZ, duration, fmtNum } from './format.js';

export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

/** Round-numbered ticks covering [min, max]. */
export function niceTicks(min: number, max: number, count: number): number[] {
  if (!(max > min)) max = min + 1;
  const step = niceStep(max - min, count);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const out: number[] = [];
  for (let v = lo; v <= hi + step / 2; v += step) out.push(Math.abs(v) < step / 1e6 ? 0 : v);
  return out;
}

export const MINUTE = 60e3;
export const WEEK = 604800e3;
export const TIME_STEPS = [10e3, 15e3, 30e3, MINUTE, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 172800e3, WEEK];

export function timeStep(from: number, to: number, count: number): number {
  return TIME_STEPS.find((s) => (to - from) / s <= count) ?? WEEK;
}

export function timeTicks(from: number, to: number, step: number): number[] {
  // align ticks to the viewer's wall clock, not UTC
  const off = -new Date(from).getTimezoneOffset() * 60e3;
  const out: number[] = [];
  for (let t = Math.ceil((from + off) / step) * step - off; t <= to; t += step) out.push(t);
  return out;
}

export function fmtClock(t: number, span: number, step: number): string {
  const d = new Date(t);
  if (span > 2 * 86400e3) return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  const s = d.toLocaleTimeString([], step < MINUTE ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : { hour: '2-digit', minute: '2-digit' });
  return span > 86400e3 ? d.toLocaleDateString([], { weekday: 'short' }) + ' ' + s : s;
}

/** One chart's drawing area in viewBox units: the plot sits inside the margins. */
export interface Box {
  w: number;
  h: number;
  ml: number;
  mr: number;
  mt: number;
  mb: number;
}

/** A narrower drawing on phones keeps 12-px text readable once the SVG is scaled to the screen. */
export function boxFor(extraBottom = 0): Box {
  const narrow = window.innerWidth < 640;
  return { w: narrow ? 400 : 640, h: (narrow ? 230 : 250) + extraBottom, ml: 58, mr: 14, mt: 12, mb: 44 + extraBottom };
}

export const plotBottom = (b: Box) => b.h - b.mb;
export const plotWidth = (b: Box) => b.w - b.ml - b.mr;

export function frame(b: Box, title: string, cls: string): SVGElement {
  return svgEl('svg', { viewBox: '0 0 ' + b.w + ' ' + b.h, class: 'chart ' + cls, role: 'img', 'aria-label': title, preserveAspectRatio: 'xMidYMid meet' });
}

export function yAxis(svg: SVGElement, b: Box, ticks: readonly number[], y: (v: number) => number, unit: string, fmt: (v: number) => string): void {
  const g = svgEl('g', { class: 'axis axis-y' });
  for (const v of ticks) {
    const py = y(v);
    g.appendChild(svgEl('line', { x1: b.ml, x2: b.w - b.mr, y1: py, y2: py, class: 'grid' }));
    g.appendChild(svgEl('text', { x: b.ml - 6, y: py + 4, 'text-anchor': 'end', class: 'tick' }, [fmt(v)]));
  }
  svg.appendChild(g);
  svg.setAttribute('data-y-max', String(ticks[ticks.length - 1] ?? ''));
  svg.appendChild(svgEl('text', { class: 'axis-label axis-label-y', x: 0, y: 0, transform: 'translate(14 ' + (b.mt + (plotBottom(b) - b.mt) / 2) + ') rotate(-90)', 'text-anchor': 'middle' }, [unit]));
}

/** A threshold drawn dark and dashed over a white halo, so it stays visible across bars and lines of any colour. */
export function thresholdMark(attrs: Record<string, string | number>, tip: string): SVGElement {
  return svgEl('g', { class: 'threshold-mark' }, [
    svgEl(attrs.d !== undefined ? 'path' : 'line', { ...attrs, class: 'threshold-halo' }),
    svgEl(attrs.d !== undefined ? 'path' : 'line', { ...attrs, class: 'threshold' }, [svgEl('title', null, [tip])]),
  ]);
}

export interface LegendItem {
  name: string;
  cls: string;
}

export function legend(items: readonly LegendItem[]): HTMLDivElement {
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

export function figure(title: string, svg: SVGElement, items: readonly LegendItem[], note: string | undefined): HTMLElement {
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

export function emptyPlot(svg: SVGElement, b: Box, msg: string): void {
  const g = svgEl('g', { class: 'plot empty', 'data-points': 0 });
  g.appendChild(svgEl('text', { x: b.ml + plotWidth(b) / 2, y: b.mt + (plotBottom(b) - b.mt) / 2, 'text-anchor': 'middle', class: 'no-data' }, [msg]));
  svg.appendChild(g);
}

export const drawn = (v: number | null | undefined): v is number => v !== null && v !== undefined && isFinite(v);


/** Separators after which a prefix common to every label is dropped ("features.rms" → "rms"). */
export const PREFIX_END = /[./:]/;

/** Labels without the prefix they all share; `prefix` is '' when there is none worth dropping. */
export function shortLabels(labels: readonly string[]): { prefix: string; labels: string[] } {
  const all = labels.map(String);
  if (all.length < 2) return { prefix: '', labels: all };
  let p = all[0] ?? '';
  for (const l of all) while (!l.startsWith(p)) p = p.slice(0, -1);
  let cut = -1;
  for (let i = 0; i < p.length; i++) if (PREFIX_END.test(p[i] ?? '')) cut = i;
  const prefix = p.slice(0, cut + 1);
  if (!prefix || all.some((l) => l.length === prefix.length)) return { prefix: '', labels: all };
  return { prefix, labels: all.map((l) => l.slice(prefix.length)) };
}

let measureCtx: CanvasRenderingContext2D | null | undefined;

/** The width of `text` in 12-px tick type (viewBox units), measured by the browser's own fonts. */
export function textWidth(text: string): number {
  if (measureCtx === undefined) {
    measureCtx = document.createElement('canvas').getContext('2d');
    if (measureCtx) measureCtx.font = '12px ' + getComputedStyle(document.body).fontFamily;
  }
  return measureCtx ? measureCtx.measureText(text).width : text.length * 7;
}

export const LINE = 14;
export const MAX_LINES = 3;
export const ROTATE = 35;
/** A rotated label longer than this is cut (the full name stays in its tooltip). */
export const ROTATED_CHARS = 30;

/** Greedy wrap at word-ish breaks (_ - . space), or null when some piece is wider than `room`. */
export function wrap(label: string, room: number): string[] | null {
  const parts = label.match(/[^_\-. ]+[_\-. ]*|[_\-. ]+/g) || [label];
  const lines: string[] = [];
  let cur = '';
  for (const part of parts) {
    if (cur && textWidth(cur + part) > room) {
      lines.push(cur);
      cur = part;
    } else cur += part;
    if (textWidth(cur.trimEnd()) > room) return null;
  }
  if (cur) lines.push(cur);
  return lines.map((l) => l.trimEnd());
}

/** Category labels laid out to fit their slots: wrapped on up to 3 lines, else rotated. */
export function labelLayout(labels: readonly string[], slot: number): { lines: string[][]; rotate: boolean; extra: number } {
  const room = slot - 4;
  const wrapped = labels.map((l) => wrap(l, room));
  if (wrapped.every((w): w is string[] => w !== null && w.length <= MAX_LINES)) {
    const n = Math.max(1, ...wrapped.map((w) => w.length));
    return { lines: wrapped, rotate: false, extra: (n - 1) * LINE };
  }
  const cut = labels.map((l) => (l.length > ROTATED_CHARS ? l.slice(0, ROTATED_CHARS - 1) + '…' : l));
  const widest = Math.max(...cut.map(textWidth));
  return { lines: cut.map((l) => [l]), rotate: true, extra: Math.max(0, Math.ceil(widest * Math.sin((ROTATE * Math.PI) / 180)) - 4) };
}
