// Telemetry windows (design §6): what one inference adds, window alignment and late-label deltas.

import { describe, expect, it } from 'vitest';
import type { Manifest } from '@edgefleet/protocol';
import { createModelTelemetry, labelDeltaWindow } from './telemetry-recorder.js';

function manifest(output: NonNullable<Manifest['reference']>['output'], outputs: Manifest['io']['outputs']): Manifest {
  return {
    model: 'm',
    version: '1.0.0',
    io: { inputs: [{ name: 'x', type: 'float32', shape: ['batch', 2] }], outputs },
    reference: {
      n: 4,
      features: [
        { name: 'x0', source: { input: 'x', index: 0 }, edges: [0, 1], counts: [1, 2, 1], mean: 0.5, std: 0.5 },
        { name: 'mean', source: { input: 'x', reduce: 'mean' }, edges: [0], counts: [2, 2], mean: 0, std: 1 },
      ],
      ...(output ? { output } : {}),
    },
    labels: ['a', 'b', 'c'],
  } as unknown as Manifest;
}

const x = { type: 'float32' as const, dims: [2, 2], data: new Float32Array([0.5, 1.5, -1, Number.NaN]) };

describe('model telemetry', () => {
  it('counts latency, features per row, classes and confidence of a softmax classifier', () => {
    const t = createModelTelemetry(
      manifest({ kind: 'classifier', output: 'p', indices: false, classCounts: [1, 1, 1] }, [{ name: 'p', type: 'float32', shape: ['batch', 3] }]),
      'active',
      60_000,
      125_000,
    );
    expect([t.window.start, t.window.end]).toEqual([120_000, 180_000]);
    const predicted = t.record({ x }, { p: { type: 'float32', dims: [2, 3], data: new Float32Array([0.1, 0.75, 0.15, 0.025, 0.025, 0.95]) } }, 1.5);
    expect(predicted).toBe(1);
    const w = t.window;
    expect(w.inferences).toBe(1);
    expect(w.latencyMs.count).toBe(1);
    expect(w.features.x0!.bins).toEqual([1, 1, 0]); // -1 below 0, 0.5 in [0, 1)
    expect(w.features.mean!.count).toBe(1); // row 2 has a NaN: null
    expect(w.features.mean!.nulls).toBe(1);
    expect(w.outputs!.classCounts).toEqual([0, 1, 1]);
    expect(w.outputs!.confidence![7]).toBe(1); // 0.75
    expect(w.outputs!.confidence![9]).toBe(1); // 0.95
  });

  it('takes the softmax of logits for the confidence, and value bins for regressors', () => {
    const c = createModelTelemetry(manifest(undefined, [{ name: 'logits', type: 'float32', shape: ['batch', 3] }]), 'active', 1000, 0);
    c.record({ x }, { logits: { type: 'float32', dims: [1, 3], data: new Float32Array([0, 0, 5]) } }, 1);
    expect(c.window.outputs!.classCounts).toEqual([0, 0, 1]);
    expect(c.window.outputs!.confidence![9]).toBe(1); // softmax(5 vs 0, 0) ≈ 0.987
    const r = createModelTelemetry(manifest({ kind: 'regressor', output: 'y', edges: [0, 10], counts: [1, 1, 1] }, [{ name: 'y', type: 'float32', shape: ['batch', 1] }]), 'active', 1000, 0);
    expect(r.record({ x }, { y: { type: 'float32', dims: [2, 1], data: new Float32Array([5, 50]) } }, 1)).toBe(-1);
    expect(r.window.outputs!.valueBins).toEqual([0, 1, 1]);
  });

  it('rotates only past the window end, returns nothing for an empty window, counts errors by code', () => {
    const t = createModelTelemetry(manifest(undefined, [{ name: 'y', type: 'float32', shape: ['batch', 1] }]), 'shadow', 1000, 0);
    expect(t.rotate(999)).toBeNull();
    expect(t.rotate(1000)).toBeNull(); // empty
    t.recordError('INFERENCE_FAILED');
    t.recordShadow(true, 2);
    t.recordShadowDrop();
    const w = t.rotate(2500)!;
    expect(w.errors).toEqual({ INFERENCE_FAILED: 1 });
    expect(w.shadow).toMatchObject({ compared: 1, agreed: 1, dropped: 1 });
    expect(t.window.start).toBe(2000);
  });

  it('sends a late label as a delta window with the original bounds', () => {
    const d = labelDeltaWindow('m', '1.0.0', 'active', 60_000, 120_000, 2, 1);
    expect(d).toMatchObject({ start: 60_000, end: 120_000, inferences: 0, labels: { labelled: 1, correct: 0, confusion: [[2, 1, 1]] } });
  });
});
