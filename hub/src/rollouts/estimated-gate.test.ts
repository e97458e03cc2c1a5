// The estimated-accuracy-drop gate (CBPE): opt-in, judges where labels are too few, honest about no evidence.
import { describe, expect, it } from 'vitest';
import { createRng } from '@edgefleet/protocol/testing';
import { confidenceAdd, createConfidenceSums, createHistogram, type ConfidenceSums } from '@edgefleet/protocol';
import { resolveGateConfig, type VersionHealth } from './gate-config.js';
import { estimatedAccuracyGate, evaluateGates } from './gates.js';

/** n predictions whose top-class probabilities are uniform on [lo, hi]. */
function sums(n: number, lo: number, hi: number, seed: number): ConfidenceSums {
  const rng = createRng(seed);
  const s = createConfidenceSums(3);
  for (let i = 0; i < n; i++) confidenceAdd(s, i % 3, lo + (hi - lo) * rng());
  return s;
}

function health(s: ConfidenceSums | undefined, labels?: { labelled: number; correct: number }): VersionHealth {
  const h: VersionHealth = { devices: 2, inferences: s?.count ?? 500, errors: 0, latencyMs: createHistogram(), features: {} };
  if (s) h.outputs = { classCounts: [...s.classCounts], confidenceSums: s };
  if (labels) h.labels = { ...labels, confusion: [] };
  return h;
}

const on = resolveGateConfig({ maxEstimatedAccuracyDrop: 0.05 });

describe('estimated-accuracy-drop gate', () => {
  it('is off unless maxEstimatedAccuracyDrop is set', () => {
    expect(estimatedAccuracyGate(resolveGateConfig(), health(sums(500, 0.5, 1, 1)), health(sums(500, 0.5, 1, 2)))).toBeNull();
    const names = evaluateGates(resolveGateConfig(), health(sums(500, 0.5, 1, 1)), health(sums(500, 0.5, 1, 2)), {}).map((g) => g.name);
    expect(names).not.toContain('estimated-accuracy-drop');
    expect(evaluateGates(on, health(sums(500, 0.5, 1, 1)), health(sums(500, 0.5, 1, 2)), {}).map((g) => g.name)).toContain('estimated-accuracy-drop');
  });

  it('passes a candidate as confident as its baseline and fails one whose confidence dropped beyond doubt', () => {
    const base = health(sums(500, 0.7, 1, 1)); // ≈ 0.85
    const same = estimatedAccuracyGate(on, health(sums(500, 0.7, 1, 2)), base)!;
    expect(same.pass).toBe(true);
    expect(Math.abs(same.value!)).toBeLessThan(0.03);
    const worse = estimatedAccuracyGate(on, health(sums(500, 0.34, 0.8, 3)), base)!; // ≈ 0.57
    expect(worse.pass).toBe(false);
    expect(worse.value!).toBeGreaterThan(0.2);
    expect(worse.detail).toMatch(/without labels/);
  });

  it('gives no verdict on too few predictions with confidences, or on a model without probabilities', () => {
    const base = health(sums(500, 0.7, 1, 1));
    const few = estimatedAccuracyGate(on, health(sums(40, 0.3, 0.5, 4)), base)!;
    expect(few.pass).toBeNull();
    expect(few.detail).toMatch(/candidate has 40 predictions with confidences, need 100/);
    // a wave waits for those (the no-evidence policy); a baseline short of them is marked as the baseline's
    expect(few.missing).toEqual({ have: 40, need: 100, unit: 'predictions with confidences' });
    expect(estimatedAccuracyGate(on, base, health(sums(40, 0.3, 0.5, 4)))!.missing).toEqual({ have: 40, need: 100, unit: 'predictions with confidences', baseline: true });
    const none = estimatedAccuracyGate(on, health(undefined), base)!;
    expect(none.pass).toBeNull();
    expect(none.detail).toMatch(/no probability output/);
    expect(none.missing).toBeUndefined(); // it never will have them: nothing to wait for
  });

  it('defers to accuracy-drop when both sides have labels enough', () => {
    const cand = health(sums(500, 0.34, 0.6, 5), { labelled: 200, correct: 190 });
    const base = health(sums(500, 0.7, 1, 1), { labelled: 200, correct: 180 });
    const g = estimatedAccuracyGate(on, cand, base)!;
    expect(g.pass).toBe(true);
    expect(g.detail).toMatch(/labels suffice: accuracy-drop judges \(pass\)/);
  });

  it('resolves the setting as a rate', () => {
    expect(() => resolveGateConfig({ maxEstimatedAccuracyDrop: 2 })).toThrow(/out of range/);
    expect(resolveGateConfig({ requireVerdict: ['estimated-accuracy-drop'] }).requireVerdict).toEqual(['estimated-accuracy-drop']);
  });
});
