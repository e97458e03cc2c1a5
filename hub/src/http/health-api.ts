// Fleet-health read API for the dashboard (design §6, §7): per model version (optionally one device or a
// tag group) the merged telemetry over a time range, as totals, time series, drift per feature,
// prediction mix, accuracy and shadow agreement; plus a fleet overview and "who am I" for the sign-in.

import type { Hono, Context } from 'hono';
import { z } from 'zod';
import {
  DeviceId,
  EdgefleetError,
  ModelName,
  SemVer,
  driftDecision,
  histogramMergeInto,
  histogramQuantile,
  wilson,
  type Histogram,
  type Manifest,
  type Reference,
  type TelemetryWindow,
} from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { Role } from '../store/db.js';
import { ROLLUP_MS } from '../telemetry/ingest.js';
import { parseStoredWindow } from '../telemetry/fast-check.js';
import { bearerPrincipal, roleAtLeast, type Principal } from './auth.js';
import type { RouteDoc } from './openapi.js';

/** At most this many buckets per series: a longer range gets wider buckets. */
const MAX_BUCKETS = 1440;
const DEFAULT_RANGE_MS = 3_600_000;

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
  shadow: { compared: number; agreed: number; rate: number } | null;
}

/** Additive accumulator of telemetry windows (design §6: summaries merge by addition). */
interface Acc {
  inferences: number;
  errors: number;
  hist: Histogram | null;
  features: Map<string, number[]>;
  classCounts: number[];
  valueBins: number[];
  labelled: number;
  correct: number;
  shadowCompared: number;
  shadowAgreed: number;
}

const emptyAcc = (): Acc => ({
  inferences: 0,
  errors: 0,
  hist: null,
  features: new Map(),
  classCounts: [],
  valueBins: [],
  labelled: 0,
  correct: 0,
  shadowCompared: 0,
  shadowAgreed: 0,
});

function addInto(target: number[], src: readonly number[]): void {
  for (let i = 0; i < src.length; i++) target[i] = (target[i] ?? 0) + (src[i] ?? 0);
}

function accAdd(a: Acc, w: TelemetryWindow): void {
  a.inferences += w.inferences;
  for (const n of Object.values(w.errors)) a.errors += n ?? 0;
  if (!a.hist) a.hist = structuredClone(w.latencyMs);
  else {
    try {
      histogramMergeInto(a.hist, w.latencyMs);
    } catch {
      // histograms of different accuracy cannot merge; the first one stands (as fleet status does)
    }
  }
  for (const [name, s] of Object.entries(w.features)) {
    const bins = a.features.get(name);
    if (!bins) a.features.set(name, s.bins.slice());
    else if (bins.length === s.bins.length) addInto(bins, s.bins);
  }
  if (w.outputs?.classCounts) addInto(a.classCounts, w.outputs.classCounts);
  if (w.outputs?.valueBins) addInto(a.valueBins, w.outputs.valueBins);
  if (w.labels) {
    a.labelled += w.labels.labelled;
    a.correct += w.labels.correct;
  }
  if (w.shadow) {
    a.shadowCompared += w.shadow.compared;
    a.shadowAgreed += w.shadow.agreed;
  }
}

const quantile = (h: Histogram | null, q: number): number | null => (h && h.count > 0 ? histogramQuantile(h, q) : null);
const rate = (num: number, den: number): number | null => (den > 0 ? Math.min(1, num / den) : num > 0 ? 1 : null);
const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
const sum = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0);
const share = (xs: readonly number[]): number[] | null => {
  const t = sum(xs);
  return t > 0 ? xs.map((x) => x / t) : null;
};

function driftOf(reference: Reference | undefined, features: Map<string, number[]>): FeatureDrift[] {
  return (reference?.features ?? []).map((f) => {
    const observed = features.get(f.name);
    const counts = observed && observed.length === f.counts.length ? observed : new Array<number>(f.counts.length).fill(0);
    const d = driftDecision(f.counts, counts); // design §6: sample-size-aware threshold
    return { feature: f.name, psi: d.psi, js: d.js, ks: d.ks, critical: finite(d.critical), verdict: d.verdict, n: d.n };
  });
}

interface WindowRow {
  t: number;
  device: string;
  body: string;
}

/** Merged telemetry of one model version (design §6); reads rollups, or raw windows for a device or tag group. */
export function computeHealth(ctx: HubContext, q: HealthQuery): HealthReport {
  const { db } = ctx.store;
  const row = ctx.store.getModelVersion(q.model, q.version);
  if (!row) throw new EdgefleetError('NOT_FOUND', `model ${q.model}@${q.version} not found`);
  const manifest = JSON.parse(row.manifest) as Manifest;
  const reference = manifest.reference;

  const roleSql = q.role ? ' AND role = @role' : '';
  let rows: WindowRow[];
  let devices: number;
  if (q.device || q.tags || q.deviceIds) {
    // per-device questions need the raw windows (rollups are merged across devices)
    const clauses: string[] = [];
    const params: Record<string, unknown> = { model: q.model, version: q.version, from: q.from, to: q.to, role: q.role };
    if (q.device) {
      clauses.push('device_id = @device');
      params.device = q.device;
    }
    if (q.deviceIds) {
      clauses.push('device_id IN (SELECT value FROM json_each(@deviceIds))');
      params.deviceIds = JSON.stringify(q.deviceIds);
    }
    Object.entries(q.tags ?? {}).forEach(([k, v], i) => {
      clauses.push(`device_id IN (SELECT id FROM devices WHERE json_extract(tags, @tk${i}) = @tv${i})`);
      params[`tk${i}`] = `$."${k}"`;
      params[`tv${i}`] = v;
    });
    const where = `model = @model AND version = @version AND start >= @from AND start < @to${roleSql} AND ${clauses.join(' AND ')}`;
    rows = db.prepare<Record<string, unknown>, WindowRow>(`SELECT start AS t, device_id AS device, body FROM telemetry_windows WHERE ${where} ORDER BY start`).all(params);
    devices = new Set(rows.map((r) => r.device)).size;
  } else {
    const from = Math.floor(q.from / ROLLUP_MS) * ROLLUP_MS;
    const params = { model: q.model, version: q.version, from, to: q.to, role: q.role };
    const where = `model = @model AND version = @version AND minute >= @from AND minute < @to${roleSql}`;
    rows = db.prepare<typeof params, WindowRow>(`SELECT minute AS t, '' AS device, body FROM rollups WHERE ${where} ORDER BY minute`).all(params);
    devices = db.prepare<typeof params, { n: number }>(`SELECT COUNT(DISTINCT device_id) AS n FROM rollup_devices WHERE ${where}`).get(params)?.n ?? 0;
  }

  const total = emptyAcc();
  const buckets = new Map<number, Acc>();
  for (const r of rows) {
    // a stored window this hub could not have written (e.g. before its bounds) is left out, never merged
    const w = parseStoredWindow(r.body);
    if (!w) continue;
    const t = Math.floor(r.t / q.bucketMs) * q.bucketMs;
    let b = buckets.get(t);
    if (!b) buckets.set(t, (b = emptyAcc()));
    accAdd(b, w);
    accAdd(total, w);
  }

  const series: HealthPoint[] = [];
  const driftSeries: HealthReport['driftSeries'] = [];
  for (const [t, b] of [...buckets.entries()].sort((x, y) => x[0] - y[0])) {
    series.push({
      t,
      inferences: b.inferences,
      errors: b.errors,
      errorRate: rate(b.errors, b.inferences),
      p50: quantile(b.hist, 0.5),
      p95: quantile(b.hist, 0.95),
      p99: quantile(b.hist, 0.99),
      labelled: b.labelled,
      correct: b.correct,
      accuracy: b.labelled > 0 ? b.correct / b.labelled : null,
      shadowCompared: b.shadowCompared,
      shadowAgreed: b.shadowAgreed,
    });
    for (const d of driftOf(reference, b.features)) {
      if (d.n > 0) driftSeries.push({ t, feature: d.feature, psi: d.psi, critical: d.critical, verdict: d.verdict });
    }
  }

  let predictionMix: HealthReport['predictionMix'] = { kind: null, labels: [], reference: null, observed: null, n: 0 };
  const out = reference?.output;
  if (out?.kind === 'classifier') {
    const k = Math.max(out.classCounts.length, total.classCounts.length);
    const pad = (xs: number[]) => Array.from({ length: k }, (_, i) => xs[i] ?? 0);
    predictionMix = {
      kind: 'classifier',
      labels: Array.from({ length: k }, (_, i) => manifest.labels?.[i] ?? String(i)),
      reference: share(pad(out.classCounts)),
      observed: share(pad(total.classCounts)),
      n: sum(total.classCounts),
    };
  } else if (out?.kind === 'regressor') {
    const e = out.edges;
    const fmt = (x: number) => Number(x.toPrecision(3)).toString();
    predictionMix = {
      kind: 'regressor',
      labels: out.counts.map((_, i) => (i === 0 ? `< ${fmt(e[0]!)}` : i === e.length ? `≥ ${fmt(e[e.length - 1]!)}` : `${fmt(e[i - 1]!)}–${fmt(e[i]!)}`)),
      reference: share(out.counts),
      observed: total.valueBins.length === out.counts.length ? share(total.valueBins) : null,
      n: sum(total.valueBins),
    };
  } else if (total.classCounts.length > 0) {
    predictionMix = {
      kind: 'classifier',
      labels: total.classCounts.map((_, i) => manifest.labels?.[i] ?? String(i)),
      reference: null,
      observed: share(total.classCounts),
      n: sum(total.classCounts),
    };
  }

  const w = wilson(total.correct, total.labelled);
  return {
    model: q.model,
    version: q.version,
    device: q.device ?? null,
    from: q.from,
    to: q.to,
    bucketMs: q.bucketMs,
    totals: {
      devices,
      inferences: total.inferences,
      errors: total.errors,
      errorRate: rate(total.errors, total.inferences),
      latencyMs: { p50: quantile(total.hist, 0.5), p95: quantile(total.hist, 0.95), p99: quantile(total.hist, 0.99) },
    },
    series,
    drift: driftOf(reference, total.features),
    driftSeries,
    predictionMix,
    accuracy:
      total.labelled > 0
        ? { labelled: total.labelled, correct: total.correct, p: w.p, low: w.low, high: w.high, coverage: rate(total.labelled, total.inferences) }
        : { labelled: 0, correct: 0, p: null, low: null, high: null, coverage: total.inferences > 0 ? 0 : null },
    shadow: total.shadowCompared > 0 ? { compared: total.shadowCompared, agreed: total.shadowAgreed, rate: total.shadowAgreed / total.shadowCompared } : null,
  };
}

/**
 * Raw telemetry windows of one model from a device set overlapping [from, to), optionally of
 * one version (or every version but one) and role: what the rollout gates merge (rollout-runner.ts), from
 * the same table and range rules as computeHealth's per-device path.
 */
export function windowsOf(
  ctx: HubContext,
  q: { model: string; version?: string; notVersion?: string; role?: 'active' | 'shadow'; deviceIds: readonly string[]; from: number; to: number },
): Array<{ device: string; window: TelemetryWindow }> {
  if (q.deviceIds.length === 0) return [];
  // windows overlapping the range: agents align windows to their length (60 s by default), so a wave that
  // started mid-window still sees the window its devices are filling
  const clauses = ['model = @model', 'end > @from', 'start < @to', 'device_id IN (SELECT value FROM json_each(@deviceIds))'];
  const params: Record<string, unknown> = { model: q.model, from: q.from, to: q.to, deviceIds: JSON.stringify(q.deviceIds) };
  if (q.version !== undefined) (clauses.push('version = @version'), (params.version = q.version));
  if (q.notVersion !== undefined) (clauses.push('version <> @notVersion'), (params.notVersion = q.notVersion));
  if (q.role !== undefined) (clauses.push('role = @role'), (params.role = q.role));
  return ctx.store.db
    .prepare<Record<string, unknown>, { device: string; body: string }>(
      `SELECT device_id AS device, body FROM telemetry_windows WHERE ${clauses.join(' AND ')} ORDER BY start`,
    )
    .all(params)
    .flatMap((r) => {
      const window = parseStoredWindow(r.body); // left out when this hub could not have written it
      return window ? [{ device: r.device, window }] : [];
    });
}

export interface FleetOverview {
  at: string;
  devices: { total: number; online: number; offline: number; silent: number; silentMinutes: number };
  /** Device events, newest first (rollbacks, verification failures, …). */
  events: Array<{ id: number; deviceId: string; type: string; model: string | null; version: string | null; code: string | null; message: string; at: string }>;
  /** Rollout actions from the audit log, newest first. */
  actions: Array<{ id: number; at: string; actor: string; action: string; details: unknown }>;
  /** Features drifted over the last `minutes` per model version in use (design §6). */
  alarms: Array<{ model: string; version: string; feature: string; psi: number; critical: number | null; n: number }>;
}

export function fleetOverview(ctx: HubContext, options: { silentMinutes: number; minutes: number; events: number }): FleetOverview {
  const { db } = ctx.store;
  const now = ctx.now().getTime();
  const silentSince = new Date(now - options.silentMinutes * 60_000).toISOString();
  const counts = db
    .prepare<[string], { total: number; online: number; silent: number }>(
      `SELECT COUNT(*) AS total, COALESCE(SUM(status = 'online'), 0) AS online,
         COALESCE(SUM(status <> 'online' AND COALESCE(last_seen, status_at, created_at) < ?), 0) AS silent FROM devices`,
    )
    .get(silentSince) ?? { total: 0, online: 0, silent: 0 };
  const events = db
    .prepare<[number], FleetOverview['events'][number]>(
      'SELECT id, device_id AS deviceId, type, model, version, code, message, at FROM events ORDER BY id DESC LIMIT ?',
    )
    .all(options.events);
  const actions = db
    .prepare<[number], { id: number; at: string; actor: string; action: string; details: string }>(
      "SELECT id, at, actor, action, details FROM audit WHERE action LIKE 'rollout.%' ORDER BY id DESC LIMIT ?",
    )
    .all(options.events)
    .map((a) => ({ ...a, details: JSON.parse(a.details) as unknown }));
  const since = now - options.minutes * 60_000;
  const inUse = db
    .prepare<[number], { model: string; version: string }>('SELECT DISTINCT model, version FROM rollups WHERE minute >= ? ORDER BY model, version')
    .all(Math.floor(since / ROLLUP_MS) * ROLLUP_MS);
  const alarms: FleetOverview['alarms'] = [];
  for (const v of inUse) {
    if (!ctx.store.getModelVersion(v.model, v.version)) continue;
    const h = computeHealth(ctx, { model: v.model, version: v.version, from: since, to: now + ROLLUP_MS, bucketMs: options.minutes * 60_000 });
    for (const d of h.drift) {
      if (d.verdict === 'drift') alarms.push({ model: v.model, version: v.version, feature: d.feature, psi: d.psi, critical: d.critical, n: d.n });
    }
  }
  return {
    at: new Date(now).toISOString(),
    devices: { total: counts.total, online: counts.online, offline: counts.total - counts.online, silent: counts.silent, silentMinutes: options.silentMinutes },
    events,
    actions,
    alarms,
  };
}

const Tag = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}=.{0,128}$/, 'tag filters are key=value');
const Millis = z.coerce.number().int().min(0);
const HealthParams = z.object({
  model: ModelName,
  version: SemVer,
  device: DeviceId.optional(),
  role: z.enum(['active', 'shadow']).optional(),
  from: Millis.optional(),
  to: Millis.optional(),
  bucketMs: z.coerce.number().int().min(ROLLUP_MS).optional(),
});

/** Parses `tag=k=v` query values into a tag map (design §7 target syntax). */
export function parseTagFilters(values: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const raw of values) {
    const r = Tag.safeParse(raw);
    if (!r.success) throw new EdgefleetError('BAD_INPUT', `bad tag filter ${JSON.stringify(raw)}: use key=value`);
    const i = raw.indexOf('=');
    tags[raw.slice(0, i)] = raw.slice(i + 1);
  }
  return tags;
}

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ');
}

export const HEALTH_ROUTE_DOCS: RouteDoc[] = [
  { method: 'get', path: '/whoami', summary: 'The caller’s token id and role', role: 'viewer' },
  { method: 'get', path: '/health/overview', summary: 'Fleet at a glance for the dashboard (?silentMinutes, ?minutes, ?events)', role: 'viewer' },
  { method: 'get', path: '/health', summary: 'One model version’s health: latency, errors, accuracy, drift, prediction mix (?model, ?version, ?from, ?to, ?tag, ?device, ?role)', role: 'viewer' },
];

/** Mounts GET /api/v1/health, /api/v1/health/overview and /api/v1/whoami on the hub's app (viewer role). */
export function mountHealthApi(app: Hono<any>, ctx: HubContext): void {
  const need = (c: Context, role: Role): Principal => {
    const p = bearerPrincipal(ctx.store, c.req.header('authorization'));
    if (!p) throw new EdgefleetError('UNAUTHORIZED', 'missing bearer token');
    if (!p.role || !roleAtLeast(p.role, role)) throw new EdgefleetError('FORBIDDEN', `this action needs the ${role} role`);
    return p;
  };

  app.get('/api/v1/whoami', (c) => {
    const p = need(c, 'viewer');
    return c.json({ id: p.id, kind: p.kind, role: p.role });
  });

  app.get('/api/v1/health/overview', (c) => {
    need(c, 'viewer');
    const r = z
      .object({
        silentMinutes: z.coerce.number().positive().max(525_600).default(15),
        minutes: z.coerce.number().positive().max(10_080).default(60),
        events: z.coerce.number().int().min(1).max(200).default(20),
      })
      .safeParse(c.req.query());
    if (!r.success) throw new EdgefleetError('BAD_INPUT', describe(r.error));
    return c.json(fleetOverview(ctx, r.data));
  });

  app.get('/api/v1/health', (c) => {
    need(c, 'viewer');
    const query = c.req.query();
    const r = HealthParams.safeParse({ ...query, tag: undefined });
    if (!r.success) throw new EdgefleetError('BAD_INPUT', describe(r.error));
    const p = r.data;
    const to = p.to ?? ctx.now().getTime();
    const from = p.from ?? to - DEFAULT_RANGE_MS;
    if (!(from < to)) throw new EdgefleetError('BAD_INPUT', 'from must be before to');
    let bucketMs = p.bucketMs ?? ROLLUP_MS;
    // keep a series bounded: widen buckets (whole minutes) rather than refuse a long range
    if ((to - from) / bucketMs > MAX_BUCKETS) bucketMs = Math.ceil((to - from) / MAX_BUCKETS / ROLLUP_MS) * ROLLUP_MS;
    const tagValues = c.req.queries('tag') ?? [];
    const tags = tagValues.length ? parseTagFilters(tagValues) : undefined;
    return c.json(
      computeHealth(ctx, {
        model: p.model,
        version: p.version,
        from,
        to,
        bucketMs,
        ...(p.device ? { device: p.device } : {}),
        ...(tags ? { tags } : {}),
        ...(p.role ? { role: p.role } : {}),
      }),
    );
  });
}
