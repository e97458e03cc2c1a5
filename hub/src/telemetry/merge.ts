// The one merge of telemetry windows (design §6: summaries merge by addition). Ingest merges rollups with
// it, and every reader of merged health — the health API, the rollout gates, fleet status and the alarms —
// merges stored windows with `createHealthMerge`, so gates and the dashboard cannot disagree. A minute's
// rollup is a row per replica that wrote in it (design §8): readers add those here like any other windows.

import {
  createHistogram,
  histogramMergeInto,
  histogramQuantile,
  mergeWindows,
  type ErrorCode,
  type FeatureSummary,
  type Histogram,
  type LabelSummary,
  type OutputSummary,
  type ShadowSummary,
  type TelemetryWindow,
} from '@edgefleet/protocol';

/** Merged telemetry of one model version over a device set and time range (design §6). */
export interface VersionHealth {
  /** Devices that reported telemetry for this version in the range. */
  devices: number;
  inferences: number;
  /** Total errors, or errors by code as in a TelemetryWindow. */
  errors: number | Partial<Record<string, number>>;
  latencyMs: Histogram;
  /** Per monitored feature: counts in the reference's bins. */
  features: Record<string, FeatureSummary>;
  /** Class counts (classifiers) or value bins (regressors) of the predictions. */
  outputs?: OutputSummary;
  labels?: LabelSummary;
  /** Present when this version ran beside another (shadow rollouts). */
  shadow?: ShadowSummary;
}

/**
 * `mergeWindows(target, src)` done into `target` (which the caller owns: a rollup parsed from the store
 * or a window of a batch it has stored) for the plain case — no features, outputs, labels or shadow in
 * `src`, no outputs, labels or shadow in `target`; returns false, unchanged, for anything else. A
 * histogram of another accuracy throws before anything changes, as mergeWindows does.
 */
export function mergeInPlace(target: TelemetryWindow, src: TelemetryWindow): boolean {
  if (target.model !== src.model || target.version !== src.version || target.role !== src.role) return false;
  if (src.outputs || src.labels || src.shadow || target.outputs || target.labels || target.shadow) return false;
  for (const _ in src.features) return false;
  histogramMergeInto(target.latencyMs, src.latencyMs);
  target.start = Math.min(target.start, src.start);
  target.end = Math.max(target.end, src.end);
  target.inferences += src.inferences;
  for (const [code, n] of Object.entries(src.errors) as [ErrorCode, number | undefined][]) {
    if (n !== undefined) target.errors[code] = (target.errors[code] ?? 0) + n;
  }
  return true;
}

/**
 * `src` added to `target` (owned by the caller): in place when it can be, else a new window. Throws with
 * `target` unchanged when the summaries cannot merge (another accuracy, another bin layout): the window
 * is then left out whole.
 */
export function mergeWindowInto(target: TelemetryWindow, src: TelemetryWindow): TelemetryWindow {
  return mergeInPlace(target, src) ? target : mergeWindows(target, src);
}

export interface HealthMerge {
  /** Adds one device's window (raw or a rollup); false when it cannot merge and was left out whole. */
  add(device: string, window: TelemetryWindow): boolean;
  /** The merged health; `devices` overrides the count of devices whose windows merged (rollups know theirs). */
  result(devices?: number): VersionHealth;
}

/** An accumulator of one model version's windows, over devices, minutes and (when asked for none) roles. */
export function createHealthMerge(): HealthMerge {
  let merged: TelemetryWindow | null = null;
  const devices = new Set<string>();
  return {
    add(device, w) {
      try {
        if (!merged) merged = structuredClone(w);
        else {
          // the caller chose the windows (one version, one role or both): their identity is its query's
          merged.role = w.role;
          merged = mergeWindowInto(merged, w);
        }
      } catch {
        // incompatible summaries: left out whole, as the rollups leave it out at ingest
        return false;
      }
      devices.add(device);
      return true;
    },
    result(count) {
      const n = count ?? devices.size;
      if (!merged) return { devices: n, inferences: 0, errors: {}, latencyMs: createHistogram(), features: {} };
      const h: VersionHealth = { devices: n, inferences: merged.inferences, errors: merged.errors, latencyMs: merged.latencyMs, features: merged.features };
      if (merged.outputs) h.outputs = merged.outputs;
      if (merged.labels) h.labels = merged.labels;
      if (merged.shadow) h.shadow = merged.shadow;
      return h;
    },
  };
}

/** Stored windows of one version merged into its health. */
export function mergeHealth(rows: Iterable<{ device: string; window: TelemetryWindow }>, devices?: number): VersionHealth {
  const m = createHealthMerge();
  for (const r of rows) m.add(r.device, r.window);
  return m.result(devices);
}

/** Total errors of a merged health. */
export function errorCount(h: Pick<VersionHealth, 'errors'>): number {
  if (typeof h.errors === 'number') return h.errors;
  let s = 0;
  for (const n of Object.values(h.errors)) s += n ?? 0;
  return s;
}

/** Counts, error rate and latency quantiles of a merged health (fleet status and the health API's totals). */
export interface HealthSummary {
  inferences: number;
  errors: number;
  errorRate: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
}

// `inferences` counts every call, `errors` the failed ones among them (design §6)
export const rate = (num: number, den: number): number | null => (den > 0 ? Math.min(1, num / den) : num > 0 ? 1 : null);
const quantile = (h: VersionHealth, q: number): number | null => (h.latencyMs.count > 0 ? histogramQuantile(h.latencyMs, q) : null);

export function summarizeHealth(h: VersionHealth): HealthSummary {
  const errors = errorCount(h);
  return {
    inferences: h.inferences,
    errors,
    errorRate: rate(errors, h.inferences),
    latencyMs: { p50: quantile(h, 0.5), p95: quantile(h, 0.95), p99: quantile(h, 0.99) },
  };
}
