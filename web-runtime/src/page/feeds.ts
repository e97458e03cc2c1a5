// The inference form's values → tensors: one text field per input, numbers separated by commas or spaces,
// the shape from the active manifest (a symbolic dim, -1, takes what the element count leaves for it).

import { EdgefleetError, elementTypeOf, TYPED_ARRAYS, type Tensor } from '@edgefleet/protocol';
import type { ModelInfo } from '../messages.js';

type Spec = ModelInfo['inputs'][number];

/** The dims of an input holding `count` elements; BAD_INPUT when they cannot fit its shape. */
export function dimsFor(spec: Spec, count: number): number[] {
  const known = spec.shape.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
  const free = spec.shape.filter((d) => d < 0).length;
  if (free === 0) {
    if (count !== known) throw new EdgefleetError('BAD_INPUT', `input '${spec.name}' needs ${known} values for shape [${spec.shape.join(', ')}], got ${count}`);
    return [...spec.shape];
  }
  if (known === 0 || count % known !== 0 || count === 0) throw new EdgefleetError('BAD_INPUT', `input '${spec.name}': ${count} values do not fill shape [${spec.shape.join(', ')}]`);
  // the first symbolic dim (the batch, usually) takes the rest; any other is 1
  let first = true;
  return spec.shape.map((d) => {
    if (d >= 0) return d;
    if (!first) return 1;
    first = false;
    return count / known;
  });
}

/** One tensor from the text of its field. */
export function tensorFromText(spec: Spec, text: string): Tensor {
  const type = elementTypeOf(spec.datatype);
  if (!type) throw new EdgefleetError('BAD_INPUT', `input '${spec.name}' has datatype ${spec.datatype}, which the form cannot enter`);
  const parts = text.split(/[\s,]+/).filter((s) => s !== '');
  const dims = dimsFor(spec, parts.length);
  if (type === 'string') return { type, dims, data: parts };
  if (type === 'float16') throw new EdgefleetError('BAD_INPUT', `input '${spec.name}' is float16, which the form cannot enter`);
  const bad = (i: number): never => {
    throw new EdgefleetError('BAD_INPUT', `input '${spec.name}' value ${i + 1} (${parts[i]}) is not a ${type}`);
  };
  if (type === 'int64' || type === 'uint64') {
    const data = new TYPED_ARRAYS[type](parts.length);
    parts.forEach((p, i) => {
      try {
        data[i] = BigInt(p);
      } catch {
        bad(i);
      }
    });
    return { type, dims, data };
  }
  const data = new TYPED_ARRAYS[type](parts.length);
  parts.forEach((p, i) => {
    const v = Number(p);
    if (!Number.isFinite(v) || (type !== 'float32' && type !== 'float64' && !Number.isInteger(v))) bad(i);
    data[i] = v;
  });
  return { type, dims, data };
}

/** A short text of an output tensor (the first 16 values). */
export function describeTensor(t: Tensor): string {
  const values = Array.from(t.data as ArrayLike<unknown>, (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(5)) : String(v)));
  return `${t.type}[${t.dims.join(', ')}] ${values.slice(0, 16).join(', ')}${values.length > 16 ? ` … (${values.length})` : ''}`;
}
