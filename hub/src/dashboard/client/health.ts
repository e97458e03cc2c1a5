// One model version's health (design §6) as the model and device pages chart it: totals, latency,
// error rate, drift per feature against its sample-size-aware threshold, prediction mix, accuracy with
// its Wilson interval, shadow agreement; over a time range the viewer picks.

import type { HealthReport, ModelVersionView } from './api-types.js';
import { api } from './api.js';
import { shortLabels } from './chart-parts.js';
import { drawChart, wilsonInterval, type Chart, type Point } from './charts.js';
import { badge, el, table } from './dom.js';
import { enc, fmtNum, pct } from './format.js';
import { session } from './session.js';

/** The time ranges offered, each with the bucket width its series use. */
const RANGES = [
  { span: 3600e3, label: 'last hour', bucketMs: 60e3 },
  { span: 6 * 3600e3, label: 'last 6 hours', bucketMs: 300e3 },
  { span: 86400e3, label: 'last 24 hours', bucketMs: 900e3 },
  { span: 7 * 86400e3, label: 'last 7 days', bucketMs: 3600e3 },
] as const;

/** GET /health for one version over the chosen range; `extra` narrows it (`&device=…&role=…`). */
export function healthFor(model: string, version: string, extra?: string): Promise<HealthReport> {
  const r = RANGES.find((x) => x.span === session.range) || RANGES[0];
  const { from, to } = chosenRange();
  return api<HealthReport>('GET', '/health?model=' + enc(model) + '&version=' + enc(version) + '&from=' + from + '&to=' + to + '&bucketMs=' + r.bucketMs + (extra || ''));
}

/** The chosen time range, ending now. */
export function chosenRange(): { from: number; to: number } {
  const r = RANGES.find((x) => x.span === session.range) || RANGES[0];
  const to = Date.now();
  return { from: to - r.span, to };
}

/** The range select, and whether time axes fit the data or show the whole range. */
export function rangePicker(onchange: () => void): HTMLSpanElement {
  const s = el(
    'select',
    { class: 'range', 'aria-label': 'time range' },
    RANGES.map((r) => el('option', { value: r.span, text: r.label })),
  );
  s.value = String(session.range);
  s.addEventListener('change', () => {
    session.range = Number(s.value);
    onchange();
  });
  const z = el('select', { class: 'zoom', 'aria-label': 'time axis' }, [el('option', { value: 'data', text: 'fit to data' }), el('option', { value: 'range', text: 'whole range' })]);
  z.value = session.zoom ? 'data' : 'range';
  z.addEventListener('change', () => {
    session.zoom = z.value === 'data';
    onchange();
  });
  return el('span', { class: 'range-controls' }, [el('label', { class: 'range-picker' }, ['time range ', s]), el('label', { class: 'range-picker' }, ['time axis ', z])]);
}

/** A health block's pieces in order: facts and tables as nodes, charts still undrawn (see `shareAxes`). */
export type HealthPart = Node | Chart;

/** Every chart of one version's health report (design §6); `compact` (device page) stops after drift. */
export function healthBlock(h: HealthReport, version: ModelVersionView | null, opts: { compact?: boolean }): HTMLDivElement {
  return drawHealth(healthParts(h, version, opts), opts);
}

export function drawHealth(parts: readonly HealthPart[], opts: { compact?: boolean }): HTMLDivElement {
  return el('div', { class: opts.compact ? 'health chart-grid' : 'health' }, parts.map((p) => (p instanceof Node ? p : drawChart(p))));
}

export const isChart = (p: HealthPart): p is Chart => !(p instanceof Node);

export function healthParts(h: HealthReport, version: ModelVersionView | null, opts: { compact?: boolean }): HealthPart[] {
  const zoom = session.zoom;
  const { totals: t, from, to, series: s } = h;
  const pts = (f: (p: HealthReport['series'][number]) => number | null): Point[] => s.map((p) => [p.t, f(p)]);
  const summary = el('dl', { class: 'facts totals' }, [
    el('dt', { text: 'devices reporting' }),
    el('dd', { text: String(t.devices) }),
    el('dt', { text: 'inferences' }),
    el('dd', { text: fmtNum(t.inferences) }),
    el('dt', { text: 'error rate' }),
    el('dd', { text: pct(t.errorRate, 2) + ' (' + t.errors + ' errors)' }),
    el('dt', { text: 'latency p50 / p95 / p99' }),
    el('dd', { text: [t.latencyMs.p50, t.latencyMs.p95, t.latencyMs.p99].map((v) => fmtNum(v)).join(' / ') + ' ms' }),
  ]);
  const out: HealthPart[] = [summary];
  out.push(
    line({
      title: 'Latency',
      unit: 'latency (ms)',
      from,
      to,
      zoom,
      series: [
        { name: 'p50', cls: 's1', points: pts((p) => p.p50) },
        { name: 'p95', cls: 's2', points: pts((p) => p.p95) },
        { name: 'p99', cls: 's3', points: pts((p) => p.p99) },
      ],
    }),
  );
  out.push(
    line({
      title: 'Error rate',
      unit: 'error rate (%)',
      from,
      to,
      zoom,
      yMin: 0,
      series: [{ name: 'errors / inferences', cls: 's4', points: pts((p) => (p.errorRate === null ? null : p.errorRate * 100)) }],
    }),
  );
  // drift: PSI per feature over time against its sample-size-aware threshold
  const feats = h.drift.map((d) => d.feature);
  const crit = new Map<number, number>();
  for (const d of h.driftSeries) {
    const seen = crit.get(d.t);
    if (d.critical !== null && (seen === undefined || d.critical > seen)) crit.set(d.t, d.critical);
  }
  const drifted = h.drift.map((d) => d.verdict === 'drift');
  const names = shortLabels(feats).labels;
  const noDrift = feats.length ? 'no feature data in this time range' : 'this version has no drift reference';
  out.push(
    line({
      title: 'Drift per feature over time',
      unit: 'PSI (unitless)',
      from,
      to,
      zoom,
      yMin: 0,
      empty: noDrift,
      series: feats.map((f, i) => ({
        name: (names[i] ?? f) + (drifted[i] ? ' (drifted)' : ''),
        cls: 's' + ((i % 6) + 1) + (drifted[i] ? ' drifted' : ''),
        points: h.driftSeries.filter((d) => d.feature === f).map((d): Point => [d.t, d.psi]),
      })),
      thresholdSeries: { name: 'drift threshold (PSI critical, 99.9 %)', points: [...crit.entries()].sort((a, b) => a[0] - b[0]) },
    }),
  );
  out.push(
    bar({
      title: 'Drift per feature, whole range',
      unit: 'PSI (unitless)',
      xLabel: 'input feature',
      labels: feats,
      groups: [
        {
          name: 'PSI, stable',
          cls: 's1 stable',
          values: h.drift.map((d) => (d.n > 0 ? d.psi : null)),
          flag: drifted,
          flagged: { name: 'PSI, drifted (above its threshold)', cls: 'drifted', mark: 'drifted' },
        },
      ],
      markers: { name: 'threshold (PSI critical)', values: h.drift.map((d) => d.critical) },
      empty: noDrift,
    }),
  );
  if (h.drift.length) {
    const rows = h.drift.map((d) => {
      const v = d.verdict === 'drift' ? badge('drifted', 'verdict-drift bad') : d.verdict === 'no-drift' ? badge('stable', 'verdict-ok ok') : badge('too little data', 'verdict-none muted');
      return el('tr', { class: 'drift-row', 'data-feature': d.feature, 'data-verdict': d.verdict }, [
        el('td', { text: d.feature }),
        el('td', { text: fmtNum(d.psi) }),
        el('td', { text: fmtNum(d.critical) }),
        el('td', { text: fmtNum(d.js) }),
        el('td', { text: fmtNum(d.ks) }),
        el('td', { text: String(d.n) }),
        el('td', null, [v]),
      ]);
    });
    out.push(table(['feature', 'PSI', 'threshold', 'JS', 'KS', 'n', 'verdict'], rows, 'drift'));
  }
  if (opts.compact) return out;
  const mix = h.predictionMix;
  out.push(
    bar({
      title: 'Prediction mix vs reference',
      unit: 'share of predictions (%)',
      xLabel: mix.kind === 'regressor' ? 'predicted value bin' : 'predicted class',
      labels: mix.labels,
      groups: [
        { name: 'reference', cls: 's5', values: mix.reference ? mix.reference.map((x) => x * 100) : null },
        { name: 'observed (n = ' + mix.n + ')', cls: 's1', values: mix.observed ? mix.observed.map((x) => x * 100) : null },
      ],
      empty: mix.labels.length ? 'no predictions in this time range' : 'no output reference',
    }),
  );
  const acc = h.accuracy;
  const valAcc = version && version.metrics && typeof version.metrics.accuracy === 'number' ? version.metrics.accuracy : null;
  out.push(
    line({
      title: 'Accuracy (labelled feedback)',
      unit: 'accuracy (%)',
      from,
      to,
      zoom,
      yMin: 0,
      yMax: 100,
      series: [
        { name: 'accuracy', cls: 's1', points: pts((p) => (p.accuracy === null ? null : p.accuracy * 100)) },
        { name: 'label coverage', cls: 's5', points: pts((p) => (p.inferences > 0 ? Math.min(100, (p.labelled / p.inferences) * 100) : null)) },
        // accuracy without labels (CBPE): the mean top-class probability of every prediction in the bucket
        { name: 'estimated without labels', cls: 's3', points: pts((p) => (p.estimatedAccuracy == null ? null : p.estimatedAccuracy * 100)) },
      ],
      band: {
        name: '95 % interval (Wilson)',
        cls: 's1',
        points: s.map((p) => {
          const w = wilsonInterval(p.correct, p.labelled);
          return [p.t, w ? w[0] * 100 : null, w ? w[1] * 100 : null] as const;
        }),
      },
      thresholds: valAcc !== null ? [{ name: 'validation accuracy', value: valAcc * 100 }] : [],
      note:
        (acc.labelled
          ? 'Whole range: ' + pct(acc.p) + ' (95 % interval ' + pct(acc.low) + '–' + pct(acc.high) + '), ' + acc.labelled + ' labelled, coverage ' + pct(acc.coverage, 2) + '.'
          : 'No labelled feedback in this range.') + estimateNote(h),
      empty: 'no labelled feedback in this time range',
    }),
  );
  const sh = h.shadow;
  out.push(
    line({
      title: 'Shadow agreement',
      unit: 'agreement (%)',
      from,
      to,
      zoom,
      yMin: 0,
      yMax: 100,
      series: [{ name: 'agreed / compared', cls: 's3', points: pts((p) => (p.shadowCompared > 0 ? (p.shadowAgreed / p.shadowCompared) * 100 : null)) }],
      note: sh ? 'Whole range: ' + pct(sh.rate) + ' of ' + sh.compared + ' compared predictions agree.' : 'No shadow comparisons for this version.',
      empty: 'no shadow comparisons in this time range',
    }),
  );
  return out;
}

/** CBPE beside realized accuracy: the estimate, its band and what the labelled buckets say of its calibration. */
function estimateNote(h: HealthReport): string {
  const e = h.estimatedAccuracy;
  if (!e || e.p === null) return '';
  const c = h.calibration;
  const verdict = c.verdict === 'calibrated' ? 'calibrated' : c.verdict === 'not-calibrated' ? 'not calibrated' : 'calibration unchecked (too few labels)';
  return ' Estimated without labels: ' + pct(e.p) + ' (' + pct(e.low) + '–' + pct(e.high) + ', ' + e.n + ' predictions); ' + verdict + (c.meanAbsError !== null ? ', mean |estimated − realized| ' + pct(c.meanAbsError) + ' (threshold ' + pct(c.threshold) + ')' : '') + '.';
}

const line = (opts: Extract<Chart, { kind: 'line' }>['opts']): Chart => ({ kind: 'line', opts });
const bar = (opts: Extract<Chart, { kind: 'bar' }>['opts']): Chart => ({ kind: 'bar', opts });
