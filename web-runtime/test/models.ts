// Small ONNX models for the web runtime's tests, built with protocol's own builder (no Python here).

import { buildMlpClassifier, buildModel } from '@edgefleet/protocol/onnx';
import { createRng } from '@edgefleet/protocol/testing';

/** Deterministic weights (mulberry32) so failures reproduce. */
export function seededFloats(n: number, seed: number, scale = 1): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng() * 2 - 1) * scale;
  return out;
}

/** A tiny MLP classifier: features [batch, 4] → 8 hidden (relu) → probabilities [batch, 3] and label [batch] (INT64). */
export function mlpClassifier(): Uint8Array {
  return buildMlpClassifier({
    weights: [seededFloats(32, 11), seededFloats(24, 13)],
    biases: [seededFloats(8, 12, 0.1), seededFloats(3, 14, 0.1)],
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

/** Doubles an INT32 and a UINT8 tensor with an unnamed dynamic dim (spelled '?' in specs). */
export function unnamedDimModel(): Uint8Array {
  return buildModel({
    inputs: [
      { name: 'i32', type: 'int32', shape: [2, '?'] },
      { name: 'u8', type: 'uint8', shape: [2, '?'] },
    ],
    outputs: [
      { name: 'i32_out', type: 'int32', shape: [2, '?'] },
      { name: 'u8_out', type: 'uint8', shape: [2, '?'] },
    ],
    nodes: [
      { op: 'Add', inputs: ['i32', 'i32'], outputs: ['i32_out'] },
      { op: 'Add', inputs: ['u8', 'u8'], outputs: ['u8_out'] },
    ],
  });
}
