import { describe, expect, it } from 'vitest';
import { TelemetryWindow } from '../schemas/index.js';
import { createRng } from '../random.js';
import { CONFIDENCE_SCALE, confidenceAdd, createConfidenceSums, expectedAccuracy, mergeConfidenceSums } from './confidence.js';
import { createOutputSummary } from './outputs.js';
import { createWindow, mergeWindows } from './window.js';

function windowWith(conf: Array<[number, number]>): TelemetryWindow {
  const w = createWindow('iris', '1.0.0', 'active', 0, 60_000);
  w.outputs = { ...createOutputSummary(3), confidenceSums: createConfidenceSums(3) };
  for (const [k, p] of conf) confidenceAdd(w.outputs.confidenceSums!, k, p);
  w.inferences = conf.length;
  return w;
}

describe('confidence sums (CBPE)', () => {
  it('expected accuracy is the mean top-class confidence, and merging in any order gives the same integers', () => {
    const rng = createRng(3);
    const parts = Array.from({ length: 5 }, () => {
      const s = createConfidenceSums(3);
      for (let i = 0; i < 1000; i++) confidenceAdd(s, Math.floor(rng() * 3), 1 / 3 + (rng() * 2) / 3);
      return s;
    });
    const forward = parts.reduce((a, b) => mergeConfidenceSums(a, b));
    const backward = [...parts].reverse().reduce((a, b) => mergeConfidenceSums(a, b));
    expect(backward).toEqual(forward);
    expect(forward.count).toBe(5000);
    const e = expectedAccuracy(forward)!;
    expect(e.p).toBeCloseTo(2 / 3, 1);
    expect(e.sd).toBeGreaterThan(0);
    expect(expectedAccuracy(createConfidenceSums())).toBeNull();
  });

  it('leaves out confidences that are not probabilities', () => {
    const s = createConfidenceSums(2);
    for (const p of [Number.NaN, -0.1, 1.5, Infinity]) confidenceAdd(s, 0, p);
    confidenceAdd(s, 5, 0.5);
    expect(s.count).toBe(1);
    expect(s.classCounts).toEqual([0, 0, 0, 0, 0, 1]);
    expect(s.classSums[5]).toBe(CONFIDENCE_SCALE / 2);
  });

  it('a window with sums validates and merges with one without them', () => {
    const a = windowWith([[0, 0.9], [1, 0.6]]);
    expect(TelemetryWindow.safeParse(JSON.parse(JSON.stringify(a))).success).toBe(true);
    const b = createWindow('iris', '1.0.0', 'active', 0, 60_000);
    b.outputs = createOutputSummary(3);
    const m = mergeWindows(a, b);
    expect(m.outputs!.confidenceSums).toEqual(a.outputs!.confidenceSums);
    expect(m.outputs!.confidenceSums).not.toBe(a.outputs!.confidenceSums);
  });

  it('refuses sums above the count, totals that do not add up, NaN, fractions and too many classes', () => {
    const ok = windowWith([[0, 0.9], [2, 0.5]]);
    const bad = (edit: (s: Record<string, unknown>) => void): boolean => {
      const w = JSON.parse(JSON.stringify(ok)) as { outputs: { confidenceSums: Record<string, unknown> } };
      edit(w.outputs.confidenceSums);
      return !TelemetryWindow.safeParse(w).success;
    };
    expect(bad(() => undefined)).toBe(false);
    expect(bad((s) => ((s.sum = 3 * CONFIDENCE_SCALE), ((s.classSums as number[])[0] = 2.5 * CONFIDENCE_SCALE)))).toBe(true);
    expect(bad((s) => ((s.classSums as number[])[0] = 2 * CONFIDENCE_SCALE))).toBe(true);
    expect(bad((s) => (s.count = 3))).toBe(true);
    expect(bad((s) => (s.sumSq = (s.sum as number) + 1))).toBe(true);
    expect(bad((s) => (s.sum = null))).toBe(true); // NaN travels as null in JSON
    expect(bad((s) => (s.sum = 0.5))).toBe(true);
    expect(bad((s) => (s.classSums = [1, 2]))).toBe(true);
    expect(bad((s) => ((s.classCounts = new Array(5000).fill(0)), (s.classSums = new Array(5000).fill(0))))).toBe(true);
  });
});
