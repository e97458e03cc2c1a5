// Gate evaluation on merged telemetry: latency, error rate, drift with sample-size awareness, accuracy.
import { describe, expect, it } from 'vitest';
import { createRng } from '@edgefleet/protocol/testing';
import {
  createFeatureSummary,
  createHistogram,
  featureAdd,
  histogramAdd,
  type FeatureSummary,
  type Histogram,
} from '@edgefleet/protocol';
import { resolveGateConfig, type GateName, type GateResult, type VersionHealth } from './gate-config.js';
import { evaluateGates, failedGates } from './gates.js';

/** mulberry32 + Box–Muller: reproducible samples. */
function normal(seed: number): () => number {
  const u = createRng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

// deciles of N(0, 1): the reference's bin edges, 1000 reference rows per bin
const EDGES = [-1.2816, -0.8416, -0.5244, -0.2533, 0, 0.2533, 0.5244, 0.8416, 1.2816];
const REFERENCE = { x: new Array<number>(10).fill(1000), y: new Array<number>(10).fill(1000) };

function feature(n: number, shift: number, seed: number): FeatureSummary {
  const draw = normal(seed);
  const f = createFeatureSummary(EDGES.length + 1);
  for (let i = 0; i < n; i++) featureAdd(f, EDGES, draw() + shift);
  return f;
}

function latency(n: number, scale: number): Histogram {
  const h = createHistogram();
  for (let i = 0; i < n; i++) histogramAdd(h, scale * (5 + (i % 100) / 10));
  return h;
}

function health(over: Partial<VersionHealth> = {}): VersionHealth {
  return { devices: 3, inferences: 1000, errors: 0, latencyMs: latency(1000, 1), features: {}, ...over };
}

const gate = (results: GateResult[], name: GateName) => results.find((r) => r.name === name)!;
const config = resolveGateConfig();

describe('evaluateGates', () => {
  it('passes a candidate that behaves like its baseline', () => {
    const results = evaluateGates(config, health(), health(), {}, { converged: 3, failed: 0, skipped: 0 });
    expect(failedGates(config, results)).toEqual([]);
    expect(gate(results, 'device-failure-rate').pass).toBe(true);
    expect(gate(results, 'p95-latency-regression').pass).toBe(true);
    expect(gate(results, 'error-rate').pass).toBe(true);
  });

  it('fails the p95 gate for a 3× slower candidate and reports the regression', () => {
    const results = evaluateGates(config, health({ latencyMs: latency(1000, 3) }), health(), {});
    const g = gate(results, 'p95-latency-regression');
    expect(g.pass).toBe(false);
    expect(g.value).toBeGreaterThan(180);
    expect(g.value).toBeLessThan(220);
    expect(g.limit).toBe(50);
  });

  it('passes a p95 regression within the configured ms floor and fails it beyond', () => {
    // baseline p95 ≈ 14.5 ms, candidate 3× ≈ 43.5 ms: +29 ms
    const slower = health({ latencyMs: latency(1000, 3) });
    const within = gate(evaluateGates(resolveGateConfig({ minP95RegressionMs: 40 }), slower, health(), {}), 'p95-latency-regression');
    expect(within.pass).toBe(true);
    expect(within.value).toBeGreaterThan(180);
    expect(within.detail).toMatch(/within the ms floor/);
    const beyond = gate(evaluateGates(resolveGateConfig({ minP95RegressionMs: 20 }), slower, health(), {}), 'p95-latency-regression');
    expect(beyond.pass).toBe(false);
  });

  it('gives no latency verdict without a baseline or with too few samples', () => {
    expect(gate(evaluateGates(config, health(), undefined, {}), 'p95-latency-regression').pass).toBeNull();
    const few = health({ latencyMs: latency(20, 3) });
    expect(gate(evaluateGates(config, few, health(), {}), 'p95-latency-regression').pass).toBeNull();
  });

  it('judges error rate absolutely, or against the baseline when an increase is configured', () => {
    const candidate = health({ errors: { INFERENCE_FAILED: 40, BAD_INPUT: 30 } });
    expect(gate(evaluateGates(config, candidate, health(), {}), 'error-rate').pass).toBe(false);
    const relative = resolveGateConfig({ maxErrorRateIncrease: 0.02 });
    const noisyBaseline = health({ errors: 60 });
    expect(gate(evaluateGates(relative, candidate, noisyBaseline, {}), 'error-rate').pass).toBe(true);
    expect(gate(evaluateGates(relative, candidate, health(), {}), 'error-rate').pass).toBe(false);
  });

  it('trips the drift gate on shifted features at n=500 and not on in-distribution features of the same size', () => {
    const shifted = health({ features: { x: feature(500, 0.5, 1), y: feature(500, 0, 2) } });
    const same = health({ features: { x: feature(500, 0, 3), y: feature(500, 0, 4) } });
    const drift = gate(evaluateGates(config, shifted, health(), REFERENCE), 'drift');
    expect(drift.pass).toBe(false);
    expect(drift.value).toBe(1);
    expect(drift.detail).toContain('(x)');
    const calm = gate(evaluateGates(config, same, health(), REFERENCE), 'drift');
    expect(calm.pass).toBe(true);
    expect(calm.value).toBe(0);
  });

  it('gives no drift verdict on windows too small to mean anything', () => {
    const tiny = health({ features: { x: feature(50, 2, 5), y: feature(50, 2, 6) } });
    const g = gate(evaluateGates(config, tiny, health(), REFERENCE), 'drift');
    expect(g.pass).toBeNull();
    expect(g.detail).toContain('too few');
  });

  it('gives no accuracy verdict on too few labels or too little label coverage', () => {
    const baseline = health({ inferences: 2000, labels: { labelled: 400, correct: 360, confusion: [] } });
    const fewLabels = health({ inferences: 200, labels: { labelled: 30, correct: 5, confusion: [] } });
    const g = gate(evaluateGates(config, fewLabels, baseline, {}), 'accuracy-drop');
    expect(g.pass).toBeNull();
    expect(g.detail).toContain('30 labels');
    const lowCoverage = health({ inferences: 100_000, labels: { labelled: 100, correct: 10, confusion: [] } });
    expect(gate(evaluateGates(config, lowCoverage, baseline, {}), 'accuracy-drop').pass).toBeNull();
  });

  it('fails the accuracy gate on a real drop and passes a drop within the allowance', () => {
    const baseline = health({ inferences: 2000, labels: { labelled: 1000, correct: 900, confusion: [] } });
    const worse = health({ inferences: 2000, labels: { labelled: 1000, correct: 700, confusion: [] } });
    const g = gate(evaluateGates(config, worse, baseline, {}), 'accuracy-drop');
    expect(g.pass).toBe(false);
    expect(g.value).toBeCloseTo(0.2, 5);
    const slightly = health({ inferences: 2000, labels: { labelled: 1000, correct: 870, confusion: [] } });
    expect(gate(evaluateGates(config, slightly, baseline, {}), 'accuracy-drop').pass).toBe(true);
  });

  it('requires reporting devices, capped at what converged but never below one', () => {
    const silent = health({ devices: 0 });
    expect(gate(evaluateGates(config, silent, health(), {}, { converged: 0, failed: 0, skipped: 2 }), 'min-reporting-devices').pass).toBe(false);
    const strict = resolveGateConfig({ minReportingDevices: 5 });
    const canary = health({ devices: 1 });
    expect(gate(evaluateGates(strict, canary, health(), {}, { converged: 1, failed: 0, skipped: 0 }), 'min-reporting-devices').pass).toBe(true);
  });

  it('fails on device failure rate above the limit', () => {
    const g = gate(evaluateGates(config, health(), health(), {}, { converged: 8, failed: 2, skipped: 1 }), 'device-failure-rate');
    expect(g.pass).toBe(false);
    expect(g.value).toBeCloseTo(0.2, 10);
    expect(g.detail).toContain('1 offline');
  });

  it('counts a missing verdict as a failure only for gates that require one', () => {
    const results = evaluateGates(config, health(), health(), REFERENCE);
    expect(gate(results, 'drift').pass).toBeNull();
    expect(failedGates(config, results)).toEqual([]);
    const strict = resolveGateConfig({ requireVerdict: ['drift'] });
    expect(failedGates(strict, results).map((r) => r.name)).toEqual(['drift']);
  });

  it('refuses gate settings that make no sense', () => {
    expect(() => resolveGateConfig({ maxErrorRate: 1.5 })).toThrow(/out of range/);
    expect(() => resolveGateConfig({ maxP95RegressionPct: -1 })).toThrow(/out of range/);
    expect(() => resolveGateConfig({ driftConfidence: 1 })).toThrow(/out of range/);
    expect(() => resolveGateConfig({ bogus: 1 } as never)).toThrow(/unknown gate setting/);
    expect(() => resolveGateConfig({ requireVerdict: ['nope' as GateName] })).toThrow(/requireVerdict/);
    expect(resolveGateConfig({ maxP95RegressionPct: 200, maxErrorRateIncrease: 0.01 })).toMatchObject({
      maxP95RegressionPct: 200,
      maxErrorRateIncrease: 0.01,
      maxErrorRate: 0.05,
    });
  });

  it('checks shadow agreement only when a minimum is configured', () => {
    const candidate = health({ shadow: { compared: 1000, agreed: 800, dropped: 0, latencyMs: latency(100, 1) } });
    expect(evaluateGates(config, candidate, health(), {}).some((r) => r.name === 'shadow-agreement')).toBe(false);
    const g = gate(evaluateGates(resolveGateConfig({ minShadowAgreement: 0.95 }), candidate, health(), {}), 'shadow-agreement');
    expect(g.pass).toBe(false);
    expect(g.value).toBeCloseTo(0.8, 10);
  });
});
