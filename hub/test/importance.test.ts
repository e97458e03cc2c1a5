// Permutation importance at model push (design §3 lineage), on real onnxruntime-node with models from the
// protocol's builder whose true importance is known by construction.
import { describe, expect, it } from 'vitest';
import { Manifest, createRng } from '@edgefleet/protocol';
import { buildMlpClassifier, buildModel } from '@edgefleet/protocol/onnx';
import { prepareModelPush } from '../src/models/index.js';
import { IMPORTANCE_LIMITS } from '../src/models/importance.js';

const NAMES = ['temperature', 'humidity', 'vibration', 'pressure'];

/** Rows of 4 standard-ish uniform features, seeded. */
function rows(n: number, seed: number): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => Array.from({ length: 4 }, () => Math.round((rng() * 2 - 1) * 1000) / 1000));
}

/** A classifier whose logits are [x0, -x0]: class 0 iff temperature > 0; the other features have zero weight. */
const onlyFirst = buildMlpClassifier({
  weights: [Float32Array.from([1, -1, 0, 0, 0, 0, 0, 0])],
  biases: [Float32Array.from([0, 0])],
  metadata: { feature_names: JSON.stringify(NAMES) },
});

const jsonl = (xs: number[][], label?: (x: number[]) => number) =>
  xs.map((x) => JSON.stringify({ inputs: { features: x }, ...(label ? { label: label(x) } : {}) })).join('\n') + '\n';

describe('permutation importance at push', () => {
  it('gives a model that only reads feature 0 all of the importance, under the drift reference names', async () => {
    const validation = jsonl(rows(400, 7), (x) => (x[0]! > 0 ? 0 : 1));
    const prepared = await prepareModelPush(onlyFirst, { name: 'pump', version: '1.0.0', validation });
    const imp = prepared.lineage.importance!;
    expect(imp).toBeDefined();
    expect(imp.metric).toBe('accuracy');
    expect(imp.features.map((f) => f.name)).toEqual(NAMES.map((n) => 'features.' + n));
    expect(imp.features.map((f) => f.name)).toEqual(prepared.reference!.features.map((f) => f.name));
    expect(imp.features[0]!.share).toBeGreaterThan(0.99);
    // shuffling temperature flips about half the predictions; the others change nothing
    expect(imp.features[0]!.drop).toBeGreaterThan(0.3);
    for (const f of imp.features.slice(1)) expect(f.drop).toBe(0);
    expect(imp.features.reduce((s, f) => s + f.share, 0)).toBeCloseTo(1, 3);
    expect(imp.rows).toBe(400);
    expect(imp.repeats).toBe(IMPORTANCE_LIMITS.repeats);
    // it is part of the signed manifest's lineage and passes the protocol schema
    expect(Manifest.shape.lineage.parse(prepared.lineage).importance).toEqual(imp);
  });

  it('is stable: the same validation data gives the same importance', async () => {
    // a model that reads two features, so the shares depend on the shuffles
    const two = buildMlpClassifier({ weights: [Float32Array.from([1, -1, 0.5, -0.5, 0, 0, 0, 0])], biases: [Float32Array.from([0, 0])] });
    const validation = jsonl(rows(300, 11), (x) => (x[0]! + 0.5 * x[1]! > 0 ? 0 : 1));
    const a = await prepareModelPush(two, { name: 'pump', version: '1.0.0', validation });
    const b = await prepareModelPush(two, { name: 'pump', version: '1.0.0', validation });
    expect(a.lineage.importance).toEqual(b.lineage.importance);
    const [f0, f1] = a.lineage.importance!.features;
    expect(f0!.share).toBeGreaterThan(f1!.share);
    expect(f1!.share).toBeGreaterThan(0.05);
  });

  it('without labels measures the share of predictions a shuffle changes', async () => {
    const prepared = await prepareModelPush(onlyFirst, { name: 'pump', version: '1.0.0', validation: jsonl(rows(200, 3)) });
    const imp = prepared.lineage.importance!;
    expect(imp.metric).toBe('prediction-change');
    expect(imp.features[0]!.share).toBeGreaterThan(0.99);
  });

  it('for a regressor measures the squared change of its value', async () => {
    // y = 3 · humidity: a MatMul with weights [0, 3, 0, 0]
    const regressor = buildModel({
      inputs: [{ name: 'x', type: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'y', type: 'float32', shape: ['batch', 1] }],
      initializers: [{ name: 'w', type: 'float32', dims: [4, 1], data: Float32Array.from([0, 3, 0, 0]) }],
      nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
    });
    const validation = rows(200, 5).map((x) => JSON.stringify({ inputs: { x } })).join('\n');
    const prepared = await prepareModelPush(regressor, { name: 'flow', version: '1.0.0', validation });
    const imp = prepared.lineage.importance!;
    expect(imp.metric).toBe('squared-change');
    expect(imp.features.map((f) => f.name)).toEqual(['x[0]', 'x[1]', 'x[2]', 'x[3]']);
    expect(imp.features[1]!.share).toBeGreaterThan(0.99);
  });

  it('keeps rows × features × repeats within its bound', async () => {
    const xs = rows(2500, 9);
    const prepared = await prepareModelPush(onlyFirst, { name: 'pump', version: '1.0.0', validation: jsonl(xs, (x) => (x[0]! > 0 ? 0 : 1)) });
    const imp = prepared.lineage.importance!;
    expect(imp.rows).toBe(IMPORTANCE_LIMITS.rows);
    expect(imp.rows * imp.features.length * imp.repeats).toBeLessThanOrEqual(IMPORTANCE_LIMITS.evaluations);
  });
});
