import { describe, expect, it } from 'vitest';
import { TELEMETRY_LIMITS } from '../limits.js';
import { TelemetryWindow } from '../schemas/index.js';
import { createFeatureSummary, featureAdd } from './features.js';
import { histogramAdd } from './histogram.js';
import { createLabelSummary, labelAdd, mergeLabelSummary } from './labels.js';
import { createOutputSummary, mergeOutputSummary, outputAddClassifier } from './outputs.js';
import { createShadowSummary, mergeShadowSummary, shadowAdd } from './shadow.js';
import { createWindow, mergeWindows, windowAddError } from './window.js';

function filledWindow(start: number, values: number[]): TelemetryWindow {
  const w = createWindow('iris', '1.2.0', 'active', start, start + 60_000);
  const edges = [0, 1];
  w.features.x = createFeatureSummary(3);
  for (const v of values) {
    w.inferences++;
    histogramAdd(w.latencyMs, 1 + v);
    featureAdd(w.features.x, edges, v);
  }
  w.outputs = createOutputSummary(3);
  outputAddClassifier(w.outputs, values.length % 3, 0.85);
  return w;
}

describe('telemetry windows', () => {
  it('creates an empty window that validates against the schema', () => {
    const w = createWindow('iris', '1.2.0', 'shadow', 0, 60_000);
    expect(TelemetryWindow.parse(JSON.parse(JSON.stringify(w)))).toEqual(w);
  });

  it('merges windows by addition and widens the bounds', () => {
    const a = filledWindow(60_000, [0.5, 1.5]);
    const b = filledWindow(0, [-1, 0.25, 2]);
    windowAddError(a, 'INFERENCE_FAILED');
    windowAddError(b, 'INFERENCE_FAILED', 2);
    windowAddError(b, 'BAD_INPUT');
    b.features.y = createFeatureSummary(2);
    const m = mergeWindows(a, b);
    expect(m.start).toBe(0);
    expect(m.end).toBe(120_000);
    expect(m.inferences).toBe(5);
    expect(m.errors).toEqual({ INFERENCE_FAILED: 3, BAD_INPUT: 1 });
    expect(m.latencyMs.count).toBe(5);
    expect(m.features.x!.bins).toEqual([1, 2, 2]);
    expect(m.features.y).toEqual(b.features.y);
    expect(m.features.y).not.toBe(b.features.y);
    expect(m.outputs).toEqual({ classCounts: [1, 0, 1], confidence: [0, 0, 0, 0, 0, 0, 0, 0, 2, 0] });
    expect(TelemetryWindow.parse(JSON.parse(JSON.stringify(m)))).toEqual(m);
  });

  it('merges a feature named like an Object.prototype member (constructor, toString) like any other', () => {
    const plain = filledWindow(0, [0.5]);
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      const odd = TelemetryWindow.parse(JSON.parse(JSON.stringify({ ...filledWindow(60_000, [0.2, 1.5]), features: { [name]: filledWindow(0, [0.2, 1.5]).features.x } })));
      const merged = mergeWindows(plain, odd);
      expect(Object.hasOwn(merged.features, name), name).toBe(true);
      expect(merged.features[name]!.count, name).toBe(2);
      expect(mergeWindows(odd, plain).features[name]!.count, name).toBe(2);
    }
  });

  it('refuses to merge windows of different versions or roles', () => {
    const a = createWindow('iris', '1.2.0', 'active', 0, 1);
    expect(() => mergeWindows(a, createWindow('iris', '1.3.0', 'active', 0, 1))).toThrow(/cannot merge windows/);
    expect(() => mergeWindows(a, createWindow('iris', '1.2.0', 'shadow', 0, 1))).toThrow(/cannot merge windows/);
  });
});

describe('output, label and shadow summaries', () => {
  it('counts classes and top-class confidence, growing the classes as they appear', () => {
    const s = createOutputSummary();
    outputAddClassifier(s, 2, 1);
    outputAddClassifier(s, 0, 0.05);
    outputAddClassifier(s, 2, 0.55);
    expect(s).toEqual({ classCounts: [1, 0, 2], confidence: [1, 0, 0, 0, 0, 1, 0, 0, 0, 1] });
    expect(mergeOutputSummary(s, createOutputSummary(4)).classCounts).toEqual([1, 0, 2, 0]);
  });

  it('keeps confusion counts sparse and sorted so merges equal the summary of all labels', () => {
    const pairs: [number, number][] = [[1, 1], [0, 1], [2, 2], [0, 1], [1, 0], [2, 2], [0, 0]];
    const all = createLabelSummary();
    const a = createLabelSummary();
    const b = createLabelSummary();
    pairs.forEach(([p, y], i) => {
      labelAdd(all, p, y);
      labelAdd(i % 2 ? a : b, p, y);
    });
    expect(all).toEqual({ labelled: 7, correct: 4, confusion: [[0, 0, 1], [0, 1, 2], [1, 0, 1], [1, 1, 1], [2, 2, 2]] });
    expect(mergeLabelSummary(a, b)).toEqual(all);
    expect(mergeLabelSummary(b, a)).toEqual(all);
  });

  it('merges shadow comparisons and their latency', () => {
    const a = shadowAdd(createShadowSummary(), true, 3);
    const b = shadowAdd(shadowAdd(createShadowSummary(), false, 4), true, 5);
    const m = mergeShadowSummary(a, b);
    expect([m.compared, m.agreed, m.latencyMs.count, m.latencyMs.sum]).toEqual([3, 2, 3, 12]);
  });
});

describe('bounded merges', () => {
  it('keeps at most TELEMETRY_LIMITS.features feature names however many windows bring new ones', () => {
    const windows = Array.from({ length: 4 }, (_, k) => {
      const w = createWindow('m', '1.0.0', 'active', 0, 60_000);
      for (let i = 0; i < 200; i++) w.features[`w${k}-f${i}`] = createFeatureSummary(2);
      return w;
    });
    const merged = windows.reduce((a, b) => mergeWindows(a, b));
    expect(Object.keys(merged.features)).toHaveLength(TELEMETRY_LIMITS.features);
    expect(TelemetryWindow.safeParse(JSON.parse(JSON.stringify(merged))).success).toBe(true);
  });

  it('keeps the largest TELEMETRY_LIMITS.confusion confusion entries, sorted, with labelled and correct exact', () => {
    const side = 200; // 200 × 200 distinct pairs per summary, offset so the union is larger than the cap
    const summary = (shift: number, weight: number) => {
      const s = createLabelSummary();
      for (let p = 0; p < side; p++) for (let a = 0; a < side; a++) s.confusion.push([p + shift, a, weight]);
      s.labelled = side * side * weight;
      s.correct = side * weight;
      return s;
    };
    const a = summary(0, 1);
    const b = summary(150, 2);
    const merged = mergeLabelSummary(a, b);
    expect(merged.confusion).toHaveLength(TELEMETRY_LIMITS.confusion);
    expect(merged.labelled).toBe(a.labelled + b.labelled);
    expect(merged.correct).toBe(a.correct + b.correct);
    for (let i = 1; i < merged.confusion.length; i++) {
      const [p0, a0] = merged.confusion[i - 1]!;
      const [p1, a1] = merged.confusion[i]!;
      expect(p0 < p1 || (p0 === p1 && a0 < a1)).toBe(true);
    }
    // every entry of the heavier summary survived
    expect(merged.confusion.filter(([p]) => p >= 150).length).toBeGreaterThanOrEqual(side * side);
  });
});
