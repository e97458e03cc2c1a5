// Tensors ⇄ TensorData, the JSON form a manifest's self-test carries (design §3), and the tolerance check
// an agent runs a self-test's outputs through before activating a model (design §5).

import { EdgefleetError } from '../errors.js';
import type { TensorData, TensorSpec } from '../schemas/manifest.js';
import { elementCount } from './elements.js';
import { formatShape, isFloatType, type Tensor } from './tensor.js';
import { encodeValues, jsonValues, oipValues } from './values.js';

/** A manifest tensor (self-test input, etc.) as a runtime tensor; throws BAD_INPUT if it is inconsistent. */
export function tensorFromData(td: TensorData): Tensor {
  const count = elementCount(td.shape);
  if (td.data.length !== count) {
    throw new EdgefleetError(
      'BAD_INPUT',
      `tensor '${td.name}' has ${td.data.length} values but shape ${formatShape(td.shape)} needs ${count}`,
    );
  }
  return { type: td.type, dims: td.shape.slice(), data: oipValues(`tensor '${td.name}'`, td.type, td.data) };
}

/** A tensor's JSON values as OIP answers them (int64 per element: a number when safe, else a decimal string). */
export function tensorToData(name: string, tensor: Tensor): TensorData {
  return { name, type: tensor.type, shape: tensor.dims.slice(), data: jsonValues(tensor) as TensorData['data'] };
}

/**
 * A tensor as a manifest records it (model push, design §3 selfTest): as tensorToData, except int64/uint64
 * are numbers when every value is a safe integer, else all decimal strings (the schema wants one element
 * kind per array).
 */
export function manifestTensorData(name: string, tensor: Tensor): TensorData {
  const td = tensorToData(name, tensor);
  if ((tensor.type === 'int64' || tensor.type === 'uint64') && td.data.some((v) => typeof v === 'string')) {
    td.data = td.data.map(String);
  }
  return td;
}

export interface Tolerance {
  abs: number;
  rel: number;
}

/**
 * Why `actual` is not within tolerance of `expected`, or null when it is. Numbers match when
 * |e − a| ≤ abs + rel·|e| (NaN matches NaN, infinities match themselves); strings match exactly.
 */
export function tensorMismatch(expected: TensorData, actual: Tensor, tol: Tolerance): string | null {
  if (expected.type !== actual.type) return `'${expected.name}' type ${actual.type}, expected ${expected.type}`;
  if (expected.shape.length !== actual.dims.length || expected.shape.some((d, i) => d !== actual.dims[i])) {
    return `'${expected.name}' shape ${formatShape(actual.dims)}, expected ${formatShape(expected.shape)}`;
  }
  const got = jsonValues(actual);
  if (got.length !== expected.data.length) {
    return `'${expected.name}' has ${got.length} values, expected ${expected.data.length}`;
  }
  for (let i = 0; i < got.length; i++) {
    const e = expected.data[i];
    const a = got[i];
    if (e === a) continue;
    if (typeof a === 'string' || typeof e === 'string') {
      // BYTES, or 64-bit integers beyond 2^53: exact comparison only
      return `'${expected.name}'[${i}] = ${JSON.stringify(a)}, expected ${JSON.stringify(e)}`;
    }
    const en = Number(e);
    const an = Number(a);
    if (Number.isNaN(en) && Number.isNaN(an)) continue;
    if (en === an) continue;
    if (!(Math.abs(en - an) <= tol.abs + tol.rel * Math.abs(en))) {
      return `'${expected.name}'[${i}] = ${String(a)}, expected ${String(e)} (abs ${tol.abs}, rel ${tol.rel})`;
    }
  }
  return null;
}

export function tensorsClose(expected: TensorData, actual: Tensor, tol: Tolerance): boolean {
  return tensorMismatch(expected, actual, tol) === null;
}

/**
 * Inputs for a self-test when the operator gave neither a sample nor validation rows. Symbolic dims
 * become 1; floats get small deterministic values in [-0.5, 0.5] (sin of the index, so not all equal);
 * integers are zeros, bools false, strings empty. Models that only accept certain values reject these,
 * and the caller then asks for `--sample`.
 */
export function synthesizeInput(spec: TensorSpec): Tensor {
  const dims = spec.shape.map((d) => (typeof d === 'number' ? d : 1));
  const n = elementCount(dims);
  const values: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) {
    if (isFloatType(spec.type)) values[i] = Math.round(Math.sin(i + 1) * 500) / 1000;
    else if (spec.type === 'bool') values[i] = false;
    else if (spec.type === 'string') values[i] = '';
    else values[i] = 0;
  }
  return { type: spec.type, dims, data: encodeValues(spec.type, values, `synthesized input "${spec.name}"`) };
}
