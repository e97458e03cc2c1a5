// Feeds edgefleet_inference_latency_seconds (design §7) from committed telemetry windows: each window's
// log-bucketed latency histogram (protocol telemetry/histogram.ts, milliseconds) re-bucketed onto the
// metric's fixed bounds in seconds, so Prometheus can aggregate devices and replicas and take quantiles.

import { histogramBucketIndex, type Histogram, type TelemetryWindow } from '@edgefleet/protocol';
import type { Metrics } from '../metrics.js';

export const LATENCY_METRIC = 'edgefleet_inference_latency_seconds';

/**
 * `h`'s observations per bound of `boundsSeconds` (then one above them all), as Metrics.observe takes them.
 * A source bucket (γ^(i-1), γ^i] ms counts at the first bound at or above its upper end γ^i: one that
 * straddles a bound counts above it, so a bucket never claims a call faster than it may have been (off by
 * at most the source's relative accuracy, 1 %). Values at or below HISTOGRAM_MIN_INDEXABLE (`zeros`) count
 * at the first bound; once `max` is at or below a bound every observation is (min/max are exact).
 */
export function latencyBuckets(h: Histogram, boundsSeconds: readonly number[]): number[] {
  const n = boundsSeconds.length;
  const out = new Array<number>(n + 1).fill(0);
  if (h.count === 0) return out;
  // one pass over the source buckets: the count at or below bound k is the zeros and every bucket below
  // the one that holds the bound
  const below = new Array<number>(n);
  let k = 0;
  let cumulative = h.zeros;
  for (let j = 0; j < h.counts.length; j++) {
    while (k < n && h.offset + j >= histogramBucketIndex(h.alpha, boundsSeconds[k]! * 1000)) below[k++] = cumulative;
    cumulative += h.counts[j]!;
  }
  while (k < n) below[k++] = cumulative;
  let prev = 0;
  for (k = 0; k < n; k++) {
    const at = h.max !== null && h.max <= boundsSeconds[k]! * 1000 ? h.count : Math.max(prev, below[k]!);
    out[k] = at - prev;
    prev = at;
  }
  out[n] = h.count - prev;
  return out;
}

/**
 * Observes the latency of freshly committed windows, only for model versions the hub has registered
 * (`registered`): the label set stays bounded by the registry, never by strings devices send.
 */
export function observeLatency(metrics: Metrics, bounds: readonly number[], windows: readonly TelemetryWindow[], registered: (model: string, version: string) => boolean): void {
  for (const w of windows) {
    if (w.latencyMs.count === 0 || !registered(w.model, w.version)) continue;
    metrics.observe(LATENCY_METRIC, { model: w.model, version: w.version, role: w.role }, latencyBuckets(w.latencyMs, bounds), w.latencyMs.sum / 1000);
  }
}
