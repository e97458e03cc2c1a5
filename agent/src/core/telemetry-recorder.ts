// Per model version and role, the current telemetry window (design §6): latency, counts, errors,
// reference-feature bins, output mix, labels and shadow agreement. `record` is on the inference hot
// path and runs cache-cold between two onnxruntime runs, so it adds into one preallocated
// Float64Array (inferences, latency scalars and buckets, feature bins and moments, class and
// confidence counts; the feature edges ride in it too) instead of a dozen JSON objects and arrays per
// call. Those counters are copied into the window's JSON objects whenever the window is read
// (`window`, `rotate`). The copy assigns, never adds, so reading the window mid-period changes
// nothing, and every count, sum, min and max equals what featureAdd / histogramAdd /
// outputAddClassifier / outputAddValue would have made of the same calls (the wire format is the same).
// The commonest call — one row, features picked by index, a scores classifier — does not even touch
// the counters: it appends (latency, feature values, class, confidence) to a small log that is added
// into them, in call order, when it fills (every 64 such calls) or before anything else reads or adds.

import {
  CONFIDENCE_BINS,
  HISTOGRAM_MIN_INDEXABLE,
  confidenceBinIndex,
  createFeatureSummary,
  createHistogram,
  createLabelSummary,
  createOutputSummary,
  createShadowSummary,
  createWindow,
  extractFeatureValues,
  histogramAdd,
  histogramMergeInto,
  labelAdd,
  shadowAdd,
  windowAddError,
  type ErrorCode,
  type FeatureSource,
  type Histogram,
  type Manifest,
  type TelemetryWindow,
  type Tensor,
} from '@edgefleet/protocol';

interface FeatureProbe {
  name: string;
  source: FeatureSource;
  edges: number[];
  binCount: number;
}

type OutputProbe =
  | { kind: 'classifier'; output: string; indices: boolean; classes: number }
  | { kind: 'regressor'; output: string; edges: number[] }
  | null;

export interface ModelTelemetry {
  readonly role: 'active' | 'shadow';
  /** Bounds of the current window (epoch ms): the hot path reads these, not `window`. */
  readonly start: number;
  readonly end: number;
  /**
   * The current window with its counters brought up to date at this read (copied from the hot-path
   * counters: not free, and a reference kept across later `record`s does not follow them).
   */
  readonly window: TelemetryWindow;
  /** Adds one successful inference; returns the predicted class of row 0 (−1 if not a classifier). */
  record(feeds: Record<string, Tensor>, outputs: Record<string, Tensor>, ms: number): number;
  recordError(code: ErrorCode): void;
  recordShadow(agreed: boolean, ms: number): void;
  recordShadowDrop(): void;
  /** Close the window if `now` passed its end (or `force`); returns it when it holds anything. */
  rotate(now: number, force?: boolean): TelemetryWindow | null;
  /** Class index of a label given as index or class name; −1 when unknown. */
  classOf(label: string | number): number;
}

function windowStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}

function isEmpty(w: TelemetryWindow): boolean {
  return w.inferences === 0 && Object.keys(w.errors).length === 0 && !w.labels?.labelled && !w.shadow?.compared && !w.shadow?.dropped;
}

function outputProbe(manifest: Manifest): OutputProbe {
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

/** Probability of the class `topClass` returned last: a module slot instead of a per-call result object. */
let topConf = 0;

/** Top class of one row of scores; its probability (softmax when the row is not a distribution) lands in `topConf`. */
function topClass(data: ArrayLike<number>, base: number, n: number): number {
  let best = 0;
  let max = -Infinity;
  let sum = 0;
  let probs = true;
  for (let k = 0; k < n; k++) {
    const v = data[base + k]!;
    if (v > max) {
      max = v;
      best = k;
    }
    if (v < 0 || v > 1) probs = false;
    sum += v;
  }
  if (probs && Math.abs(sum - 1) < 0.01) {
    topConf = max;
    return best;
  }
  let z = 0;
  for (let k = 0; k < n; k++) z += Math.exp(data[base + k]! - max);
  topConf = 1 / z;
  return best;
}

// Latency buckets kept in the flat array: bucket indices for 1 ns … 2.8 h at α = 1 % (about 1,500
// doubles). A latency outside that range goes to a JSON spill histogram whose buckets `sync` merges
// in (the same buckets histogramAdd would have made, unless the two ranges span more than
// HISTOGRAM_MAX_BUCKETS, which takes a latency above e^140 ms).
const LATENCY_LO_MS = 1e-6;
const LATENCY_HI_MS = 1e7;

// Slots of the per-window counter array: window and latency scalars, then per feature
// [count, sum, sumSq, min, max, nulls, bins…], then class counts, confidence bins or value bins.
const INFERENCES = 0;
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

export function createModelTelemetry(
  manifest: Manifest,
  role: 'active' | 'shadow',
  windowMs: number,
  now: number,
): ModelTelemetry {
  const features: FeatureProbe[] = (manifest.reference?.features ?? []).map((f) => ({
    name: f.name,
    source: f.source,
    edges: f.edges,
    binCount: f.edges.length + 1,
  }));
  const probe = outputProbe(manifest);
  const labels = manifest.labels ?? [];

  const nf = features.length;
  const fInput: string[] = features.map((f) => f.source.input);
  const oneInput = fInput.every((n) => n === fInput[0]) ? (fInput[0] ?? '') : null;
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

  const fresh = (start: number): TelemetryWindow => {
    const w = createWindow(manifest.model, manifest.version, role, start, start + windowMs);
    for (const f of features) w.features[f.name] = createFeatureSummary(f.binCount);
    if (probe?.kind === 'classifier') w.outputs = createOutputSummary(probe.classes);
    else if (probe?.kind === 'regressor') w.outputs = createOutputSummary();
    if (role === 'shadow') w.shadow = createShadowSummary();
    return w;
  };

  /** Writes the counters into `w`'s JSON (assignment: idempotent). */
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
    if (!Number.isNaN(confidence)) acc[confBase + confidenceBinIndex(confidence)]!++;
  };

  /** One regressor output (outputAddValue on the flat counters). */
  const addValue = (value: number): void => {
    if (!Number.isFinite(value)) return;
    let lo = 0;
    let hi = outEdges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (outEdges[mid]! <= value) lo = mid + 1;
      else hi = mid;
    }
    acc[valueBase + lo]!++;
    valuesSeen = true;
  };

  // Log of recent one-row calls (latency, feature values, class, confidence), added into the counters
  // in one warm pass when it fills, the window is read or a call takes the general path: the call
  // itself writes a few adjacent doubles instead of touching a dozen cache lines of counters and edges.
  const fastFeatures = oneInput !== null && features.every((f) => f.source.index !== undefined);
  const maxIndex = features.reduce((m, f) => Math.max(m, f.source.index ?? 0), 0);
  const W = nf + 3;
  const LOG_ROWS = 64;
  const log = new Float64Array(W * LOG_ROWS);
  let logged = 0;
  const drain = (): void => {
    for (let e = 0; e < logged; e += W) {
      acc[INFERENCES]!++;
      addLatency(log[e]!);
      for (let i = 0; i < nf; i++) addFeature(meta[4 * i + 3]!, meta[4 * i + 1]!, meta[4 * i + 2]!, log[e + 1 + i]!);
      const cls = log[e + 1 + nf]!;
      if (cls >= 0) addClass(current, cls, log[e + 2 + nf]!);
    }
    logged = 0;
  };

  let current = fresh(windowStart(now, windowMs));
  clear();

  const t: ModelTelemetry = {
    role,
    start: current.start,
    end: current.end,
    get window() {
      drain();
      sync(current);
      return current;
    },

    record(feeds, outputs, ms) {
      if (fastFeatures && probe !== null && probe.kind === 'classifier' && !probe.indices) {
        const input = feeds[oneInput!];
        const out = outputs[probe.output];
        if (input && out && input.dims.length === 2 && input.dims[0] === 1 && input.dims[1]! > maxIndex && out.dims.length === 2 && out.dims[0] === 1) {
          const data = input.data;
          const od = out.data;
          const n = input.dims[1]!;
          if ((data instanceof Float32Array || data instanceof Float64Array) && (od instanceof Float32Array || od instanceof Float64Array) && data.length >= n && od.length > 0) {
            let e = logged;
            if (e === log.length) {
              drain();
              e = 0;
            }
            log[e] = ms;
            for (let i = 0; i < nf; i++) log[e + 1 + i] = data[meta[4 * i]!]!;
            const cls = topClass(od, 0, od.length);
            log[e + 1 + nf] = cls;
            log[e + 2 + nf] = topConf;
            logged = e + W;
            return cls;
          }
        }
      }
      drain();
      acc[INFERENCES]!++;
      addLatency(ms);
      let input = oneInput === null ? undefined : feeds[oneInput];
      for (let i = 0; i < nf; i++) {
        if (oneInput === null) input = feeds[fInput[i]!];
        if (!input || Array.isArray(input.data)) continue;
        const index = meta[4 * i]!;
        const e0 = meta[4 * i + 1]!;
        const ne = meta[4 * i + 2]!;
        const b = meta[4 * i + 3]!;
        const dims = input.dims;
        const data = input.data as ArrayLike<number | bigint>;
        if (index >= 0 && dims.length === 2 && typeof data[0] === 'number') {
          // tabular fast path (no per-call array): element `index` of each [batch, n] row
          const n = dims[1]!;
          const rows = dims[0]!;
          if (index >= n || data.length < rows * n) continue;
          for (let r = 0; r < rows; r++) addFeature(b, e0, ne, data[r * n + index] as number);
          continue;
        }
        const values = extractFeatureValues(features[i]!.source, dims, data);
        for (let r = 0; r < values.length; r++) addFeature(b, e0, ne, values[r]!);
      }
      if (probe === null) return -1;
      const out = outputs[probe.output];
      if (!out || Array.isArray(out.data)) return -1;
      const data = out.data as ArrayLike<number | bigint>;
      const rows = out.dims.length === 0 ? 1 : out.dims[0]!;
      if (rows === 0) return -1;
      const width = rows > 0 ? data.length / rows : 0;
      let first = -1;
      if (probe.kind === 'classifier') {
        if (probe.indices || typeof data[0] === 'bigint') {
          for (let r = 0; r < rows; r++) {
            const cls = Number(data[r * width]!);
            if (r === 0) first = cls;
            addClass(current, cls, Number.NaN);
          }
        } else {
          for (let r = 0; r < rows; r++) {
            const cls = topClass(data as ArrayLike<number>, r * width, width);
            if (r === 0) first = cls;
            addClass(current, cls, topConf);
          }
        }
      } else {
        for (let r = 0; r < rows; r++) addValue(Number(data[r * width]!));
      }
      return first;
    },

    recordError(code) {
      windowAddError(current, code);
    },

    recordShadow(agreed, ms) {
      if (current.shadow) shadowAdd(current.shadow, agreed, ms);
    },

    recordShadowDrop() {
      if (current.shadow) current.shadow.dropped++;
    },

    rotate(at, force = false) {
      if (!force && at < current.end) return null;
      const w = current;
      drain();
      sync(w);
      current = fresh(windowStart(at, windowMs));
      (t as { start: number }).start = current.start;
      (t as { end: number }).end = current.end;
      clear();
      if (isEmpty(w)) return null;
      return w;
    },

    classOf(label) {
      if (typeof label === 'number') return Number.isInteger(label) && label >= 0 ? label : -1;
      const i = labels.indexOf(label);
      if (i >= 0) return i;
      const n = Number(label);
      return Number.isInteger(n) && n >= 0 && label.trim() !== '' ? n : -1;
    },
  };
  return t;
}

/** A window that carries only a late label, with the original prediction's window bounds (design §6). */
export function labelDeltaWindow(
  model: string,
  version: string,
  role: 'active' | 'shadow',
  start: number,
  end: number,
  predicted: number,
  actual: number,
): TelemetryWindow {
  const w = createWindow(model, version, role, start, end);
  w.labels = labelAdd(createLabelSummary(), predicted, actual);
  return w;
}

/** Adds a label into a window's label summary (creating it). */
export function windowAddLabel(w: TelemetryWindow, predicted: number, actual: number): void {
  w.labels = labelAdd(w.labels ?? createLabelSummary(), predicted, actual);
}
