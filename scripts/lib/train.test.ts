// The trainer end to end: generated data → trained classifiers → ONNX → onnxruntime-node gives the same answers.
import { readModelInfo } from '@edgefleet/protocol/onnx';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  accuracy,
  createNormal,
  exportClassifierOnnx,
  generateVibrationDataset,
  mulberry32,
  predict,
  predictLogits,
  predictProba,
  sliceRows,
  trainLogisticRegression,
  trainMlp,
  VIBRATION_FEATURE_SCALE,
  type Classifier,
  type Dataset,
} from './train.js';

const sessions: ort.InferenceSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});

const data = generateVibrationDataset({ n: 7000, seed: 42 });
const train = sliceRows(data, 0, 5000);
const test = sliceRows(data, 5000, 7000);

function columnMean(ds: Dataset, c: number): number {
  let sum = 0;
  for (let r = 0; r < ds.X.rows; r++) sum += ds.X.data[r * ds.X.cols + c]!;
  return sum / ds.X.rows;
}

describe('random', () => {
  it('mulberry32 repeats for a seed, differs across seeds and stays in [0, 1)', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const c = mulberry32(8);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.slice(0, 5)).not.toEqual(Array.from({ length: 5 }, () => c()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });

  it('the normal sampler has mean 0 and standard deviation 1', () => {
    const normal = createNormal(mulberry32(3));
    const n = 40_000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const v = normal();
      sum += v;
      sq += v * v;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.02);
    expect(Math.sqrt(sq / n - (sum / n) ** 2)).toBeCloseTo(1, 1);
  });
});

describe('generateVibrationDataset', () => {
  it('is reproducible from its seed and has all three classes', () => {
    const again = generateVibrationDataset({ n: 7000, seed: 42 });
    expect(again.X.data).toEqual(data.X.data);
    expect(again.y).toEqual(data.y);
    expect(data.X.cols).toBe(6);
    const counts = [0, 0, 0];
    for (const label of data.y) counts[label]!++;
    expect(counts[0]! / data.y.length).toBeCloseTo(0.5, 1);
    expect(Math.min(...counts)).toBeGreaterThan(1000);
  });

  it('shift moves a feature mean by shift × its scale', () => {
    const shifted = generateVibrationDataset({ n: 7000, seed: 42, shift: { temperature: 1 } });
    expect(columnMean(shifted, 5) - columnMean(data, 5)).toBeCloseTo(VIBRATION_FEATURE_SCALE.temperature, 3);
    expect(columnMean(shifted, 0)).toBeCloseTo(columnMean(data, 0), 6);
  });
});

async function onnxPredictions(model: Classifier, ds: Dataset) {
  const bytes = exportClassifierOnnx(model, { labels: ds.labels, featureNames: ds.featureNames });
  const session = await ort.InferenceSession.create(bytes);
  sessions.push(session);
  const out = await session.run({ features: new ort.Tensor('float32', ds.X.data, [ds.X.rows, ds.X.cols]) });
  return {
    bytes,
    probabilities: out['probabilities']!.data as Float32Array,
    labels: Array.from(out['label']!.data as BigInt64Array, Number),
  };
}

/** ONNX labels equal the TypeScript ones except where the top two logits tie within float32 rounding. */
function expectSamePredictions(model: Classifier, ds: Dataset, onnx: { probabilities: Float32Array; labels: number[] }) {
  const ts = predict(model, ds.X);
  const logits = predictLogits(model, ds.X);
  const proba = predictProba(model, ds.X);
  const k = model.classes;
  let compared = 0;
  for (let r = 0; r < ds.X.rows; r++) {
    const row = Array.from(logits.subarray(r * k, r * k + k)).sort((a, b) => b - a);
    if (row[0]! - row[1]! > 1e-4) {
      expect(onnx.labels[r], `row ${r}`).toBe(ts[r]);
      compared++;
    }
    for (let j = 0; j < k; j++) expect(Math.abs(onnx.probabilities[r * k + j]! - proba[r * k + j]!)).toBeLessThan(1e-4);
  }
  expect(compared).toBeGreaterThan(ds.X.rows * 0.99);
}

describe.each([
  ['softmax regression', () => trainLogisticRegression(train.X, train.y, { classes: 3 })],
  ['MLP', () => trainMlp(train.X, train.y, { classes: 3, hidden: 16, seed: 5 })],
] as const)('%s', (_name, fit) => {
  const model = fit();

  it('beats chance by a wide margin on held-out rows without being perfect', () => {
    const acc = accuracy(model, test.X, test.y);
    console.log(`${_name}: held-out accuracy ${acc.toFixed(3)}, train ${model.training.trainAccuracy.toFixed(3)}`);
    expect(acc).toBeGreaterThanOrEqual(0.75);
    expect(acc).toBeLessThan(0.99); // the classes overlap by design
  });

  it('exports ONNX that onnxruntime-node runs with the same predictions', async () => {
    const onnx = await onnxPredictions(model, test);
    expectSamePredictions(model, test, onnx);
    let correct = 0;
    onnx.labels.forEach((l, i) => (correct += l === test.y[i] ? 1 : 0));
    expect(correct / test.y.length).toBeGreaterThanOrEqual(0.75);
    const info = readModelInfo(onnx.bytes);
    expect(JSON.parse(info.metadata['labels']!)).toEqual(['normal', 'imbalance', 'bearing-fault']);
    expect(info.metadata['training.algorithm']).toBe(model.training.algorithm);
    expect(info.inputs).toEqual([{ name: 'features', type: 'float32', shape: ['batch', 6] }]);
    expect(info.outputs.map((o) => o.name)).toEqual(['probabilities', 'label']);
  });
});

describe('training', () => {
  it('folds standardization into the weights, so raw feature scale does not matter', () => {
    // the same data in different units (temperature in milli-degrees): accuracy is unchanged
    const scaled = Float32Array.from(train.X.data, (v, i) => (i % 6 === 5 ? v * 1000 : v));
    const scaledTest = Float32Array.from(test.X.data, (v, i) => (i % 6 === 5 ? v * 1000 : v));
    const a = trainLogisticRegression(train.X, train.y, { classes: 3, epochs: 150 });
    const b = trainLogisticRegression({ ...train.X, data: scaled }, train.y, { classes: 3, epochs: 150 });
    expect(accuracy(b, { ...test.X, data: scaledTest }, test.y)).toBeCloseTo(accuracy(a, test.X, test.y), 2);
  });

  it('refuses labels outside the class range', () => {
    const bad = Int32Array.from(train.y);
    bad[3] = 3;
    expect(() => trainLogisticRegression(train.X, bad, { classes: 3 })).toThrow(/label 3 at row 3/);
  });

  it('the MLP is reproducible from its seed', () => {
    const small = sliceRows(train, 0, 500);
    const a = trainMlp(small.X, small.y, { classes: 3, epochs: 5, seed: 9 });
    const b = trainMlp(small.X, small.y, { classes: 3, epochs: 5, seed: 9 });
    expect(a.layers[0]!.weights).toEqual(b.layers[0]!.weights);
  });
});

describe('dataset export', () => {
  it('writes validation JSONL rows and OIP requests from the generated features', async () => {
    const { toInferRequest, toValidationJsonl } = await import('./train.js');
    const few = sliceRows(test, 0, 3);
    const lines = toValidationJsonl(few).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0].inputs.features).toEqual(Array.from(few.X.data.subarray(0, 6)));
    expect(lines[0].label).toBe(few.labels[few.y[0]!]);
    const req = toInferRequest(few, { count: 2, id: 'r1' });
    expect(req).toMatchObject({ id: 'r1', inputs: [{ name: 'features', shape: [2, 6], datatype: 'FP32' }] });
    expect(req.inputs[0]!.data).toHaveLength(12);
  });
});
