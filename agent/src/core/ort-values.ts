// What both onnxruntime packages (onnxruntime-node, onnxruntime-web) hand back, as the core's types: the
// model's declared inputs/outputs as TensorSpecs and a run's results as Tensors. Structural types only — the
// core imports no runtime; agent/src/node/onnx-runtime.ts and web-runtime's ort-web.ts call these.

import { EdgefleetError, ElementType, UNNAMED_DIM, type Tensor, type TensorSpec } from '@edgefleet/protocol';

/** onnxruntime-common's `InferenceSession.ValueMetadata`, as far as the specs need it. */
export interface OrtValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: unknown;
  readonly shape?: ReadonlyArray<number | string>;
}

const ELEMENT_TYPES: ReadonlySet<string> = new Set<string>(ElementType.options);
const UNSIGNED_MINUS_ONE = 2 ** 32 - 1;

/** The declared tensors; MODEL_LOAD_FAILED for a non-tensor value or an element type the agent does not serve. */
export function tensorSpecsOf(metadata: readonly OrtValueMetadata[], kind: 'input' | 'output'): TensorSpec[] {
  return metadata.map((m) => {
    if (!m.isTensor) {
      throw new EdgefleetError('MODEL_LOAD_FAILED', `${kind} '${m.name}' is not a tensor (sequences and maps are not served)`);
    }
    if (typeof m.type !== 'string' || !ELEMENT_TYPES.has(m.type)) {
      throw new EdgefleetError('MODEL_LOAD_FAILED', `${kind} '${m.name}' has unsupported element type ${String(m.type)}`);
    }
    // the manifest (readModelInfo) spells an unnamed dynamic dim '?': onnxruntime-node names it '', ort-web's
    // wasm hands it over as -1 read back unsigned (4294967295)
    const shape = (m.shape ?? []).map((d) => (d === '' || (typeof d === 'number' && (d < 0 || d === UNSIGNED_MINUS_ONE)) ? UNNAMED_DIM : d));
    return { name: m.name, type: m.type as ElementType, shape };
  });
}

/** A run's outputs as core Tensors: the same buffers, no copy. */
export function tensorsFromOrt(results: Readonly<Record<string, { readonly type: string; readonly dims: readonly number[]; readonly data: unknown }>>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const name in results) {
    const r = results[name]!;
    out[name] = { type: r.type as ElementType, dims: r.dims as number[], data: r.data as Tensor['data'] };
  }
  return out;
}
