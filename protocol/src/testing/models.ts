// Small real ONNX models for tests, built with protocol's own builder (no Python, no fixtures on disk), from
// seeded weights so a failure reproduces. Shared by the Node agent's and the browser agent's tests.

import { buildMlpClassifier, buildModel } from '../onnx/index.js';
import { createRng } from './random.js';

/** `n` deterministic floats, uniform in [-scale, scale) (mulberry32 from `seed`). */
export function seededFloats(n: number, seed: number, scale = 1): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng() * 2 - 1) * scale;
  return out;
}

export interface SeededClassifierSpec {
  /** Seed of the first weight matrix; the other tensors take the next seeds. */
  seed: number;
  /** Input width (default 4). */
  features?: number;
  /** Classes (default 3). */
  classes?: number;
  /** Width of one hidden relu layer; 0 (default) is softmax regression. It sets the file's size: ~4·hidden·(features + classes + 1) bytes. */
  hidden?: number;
  /** Weights and biases in [-scale, scale) (default 1). */
  scale?: number;
}

/** `features` [batch, F] float32 → `probabilities` [batch, C] and `label` [batch] int64, from seeded weights. */
export function seededClassifier(spec: SeededClassifierSpec): Uint8Array {
  const { seed, features = 4, classes = 3, hidden = 0, scale = 1 } = spec;
  if (hidden === 0) return buildMlpClassifier({ weights: [seededFloats(features * classes, seed, scale)], biases: [seededFloats(classes, seed + 1, scale)] });
  return buildMlpClassifier({
    weights: [seededFloats(features * hidden, seed, scale), seededFloats(hidden * classes, seed + 2, scale)],
    biases: [seededFloats(hidden, seed + 1, scale), seededFloats(classes, seed + 3, scale)],
  });
}

/**
 * Three inputs (FP32 [batch, 3], INT64 [batch], BOOL [batch]) and four outputs:
 * y = x·W [batch, 2], ids2 = ids·2 + 1 (INT64), picked = where(mask, Σx, -1) (FP32), nmask = ¬mask (BOOL).
 */
export function multiIoModel(): Uint8Array {
  return buildModel({
    inputs: [
      { name: 'x', type: 'float32', shape: ['batch', 3] },
      { name: 'ids', type: 'int64', shape: ['batch'] },
      { name: 'mask', type: 'bool', shape: ['batch'] },
    ],
    outputs: [
      { name: 'y', type: 'float32', shape: ['batch', 2] },
      { name: 'ids2', type: 'int64', shape: ['batch'] },
      { name: 'picked', type: 'float32', shape: ['batch'] },
      { name: 'nmask', type: 'bool', shape: ['batch'] },
    ],
    initializers: [
      { name: 'W', type: 'float32', dims: [3, 2], data: seededFloats(6, 1) },
      { name: 'two', type: 'int64', dims: [], data: [2n] },
      { name: 'one', type: 'int64', dims: [], data: [1n] },
      { name: 'axes', type: 'int64', dims: [1], data: [1n] },
      { name: 'minus1', type: 'float32', dims: [], data: [-1] },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] },
      { op: 'Mul', inputs: ['ids', 'two'], outputs: ['ids_x2'] },
      { op: 'Add', inputs: ['ids_x2', 'one'], outputs: ['ids2'] },
      { op: 'ReduceSum', inputs: ['x', 'axes'], outputs: ['sum'], attributes: { keepdims: 0 } },
      { op: 'Where', inputs: ['mask', 'sum', 'minus1'], outputs: ['picked'] },
      { op: 'Not', inputs: ['mask'], outputs: ['nmask'] },
    ],
  });
}
