// Shadow comparison summaries (design §6): compared and agreeing predictions, dropped comparisons,
// and the shadow model's latency histogram.

import type { ShadowSummary } from './schemas.js';
import { createHistogram, histogramAdd, histogramMerge } from './histogram.js';

export function createShadowSummary(alpha?: number): ShadowSummary {
  return { compared: 0, agreed: 0, dropped: 0, latencyMs: createHistogram(alpha) };
}

/** Counts one shadow comparison (mutates and returns `s`). */
export function shadowAdd(s: ShadowSummary, agreed: boolean, latencyMs: number): ShadowSummary {
  s.compared++;
  if (agreed) s.agreed++;
  histogramAdd(s.latencyMs, latencyMs);
  return s;
}

/** A new summary adding both. */
export function mergeShadowSummary(a: ShadowSummary, b: ShadowSummary): ShadowSummary {
  return {
    compared: a.compared + b.compared,
    agreed: a.agreed + b.agreed,
    dropped: a.dropped + b.dropped,
    latencyMs: histogramMerge(a.latencyMs, b.latencyMs),
  };
}
