// The flat counters of one telemetry window (telemetry-recorder.ts explains why): one preallocated
// Float64Array holding window and latency scalars, per feature [count, sum, sumSq, min, max, nulls,
// bins…], class counts, confidence bins or value bins, the feature edges, and the latency buckets.
// Each add* does what featureAdd / histogramAdd / outputAddClassifier / outputAddValue would do on the
// JSON window; `sync` copies the counters into a window by assignment, so reading twice changes nothing.

import {
  CONFIDENCE_BINS,
  CONFIDENCE_SCALE,
  HISTOGRAM_MIN_INDEXABLE,
  confidenceBinIndex,
  featureBinIndex,
  createHistogram,
  histogramAdd,
  histogramMergeInto,
  type FeatureSource,
  type Histogram,
  type Manifest,
  type TelemetryWindow,
} from '@edgefleet/protocol';

export interface FeatureProbe {
  name: string;
  source: FeatureSource;
  edges: number[];
  binCount: number;
}

export type OutputProbe =
  | { kind: 'classifier'; output: string; indices: boolean; classes: number }
  | { kind: 'regressor'; output: string; edges: number[] }
  | null;

export function featureProbes(manifest: Manifest): FeatureProbe[] {
  return (manifest.reference?.features ?? []).map((f) => ({
    name: f.name,
    source: f.source,
    edges: f.edges,
    binCount: f.edges.length + 1,
  }));
}

export function outputProbe(manifest: Manifest): OutputProbe {
  const ref = manifest.reference?.output;
  if (ref?.kind === 'classifier') {
    return { kind: 'classifier', output: ref.output, indices: ref.indices, classes: ref.classCounts.length };
  }
  if (ref?.kind === 'regressor') return { kind: 'regressor', output: ref.output, edges: ref.edges };
  // No reference output: a model with class labels whose output has that many columns is a classifier.
  const labels = manifest.labels;
  if (labels && labels.length > 0) {
    const out = manifest.io.outputs.find((o) => o.shape[o.shape.length - 1] === labels.length);
    if (out) return { kind: 'classifier', output: out.name, indices: false, classes: labels.length };
  }
  return null;
}

// Latency buckets kept in the flat array: bucket indices for 1 ns … 2.8 h at α = 1 % (about 1,500
// doubles). A latency outside that range goes to a JSON spill histogram whose buckets `sync` merges
// in (the same buckets histogramAdd would have made, unless the two ranges span more than
// HISTOGRAM_MAX_BUCKETS, which takes a latency above e^140 ms).
const LATENCY_LO_MS = 1e-6;
const LATENCY_HI_MS = 1e7;

// Slots of the per-window counter array: window and latency scalars, then per feature
// [count, sum, sumSq, min, max, nulls, bins…], then class counts, confidence bins or value bins.
export const INFERENCES = 0;
const LAT_COUNT = 1;
const LAT_SUM = 2;
const LAT_MIN = 3;
const LAT_MAX = 4;
const LAT_ZEROS = 5;
const HEAD = 6;
const F_COUNT = 0;
const F_SUM = 1;
const F_SUMSQ = 2;
const F_MIN = 3;
const F_MAX = 4;
const F_NULLS = 5;
const F_BINS = 6;

export interface WindowCounters {
  readonly acc: Float64Array;
  /** Per feature: [source index or -1, first edge in `acc`, edge count, base of its counters in `acc`]. */
  readonly meta: Int32Array;
  /** Zero every counter (a new window). */
  clear(): void;
  /** Writes the counters into `w`'s JSON (assignment: idempotent). */
  sync(w: TelemetryWindow): void;
  addLatency(v: number): void;
  addFeature(b: number, e0: number, ne: number, value: number | null): void;
  addClass(w: TelemetryWindow, cls: number, confidence: number): void;
  addValue(value: number): void;
}

export function createWindowCounters(features: readonly FeatureProbe[], probe: OutputProbe): WindowCounters {
  const nf = features.length;
  // per feature: [source index or -1, first edge in `acc`, edge count, base of its counters in `acc`]
  const meta = new Int32Array(nf * 4);
  let size = HEAD;
  for (let i = 0; i < nf; i++) {
    const f = features[i]!;
    meta[4 * i] = f.source.index ?? -1;
    meta[4 * i + 2] = f.edges.length;
    meta[4 * i + 3] = size;
    size += F_BINS + f.binCount;
  }
  // classifier: the first `classes` class counters and the confidence bins live in `acc`; a class index
  // beyond them (an index output naming more classes than the manifest) grows the JSON array directly
  const classes = probe?.kind === 'classifier' ? probe.classes : 0;
  const classBase = size;
  size += classes;
  const confBase = size;
  if (probe?.kind === 'classifier') size += CONFIDENCE_BINS;
  // probability outputs: CBPE's confidence sums (count, Σp, Σp², then per class count and Σp; protocol confidence.ts)
  const sums = probe?.kind === 'classifier' && !probe.indices;
  const sumsBase = size;
  if (sums) size += 3 + 2 * classes;
  const outEdges = probe?.kind === 'regressor' ? Float64Array.from(probe.edges) : new Float64Array(0);
  const valueBase = size;
  let valuesSeen = false;
  if (probe?.kind === 'regressor') size += probe.edges.length + 1;
  const alpha = createHistogram().alpha;
  const invLnGamma = 1 / Math.log((1 + alpha) / (1 - alpha)); // the constant histogramAdd uses
  const latLo = Math.ceil(Math.log(LATENCY_LO_MS) * invLnGamma);
  const latN = Math.ceil(Math.log(LATENCY_HI_MS) * invLnGamma) - latLo + 1;
  // one buffer: counters [0, size), feature edges (constant), latency buckets [latBase, latBase + latN)
  let edgeAt = size;
  for (let i = 0; i < nf; i++) {
    meta[4 * i + 1] = edgeAt;
    edgeAt += features[i]!.edges.length;
  }
  const latBase = edgeAt;
  const acc = new Float64Array(latBase + latN);
  for (let i = 0; i < nf; i++) acc.set(features[i]!.edges, meta[4 * i + 1]!);
  const lat = acc.subarray(latBase); // sync only
  let latSpill: Histogram | null = null;

  const clear = (): void => {
    acc.fill(0, 0, size);
    acc.fill(0, latBase);
    acc[LAT_MIN] = Infinity;
    acc[LAT_MAX] = -Infinity;
    for (let i = 0; i < nf; i++) {
      acc[meta[4 * i + 3]! + F_MIN] = Infinity;
      acc[meta[4 * i + 3]! + F_MAX] = -Infinity;
    }
    latSpill = null;
    valuesSeen = false;
  };

  const sync = (w: TelemetryWindow): void => {
    w.inferences = acc[INFERENCES]!;
    const h = w.latencyMs;
    const n = acc[LAT_COUNT]!;
    h.count = n;
    h.sum = acc[LAT_SUM]!;
    h.min = n > 0 ? acc[LAT_MIN]! : null;
    h.max = n > 0 ? acc[LAT_MAX]! : null;
    h.zeros = acc[LAT_ZEROS]!;
    let lo = 0;
    while (lo < lat.length && lat[lo] === 0) lo++;
    let hi = lat.length;
    while (hi > lo && lat[hi - 1] === 0) hi--;
    h.offset = lo < hi ? latLo + lo : 0;
    h.counts = Array.from(lat.subarray(lo, hi));
    // the spill's buckets only: its count, sum, min and max are already in the counters above
    if (latSpill !== null) histogramMergeInto(h, { ...latSpill, count: 0, sum: 0, zeros: 0, min: null, max: null });
    for (let i = 0; i < nf; i++) {
      const b = meta[4 * i + 3]!;
      const summary = w.features[features[i]!.name]!;
      const count = acc[b + F_COUNT]!;
      summary.count = count;
      summary.sum = acc[b + F_SUM]!;
      summary.sumSq = acc[b + F_SUMSQ]!;
      summary.min = count > 0 ? acc[b + F_MIN]! : null;
      summary.max = count > 0 ? acc[b + F_MAX]! : null;
      summary.nulls = acc[b + F_NULLS]!;
      const bins = summary.bins;
      for (let k = 0; k < bins.length; k++) bins[k] = acc[b + F_BINS + k]!;
    }
    const out = w.outputs;
    if (out && probe?.kind === 'classifier') {
      const counts = out.classCounts!;
      for (let k = 0; k < classes; k++) counts[k] = acc[classBase + k]!;
      const conf = out.confidence!;
      for (let k = 0; k < CONFIDENCE_BINS; k++) conf[k] = acc[confBase + k]!;
      const cs = out.confidenceSums;
      if (cs && sums) {
        cs.count = acc[sumsBase]!;
        cs.sum = acc[sumsBase + 1]!;
        cs.sumSq = acc[sumsBase + 2]!;
        for (let k = 0; k < classes; k++) {
          cs.classCounts[k] = acc[sumsBase + 3 + k]!;
          cs.classSums[k] = acc[sumsBase + 3 + classes + k]!;
        }
      }
    } else if (out && probe?.kind === 'regressor' && valuesSeen) {
      out.valueBins = Array.from(acc.subarray(valueBase, valueBase + outEdges.length + 1));
    }
  };

  /** One latency observation (histogramAdd on the flat counters). */
  const addLatency = (v: number): void => {
    if (!Number.isFinite(v)) return;
    acc[LAT_COUNT]!++;
    acc[LAT_SUM]! += v;
    if (v < acc[LAT_MIN]!) acc[LAT_MIN] = v;
    if (v > acc[LAT_MAX]!) acc[LAT_MAX] = v;
    if (v <= HISTOGRAM_MIN_INDEXABLE) {
      acc[LAT_ZEROS]!++;
      return;
    }
    const k = Math.ceil(Math.log(v) * invLnGamma) - latLo;
    if (k >= 0 && k < latN) acc[latBase + k]!++;
    else histogramAdd((latSpill ??= createHistogram(alpha)), v); // sync takes only its buckets
  };

  /** One feature value (featureAdd on the flat counters); `b` is the feature's base in `acc`. */
  const addFeature = (b: number, e0: number, ne: number, value: number | null): void => {
    if (value === null || !Number.isFinite(value)) {
      acc[b + F_NULLS]!++;
      return;
    }
    let lo = 0;
    let hi = ne;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (acc[e0 + mid]! <= value) lo = mid + 1;
      else hi = mid;
    }
    acc[b + F_BINS + lo]!++;
    acc[b + F_COUNT]!++;
    acc[b + F_SUM]! += value;
    acc[b + F_SUMSQ]! += value * value;
    if (value < acc[b + F_MIN]!) acc[b + F_MIN] = value;
    if (value > acc[b + F_MAX]!) acc[b + F_MAX] = value;
  };

  /** One classifier prediction (outputAddClassifier on the flat counters). */
  const addClass = (w: TelemetryWindow, cls: number, confidence: number): void => {
    if (!Number.isInteger(cls) || cls < 0 || cls >= 4096) return;
    if (cls < classes) acc[classBase + cls]!++;
    else {
      const counts = (w.outputs!.classCounts ??= []);
      while (counts.length <= cls) counts.push(0);
      counts[cls]!++;
    }
    if (Number.isNaN(confidence)) return;
    acc[confBase + confidenceBinIndex(confidence)]!++;
    // confidenceAdd on the flat counters: integer units, so the window's sums merge exactly at the hub
    if (!sums || !(confidence >= 0 && confidence <= 1)) return;
    const units = Math.round(confidence * CONFIDENCE_SCALE);
    acc[sumsBase]!++;
    acc[sumsBase + 1]! += units;
    acc[sumsBase + 2]! += Math.round(confidence * confidence * CONFIDENCE_SCALE);
    if (cls < classes) {
      acc[sumsBase + 3 + cls]!++;
      acc[sumsBase + 3 + classes + cls]! += units;
    } else {
      const cs = w.outputs!.confidenceSums!;
      while (cs.classCounts.length <= cls) cs.classCounts.push(0), cs.classSums.push(0);
      cs.classCounts[cls]!++;
      cs.classSums[cls]! += units;
    }
  };

  /** One regressor output (outputAddValue on the flat counters). */
  const addValue = (value: number): void => {
    if (!Number.isFinite(value)) return;
    acc[valueBase + featureBinIndex(outEdges, value)]!++;
    valuesSeen = true;
  };

  return { acc, meta, clear, sync, addLatency, addFeature, addClass, addValue };
}
