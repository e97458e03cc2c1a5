// `--sample`: one Open Inference Protocol request (design §5; protocol's OipInferRequest, its `outputs` ignored)
// decoded into self-test inputs for the model's IO signature. Untrusted operator input: JSON parse → zod
// safeParse → per-input checks, BAD_INPUT on any misfit.

import {
  describeZodError,
  EdgefleetError,
  elementCount,
  elementTypeOf,
  encodeValues,
  flattenNested,
  OipInferRequest,
  type Tensor,
  type TensorSpec,
} from '@edgefleet/protocol';

/** Parse JSON text (or take an already-parsed value), mapping parse failures to BAD_INPUT. */
export function parseJsonOption(raw: unknown, what: string): unknown {
  if (typeof raw !== 'string' && !(raw instanceof Uint8Array)) return raw;
  const text = typeof raw === 'string' ? raw : new TextDecoder().decode(raw);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new EdgefleetError('BAD_INPUT', `${what} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Decode a sample request into one tensor per model input, checking names, datatypes and shapes. */
export function decodeSample(raw: unknown, specs: readonly TensorSpec[]): Record<string, Tensor> {
  const parsed = OipInferRequest.safeParse(parseJsonOption(raw, 'sample'));
  if (!parsed.success) throw new EdgefleetError('BAD_INPUT', `sample is not an inference request: ${describeZodError(parsed.error)}`);
  const byName = new Map(parsed.data.inputs.map((i) => [i.name, i]));
  for (const name of byName.keys()) {
    if (!specs.some((s) => s.name === name)) {
      throw new EdgefleetError('BAD_INPUT', `sample input "${name}" is not a model input (model inputs: ${specs.map((s) => s.name).join(', ')})`);
    }
  }
  const feeds: Record<string, Tensor> = {};
  for (const spec of specs) {
    const input = byName.get(spec.name);
    if (input === undefined) throw new EdgefleetError('BAD_INPUT', `sample lacks model input "${spec.name}"`);
    const where = `sample input "${spec.name}"`;
    const type = elementTypeOf(input.datatype);
    if (type === undefined) throw new EdgefleetError('BAD_INPUT', `${where}: unknown datatype ${input.datatype}`);
    if (type !== spec.type) throw new EdgefleetError('BAD_INPUT', `${where}: datatype ${input.datatype} but the model takes ${spec.type}`);
    if (spec.shape.length !== input.shape.length || spec.shape.some((d, i) => typeof d === 'number' && d !== input.shape[i])) {
      throw new EdgefleetError('BAD_INPUT', `${where}: shape [${input.shape.join(', ')}] does not fit [${spec.shape.join(', ')}]`);
    }
    const flat = flattenNested(input.data);
    if (typeof flat === 'string') throw new EdgefleetError('BAD_INPUT', `${where}: ${flat}`);
    // the self-test is recorded as JSON (design §3): a missing value (null → NaN) could not be replayed on devices
    const missing = flat.values.indexOf(null);
    if (missing >= 0) throw new EdgefleetError('BAD_INPUT', `${where}: element ${missing} is null, expected a number`);
    if (flat.values.length !== elementCount(input.shape)) {
      throw new EdgefleetError('BAD_INPUT', `${where}: ${flat.values.length} values for shape [${input.shape.join(', ')}]`);
    }
    feeds[spec.name] = { type, dims: [...input.shape], data: encodeValues(type, flat.values, where) };
  }
  return feeds;
}
