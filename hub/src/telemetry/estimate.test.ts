// CBPE's estimate and its calibration check on seeded streams of a calibrated model (labels drawn from its own probabilities).
import { describe, expect, it } from 'vitest';
import { createRng } from '@edgefleet/protocol/testing';
import { confidenceAdd, createConfidenceSums, type ConfidenceSums } from '@edgefleet/protocol';
import { checkCalibration, estimateAccuracy } from './estimate.js';

/** One window of n predictions: confidence p ~ U[0.4, 1]; labelled ones right with probability p, or `rightRate(p)`. */
function windowOf(rng: () => number, n: number, labelled: number, rightRate = (p: number) => p): { sums: ConfidenceSums; labelled: number; correct: number } {
  const sums = createConfidenceSums(3);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const p = 0.4 + 0.6 * rng();
    confidenceAdd(sums, i % 3, p);
    if (i < labelled && rng() < rightRate(p)) correct++;
  }
  return { sums, labelled, correct };
}

describe('CBPE estimate and calibration', () => {
  it('says calibrated for a calibrated model, with every window within its stated band', () => {
    const rng = createRng(11);
    const ws = Array.from({ length: 20 }, (_, t) => ({ t, ...windowOf(rng, 500, 100) }));
    const c = checkCalibration(ws);
    expect(c.verdict).toBe('calibrated');
    expect(c.windows).toHaveLength(20);
    expect(c.meanAbsError!).toBeLessThan(c.threshold!);
    const e = estimateAccuracy(ws[0]!.sums, 500);
    expect(e.p!).toBeCloseTo(0.7, 1);
    expect(e.low!).toBeLessThan(e.p!);
    expect(e.coverage).toBe(1);
    expect(e.classes.map((c) => c.n)).toEqual(ws[0]!.sums.classCounts);
    for (const c of e.classes) expect(c.precision!).toBeCloseTo(0.7, 1);
  });

  it('says not calibrated when labels shift: the estimate stays, realized accuracy drops', () => {
    const rng = createRng(12);
    const ws = Array.from({ length: 10 }, (_, t) => ({ t, ...windowOf(rng, 500, 100, (p) => p * 0.6) }));
    const c = checkCalibration(ws);
    expect(c.verdict).toBe('not-calibrated');
    expect(c.meanAbsError!).toBeGreaterThan(0.2);
  });

  it('gives no verdict without windows that have enough labels', () => {
    const rng = createRng(13);
    const c = checkCalibration([{ t: 0, ...windowOf(rng, 500, 10) }, { t: 1, labelled: 100, correct: 80, sums: undefined }]);
    expect(c.verdict).toBe('insufficient-data');
    expect(estimateAccuracy(undefined, 10)).toEqual({ n: 0, p: null, low: null, high: null, coverage: 0, classes: [] });
  });
});
