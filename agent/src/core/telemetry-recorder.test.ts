// Telemetry windows (design §6): what one inference adds, window alignment and late-label deltas.

import { describe, expect, it } from 'vitest';
import {
  confidenceAdd,
  createConfidenceSums,
  createFeatureSummary,
  createOutputSummary,
  createWindow,
  extractFeatureValues,
  featureAdd,
  histogramAdd,
  outputAddClassifier,
  outputAddValue,
  type Manifest,
  type TelemetryWindow,
  type Tensor,
} from '@edgefleet/protocol';
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

  // `record` keeps its counters in a flat array and copies them into the JSON window when it is read:
  // the window must be exactly what the protocol's add functions make of the same calls, whenever read.
  it('reads the same window mid-period, twice, and after rotation as adding each call into the JSON summaries', () => {
    const m = manifest({ kind: 'classifier', output: 'p', indices: false, classCounts: [1, 1, 1] }, [{ name: 'p', type: 'float32', shape: ['batch', 3] }]);
    const idx = manifest({ kind: 'classifier', output: 'k', indices: true, classCounts: [1, 1, 1] }, [{ name: 'k', type: 'int64', shape: ['batch', 1] }]);
    const reg = manifest({ kind: 'regressor', output: 'y', edges: [0, 10], counts: [1, 1, 1] }, [{ name: 'y', type: 'float32', shape: ['batch', 1] }]);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    // latencies: ordinary, zero, negative, NaN, below and above the flat bucket range
    const latencies = [1.5, 0.02, 0, -1, Number.NaN, 3e-8, 2e8, 0.3, 17, 1e-12];
    const calls = Array.from({ length: 60 }, (_, c) => {
      const rows = 1 + (c % 3);
      const x = new Float32Array(rows * 2).map(() => (rand() < 0.1 ? Number.NaN : rand() * 4 - 2));
      const p = new Float32Array(rows * 3).map(() => rand());
      for (let r = 0; r < rows; r++) {
        const s = p[r * 3]! + p[r * 3 + 1]! + p[r * 3 + 2]!;
        for (let k = 0; k < 3; k++) p[r * 3 + k]! /= s;
      }
      const k = BigInt64Array.from({ length: rows }, () => BigInt(Math.floor(rand() * 5))); // 3, 4: beyond the 3 classes
      const y = new Float32Array(rows).map(() => (rand() < 0.2 ? Number.NaN : rand() * 30 - 5));
      return {
        feeds: { x: { type: 'float32', dims: [rows, 2], data: x } as Tensor },
        p: { type: 'float32', dims: [rows, 3], data: p } as Tensor,
        k: { type: 'int64', dims: [rows, 1], data: k } as Tensor,
        y: { type: 'float32', dims: [rows, 1], data: y } as Tensor,
        ms: latencies[c % latencies.length]!,
      };
    });
    /** What adding each call straight into a JSON window gives (the pre-flat-counter recorder). */
    const expected = (mf: Manifest, n: number, start: number, out: (c: (typeof calls)[number], w: TelemetryWindow) => void): TelemetryWindow => {
      const w = createWindow(mf.model, mf.version, 'active', start, start + 60_000);
      for (const f of mf.reference!.features) w.features[f.name] = createFeatureSummary(f.edges.length + 1);
      w.outputs = createOutputSummary(mf.reference!.output!.kind === 'classifier' ? 3 : undefined);
      if (mf === m) w.outputs.confidenceSums = createConfidenceSums(3); // probabilities: CBPE sums
      for (const c of calls.slice(0, n)) {
        w.inferences++;
        histogramAdd(w.latencyMs, c.ms);
        for (const f of mf.reference!.features) {
          for (const v of extractFeatureValues(f.source, c.feeds.x.dims, c.feeds.x.data as Float32Array)) featureAdd(w.features[f.name]!, f.edges, v);
        }
        out(c, w);
      }
      return w;
    };
    const cases: [Manifest, (c: (typeof calls)[number]) => Record<string, Tensor>, (c: (typeof calls)[number], w: TelemetryWindow) => void][] = [
      [
        m,
        (c) => ({ p: c.p }),
        (c, w) => {
          for (let r = 0; r < c.p.dims[0]!; r++) {
            const row = Array.from((c.p.data as Float32Array).subarray(r * 3, r * 3 + 3));
            outputAddClassifier(w.outputs!, row.indexOf(Math.max(...row)), Math.max(...row));
            confidenceAdd(w.outputs!.confidenceSums!, row.indexOf(Math.max(...row)), Math.max(...row));
          }
        },
      ],
      [idx, (c) => ({ k: c.k }), (c, w) => (c.k.data as BigInt64Array).forEach((v) => outputAddClassifier(w.outputs!, Number(v), Number.NaN))],
      [reg, (c) => ({ y: c.y }), (c, w) => (c.y.data as Float32Array).forEach((v) => outputAddValue(w.outputs!, [0, 10], v))],
    ];
    for (const [mf, outs, add] of cases) {
      const t = createModelTelemetry(mf, 'active', 60_000, 0);
      expect(t.window).toEqual(expected(mf, 0, 0, add));
      for (let c = 0; c < 40; c++) t.record(calls[c]!.feeds, outs(calls[c]!), calls[c]!.ms);
      expect(t.window).toEqual(expected(mf, 40, 0, add)); // mid-window read
      expect(t.window).toEqual(expected(mf, 40, 0, add)); // reading again adds nothing
      for (let c = 40; c < 60; c++) t.record(calls[c]!.feeds, outs(calls[c]!), calls[c]!.ms);
      expect(t.rotate(59_999)).toBeNull();
      const closed = t.rotate(60_000)!;
      expect(closed).toEqual(expected(mf, 60, 0, add));
      expect(JSON.stringify(closed)).toBe(JSON.stringify(expected(mf, 60, 0, add))); // same wire bytes
      // the next window starts from zero
      expect([t.start, t.end]).toEqual([60_000, 120_000]);
      expect(t.window).toEqual(expected(mf, 0, 60_000, add));
      t.record(calls[0]!.feeds, outs(calls[0]!), calls[0]!.ms);
      expect(t.rotate(0, true)).toEqual(expected(mf, 1, 60_000, add));
    }
  });

  it('adds logged one-row calls in call order, across log refills, general-path calls, reads and rotation', () => {
    // every feature picked by index from one input, a scores classifier: one-row calls go through the log
    const mf = {
      model: 'm',
      version: '1.0.0',
      io: { inputs: [{ name: 'x', type: 'float32', shape: ['batch', 3] }], outputs: [{ name: 'p', type: 'float32', shape: ['batch', 4] }] },
      reference: {
        n: 4,
        features: [
          { name: 'a', source: { input: 'x', index: 2 }, edges: [-1, 0, 1], counts: [1, 1, 1, 1], mean: 0, std: 1 },
          { name: 'b', source: { input: 'x', index: 0 }, edges: [0.5], counts: [2, 2], mean: 0, std: 1 },
        ],
        output: { kind: 'classifier', output: 'p', indices: false, classCounts: [1, 1, 1] }, // a 4th column: class 3 grows the counts
      },
      labels: ['a', 'b', 'c'],
    } as unknown as Manifest;
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const latencies = [0.7, 0, Number.NaN, 5e-7, 3e9, 0.05, 12];
    const calls = Array.from({ length: 300 }, (_, c) => {
      const rows = c % 37 === 5 ? 2 : 1; // now and then a batch: the general path
      const x = new Float32Array(rows * 3).map(() => (rand() < 0.05 ? Number.NaN : rand() * 4 - 2));
      const logits = c % 3 === 0; // rows that are not distributions: softmax confidence
      const p = new Float32Array(rows * 4).map(() => (logits ? rand() * 6 - 3 : rand()));
      if (!logits) {
        for (let r = 0; r < rows; r++) {
          const sum = p[r * 4]! + p[r * 4 + 1]! + p[r * 4 + 2]! + p[r * 4 + 3]!;
          for (let k = 0; k < 4; k++) p[r * 4 + k]! /= sum;
        }
      }
      return { x: { type: 'float32', dims: [rows, 3], data: x } as Tensor, p: { type: 'float32', dims: [rows, 4], data: p } as Tensor, ms: latencies[c % latencies.length]! };
    });
    const expected = (from: number, to: number, start: number): TelemetryWindow => {
      const w = createWindow('m', '1.0.0', 'active', start, start + 60_000);
      for (const f of mf.reference!.features) w.features[f.name] = createFeatureSummary(f.edges.length + 1);
      w.outputs = { ...createOutputSummary(3), confidenceSums: createConfidenceSums(3) };
      for (const c of calls.slice(from, to)) {
        w.inferences++;
        histogramAdd(w.latencyMs, c.ms);
        for (const f of mf.reference!.features) {
          for (const v of extractFeatureValues(f.source, c.x.dims, c.x.data as Float32Array)) featureAdd(w.features[f.name]!, f.edges, v);
        }
        for (let r = 0; r < c.p.dims[0]!; r++) {
          const row = Array.from((c.p.data as Float32Array).subarray(r * 4, r * 4 + 4));
          const max = Math.max(...row);
          const isDistribution = row.every((v) => v >= 0 && v <= 1) && Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 0.01;
          const conf = isDistribution ? max : 1 / row.reduce((z, v) => z + Math.exp(v - max), 0);
          outputAddClassifier(w.outputs!, row.indexOf(max), conf);
          confidenceAdd(w.outputs!.confidenceSums!, row.indexOf(max), conf);
        }
      }
      return w;
    };
    const t = createModelTelemetry(mf, 'active', 60_000, 0);
    const predicted: number[] = [];
    for (let c = 0; c < 70; c++) predicted.push(t.record({ x: calls[c]!.x }, { p: calls[c]!.p }, calls[c]!.ms));
    expect(t.window).toEqual(expected(0, 70, 0)); // 64 added on the refill, 6 still logged
    expect(t.window).toEqual(expected(0, 70, 0));
    for (let c = 70; c < 200; c++) predicted.push(t.record({ x: calls[c]!.x }, { p: calls[c]!.p }, calls[c]!.ms));
    const first = t.rotate(60_000)!;
    expect(first).toEqual(expected(0, 200, 0));
    expect(JSON.stringify(first)).toBe(JSON.stringify(expected(0, 200, 0)));
    expect(first.outputs!.classCounts!.length).toBe(4);
    for (let c = 200; c < 300; c++) predicted.push(t.record({ x: calls[c]!.x }, { p: calls[c]!.p }, calls[c]!.ms));
    expect(t.rotate(0, true)).toEqual(expected(200, 300, 60_000));
    // the returned class is row 0's top class either way
    expect(predicted).toEqual(calls.map((c) => {
      const row = Array.from((c.p.data as Float32Array).subarray(0, 4));
      return row.indexOf(Math.max(...row));
    }));
  });
});
