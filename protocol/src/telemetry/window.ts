// Telemetry windows (design §6): one per model version and role per period; the hub merges them by
// addition across devices and time.

import { EdgefleetError, type ErrorCode } from '../errors.js';
import { TELEMETRY_LIMITS } from '../limits.js';
import type { FeatureSummary, TelemetryWindow } from './schemas.js';
import { mergeFeatureSummary } from './features.js';
import { createHistogram, histogramMerge } from './histogram.js';
import { mergeLabelSummary } from './labels.js';
import { mergeOutputSummary } from './outputs.js';
import { mergeShadowSummary } from './shadow.js';

/** An empty window; `start` and `end` are epoch milliseconds. */
export function createWindow(
  model: string,
  version: string,
  role: 'active' | 'shadow',
  start: number,
  end: number,
  alpha?: number,
): TelemetryWindow {
  return { model, version, role, start, end, inferences: 0, errors: {}, latencyMs: createHistogram(alpha), features: {} };
}

/** Counts one failed inference by code (mutates and returns `w`). */
export function windowAddError(w: TelemetryWindow, code: ErrorCode, count = 1): TelemetryWindow {
  w.errors[code] = (w.errors[code] ?? 0) + count;
  return w;
}

/**
 * A new window adding both (same model, version and role; otherwise BAD_INPUT): bounds widen to
 * [min start, max end]; features merge by name (at most TELEMETRY_LIMITS.features names are kept). Every
 * part is O(the inputs' bounded sizes): nothing allocates by a value a device chose.
 */
export function mergeWindows(a: TelemetryWindow, b: TelemetryWindow): TelemetryWindow {
  if (a.model !== b.model || a.version !== b.version || a.role !== b.role) {
    throw new EdgefleetError(
      'BAD_INPUT',
      `cannot merge windows of ${a.model}@${a.version}/${a.role} and ${b.model}@${b.version}/${b.role}`,
    );
  }
  const errors: TelemetryWindow['errors'] = { ...a.errors };
  for (const [code, n] of Object.entries(b.errors) as [ErrorCode, number | undefined][]) {
    if (n !== undefined) errors[code] = (errors[code] ?? 0) + n;
  }
  const features: Record<string, FeatureSummary> = {};
  for (const [name, s] of Object.entries(a.features)) features[name] = s;
  let names = Object.keys(features).length;
  for (const [name, s] of Object.entries(b.features)) {
    // own keys only: a feature a device names `constructor` or `toString` is a feature like any other
    const prior = Object.hasOwn(features, name) ? features[name] : undefined;
    if (prior) features[name] = mergeFeatureSummary(prior, s);
    // a merged window stays within what one window may carry: features beyond the cap are not kept
    else if (names < TELEMETRY_LIMITS.features) (features[name] = s), names++;
  }
  // copy everything taken over unmerged, so the result shares no arrays with its inputs
  for (const [name, s] of Object.entries(features)) {
    if (s === a.features[name] || s === b.features[name]) features[name] = { ...s, bins: s.bins.slice() };
  }
  const out: TelemetryWindow = {
    model: a.model,
    version: a.version,
    role: a.role,
    start: Math.min(a.start, b.start),
    end: Math.max(a.end, b.end),
    inferences: a.inferences + b.inferences,
    errors,
    latencyMs: histogramMerge(a.latencyMs, b.latencyMs),
    features,
  };
  if (a.outputs || b.outputs) out.outputs = mergeOutputSummary(a.outputs ?? {}, b.outputs ?? {});
  if (a.labels || b.labels) {
    out.labels = mergeLabelSummary(a.labels ?? { labelled: 0, correct: 0, confusion: [] }, b.labels ?? { labelled: 0, correct: 0, confusion: [] });
  }
  if (a.shadow || b.shadow) {
    const alpha = (a.shadow ?? b.shadow)!.latencyMs.alpha;
    const empty = { compared: 0, agreed: 0, dropped: 0, latencyMs: createHistogram(alpha) };
    out.shadow = mergeShadowSummary(a.shadow ?? empty, b.shadow ?? empty);
  }
  return out;
}
