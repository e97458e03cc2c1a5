// Model push preparation against the real onnxruntime-node, with models from the protocol's builder and
// a classifier genuinely trained by scripts/lib/train.ts (design §3 manifest fields, §7 model push).
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgefleetError, Manifest, sha256Hex, utf8Encode, type TensorData } from '@edgefleet/protocol';
import { buildModel } from '@edgefleet/protocol/onnx';
import { prepareModelPush, type PushOptions } from '../src/models/index.js';
import {
  accuracy,
  exportClassifierOnnx,
  generateVibrationDataset,
  mulberry32,
  sliceRows,
  toInferRequest,
  toValidationJsonl,
  trainLogisticRegression,
  VIBRATION_FEATURES,
  VIBRATION_LABELS,
  type Dataset,
} from '../../scripts/lib/train.js';

const base: PushOptions = { name: 'vibration', version: '1.0.0' };

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof EdgefleetError) return { code: err.code, message: err.message };
    return { code: 'not an EdgefleetError', message: String(err) };
  }
  return { code: 'resolved', message: '' };
}

/** JSONL validation text: rows as flat arrays, labels alternating between names and indices. */
function validationJsonl(ds: Dataset): string {
  const lines: string[] = [];
  for (let r = 0; r < ds.X.rows; r++) {
    const row = Array.from(ds.X.data.subarray(r * ds.X.cols, (r + 1) * ds.X.cols));
    const label = r % 2 === 0 ? ds.labels[ds.y[r]!]! : ds.y[r]!;
    lines.push(JSON.stringify({ inputs: { features: row }, label }));
  }
  return lines.join('\n') + '\n';
}

/** Run a model on manifest TensorData inputs in a fresh session and return its outputs. */
async function runOrt(bytes: Uint8Array, inputs: TensorData[]): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) {
      const data =
        t.type === 'float32'
          ? Float32Array.from(t.data as number[])
          : t.type === 'int64'
            ? BigInt64Array.from((t.data as number[]).map((v) => BigInt(v)))
            : Uint8Array.from(t.data as boolean[], (b) => (b ? 1 : 0));
      feeds[t.name] = new ort.Tensor(t.type as 'float32', data as Float32Array, t.shape);
    }
    return (await session.run(feeds)) as Record<string, ort.Tensor>;
  } finally {
    await session.release();
  }
}

describe('prepareModelPush with a trained classifier', () => {
  let model: Uint8Array;
  let validation: string;
  let tsAccuracy: number;

  beforeAll(() => {
    const data = generateVibrationDataset({ n: 1400, seed: 7 });
    const train = sliceRows(data, 0, 1000);
    const held = sliceRows(data, 1000, 1400);
    const classifier = trainLogisticRegression(train.X, train.y, { classes: 3, epochs: 200 });
    tsAccuracy = accuracy(classifier, held.X, held.y);
    model = exportClassifierOnnx(classifier, { labels: VIBRATION_LABELS, featureNames: VIBRATION_FEATURES });
    validation = validationJsonl(held);
  });

  it('measures the accuracy the trainer computes and derives a 6-feature reference from the validation rows', async () => {
    const prepared = await prepareModelPush(model, { ...base, validation, dataset: 'vibration-2026-11', run: 'run-42', commit: 'abc123' });

    expect(tsAccuracy).toBeGreaterThan(0.6);
    // float32 onnxruntime vs float64 TypeScript may flip a near-tie row, no more
    expect(Math.abs(prepared.metrics.accuracy! - tsAccuracy)).toBeLessThanOrEqual(2 / 400);
    expect(prepared.metrics.rows).toBe(400);
    expect(prepared.metrics.latencyMsP95).toBeGreaterThanOrEqual(prepared.metrics.latencyMsP50!);

    const reference = prepared.reference!;
    expect(reference.n).toBe(400);
    expect(reference.features.map((f) => f.name)).toEqual(VIBRATION_FEATURES.map((f) => `features.${f}`));
    for (const [j, f] of reference.features.entries()) {
      expect(f.source).toEqual({ input: 'features', index: j });
      expect(f.edges).toHaveLength(9); // decile edges of continuous data
      expect(f.counts).toHaveLength(10); // under/overflow included
      expect(f.counts.reduce((a, b) => a + b, 0)).toBe(400);
    }
    expect(reference.output).toMatchObject({ kind: 'classifier', output: 'probabilities', indices: false });
    const classCounts = reference.output!.kind === 'classifier' ? reference.output!.classCounts : [];
    expect(classCounts).toHaveLength(3);
    expect(classCounts.reduce((a, b) => a + b, 0)).toBe(400);

    expect(prepared.labels).toEqual([...VIBRATION_LABELS]);
    expect(prepared.io).toEqual({
      inputs: [{ name: 'features', type: 'float32', shape: ['batch', 6] }],
      outputs: [
        { name: 'probabilities', type: 'float32', shape: ['batch', 3] },
        { name: 'label', type: 'int64', shape: ['batch'] },
      ],
    });
    expect(prepared.sha256).toBe(sha256Hex(model));
    expect(prepared.size).toBe(model.length);
    expect(prepared.lineage).toEqual({
      dataset: { id: 'vibration-2026-11', sha256: sha256Hex(utf8Encode(validation)) },
      run: 'run-42',
      commit: 'abc123',
      metrics: prepared.metrics,
      importance: prepared.lineage.importance,
    });
    // the trained classifier's permutation importance, over the reference's features (importance.test.ts)
    expect(prepared.lineage.importance!.features.map((f) => f.name)).toEqual(reference.features.map((f) => f.name));
    expect(prepared.compat).toEqual({ runtimes: ['onnxruntime'], irVersion: 8, opsets: { '': 17 } });
    // the self-test comes from the first validation rows
    expect(prepared.selfTest.inputs[0]!.shape).toEqual([4, 6]);

    // everything fits the manifest schema the agents verify against
    const manifest = Manifest.safeParse({
      kind: 'model-manifest',
      model: base.name,
      version: base.version,
      release: 1,
      createdAt: new Date().toISOString(),
      artifact: { sha256: prepared.sha256, size: prepared.size, chunkSize: 65536, format: 'onnx' },
      io: prepared.io,
      selfTest: prepared.selfTest,
      reference: prepared.reference,
      labels: prepared.labels,
      lineage: prepared.lineage,
      compat: prepared.compat,
    });
    expect(manifest.success).toBe(true);
  });

  it('refuses a model below --min-accuracy with VALIDATION_FAILED and the numbers', async () => {
    const { code, message } = await codeOf(prepareModelPush(model, { ...base, validation, minAccuracy: 0.99 }));
    expect(code).toBe('VALIDATION_FAILED');
    expect(message).toMatch(/accuracy 0\.\d{4} \(\d+\/400 labelled rows\) is below the required 0\.99/);
  });

  it('accepts the model at a threshold it meets', async () => {
    const prepared = await prepareModelPush(model, { ...base, validation, minAccuracy: 0.5 });
    expect(prepared.metrics.accuracy).toBeGreaterThan(0.5);
  });

  it('records self-test outputs equal to what onnxruntime returns for the same inputs', async () => {
    const prepared = await prepareModelPush(model, base); // synthesized inputs
    expect(prepared.selfTest.inputs[0]!.shape).toEqual([1, 6]);
    expect(prepared.selfTest.tolerance).toEqual({ abs: 1e-4, rel: 1e-3 });
    const outputs = await runOrt(model, prepared.selfTest.inputs);
    expect(prepared.selfTest.outputs).toEqual([
      { name: 'probabilities', type: 'float32', shape: [1, 3], data: Array.from(outputs.probabilities!.data as Float32Array) },
      { name: 'label', type: 'int64', shape: [1], data: Array.from(outputs.label!.data as BigInt64Array, Number) },
    ]);
    expect(prepared.reference).toBeUndefined();
    expect(prepared.metrics).toEqual({});
  });

  it('refuses malformed validation lines with BAD_INPUT naming the line', async () => {
    const lines = validation.split('\n');
    lines[2] = '{"inputs": {"features": [1, 2, 3]}, "label": 0}';
    const short = await codeOf(prepareModelPush(model, { ...base, validation: lines.join('\n') }));
    expect(short.code).toBe('BAD_INPUT');
    expect(short.message).toMatch(/line 3/);

    lines[2] = '{"inputs": {"features": [1, 2, 3, 4, 5, 6]}, "label": "no-such-class"}';
    const unknown = await codeOf(prepareModelPush(model, { ...base, validation: lines.join('\n') }));
    expect(unknown).toMatchObject({ code: 'BAD_INPUT' });
    expect(unknown.message).toMatch(/line 3: unknown label "no-such-class"/);

    lines[2] = 'not json';
    expect((await codeOf(prepareModelPush(model, { ...base, validation: lines.join('\n') }))).message).toMatch(/line 3: not JSON/);
  });

  it('takes an operator reference as given and refuses an invalid one', async () => {
    const reference = {
      n: 10,
      features: [{ name: 'rms', source: { input: 'features', index: 0 }, edges: [1, 2], counts: [3, 4, 3], mean: 1.5, std: 0.5 }],
    };
    const prepared = await prepareModelPush(model, { ...base, validation, reference: JSON.stringify(reference) });
    expect(prepared.reference).toEqual(reference);
    const bad = await codeOf(prepareModelPush(model, { ...base, reference: { n: 10, features: [{ name: 'x' }] } }));
    expect(bad.code).toBe('BAD_INPUT');
    const wrongInput = await codeOf(
      prepareModelPush(model, { ...base, reference: { ...reference, features: [{ ...reference.features[0], source: { input: 'nope', index: 0 } }] } }),
    );
    expect(wrongInput).toMatchObject({ code: 'BAD_INPUT' });
  });

  it('accepts the validation JSONL and sample request that scripts/lib writes, and bytes at an offset', async () => {
    const held = sliceRows(generateVibrationDataset({ n: 50, seed: 11 }), 0, 50);
    const padded = new Uint8Array(model.length + 13);
    padded.set(model, 13);
    const prepared = await prepareModelPush(padded.subarray(13), {
      ...base,
      validation: toValidationJsonl(held),
      sample: toInferRequest(held, { count: 2, id: 'r1' }),
    });
    expect(prepared.sha256).toBe(sha256Hex(model));
    expect(prepared.metrics.rows).toBe(50);
    expect(prepared.selfTest.inputs[0]!.shape).toEqual([2, 6]);
    expect(prepared.selfTest.inputs[0]!.data).toEqual(Array.from(held.X.data.subarray(0, 12)));
  });

  it('refuses labels whose count differs from the class count', async () => {
    const { code, message } = await codeOf(prepareModelPush(model, { ...base, labels: ['a', 'b'] }));
    expect(code).toBe('BAD_INPUT');
    expect(message).toMatch(/2 labels .* 3 classes/);
  });
});

describe('prepareModelPush refusals', () => {
  const identity = buildModel({
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', 2] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', 2] }],
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
  });

  it('refuses a truncated file with NOT_ONNX', async () => {
    expect((await codeOf(prepareModelPush(identity.subarray(0, identity.length - 7), base))).code).toBe('NOT_ONNX');
  });

  it('refuses random bytes with NOT_ONNX', async () => {
    const rng = mulberry32(3);
    const bytes = Uint8Array.from({ length: 4096 }, () => Math.floor(rng() * 256));
    expect((await codeOf(prepareModelPush(bytes, base))).code).toBe('NOT_ONNX');
  });

  it('refuses a model onnxruntime cannot load with MODEL_LOAD_FAILED', async () => {
    const unknownOp = buildModel({
      inputs: [{ name: 'x', type: 'float32', shape: ['batch', 2] }],
      outputs: [{ name: 'y', type: 'float32', shape: ['batch', 2] }],
      nodes: [{ op: 'NoSuchOperator', inputs: ['x'], outputs: ['y'] }],
    });
    const { code, message } = await codeOf(prepareModelPush(unknownOp, base));
    expect(code).toBe('MODEL_LOAD_FAILED');
    expect(message).toMatch(/NoSuchOperator/);
  });

  it('refuses a sample that does not fit the model with BAD_INPUT', async () => {
    const wrongType = { inputs: [{ name: 'x', shape: [1, 2], datatype: 'INT64', data: [1, 2] }] };
    expect(await codeOf(prepareModelPush(identity, { ...base, sample: wrongType }))).toMatchObject({ code: 'BAD_INPUT' });
    const wrongCount = { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2, 3] }] };
    expect(await codeOf(prepareModelPush(identity, { ...base, sample: wrongCount }))).toMatchObject({ code: 'BAD_INPUT' });
    expect(await codeOf(prepareModelPush(identity, { ...base, sample: '{"inputs": 5}' }))).toMatchObject({ code: 'BAD_INPUT' });
    expect(await codeOf(prepareModelPush(identity, { ...base, sample: 'not json' }))).toMatchObject({ code: 'BAD_INPUT' });
  });

  it('refuses sample values the datatype cannot hold (Infinity, FP32 overflow, null) with BAD_INPUT', async () => {
    // JSON.stringify cannot write these literals, so the samples are JSON text
    for (const data of ['[1e39, 0]', '[0, 1e999]', '[-1e39, 0]', '[null, 0]']) {
      const sample = `{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":${data}}]}`;
      expect(await codeOf(prepareModelPush(identity, { ...base, sample })), data).toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/element [01] is/) });
    }
    const atMax = '{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[3.4028234663852886e38, -1e-45]}]}';
    expect((await prepareModelPush(identity, { ...base, sample: atMax })).selfTest.outputs[0]!.data).toEqual([3.4028234663852886e38, -1.401298464324817e-45]);
  });
});

describe('prepareModelPush with a model that only accepts certain values', () => {
  // Reshape whose target shape is an int64 input: the synthesized zeros ask for a dim that does not exist
  const reshape = buildModel({
    inputs: [
      { name: 'x', type: 'float32', shape: [6] },
      { name: 'shape', type: 'int64', shape: [2] },
    ],
    outputs: [{ name: 'y', type: 'float32', shape: ['rows', 'cols'] }],
    nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
  });

  it('refuses synthesized inputs with BAD_INPUT saying to pass --sample', async () => {
    const { code, message } = await codeOf(prepareModelPush(reshape, base));
    expect(code).toBe('BAD_INPUT');
    expect(message).toMatch(/rejected synthesized inputs.*pass --sample FILE\.json/);
  });

  it('builds the self-test from a sample, with outputs equal to onnxruntime on the same inputs', async () => {
    const sample = {
      inputs: [
        { name: 'x', shape: [6], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6.5] },
        { name: 'shape', shape: [2], datatype: 'INT64', data: [3, 2] },
      ],
    };
    const prepared = await prepareModelPush(reshape, { ...base, sample: JSON.stringify(sample) });
    expect(prepared.io.outputs).toEqual([{ name: 'y', type: 'float32', shape: ['rows', 'cols'] }]);
    expect(prepared.selfTest.inputs).toEqual([
      { name: 'x', type: 'float32', shape: [6], data: [1, 2, 3, 4, 5, 6.5] },
      { name: 'shape', type: 'int64', shape: [2], data: [3, 2] },
    ]);
    const outputs = await runOrt(reshape, prepared.selfTest.inputs);
    expect(prepared.selfTest.outputs).toEqual([
      { name: 'y', type: 'float32', shape: [3, 2], data: Array.from(outputs.y!.data as Float32Array) },
    ]);
    expect(outputs.y!.dims).toEqual([3, 2]);
  });
});

describe('prepareModelPush with image-like inputs', () => {
  it('monitors per-channel means of a [batch, 3, 2, 2] input', async () => {
    const model = buildModel({
      inputs: [{ name: 'image', type: 'float32', shape: ['n', 3, 2, 2] }],
      outputs: [{ name: 'scores', type: 'float32', shape: ['n', 3] }],
      nodes: [{ op: 'ReduceMean', inputs: ['image'], outputs: ['scores'], attributes: { axes: [2, 3], keepdims: 0 } }],
    });
    const rows = Array.from({ length: 20 }, (_, r) => ({
      inputs: { image: [[[r, 1], [2, 3]], [[0, 0], [0, r % 3]], [[50, 50], [50, 50]]] },
      label: r % 3,
    }));
    const validation = rows.map((row) => JSON.stringify(row)).join('\n');
    const prepared = await prepareModelPush(model, { ...base, validation });
    expect(prepared.reference!.features.map((f) => [f.name, f.source])).toEqual([
      ['image.mean[0]', { input: 'image', reduce: 'mean', channel: 0 }],
      ['image.mean[1]', { input: 'image', reduce: 'mean', channel: 1 }],
      ['image.mean[2]', { input: 'image', reduce: 'mean', channel: 2 }],
    ]);
    // channel 2 is constant: one edge, all rows in its upper bin
    expect(prepared.reference!.features[2]).toMatchObject({ edges: [50], counts: [0, 20], mean: 50, std: 0 });
    // the argmax of channel means is always channel 2: accuracy is the share of label 2
    expect(prepared.metrics.accuracy).toBeCloseTo(6 / 20, 10);
    expect(prepared.reference!.output).toMatchObject({ kind: 'classifier', output: 'scores', classCounts: [0, 0, 20] });
  });
});

describe('prepareModelPush with a regressor whose batch axis is fixed at 1', () => {
  const model = buildModel({
    inputs: [{ name: 'x', type: 'float32', shape: [1, 3] }],
    outputs: [{ name: 'total', type: 'float32', shape: [1, 1] }],
    nodes: [{ op: 'ReduceSum', inputs: ['x', 'axes'], outputs: ['total'], attributes: { keepdims: 1 } }],
    initializers: [{ name: 'axes', type: 'int64', dims: [1], data: [1] }],
  });
  const validation = Array.from({ length: 30 }, (_, r) => JSON.stringify({ inputs: { x: [r, 1, 2] } })).join('\n');

  it('runs unlabelled rows one by one and derives a value-bin output reference', async () => {
    const prepared = await prepareModelPush(model, { ...base, validation });
    expect(prepared.metrics.rows).toBe(30);
    expect(prepared.metrics.accuracy).toBeUndefined();
    expect(prepared.selfTest.inputs[0]).toEqual({ name: 'x', type: 'float32', shape: [1, 3], data: [0, 1, 2] });
    expect(prepared.selfTest.outputs[0]).toEqual({ name: 'total', type: 'float32', shape: [1, 1], data: [3] });
    const output = prepared.reference!.output!;
    expect(output.kind).toBe('regressor');
    if (output.kind === 'regressor') {
      expect(output.output).toBe('total');
      expect(output.counts.reduce((a, b) => a + b, 0)).toBe(30);
    }
    expect(prepared.reference!.features.map((f) => f.name)).toEqual(['x[0]', 'x[1]', 'x[2]']);
  });

  it('refuses --min-accuracy when there is nothing to measure it on', async () => {
    expect(await codeOf(prepareModelPush(model, { ...base, validation, minAccuracy: 0.5 }))).toMatchObject({ code: 'BAD_INPUT' });
    expect(await codeOf(prepareModelPush(model, { ...base, minAccuracy: 0.5 }))).toMatchObject({ code: 'BAD_INPUT' });
  });
});
