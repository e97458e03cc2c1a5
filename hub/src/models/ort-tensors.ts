// Protocol tensors ⇄ onnxruntime-node tensors for model push (design §7). Everything else about tensors
// (the Tensor type, JSON values, TensorData, OIP) is protocol's; only onnxruntime stays on this side.

import './ort-env.js'; // before onnxruntime-node loads
import * as ort from 'onnxruntime-node';
import { EdgefleetError, floatToHalf, type ElementType, type Tensor, type TypedData } from '@edgefleet/protocol';

/** onnxruntime messages span lines; the CLI prints one-line reasons. */
export const oneLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();

export function toOrtTensor(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.type as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims);
}

/** An onnxruntime output → Tensor; non-tensor outputs (sequences, maps) are refused. */
export function fromOrtValue(name: string, value: ort.OnnxValue | undefined): Tensor {
  if (!(value instanceof ort.Tensor)) {
    throw new EdgefleetError('INVALID_MODEL', `output "${name}" is not a tensor (sequence/map outputs such as ZipMap are not supported)`);
  }
  const type = value.type as ElementType;
  let data = value.data as TypedData;
  // bool comes back as Uint8Array; float16 as Uint16Array bits (or a Float16Array where the platform has one)
  if (type === 'float16' && !(data instanceof Uint16Array)) {
    data = Uint16Array.from(data as unknown as ArrayLike<number>, (x) => floatToHalf(x));
  }
  return { type, dims: [...value.dims], data };
}
