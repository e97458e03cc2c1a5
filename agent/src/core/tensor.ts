// Tensors as the agent core sees them, and the Open Inference Protocol JSON codec (design §5):
// OIP datatypes ⇄ ONNX element types, request decoding against a model's IO, response encoding.

import { z } from 'zod';
import {
  EdgefleetError,
  INTEGER_RANGES,
  TYPED_ARRAYS,
  UNNAMED_DIM,
  elementCount,
  elementTypeOf,
  floatToHalf,
  halfToFloat,
  oipDatatypeOf,
  type ElementType,
  type OipDatatype,
  type TensorData,
  type TensorSpec,
  type TypedArray,
} from '@edgefleet/protocol';

// The shared element plumbing lives in protocol (the hub has the same needs and never imports the agent);
// re-exported under the names this module has always had.
export { OIP_DATATYPES, elementCount, elementTypeOf, oipDatatypeOf } from '@edgefleet/protocol';
export { floatToHalf as toHalf, halfToFloat as fromHalf } from '@edgefleet/protocol';
export type { OipDatatype, TypedArray } from '@edgefleet/protocol';

/**
 * A concrete tensor, laid out as onnxruntime-common lays it out: row-major `data`, bool as
 * Uint8Array (0/1), float16 as Uint16Array of IEEE half bits, string as string[].
 */
export interface Tensor {
  type: ElementType;
  dims: number[];
  data: TypedArray | string[];
}

// ---- OIP request schema ----

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

// ---- element helpers ----

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL = /^-?\d{1,20}$/;
/** Largest finite binary32 and binary16 values. */
const FP32_MAX = 3.4028234663852886e38;
const FP16_MAX = 65504;

/** A fresh zeroed array of `type` holding `n` elements. */
export function allocate(type: ElementType, n: number): TypedArray | string[] {
  return type === 'string' ? new Array<string>(n).fill('') : new TYPED_ARRAYS[type](n);
}

function badValue(label: string, index: number, value: unknown, datatype: OipDatatype, why: string): EdgefleetError {
  const shown = typeof value === 'string' ? `'${value.slice(0, 32)}'` : Array.isArray(value) ? 'an array' : String(value);
  return new EdgefleetError('BAD_INPUT', `${label} value at index ${index} (${shown}) ${why} for ${datatype}`);
}

/**
 * Fill a typed array from flat JSON values, checking each one for `type`.
 * Accepts: numbers for float types; integers in range for int types (int64/uint64 also as decimal
 * strings, since JSON numbers lose precision past 2^53); true/false or 0/1 for bool; strings for BYTES.
 */
function fillValues(label: string, type: ElementType, values: readonly unknown[]): TypedArray | string[] {
  const n = values.length;
  const datatype = oipDatatypeOf(type);
  switch (type) {
    // JSON has no NaN or Infinity, but `1e999` parses as Infinity and `1e39` overflows FP32: a value the
    // datatype cannot hold is refused, never run (its outputs would be NaN, answered as nulls).
    case 'float32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number') throw badValue(label, i, v, datatype, 'is not a number');
        const f = Math.fround(v);
        if (!Number.isFinite(f)) throw badValue(label, i, v, datatype, `is not finite or is out of range ±${FP32_MAX}`);
        out[i] = f;
      }
      return out;
    }
    case 'float64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number') throw badValue(label, i, v, datatype, 'is not a number');
        if (!Number.isFinite(v)) throw badValue(label, i, v, datatype, 'is not finite');
        out[i] = v;
      }
      return out;
    }
    case 'float16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number') throw badValue(label, i, v, datatype, 'is not a number');
        const h = floatToHalf(v);
        if ((h & 0x7c00) === 0x7c00) throw badValue(label, i, v, datatype, `is not finite or is out of range ±${FP16_MAX}`);
        out[i] = h;
      }
      return out;
    }
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32': {
      const [min, max] = INTEGER_RANGES[type]!;
      const out = allocate(type, n) as Exclude<TypedArray, BigInt64Array | BigUint64Array>;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v)) throw badValue(label, i, v, datatype, 'is not an integer');
        if (v < min || v > max) throw badValue(label, i, v, datatype, `is out of range [${min}, ${max}]`);
        out[i] = v;
      }
      return out;
    }
    case 'int64':
    case 'uint64': {
      const unsigned = type === 'uint64';
      const out = unsigned ? new BigUint64Array(n) : new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        let b: bigint;
        if (typeof v === 'number') {
          if (!Number.isInteger(v)) throw badValue(label, i, v, datatype, 'is not an integer');
          if (!Number.isSafeInteger(v)) {
            throw badValue(label, i, v, datatype, 'is beyond 2^53 and lost precision in JSON; send it as a decimal string');
          }
          b = BigInt(v);
        } else if (typeof v === 'string' && DECIMAL.test(v)) {
          b = BigInt(v);
        } else {
          throw badValue(label, i, v, datatype, 'is not an integer');
        }
        if (unsigned ? b < 0n || b > UINT64_MAX : b < INT64_MIN || b > INT64_MAX) {
          throw badValue(label, i, v, datatype, 'is out of range');
        }
        out[i] = b;
      }
      return out;
    }
    case 'bool': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === true || v === 1) out[i] = 1;
        else if (v !== false && v !== 0) throw badValue(label, i, v, datatype, 'is not true/false');
      }
      return out;
    }
    case 'string': {
      const out = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'string') throw badValue(label, i, v, datatype, 'is not a string');
        out[i] = v;
      }
      return out;
    }
  }
}

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

function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
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
    out[input.name] = { type, dims: shape.slice(), data: fillValues(label, type, values) };
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

// ---- encoding ----

/** JSON values of a tensor: int64/uint64 as numbers when safe, else decimal strings; bool as true/false. */
export function jsonValues(tensor: Tensor): (number | boolean | string)[] {
  const data = tensor.data;
  switch (tensor.type) {
    case 'bool': {
      const out = new Array<boolean>(data.length);
      for (let i = 0; i < data.length; i++) out[i] = data[i] !== 0;
      return out;
    }
    case 'int64':
    case 'uint64': {
      const src = data as BigInt64Array | BigUint64Array;
      const out = new Array<number | string>(src.length);
      for (let i = 0; i < src.length; i++) {
        const b = src[i]!;
        const n = Number(b);
        out[i] = Number.isSafeInteger(n) ? n : b.toString();
      }
      return out;
    }
    case 'float16': {
      const src = data as Uint16Array;
      const out = new Array<number>(src.length);
      for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i]!);
      return out;
    }
    case 'string':
      return (data as string[]).slice();
    default:
      return Array.from(data as Exclude<TypedArray, BigInt64Array | BigUint64Array>);
  }
}

/** One OIP response output (flat row-major data, per inference_rest.md). */
export function encodeOutput(name: string, tensor: Tensor): OipTensor {
  return { name, datatype: oipDatatypeOf(tensor.type), shape: tensor.dims.slice(), data: jsonValues(tensor) };
}

/** A manifest tensor (self-test input, etc.) as a runtime tensor; throws BAD_INPUT if it is inconsistent. */
export function tensorFromData(td: TensorData): Tensor {
  const count = elementCount(td.shape);
  if (td.data.length !== count) {
    throw new EdgefleetError(
      'BAD_INPUT',
      `tensor '${td.name}' has ${td.data.length} values but shape ${formatShape(td.shape)} needs ${count}`,
    );
  }
  return { type: td.type, dims: td.shape.slice(), data: fillValues(`tensor '${td.name}'`, td.type, td.data) };
}

export function tensorToData(name: string, tensor: Tensor): TensorData {
  return { name, type: tensor.type, shape: tensor.dims.slice(), data: jsonValues(tensor) as TensorData['data'] };
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
