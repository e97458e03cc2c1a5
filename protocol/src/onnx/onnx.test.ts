// The ONNX builder and reader against the real onnxruntime-node ("a model from the builder runs in
// onnxruntime-node with outputs equal to a hand computation").
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { EdgefleetError } from '../errors.js';
import { buildMlpClassifier, buildModel, readModelInfo, UNNAMED_DIM } from './index.js';
import { ModelProto } from './schema.js';

const sessions: ort.InferenceSession[] = [];
async function load(bytes: Uint8Array): Promise<ort.InferenceSession> {
  const session = await ort.InferenceSession.create(bytes);
  sessions.push(session);
  return session;
}
afterAll(async () => {
  for (const s of sessions) await s.release();
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof EdgefleetError ? err.code : `not an EdgefleetError: ${String(err)}`;
  }
  return undefined;
}

// Hidden layer weights [4, 5] (Gemm transB = 0) and output layer stored transposed [3, 5] (transB = 1).
const W1 = Float32Array.from([0.5, -0.2, 0.1, 0.3, -0.4, 0.25, 0.6, -0.5, 0.2, 0.1, -0.3, 0.4, 0.7, -0.1, 0.2, 0.05, -0.02, 0.03, 0.04, 0.01]);
const B1 = Float32Array.from([0.1, -0.1, 0.05, 0, 0.2]);
const W2T = Float32Array.from([0.3, -0.6, 0.2, 0.5, -0.1, -0.4, 0.2, 0.6, -0.3, 0.3, 0.1, 0.5, -0.2, 0.4, -0.5]);
const B2 = Float32Array.from([0.01, -0.02, 0.03]);
const MU = Float32Array.from([1, 2, 3]);
const SD = Float32Array.from([2, 4, 0.5]);

function demoModel(metadata: Record<string, string> = {}): Uint8Array {
  return buildModel({
    irVersion: 8,
    opset: 17,
    producer: 'edgefleet-test',
    metadata,
    inputs: [
      { name: 'x', type: 'float32', shape: ['batch', 3] },
      { name: 'count', type: 'int64', shape: ['batch', 1] },
      { name: 'mask', type: 'bool', shape: ['batch', 1] },
    ],
    outputs: [
      { name: 'probabilities', type: 'float32', shape: ['batch', 3] },
      { name: 'gated', type: 'float32', shape: ['batch', 3] },
      { name: 'label', type: 'int64', shape: ['batch'] },
      { name: 'xmean', type: 'float32', shape: ['batch', 1] },
    ],
    initializers: [
      { name: 'mu', type: 'float32', dims: [3], data: MU },
      { name: 'sd', type: 'float32', dims: [3], data: SD },
      { name: 'W1', type: 'float32', dims: [4, 5], data: W1 },
      { name: 'b1', type: 'float32', dims: [5], data: B1 },
      { name: 'W2T', type: 'float32', dims: [3, 5], data: W2T },
      { name: 'b2', type: 'float32', dims: [3], data: Array.from(B2) },
      { name: 'zero', type: 'float32', dims: [], data: [0] },
    ],
    nodes: [
      { op: 'Sub', inputs: ['x', 'mu'], outputs: ['xc'] },
      { op: 'Div', inputs: ['xc', 'sd'], outputs: ['xs'] },
      { op: 'Cast', inputs: ['count'], outputs: ['countf'], attributes: { to: 1 } },
      { op: 'Concat', inputs: ['xs', 'countf'], outputs: ['z0'], attributes: { axis: 1 } },
      { op: 'Gemm', inputs: ['z0', 'W1', 'b1'], outputs: ['z1'] },
      { op: 'Relu', inputs: ['z1'], outputs: ['h1'] },
      // alpha is a FLOAT attribute even though 2 is integral (FLOAT_ATTRIBUTE_NAMES)
      { op: 'Gemm', inputs: ['h1', 'W2T', 'b2'], outputs: ['logits'], attributes: { transB: 1, alpha: 2, beta: { float: 1 } } },
      { op: 'Softmax', inputs: ['logits'], outputs: ['probabilities'], attributes: { axis: 1 } },
      { op: 'Not', inputs: ['mask'], outputs: ['keep'] },
      { op: 'Where', inputs: ['keep', 'probabilities', 'zero'], outputs: ['gated'] },
      { op: 'ArgMax', inputs: ['logits'], outputs: ['label'], attributes: { axis: 1, keepdims: 0 } },
      { op: 'ReduceMean', inputs: ['x'], outputs: ['xmean'], attributes: { axes: [1], keepdims: 1 } },
    ],
  });
}

/** The same graph by hand, in float64. */
function handCompute(x: number[][], count: number[], mask: boolean[]) {
  return x.map((row, r) => {
    const z0 = [...row.map((v, i) => (v - (MU[i] as number)) / (SD[i] as number)), count[r] as number];
    const h1 = Array.from({ length: 5 }, (_, j) =>
      Math.max(0, z0.reduce((s, v, i) => s + v * (W1[i * 5 + j] as number), B1[j] as number)),
    );
    const logits = Array.from({ length: 3 }, (_, k) =>
      2 * h1.reduce((s, v, j) => s + v * (W2T[k * 5 + j] as number), 0) + (B2[k] as number),
    );
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const sum = e.reduce((a, b) => a + b, 0);
    const probabilities = e.map((v) => v / sum);
    return {
      probabilities,
      gated: mask[r] ? [0, 0, 0] : probabilities,
      label: logits.indexOf(m),
      xmean: row.reduce((a, b) => a + b, 0) / row.length,
    };
  });
}

describe('buildModel', () => {
  it('runs in onnxruntime-node with outputs equal to a hand computation', async () => {
    const session = await load(demoModel());
    expect(session.inputNames).toEqual(['x', 'count', 'mask']);
    expect(session.outputNames).toEqual(['probabilities', 'gated', 'label', 'xmean']);
    const x = [
      [1.5, -2, 3.25],
      [0, 0, 0],
      [10, 4, -1],
      [-3, 7, 2.5],
    ];
    const count = [3, 0, 7, 1];
    const mask = [false, true, false, true];
    const result = await session.run({
      x: new ort.Tensor('float32', Float32Array.from(x.flat()), [4, 3]),
      count: new ort.Tensor('int64', BigInt64Array.from(count.map(BigInt)), [4, 1]),
      mask: new ort.Tensor('bool', Uint8Array.from(mask.map(Number)), [4, 1]),
    });
    const expected = handCompute(x, count, mask);
    const probs = result['probabilities']!;
    expect(probs.dims).toEqual([4, 3]);
    expect(result['label']!.type).toBe('int64');
    expect(result['label']!.dims).toEqual([4]);
    expected.forEach((e, r) => {
      for (let k = 0; k < 3; k++) {
        expect((probs.data as Float32Array)[r * 3 + k]).toBeCloseTo(e.probabilities[k] as number, 5);
        expect((result['gated']!.data as Float32Array)[r * 3 + k]).toBeCloseTo(e.gated[k] as number, 5);
      }
      expect(Number((result['label']!.data as BigInt64Array)[r])).toBe(e.label);
      expect((result['xmean']!.data as Float32Array)[r]).toBeCloseTo(e.xmean, 5);
    });
    // the hand computation is not trivially uniform: labels differ across rows
    expect(new Set(expected.map((e) => e.label)).size).toBeGreaterThan(1);
  });

  it('accepts any batch size on the symbolic dimension', async () => {
    const session = await load(demoModel());
    for (const n of [1, 17]) {
      const out = await session.run({
        x: new ort.Tensor('float32', new Float32Array(n * 3).fill(1), [n, 3]),
        count: new ort.Tensor('int64', new BigInt64Array(n), [n, 1]),
        mask: new ort.Tensor('bool', new Uint8Array(n), [n, 1]),
      });
      expect(out['label']!.dims).toEqual([n]);
    }
  });

  it('refuses an initializer whose data does not fill its dims', () => {
    expect(
      codeOf(() =>
        buildModel({
          inputs: [{ name: 'x', type: 'float32', shape: [2] }],
          outputs: [{ name: 'y', type: 'float32', shape: [2] }],
          initializers: [{ name: 'c', type: 'float32', dims: [3], data: [1, 2] }],
          nodes: [{ op: 'Add', inputs: ['x', 'c'], outputs: ['y'] }],
        }),
      ),
    ).toBe('BAD_INPUT');
  });

  it('builds and loads a model with a 10 MB float initializer', async () => {
    const rows = 1024;
    const cols = 2560; // 1024 × 2560 × 4 B = 10.5 MB
    const w = new Float32Array(rows * cols);
    for (let i = 0; i < w.length; i++) w[i] = ((i * 7919) % 1000) / 1000 - 0.5;
    const started = performance.now();
    const bytes = buildModel({
      inputs: [{ name: 'x', type: 'float32', shape: ['batch', rows] }],
      outputs: [{ name: 'y', type: 'float32', shape: ['batch', cols] }],
      initializers: [{ name: 'W', type: 'float32', dims: [rows, cols], data: w }],
      nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] }],
    });
    const buildMs = performance.now() - started;
    console.log(`10 MB model: ${bytes.length} bytes built in ${buildMs.toFixed(1)} ms`);
    expect(bytes.length).toBeGreaterThanOrEqual(10 * 1024 * 1024);
    const session = await load(bytes);
    const x = new Float32Array(rows);
    x[3] = 1;
    x[1000] = -2;
    const out = await session.run({ x: new ort.Tensor('float32', x, [1, rows]) });
    const y = out['y']!.data as Float32Array;
    for (const c of [0, 1, 2559]) {
      expect(y[c]).toBeCloseTo((w[3 * cols + c] as number) - 2 * (w[1000 * cols + c] as number), 5);
    }
    expect(readModelInfo(bytes).inputs).toEqual([{ name: 'x', type: 'float32', shape: ['batch', rows] }]);
  });
});

describe('buildMlpClassifier', () => {
  it('gives Softmax probabilities and an int64 ArgMax label with a symbolic batch', async () => {
    // 2 features → 3 hidden (relu) → 2 classes
    const bytes = buildMlpClassifier({
      weights: [Float32Array.from([1, -1, 0.5, 0.5, 1, -1]), Float32Array.from([1, -1, 2, 0, -1, 1])],
      biases: [Float32Array.from([0, 0.1, -0.1]), Float32Array.from([0.2, -0.2])],
      metadata: { labels: '["a","b"]' },
    });
    const info = readModelInfo(bytes);
    expect(info.inputs).toEqual([{ name: 'features', type: 'float32', shape: ['batch', 2] }]);
    expect(info.outputs).toEqual([
      { name: 'probabilities', type: 'float32', shape: ['batch', 2] },
      { name: 'label', type: 'int64', shape: ['batch'] },
    ]);
    const session = await load(bytes);
    const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from([1, 2, -1, 0]), [2, 2]) });
    // row 0: h = relu([1+1, -1+2+0.1, 0.5-2-0.1]) = [2, 1.1, 0]; logits = [2+2.2+0.2, -2-0.2] = [4.4, -2.2]
    // row 1: h = relu([-1, 1.1, -0.6]) = [0, 1.1, 0]; logits = [2.2+0.2, 0-0.2] = [2.4, -0.2]
    const p = out['probabilities']!.data as Float32Array;
    expect(p[0]).toBeCloseTo(1 / (1 + Math.exp(-6.6)), 5);
    expect(p[2]).toBeCloseTo(1 / (1 + Math.exp(-2.6)), 5);
    expect(Array.from(out['label']!.data as BigInt64Array, Number)).toEqual([0, 0]);
  });

  it('refuses layers whose sizes do not chain', () => {
    expect(
      codeOf(() =>
        buildMlpClassifier({
          weights: [new Float32Array(6), new Float32Array(4)],
          biases: [new Float32Array(3), new Float32Array(2)],
        }),
      ),
    ).toBe('BAD_INPUT');
  });
});

describe('readModelInfo', () => {
  it('returns the IR version, opsets, producer, metadata and symbolic dims the model was built with', () => {
    const info = readModelInfo(
      buildModel({
        irVersion: 9,
        opset: { '': 18, 'ai.onnx.ml': 3 },
        producer: 'edgefleet-test',
        metadata: { labels: '["normal","imbalance"]', 'training.run': 'r-42' },
        inputs: [
          { name: 'x', type: 'float32', shape: ['batch', 'seq', 4] },
          { name: 'w', type: 'float32', shape: [4] },
        ],
        outputs: [{ name: 'y', type: 'float32', shape: ['batch', 'seq', 4] }],
        // `w` has a default value: an initializer that is also a graph input is not a required feed
        initializers: [{ name: 'w', type: 'float32', dims: [4], data: [1, 2, 3, 4] }],
        nodes: [{ op: 'Mul', inputs: ['x', 'w'], outputs: ['y'] }],
      }),
    );
    expect(info).toEqual({
      irVersion: 9,
      opsets: { '': 18, 'ai.onnx.ml': 3 },
      producer: 'edgefleet-test',
      producerVersion: '',
      metadata: { labels: '["normal","imbalance"]', 'training.run': 'r-42' },
      inputs: [{ name: 'x', type: 'float32', shape: ['batch', 'seq', 4] }],
      outputs: [{ name: 'y', type: 'float32', shape: ['batch', 'seq', 4] }],
    });
  });

  it('reads a dim with neither dim_value nor dim_param (or an empty dim_param) as unnamed, not as 0', async () => {
    const bytes = buildModel({
      inputs: [{ name: 'x', type: 'float32', shape: [UNNAMED_DIM, UNNAMED_DIM] }],
      outputs: [{ name: 'y', type: 'float32', shape: [UNNAMED_DIM, UNNAMED_DIM] }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    });
    const dims = (ModelProto.decode(bytes) as any).graph.input[0].type.tensorType.shape.dim;
    expect(dims.map((d: object) => Object.keys(d))).toEqual([[], []]); // on the wire: neither field
    expect(readModelInfo(bytes).inputs).toEqual([{ name: 'x', type: 'float32', shape: [UNNAMED_DIM, UNNAMED_DIM] }]);
    expect((await load(bytes)).inputMetadata[0]).toMatchObject({ shape: ['', ''] }); // onnxruntime's spelling
    // an explicit empty dim_param, and an explicit dim_value 0 (a real 0-sized dim), as other writers do
    const explicit = ModelProto.decode(bytes) as any;
    explicit.graph.input[0].type.tensorType.shape.dim = [{ dimParam: '' }, { dimValue: 0 }];
    expect(readModelInfo(ModelProto.encode(explicit).finish()).inputs[0]!.shape).toEqual([UNNAMED_DIM, 0]);
  });

  it('reads int64 and bool IO of the demo model', () => {
    const info = readModelInfo(demoModel({ k: 'v' }));
    expect(info.inputs.map((i) => i.type)).toEqual(['float32', 'int64', 'bool']);
    expect(info.outputs.map((o) => o.type)).toEqual(['float32', 'float32', 'int64', 'float32']);
    expect(info.metadata).toEqual({ k: 'v' });
  });

  it('refuses truncated files with NOT_ONNX', () => {
    const bytes = demoModel();
    for (const cut of [1, 10, Math.floor(bytes.length / 2), bytes.length - 30]) {
      expect(codeOf(() => readModelInfo(bytes.subarray(0, cut)))).toBe('NOT_ONNX');
    }
  });

  it('refuses bytes that are not ONNX with NOT_ONNX', () => {
    const enc = new TextEncoder();
    expect(codeOf(() => readModelInfo(new Uint8Array()))).toBe('NOT_ONNX');
    expect(codeOf(() => readModelInfo(enc.encode('{"model": "not onnx"}')))).toBe('NOT_ONNX');
    expect(codeOf(() => readModelInfo(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))).toBe('NOT_ONNX');
  });

  it('refuses unsupported IR versions and a missing graph with INVALID_MODEL', () => {
    const model = (irVersion: number) =>
      buildModel({
        irVersion,
        inputs: [{ name: 'x', type: 'float32', shape: [1] }],
        outputs: [{ name: 'y', type: 'float32', shape: [1] }],
        nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
      });
    expect(codeOf(() => readModelInfo(model(2)))).toBe('INVALID_MODEL');
    expect(codeOf(() => readModelInfo(model(14)))).toBe('INVALID_MODEL');
    expect(codeOf(() => readModelInfo(model(3)))).toBeUndefined();
    const noGraph = ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }] }).finish();
    expect(codeOf(() => readModelInfo(noGraph))).toBe('INVALID_MODEL');
  });
});
