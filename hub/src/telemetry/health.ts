// Fleet health (design §6, §7): per model version (optionally one device, a device set or a tag group) the
// merged telemetry over a time range — totals, time series, drift per feature, prediction mix, accuracy and
// shadow agreement — plus the fleet overview. Every merge here is merge.ts's, as for the gates and fleet status.

import {
  EdgefleetError,
  driftDecision,
  wilson,
  type Manifest,
  type Reference,
  type TelemetryWindow,
} from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { RecentEvent } from '../store/events.js';
import type { WaveWindowQuery } from '../store/telemetry.js';
import { parseStoredWindow } from './fast-check.js';
import { ROLLUP_MS } from './ingest.js';
import { driftAlarmKey, driftAlarmMessage, importanceShare } from './drift-text.js';
import { fleetStatus } from './fleet-status.js';
import { createHealthMerge, rate, summarizeHealth, type HealthMerge, type VersionHealth } from './merge.js';
import { checkCalibration, estimateAccuracy, type Calibration, type EstimatedAccuracy } from './estimate.js';

export interface HealthQuery {
  model: string;
  version: string;
  device?: string;
  tags?: Record<string, string>;
  /** An explicit device set (a rollout wave): raw windows of these devices only. */
  deviceIds?: readonly string[];
  role?: 'active' | 'shadow';
  from: number;
  to: number;
  bucketMs: number;
}

export interface HealthPoint {
  t: number;
  inferences: number;
  errors: number;
  errorRate: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  labelled: number;
  correct: number;
  accuracy: number | null;
  /** CBPE: predictions with a confidence, and their mean top-class probability (estimate.ts). */
  confident: number;
  estimatedAccuracy: number | null;
  shadowCompared: number;
  shadowAgreed: number;
}

export interface FeatureDrift {
  feature: string;
  psi: number;
  js: number;
  ks: number;
  /** PSI critical value for this n (null when there is no data to judge). */
  critical: number | null;
  verdict: 'drift' | 'no-drift' | 'insufficient-data';
  n: number;
}

export interface HealthReport {
  model: string;
  version: string;
  device: string | null;
  from: number;
  to: number;
  bucketMs: number;
  totals: { devices: number; inferences: number; errors: number; errorRate: number | null; latencyMs: { p50: number | null; p95: number | null; p99: number | null } };
  series: HealthPoint[];
  drift: FeatureDrift[];
  driftSeries: Array<{ t: number; feature: string; psi: number; critical: number | null; verdict: FeatureDrift['verdict'] }>;
  predictionMix: { kind: 'classifier' | 'regressor' | null; labels: string[]; reference: number[] | null; observed: number[] | null; n: number };
  accuracy: { labelled: number; correct: number; p: number | null; low: number | null; high: number | null; coverage: number | null };
  /** Accuracy without labels (CBPE) over the range, and its calibration against the labelled buckets of `series`. */
  estimatedAccuracy: EstimatedAccuracy;
  calibration: Calibration;
  shadow: { compared: number; agreed: number; rate: number } | null;
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
const sum = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0);
const share = (xs: readonly number[]): number[] | null => {
  const t = sum(xs);
  return t > 0 ? xs.map((x) => x / t) : null;
};

/** Drift per reference feature of a merged health: PSI, JS, KS against the sample-size-aware threshold (design §6). */
export function driftOf(reference: Reference | undefined, h: VersionHealth): FeatureDrift[] {
  return (reference?.features ?? []).map((f) => {
    const observed = Object.hasOwn(h.features, f.name) ? h.features[f.name]!.bins : undefined;
    const counts = observed && observed.length === f.counts.length ? observed : new Array<number>(f.counts.length).fill(0);
    const d = driftDecision(f.counts, counts); // design §6: sample-size-aware threshold
    return { feature: f.name, psi: d.psi, js: d.js, ks: d.ks, critical: finite(d.critical), verdict: d.verdict, n: d.n };
  });
}

function predictionMixOf(manifest: Manifest, total: VersionHealth): HealthReport['predictionMix'] {
  const out = manifest.reference?.output;
  const classCounts = total.outputs?.classCounts ?? [];
  const valueBins = total.outputs?.valueBins ?? [];
  if (out?.kind === 'classifier') {
    const k = Math.max(out.classCounts.length, classCounts.length);
    const pad = (xs: number[]) => Array.from({ length: k }, (_, i) => xs[i] ?? 0);
    return {
      kind: 'classifier',
      labels: Array.from({ length: k }, (_, i) => manifest.labels?.[i] ?? String(i)),
      reference: share(pad(out.classCounts)),
      observed: share(pad(classCounts)),
      n: sum(classCounts),
    };
  }
  if (out?.kind === 'regressor') {
    const e = out.edges;
    const fmt = (x: number) => Number(x.toPrecision(3)).toString();
    return {
      kind: 'regressor',
      labels: out.counts.map((_, i) => (i === 0 ? `< ${fmt(e[0]!)}` : i === e.length ? `≥ ${fmt(e[e.length - 1]!)}` : `${fmt(e[i - 1]!)}–${fmt(e[i]!)}`)),
      reference: share(out.counts),
      observed: valueBins.length === out.counts.length ? share(valueBins) : null,
      n: sum(valueBins),
    };
  }
  if (classCounts.length > 0) {
    return {
      kind: 'classifier',
      labels: classCounts.map((_, i) => manifest.labels?.[i] ?? String(i)),
      reference: null,
      observed: share(classCounts),
      n: sum(classCounts),
    };
  }
  return { kind: null, labels: [], reference: null, observed: null, n: 0 };
}

/** Accuracy on labelled feedback with its 95 % Wilson interval, and the share of inferences labelled. */
export function accuracyOf(h: VersionHealth): HealthReport['accuracy'] {
  const labelled = h.labels?.labelled ?? 0;
  const correct = h.labels?.correct ?? 0;
  if (labelled === 0) return { labelled: 0, correct: 0, p: null, low: null, high: null, coverage: h.inferences > 0 ? 0 : null };
  const w = wilson(correct, labelled);
  return { labelled, correct, p: w.p, low: w.low, high: w.high, coverage: rate(labelled, h.inferences) };
}

/** A released version's manifest; NOT_FOUND for one this hub never released. */
export async function manifestOf(ctx: HubContext, model: string, version: string): Promise<Manifest> {
  const row = await ctx.store.getModelVersion(model, version);
  if (!row) throw new EdgefleetError('NOT_FOUND', `model ${model}@${version} not found`);
  return JSON.parse(row.manifest) as Manifest;
}

/** Merged telemetry of one model version (design §6); reads rollups, or raw windows for a device or tag group. */
export async function computeHealth(ctx: HubContext, q: HealthQuery): Promise<HealthReport> {
  const manifest = await manifestOf(ctx, q.model, q.version);
  const reference = manifest.reference;
  const sql = ctx.store.telemetry;
  const range = { model: q.model, version: q.version, from: q.from, to: q.to, ...(q.role ? { role: q.role } : {}) };
  // per-device questions need the raw windows (rollups are merged across devices)
  const perDevice = !!(q.device || q.tags || q.deviceIds);
  const { rows, devices } = perDevice
    ? {
        rows: await sql.rawWindows({ ...range, ...(q.device ? { device: q.device } : {}), ...(q.deviceIds ? { deviceIds: q.deviceIds } : {}), ...(q.tags ? { tags: q.tags } : {}) }),
        devices: undefined,
      }
    : await sql.rollupWindows({ ...range, from: Math.floor(q.from / ROLLUP_MS) * ROLLUP_MS });

  const total = createHealthMerge();
  const buckets = new Map<number, HealthMerge>();
  for (const r of rows) {
    // a stored window this hub could not have written (e.g. before its bounds) is left out, never merged
    const w = parseStoredWindow(r.body);
    if (!w) continue;
    const t = Math.floor(r.t / q.bucketMs) * q.bucketMs;
    let b = buckets.get(t);
    if (!b) buckets.set(t, (b = createHealthMerge()));
    b.add(r.device, w);
    total.add(r.device, w);
  }

  const series: HealthPoint[] = [];
  const driftSeries: HealthReport['driftSeries'] = [];
  const labelledBuckets: Parameters<typeof checkCalibration>[0][number][] = [];
  for (const [t, merge] of [...buckets.entries()].sort((x, y) => x[0] - y[0])) {
    const b = merge.result();
    const s = summarizeHealth(b);
    const labelled = b.labels?.labelled ?? 0;
    const correct = b.labels?.correct ?? 0;
    const sums = b.outputs?.confidenceSums;
    const est = estimateAccuracy(sums, b.inferences);
    labelledBuckets.push({ t, labelled, correct, sums });
    series.push({
      t,
      inferences: s.inferences,
      errors: s.errors,
      errorRate: s.errorRate,
      ...s.latencyMs,
      labelled,
      correct,
      accuracy: labelled > 0 ? correct / labelled : null,
      confident: est.n,
      estimatedAccuracy: est.p,
      shadowCompared: b.shadow?.compared ?? 0,
      shadowAgreed: b.shadow?.agreed ?? 0,
    });
    for (const d of driftOf(reference, b)) {
      if (d.n > 0) driftSeries.push({ t, feature: d.feature, psi: d.psi, critical: d.critical, verdict: d.verdict });
    }
  }

  const h = total.result(devices);
  const s = summarizeHealth(h);
  const shadow = h.shadow && h.shadow.compared > 0 ? h.shadow : null;
  return {
    model: q.model,
    version: q.version,
    device: q.device ?? null,
    from: q.from,
    to: q.to,
    bucketMs: q.bucketMs,
    totals: { devices: h.devices, ...s },
    series,
    drift: driftOf(reference, h),
    driftSeries,
    predictionMix: predictionMixOf(manifest, h),
    accuracy: accuracyOf(h),
    estimatedAccuracy: estimateAccuracy(h.outputs?.confidenceSums, h.inferences),
    calibration: checkCalibration(labelledBuckets),
    shadow: shadow ? { compared: shadow.compared, agreed: shadow.agreed, rate: shadow.agreed / shadow.compared } : null,
  };
}

/**
 * Raw telemetry windows of one model from a device set overlapping [from, to), optionally of one version
 * (or every version but one) and role: what the rollout gates merge (rollouts/runner.ts).
 */
export async function windowsOf(ctx: HubContext, q: WaveWindowQuery): Promise<Array<{ device: string; window: TelemetryWindow }>> {
  if (q.deviceIds.length === 0) return [];
  return (await ctx.store.telemetry.waveWindows(q)).flatMap((r) => {
      const window = parseStoredWindow(r.body); // left out when this hub could not have written it
      return window ? [{ device: r.device, window }] : [];
    });
}

export interface FleetOverview {
  at: string;
  devices: { total: number; online: number; offline: number; silent: number; silentMinutes: number };
  /** Device events, newest first (rollbacks, verification failures, …). */
  events: RecentEvent[];
  /** Rollout actions from the audit log, newest first. */
  actions: Array<{ id: number; at: string; actor: string; action: string; details: unknown }>;
  /** Features drifted over the last `minutes` per model version in use (design §6); `message` and `raisedAt` are the raised alarm's when one is open. */
  alarms: Array<{ model: string; version: string; feature: string; psi: number; critical: number | null; n: number; message: string; raisedAt: string | null }>;
  /** Is the fleet healthy now: failing (a version devices run fails too often), degraded (drift, silent devices, a rollout that failed), else healthy. */
  verdict: FleetVerdict;
}

export interface FleetVerdict {
  level: 'healthy' | 'degraded' | 'failing';
  reasons: Array<{ level: 'degraded' | 'failing'; text: string }>;
}

/** The error rate above which a version that devices run makes the fleet failing (the default gate's limit). */
const FAILING_ERROR_RATE = 0.05;
const pctText = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`;

/** The verdict from what fleet status, the alarms and the latest rollout say; one vocabulary for dashboard and CLI. */
export function fleetVerdict(input: {
  health: ReadonlyArray<{ model: string; version: string; role: string; running: number; errorRate: number | null }>;
  alarms: FleetOverview['alarms'];
  silent: number;
  latestRollout: { id: string; model: string; version: string; status: string; reason: string | null } | null;
}): FleetVerdict {
  const reasons: FleetVerdict['reasons'] = [];
  for (const h of input.health) {
    if (h.running > 0 && h.errorRate !== null && h.errorRate > FAILING_ERROR_RATE) {
      reasons.push({ level: 'failing', text: `${h.model}@${h.version}: error rate ${pctText(h.errorRate)} > ${pctText(FAILING_ERROR_RATE)} on ${h.running} running device${h.running === 1 ? '' : 's'}` });
    }
  }
  for (const a of input.alarms) reasons.push({ level: 'degraded', text: `${a.model}@${a.version}: ${a.feature} drifted (PSI ${a.psi.toPrecision(2)} > ${a.critical === null ? '–' : a.critical.toPrecision(2)})` });
  if (input.silent > 0) reasons.push({ level: 'degraded', text: `${input.silent} device${input.silent === 1 ? '' : 's'} silent` });
  const r = input.latestRollout;
  if (r && ['rolled-back', 'paused', 'aborted'].includes(r.status)) reasons.push({ level: 'degraded', text: `rollout ${r.id} (${r.model}@${r.version}) ${r.status}${r.reason ? ': ' + r.reason : ''}` });
  const level = reasons.some((x) => x.level === 'failing') ? 'failing' : reasons.length ? 'degraded' : 'healthy';
  return { level, reasons };
}

export async function fleetOverview(ctx: HubContext, options: { silentMinutes: number; minutes: number; events: number }): Promise<FleetOverview> {
  const { store } = ctx;
  const fleet = store.fleet;
  const now = ctx.now().getTime();
  const counts = await fleet.deviceCounts(new Date(now - options.silentMinutes * 60_000).toISOString());
  const events = await store.events.recent(options.events);
  const actions = (await fleet.rolloutActions(options.events)).map((a) => ({ ...a, details: JSON.parse(a.details) as unknown }));
  const since = now - options.minutes * 60_000;
  const alarms: FleetOverview['alarms'] = [];
  // a raised alarm says where the drift is and when it was raised (drift-alarm.ts); a drift not (yet) raised speaks for its version
  const raised = new Map((await fleet.openAlarms('drift')).map((a) => [a.key, a]));
  for (const v of await store.telemetry.versionsInUse(Math.floor(since / ROLLUP_MS) * ROLLUP_MS)) {
    const row = await store.getModelVersion(v.model, v.version);
    if (!row) continue;
    const h = await computeHealth(ctx, { model: v.model, version: v.version, from: since, to: now + ROLLUP_MS, bucketMs: options.minutes * 60_000 });
    for (const d of h.drift) {
      if (d.verdict !== 'drift') continue;
      const open = raised.get(driftAlarmKey(v.model, v.version, d.feature));
      const said = open ? (JSON.parse(open.details) as { message?: unknown }).message : undefined;
      const message =
        typeof said === 'string'
          ? said
          : driftAlarmMessage({ model: v.model, version: v.version, feature: d.feature, statistic: 'PSI', value: d.psi, threshold: d.critical, scope: null, importanceShare: importanceShare(JSON.parse(row.manifest) as Manifest, d.feature) });
      alarms.push({ model: v.model, version: v.version, feature: d.feature, psi: d.psi, critical: d.critical, n: d.n, message, raisedAt: open?.raised_at ?? null });
    }
  }
  const status = await fleetStatus(ctx, options.minutes);
  const latest = (await store.listRollouts()).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  const verdict = fleetVerdict({
    health: status.health,
    alarms,
    silent: counts.silent,
    latestRollout: latest ? { id: latest.id, model: latest.model, version: latest.version, status: latest.status, reason: (latest.state as { pausedReason?: string | null } | null)?.pausedReason ?? null } : null,
  });
  return {
    at: new Date(now).toISOString(),
    verdict,
    devices: { total: counts.total, online: counts.online, offline: counts.total - counts.online, silent: counts.silent, silentMinutes: options.silentMinutes },
    events,
    actions,
    alarms,
  };
}
