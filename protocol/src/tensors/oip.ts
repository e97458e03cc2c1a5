// The Open Inference Protocol v2 JSON codec (design §5, kserve inference_rest.md): request and response
// schemas, request decoding against a model's declared inputs, response encoding.

import * as z from 'zod';
import { EdgefleetError } from '../errors.js';
import type { TensorSpec } from '../schemas/manifest.js';
import { elementCount, elementTypeOf, oipDatatypeOf, UNNAMED_DIM } from './elements.js';
import { formatShape, type Tensor } from './tensor.js';
import { jsonValues, oipValues } from './values.js';

// ---- OIP request and response schemas ----

const Parameters = z.record(z.string(), z.unknown());

/** One tensor on the wire. `data` is checked element by element by the decoder, not by zod (speed). */
export const OipTensor = z.object({
  name: z.string().min(1).max(256),
  shape: z.array(z.number().int().min(0)).max(16),
  datatype: z.string().min(1).max(16),
  parameters: Parameters.optional(),
  data: z.array(z.unknown()),
});
export type OipTensor = z.infer<typeof OipTensor>;

export const OipRequestedOutput = z.object({
  name: z.string().min(1).max(256),
  parameters: Parameters.optional(),
});
export type OipRequestedOutput = z.infer<typeof OipRequestedOutput>;

export const OipInferRequest = z.object({
  id: z.string().max(256).optional(),
  parameters: Parameters.optional(),
  inputs: z.array(OipTensor).min(1).max(64),
  outputs: z.array(OipRequestedOutput).max(64).optional(),
});
export type OipInferRequest = z.infer<typeof OipInferRequest>;

/** The answer to an inference request (flat row-major output data, per inference_rest.md). */
export const OipInferResponse = z.object({
  model_name: z.string(),
  model_version: z.string(),
  /** The request's id, or one the server assigned; `feedback` joins labels on it. */
  id: z.string(),
  parameters: Parameters.optional(),
  outputs: z.array(OipTensor),
});
export type OipInferResponse = z.infer<typeof OipInferResponse>;

/**
 * OIP allows row-major nested arrays as well as flat ones. Nested data must follow the shape: an array
 * of arrays at depth d has shape[d] entries; an array of values at depth d has shape[d]·…·shape[n-1].
 */
function flatten(label: string, data: readonly unknown[], shape: readonly number[]): readonly unknown[] {
  if (data.length === 0 || !Array.isArray(data[0])) return data; // flat: the count check follows
  const out: unknown[] = [];
  const ragged = (d: number): EdgefleetError =>
    new EdgefleetError('BAD_INPUT', `${label} nested data does not follow shape ${formatShape(shape)} at depth ${d}`);
  const walk = (arr: readonly unknown[], d: number): void => {
    if (arr.length > 0 && Array.isArray(arr[0])) {
      if (d >= shape.length || arr.length !== shape[d]) throw ragged(d);
      for (const x of arr) {
        if (!Array.isArray(x)) throw ragged(d + 1);
        walk(x, d + 1);
      }
      return;
    }
    if (arr.length !== elementCount(shape.slice(d))) throw ragged(d);
    for (const x of arr) {
      if (Array.isArray(x)) throw ragged(d + 1);
      out.push(x);
    }
  };
  walk(data, 0);
  return out;
}

// ---- request decoding (design §5) ----

/**
 * Check OIP request inputs against a model's declared inputs and turn them into tensors.
 * Throws `BAD_INPUT` saying exactly what is wrong: unknown/duplicate/missing input, datatype,
 * rank, fixed dims, a symbolic dim (e.g. batch) that disagrees across inputs, element count, values.
 */
export function decodeInferInputs(io: readonly TensorSpec[], inputs: readonly OipTensor[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const symbols = new Map<string, { size: number; input: string }>();
  for (const input of inputs) {
    const spec = io.find((s) => s.name === input.name);
    if (spec === undefined) {
      throw new EdgefleetError(
        'BAD_INPUT',
        `unknown input '${input.name}' (model inputs: ${io.map((s) => s.name).join(', ')})`,
      );
    }
    if (Object.hasOwn(out, input.name)) throw new EdgefleetError('BAD_INPUT', `input '${input.name}' given twice`);
    const label = `input '${input.name}'`;
    const type = elementTypeOf(input.datatype);
    const expected = oipDatatypeOf(spec.type);
    if (type === undefined) {
      throw new EdgefleetError('BAD_INPUT', `${label} has unknown datatype '${input.datatype}' (expects ${expected})`);
    }
    if (type !== spec.type) throw new EdgefleetError('BAD_INPUT', `${label} expects ${expected}, got ${input.datatype}`);
    const shape = input.shape;
    if (shape.length !== spec.shape.length) {
      throw new EdgefleetError(
        'BAD_INPUT',
        `${label} expects rank ${spec.shape.length} ${formatShape(spec.shape)}, got shape ${formatShape(shape)}`,
      );
    }
    for (let d = 0; d < shape.length; d++) {
      const want = spec.shape[d]!;
      const got = shape[d]!;
      if (typeof want === 'number') {
        if (want !== got) {
          throw new EdgefleetError(
            'BAD_INPUT',
            `${label} dimension ${d} must be ${want}, got ${got} (expects ${formatShape(spec.shape)})`,
          );
        }
      } else if (want !== UNNAMED_DIM) {
        // an unnamed dynamic dim takes any size, tied to nothing; a named symbol (batch, seq…) takes any size, the same one in every input that uses it
        const seen = symbols.get(want);
        if (seen === undefined) symbols.set(want, { size: got, input: input.name });
        else if (seen.size !== got) {
          throw new EdgefleetError(
            'BAD_INPUT',
            `${label} dimension ${d} ('${want}') is ${got} but input '${seen.input}' has '${want}' = ${seen.size}`,
          );
        }
      }
    }
    const values = flatten(label, input.data, shape);
    const count = elementCount(shape);
    if (values.length !== count) {
      throw new EdgefleetError(
        'BAD_INPUT',
        `${label} has ${values.length} values but shape ${formatShape(shape)} needs ${count}`,
      );
    }
    out[input.name] = { type, dims: shape.slice(), data: oipValues(label, type, values) };
  }
  for (const spec of io) {
    if (!Object.hasOwn(out, spec.name)) {
      throw new EdgefleetError(
        'BAD_INPUT',
        `missing input '${spec.name}' (${oipDatatypeOf(spec.type)} ${formatShape(spec.shape)})`,
      );
    }
  }
  return out;
}

// ---- response encoding ----

/** One OIP response output (flat row-major data, per inference_rest.md). */
export function encodeOutput(name: string, tensor: Tensor): OipTensor {
  return { name, datatype: oipDatatypeOf(tensor.type), shape: tensor.dims.slice(), data: jsonValues(tensor) };
}

/**
 * Output names a request asked for (OIP `outputs`), checked against the model; undefined = all.
 * Throws BAD_INPUT for an unknown or repeated output name.
 */
export function requestedOutputNames(
  io: readonly TensorSpec[],
  outputs: readonly OipRequestedOutput[] | undefined,
): string[] | undefined {
  if (outputs === undefined || outputs.length === 0) return undefined;
  const names: string[] = [];
  for (const o of outputs) {
    if (!io.some((s) => s.name === o.name)) {
      throw new EdgefleetError(
        'BAD_INPUT',
        `unknown output '${o.name}' (model outputs: ${io.map((s) => s.name).join(', ')})`,
      );
    }
    if (names.includes(o.name)) throw new EdgefleetError('BAD_INPUT', `output '${o.name}' requested twice`);
    names.push(o.name);
  }
  return names;
}

/** Encode run results in `names` order (the requested order, or the model's declared order). */
export function encodeOutputs(tensors: Record<string, Tensor>, names: readonly string[]): OipTensor[] {
  const out: OipTensor[] = [];
  for (const name of names) {
    const t = tensors[name];
    if (t !== undefined) out.push(encodeOutput(name, t));
  }
  return out;
}
