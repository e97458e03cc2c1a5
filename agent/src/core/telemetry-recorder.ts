// Per model version and role, the current telemetry window (design §6): latency, counts, errors,
// reference-feature bins, output mix, labels and shadow agreement. `record` is on the inference hot
// path and runs cache-cold between two onnxruntime runs, so it adds into one preallocated
// Float64Array (telemetry-counters.ts: inferences, latency scalars and buckets, feature bins and moments, class and
// confidence counts; the feature edges ride in it too) instead of a dozen JSON objects and arrays per
// call. Those counters are copied into the window's JSON objects whenever the window is read
// (`window`, `rotate`). The copy assigns, never adds, so reading the window mid-period changes
// nothing, and every count, sum, min and max equals what featureAdd / histogramAdd /
// outputAddClassifier / outputAddValue would have made of the same calls (the wire format is the same).
// The commonest call — one row, features picked by index, a scores classifier — does not even touch
// the counters: it appends (latency, feature values, class, confidence) to a small log that is added
// into them, in call order, when it fills (every 64 such calls) or before anything else reads or adds.

import {
  createConfidenceSums,
  createFeatureSummary,
  createLabelSummary,
  createOutputSummary,
  createShadowSummary,
  createWindow,
  extractFeatureValues,
  labelAdd,
  shadowAdd,
  windowAddError,
  type ErrorCode,
  type Manifest,
  type TelemetryWindow,
  type Tensor,
} from '@edgefleet/protocol';
import { INFERENCES, createWindowCounters, featureProbes, outputProbe } from './telemetry-counters.js';

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

/** Top-class probability of one row of scores (softmax when the row is not a distribution), as the window counts it. */
export function topConfidence(data: ArrayLike<number>, base: number, n: number): number {
  topClass(data, base, n);
  return topConf;
}

export function createModelTelemetry(
  manifest: Manifest,
  role: 'active' | 'shadow',
  windowMs: number,
  now: number,
): ModelTelemetry {
  const features = featureProbes(manifest);
  const probe = outputProbe(manifest);
  const labels = manifest.labels ?? [];

  const nf = features.length;
  const fInput: string[] = features.map((f) => f.source.input);
  const oneInput = fInput.every((n) => n === fInput[0]) ? (fInput[0] ?? '') : null;
  const { acc, meta, clear, sync, addLatency, addFeature, addClass, addValue } = createWindowCounters(features, probe);

  const fresh = (start: number): TelemetryWindow => {
    const w = createWindow(manifest.model, manifest.version, role, start, start + windowMs);
    for (const f of features) w.features[f.name] = createFeatureSummary(f.binCount);
    if (probe?.kind === 'classifier') {
      w.outputs = createOutputSummary(probe.classes);
      // probabilities (or scores softmaxed by topClass): confidence sums for estimated accuracy; index outputs have none
      if (!probe.indices) w.outputs.confidenceSums = createConfidenceSums(probe.classes);
    }
    else if (probe?.kind === 'regressor') w.outputs = createOutputSummary();
    if (role === 'shadow') w.shadow = createShadowSummary();
    return w;
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
