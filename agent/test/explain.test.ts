// Explanations (design §5) on real onnxruntime through the real local API: exact Shapley values of a linear
// model are w·(x − baseline), an MLP's sum to f(x) − f(baseline), sampled ones match exact, refusals carry codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '@edgefleet/protocol/onnx';
import { seededClassifier, seededFloats } from '@edgefleet/protocol/testing';
import type { Reference } from '@edgefleet/protocol';
import { startTestServer, type TestServer } from './support/local-api-server.js';
import { createOnnxRuntime } from '../src/node/onnx-runtime.js';
import { coalitionCount, exactShapley } from '../src/core/shapley.js';

/** y = x·w + 0.5, x [batch, k] (or a fixed batch of 1). */
function linear(k: number, w: Float32Array, batch: string | number = 'batch'): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', shape: [batch, k] }],
    outputs: [{ name: 'y', type: 'float32', shape: [batch, 1] }],
    initializers: [
      { name: 'W', type: 'float32', dims: [k, 1], data: w },
      { name: 'b', type: 'float32', dims: [1], data: [0.5] },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] },
      { op: 'Add', inputs: ['xw', 'b'], outputs: ['y'] },
    ],
  });
}

/** A reference on input `input` with mean `means[i]` and 4 bins around it per feature. */
function reference(input: string, means: Float32Array): Reference {
  return {
    n: 100,
    features: Array.from(means, (m, i) => ({ name: `f${i}`, source: { input, index: i }, edges: [m - 1, m, m + 2], counts: [10, 40, 40, 10], mean: m, std: 1 })),
  };
}

const W6 = seededFloats(6, 1, 2);
const W14 = seededFloats(14, 2, 2);
const MEANS6 = seededFloats(6, 3);
const MEANS14 = seededFloats(14, 4);
const MEANS12 = seededFloats(12, 5);
const X6 = seededFloats(6, 6, 3);
const X12 = seededFloats(12, 7, 2);
const X14 = seededFloats(14, 8, 2);
const MLP14 = seededClassifier({ seed: 20, features: 14, classes: 3, hidden: 16 });

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(
    [
      { name: 'lin6', version: '1.0.0', bytes: linear(6, W6), reference: reference('x', MEANS6) },
      { name: 'lin6fixed', version: '1.0.0', bytes: linear(6, W6, 1), reference: reference('x', MEANS6) },
      { name: 'lin14', version: '1.0.0', bytes: linear(14, W14), reference: reference('x', MEANS14) },
      { name: 'lin20', version: '1.0.0', bytes: linear(20, seededFloats(20, 9)) },
      { name: 'lin257', version: '1.0.0', bytes: linear(257, seededFloats(257, 9)) },
      { name: 'mlp12', version: '1.0.0', bytes: seededClassifier({ seed: 11, features: 12, classes: 3, hidden: 16 }), reference: reference('features', MEANS12), labels: ['ok', 'warn', 'fail'] },
      { name: 'mlp14', version: '1.0.0', bytes: MLP14, reference: reference('features', MEANS14) },
    ],
    { maxBodyBytes: 64 * 1024 },
  );
});
afterAll(async () => {
  await server?.close();
});

const row = (name: string, x: Float32Array) => ({ inputs: [{ name, datatype: 'FP32', shape: [1, x.length], data: Array.from(x) }] });
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const attributions = (json: { features: { attribution: number }[] }) => json.features.map((f) => f.attribution);

describe('exact Shapley values through the local API', () => {
  it('of a linear model are w·(x − reference mean), from one batched run', async () => {
    const res = await server.post('/v2/models/lin6/explain', { id: 'q1', ...row('x', X6) });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ model_name: 'lin6', model_version: '1.0.0', id: 'q1', method: 'exact', evaluations: 64, runs: 1, target: { output: 'y', index: 0, kind: 'value' } });
    res.json.features.forEach((f: { name: string; attribution: number; baseline: number; value: number }, i: number) => {
      expect(f.name).toBe(`f${i}`);
      expect(f.baseline).toBeCloseTo(MEANS6[i]!, 6);
      expect(f.value).toBeCloseTo(X6[i]!, 6);
      expect(f.attribution).toBeCloseTo(W6[i]! * (X6[i]! - MEANS6[i]!), 4);
    });
    expect(sum(attributions(res.json))).toBeCloseTo(res.json.value - res.json.base_value, 4);
  });

  it('use an explicit baseline, by position or by name, or the bin-weighted median', async () => {
    const zeros = new Array(6).fill(0);
    const byArray = await server.post('/v2/models/lin6/explain', { ...row('x', X6), parameters: { baseline: zeros } });
    expect(byArray.status).toBe(200);
    attributions(byArray.json).forEach((a, i) => expect(a).toBeCloseTo(W6[i]! * X6[i]!, 4));
    const byName = await server.post('/v2/models/lin6/explain', { ...row('x', X6), parameters: { baseline: { f2: 10 } } });
    expect(byName.json.features[2].baseline).toBe(10);
    expect(byName.json.features[3].baseline).toBeCloseTo(MEANS6[3]!, 6);
    expect(byName.json.features[2].attribution).toBeCloseTo(W6[2]! * (X6[2]! - 10), 4);
    // bins [m−1, m, m+2] with counts 10/40/40/10: the middle count falls at the edge m, exactly the mean here
    const median = await server.post('/v2/models/lin6/explain', { ...row('x', X6), parameters: { baseline: 'median' } });
    median.json.features.forEach((f: { baseline: number }, i: number) => expect(f.baseline).toBeCloseTo(MEANS6[i]!, 5));
  });

  it('fall back to one run per coalition when the batch dim is fixed at 1', async () => {
    const res = await server.post('/v2/models/lin6fixed/explain', row('x', X6));
    expect(res.status).toBe(200);
    expect(res.json.runs).toBe(64);
    attributions(res.json).forEach((a, i) => expect(a).toBeCloseTo(W6[i]! * (X6[i]! - MEANS6[i]!), 4));
  });

  it('of an MLP classifier explain the predicted class and sum to f(x) − f(baseline), 12 features in 4096 rows', async () => {
    const res = await server.post('/v2/models/mlp12/explain', row('features', X12));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ method: 'exact', evaluations: 4096, runs: 1, target: { output: 'probabilities', kind: 'class' } });
    const infer = await server.post('/v2/models/mlp12/infer', row('features', X12));
    const p: number[] = infer.json.outputs.find((o: { name: string }) => o.name === 'probabilities').data;
    const predicted = p.indexOf(Math.max(...p));
    expect(res.json.target.index).toBe(predicted);
    expect(res.json.target.label).toBe(['ok', 'warn', 'fail'][predicted]);
    expect(res.json.value).toBeCloseTo(p[predicted]!, 6);
    expect(sum(attributions(res.json))).toBeCloseTo(res.json.value - res.json.base_value, 5);
    // another class, by label
    const other = await server.post('/v2/models/mlp12/explain', { ...row('features', X12), parameters: { target: 'fail' } });
    expect(other.json.target).toMatchObject({ index: 2, label: 'fail' });
    expect(sum(attributions(other.json))).toBeCloseTo(other.json.value - other.json.base_value, 5);
  });
});

describe('sampled Shapley values beyond 12 features', () => {
  it('of a 14-feature linear model equal w·(x − baseline), with no spread', async () => {
    const res = await server.post('/v2/models/lin14/explain', { ...row('x', X14), parameters: { samples: 64, seed: 5 } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ method: 'sampled', samples: 64, seed: 5, evaluations: 2 + 64 * 13 });
    res.json.features.forEach((f: { attribution: number; standard_error: number }, i: number) => {
      expect(f.attribution).toBeCloseTo(W14[i]! * (X14[i]! - MEANS14[i]!), 4);
      expect(f.standard_error).toBeLessThan(1e-4);
    });
  });

  it('of a 14-feature MLP come within a few standard errors of the exact values, reproducibly for a seed', async () => {
    const res = await server.post('/v2/models/mlp14/explain', { ...row('features', X14), parameters: { samples: 2000, seed: 7 } });
    expect(res.status).toBe(200);
    const again = await server.post('/v2/models/mlp14/explain', { ...row('features', X14), parameters: { samples: 2000, seed: 7 } });
    expect(attributions(again.json)).toEqual(attributions(res.json));
    // the exact values over all 2^14 coalitions, on a bare session of the same bytes
    const session = await createOnnxRuntime().load(MLP14);
    try {
      const k = 14;
      const n = coalitionCount(k);
      const rows = new Float32Array(n * k);
      for (let m = 0; m < n; m++) for (let i = 0; i < k; i++) rows[m * k + i] = m & (1 << i) ? X14[i]! : MEANS14[i]!;
      const out = await session.run({ features: { type: 'float32', dims: [n, k], data: rows } });
      const p = out['probabilities']!.data as Float32Array;
      const target = res.json.target.index as number;
      const exact = exactShapley(Float64Array.from({ length: n }, (_, m) => p[m * 3 + target]!), k);
      res.json.features.forEach((f: { attribution: number; standard_error: number }, i: number) => {
        expect(Math.abs(f.attribution - exact[i]!)).toBeLessThanOrEqual(4 * f.standard_error + 1e-5);
      });
    } finally {
      await session.release();
    }
    expect(sum(attributions(res.json))).toBeCloseTo(res.json.value - res.json.base_value, 5);
  });
});

describe('explain refusals', () => {
  const cases: [string, string, unknown, number, string][] = [
    ['an unknown parameter', 'lin6', { ...row('x', X6), parameters: { sample: 3 } }, 400, 'BAD_INPUT'],
    ['two rows', 'lin6', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 6], data: [...X6, ...X6] }] }, 400, 'BAD_INPUT'],
    ['exact over 12 features', 'lin14', { ...row('x', X14), parameters: { method: 'exact' } }, 400, 'BAD_INPUT'],
    ['more features than the cap', 'lin257', { ...row('x', seededFloats(257, 1)), parameters: { baseline: new Array(256).fill(0) } }, 400, 'BAD_INPUT'],
    ['samples over the cap', 'lin14', { ...row('x', X14), parameters: { samples: 100_000 } }, 400, 'BAD_INPUT'],
    ['evaluations over the cap', 'lin20', { ...row('x', seededFloats(20, 1)), parameters: { samples: 4000, baseline: new Array(20).fill(0) } }, 413, 'TOO_LARGE'],
    ['no baseline for features without a reference', 'lin20', row('x', seededFloats(20, 1)), 400, 'BAD_INPUT'],
    ['a baseline of the wrong length', 'lin6', { ...row('x', X6), parameters: { baseline: [1, 2] } }, 400, 'BAD_INPUT'],
    ['an unknown output', 'mlp12', { ...row('features', X12), parameters: { output: 'nope' } }, 400, 'BAD_INPUT'],
    ['an integer output', 'mlp12', { ...row('features', X12), parameters: { output: 'label' } }, 400, 'BAD_INPUT'],
    ['a target beyond the output row', 'mlp12', { ...row('features', X12), parameters: { target: 3 } }, 400, 'BAD_INPUT'],
    ['an unknown model', 'nope', row('x', X6), 404, 'NOT_FOUND'],
    ['a body over the cap', 'lin6', { ...row('x', X6), pad: 'x'.repeat(70 * 1024) }, 413, 'TOO_LARGE'],
  ];
  it.each(cases)('refuses %s', async (_what, model, body, status, code) => {
    const res = await server.post(`/v2/models/${model}/explain`, body);
    expect(res.status).toBe(status);
    expect(res.json.code).toBe(code);
  });
});
