// ONNX models for the local API tests, built with the project's own tooling (`buildModel`), and a
// bare onnxruntime-node runner to compare against (models the browser agent's tests share are in @edgefleet/protocol/testing).

import * as ort from 'onnxruntime-node';
import { buildModel } from '@edgefleet/protocol/onnx';
import { seededFloats } from '@edgefleet/protocol/testing';

/** Pass-through of FP64, INT32, INT8 and UINT8 (each doubled) with a fixed leading dim. */
export function typesModel(): Uint8Array {
  const kinds = [
    ['f64', 'float64'],
    ['i32', 'int32'],
    ['i8', 'int8'],
    ['u8', 'uint8'],
  ] as const;
  return buildModel({
    inputs: kinds.map(([name, type]) => ({ name, type, shape: [2, 'n'] })),
    outputs: kinds.map(([name, type]) => ({ name: `${name}_out`, type, shape: [2, 'n'] })),
    nodes: kinds.map(([name]) => ({ op: 'Add', inputs: [name, name], outputs: [`${name}_out`] })),
  });
}

export const RNN_INPUT = 4;
export const RNN_HIDDEN = 8;

/** One recurrent step: h' = tanh(x·W + h·U + b), y = h'·V. State `h` is an input and `h_next` an output. */
export function recurrentModel(): Uint8Array {
  return buildModel({
    inputs: [
      { name: 'x', type: 'float32', shape: ['batch', RNN_INPUT] },
      { name: 'h', type: 'float32', shape: ['batch', RNN_HIDDEN] },
    ],
    outputs: [
      { name: 'h_next', type: 'float32', shape: ['batch', RNN_HIDDEN] },
      { name: 'y', type: 'float32', shape: ['batch', 2] },
    ],
    initializers: [
      { name: 'W', type: 'float32', dims: [RNN_INPUT, RNN_HIDDEN], data: seededFloats(RNN_INPUT * RNN_HIDDEN, 2, 0.8) },
      { name: 'U', type: 'float32', dims: [RNN_HIDDEN, RNN_HIDDEN], data: seededFloats(RNN_HIDDEN * RNN_HIDDEN, 3, 0.5) },
      { name: 'b', type: 'float32', dims: [RNN_HIDDEN], data: seededFloats(RNN_HIDDEN, 4, 0.1) },
      { name: 'V', type: 'float32', dims: [RNN_HIDDEN, 2], data: seededFloats(RNN_HIDDEN * 2, 5) },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] },
      { op: 'MatMul', inputs: ['h', 'U'], outputs: ['hu'] },
      { op: 'Add', inputs: ['xw', 'hu'], outputs: ['s'] },
      { op: 'Add', inputs: ['s', 'b'], outputs: ['pre'] },
      { op: 'Tanh', inputs: ['pre'], outputs: ['h_next'] },
      { op: 'MatMul', inputs: ['h_next', 'V'], outputs: ['y'] },
    ],
  });
}

export const LARGE_IN = 1024;
export const LARGE_OUT = 2600;

/** A dense layer whose weights make the file ≥ 10 MB: x [batch, 1024] → relu(x·W + b) [batch, 2600]. */
export function largeModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', LARGE_IN] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', LARGE_OUT] }],
    initializers: [
      { name: 'W', type: 'float32', dims: [LARGE_IN, LARGE_OUT], data: seededFloats(LARGE_IN * LARGE_OUT, 6, 0.05) },
      { name: 'b', type: 'float32', dims: [LARGE_OUT], data: seededFloats(LARGE_OUT, 7, 0.1) },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] },
      { op: 'Add', inputs: ['xw', 'b'], outputs: ['z'] },
      { op: 'Relu', inputs: ['z'], outputs: ['y'] },
    ],
  });
}

/** Bare onnxruntime-node on the same bytes: the reference the API's answers must equal. */
export async function createBareSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes);
}

/** An ort tensor's values as JSON would carry them (int64 → number, bool → boolean). */
export function plainValues(t: ort.Tensor): (number | boolean | string)[] {
  switch (t.type) {
    case 'int64':
    case 'uint64':
      return Array.from(t.data as BigInt64Array, (v) => Number(v));
    case 'bool':
      return Array.from(t.data as Uint8Array, (v) => v !== 0);
    case 'string':
      return (t.data as string[]).slice();
    default:
      return Array.from(t.data as Float32Array);
  }
}

export { ort };
