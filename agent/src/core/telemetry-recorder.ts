// Per model version and role, the current telemetry window (design §6): latency, counts, errors,
// reference-feature bins, output mix, labels and shadow agreement. `record` is on the inference hot
// path, so it only adds into preallocated summaries.

import {
  createFeatureSummary,
  createLabelSummary,
  createOutputSummary,
  createShadowSummary,
  createWindow,
  extractFeatureValues,
  featureAdd,
  histogramAdd,
  labelAdd,
  outputAddClassifier,
  outputAddValue,
  shadowAdd,
  windowAddError,
  type ErrorCode,
  type FeatureSource,
  type Manifest,
  type TelemetryWindow,
} from '@edgefleet/protocol';
import type { Tensor } from './tensor.js';

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
  /** Window the next record lands in; rotated by the agent. */
  window: TelemetryWindow;
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

  const fresh = (start: number): TelemetryWindow => {
    const w = createWindow(manifest.model, manifest.version, role, start, start + windowMs);
    for (const f of features) w.features[f.name] = createFeatureSummary(f.binCount);
    if (probe?.kind === 'classifier') w.outputs = createOutputSummary(probe.classes);
    else if (probe?.kind === 'regressor') w.outputs = createOutputSummary();
    if (role === 'shadow') w.shadow = createShadowSummary();
    return w;
  };

  const t: ModelTelemetry = {
    role,
    window: fresh(windowStart(now, windowMs)),

    record(feeds, outputs, ms) {
      const w = t.window;
      w.inferences++;
      histogramAdd(w.latencyMs, ms);
      for (let i = 0; i < features.length; i++) {
        const f = features[i]!;
        const input = feeds[f.source.input];
        if (!input || Array.isArray(input.data)) continue;
        const summary = w.features[f.name]!;
        const dims = input.dims;
        const data = input.data as ArrayLike<number | bigint>;
        if (f.source.index !== undefined && dims.length === 2 && typeof data[0] === 'number') {
          // tabular fast path (no per-call array): element `index` of each [batch, n] row
          const n = dims[1]!;
          const rows = dims[0]!;
          if (f.source.index >= n || data.length < rows * n) continue;
          for (let r = 0; r < rows; r++) featureAdd(summary, f.edges, data[r * n + f.source.index] as number);
          continue;
        }
        const values = extractFeatureValues(f.source, dims, data);
        for (let r = 0; r < values.length; r++) featureAdd(summary, f.edges, values[r]!);
      }
      if (probe === null || !w.outputs) return -1;
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
            outputAddClassifier(w.outputs, cls, Number.NaN);
          }
        } else {
          for (let r = 0; r < rows; r++) {
            const cls = topClass(data as ArrayLike<number>, r * width, width);
            if (r === 0) first = cls;
            outputAddClassifier(w.outputs, cls, topConf);
          }
        }
      } else {
        for (let r = 0; r < rows; r++) outputAddValue(w.outputs, probe.edges, Number(data[r * width]!));
      }
      return first;
    },

    recordError(code) {
      windowAddError(t.window, code);
    },

    recordShadow(agreed, ms) {
      if (t.window.shadow) shadowAdd(t.window.shadow, agreed, ms);
    },

    recordShadowDrop() {
      if (t.window.shadow) t.window.shadow.dropped++;
    },

    rotate(at, force = false) {
      const w = t.window;
      if (!force && at < w.end) return null;
      t.window = fresh(windowStart(at, windowMs));
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
