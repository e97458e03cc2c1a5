// Tensor plumbing for model push: JSON values ⇄ typed arrays ⇄ onnxruntime tensors ⇄ manifest TensorData
// (design §3 selfTest, §5 OIP datatypes). The hub never imports the agent; the element
// plumbing both need (typed arrays, OIP datatypes, half floats) is shared through protocol/src/tensors.ts.

import './ort-env.js'; // before onnxruntime-node loads
import * as ort from 'onnxruntime-node';
import {
  EdgefleetError,
  INTEGER_RANGES,
  TYPED_ARRAYS,
  elementCount,
  floatToHalf,
  halfToFloat,
  type ElementType,
  type TensorData,
  type TensorSpec,
  type TypedArray,
} from '@edgefleet/protocol';

/** Typed data of a hub tensor: the shared typed arrays, or string[] for BYTES. */
export type TypedData = TypedArray | string[];

/** A tensor on the hub side; bool is a Uint8Array of 0/1, float16 a Uint16Array of half-float bits. */
export interface HostTensor {
  type: ElementType;
  dims: number[];
  data: TypedData;
}

export function isFloatType(type: ElementType): boolean {
  return type === 'float32' || type === 'float64' || type === 'float16';
}

export function isIntegerType(type: ElementType): boolean {
  return !isFloatType(type) && type !== 'bool' && type !== 'string';
}

/** onnxruntime messages span lines; the CLI prints one-line reasons. */
export const oneLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();

/**
 * Flatten a (possibly nested) JSON array row-major and report the nesting shape; a scalar has shape [].
 * Returns a message instead of throwing for ragged arrays, so callers can name the line or input.
 */
export function flattenNested(value: unknown): { values: unknown[]; shape: number[] } | string {
  if (!Array.isArray(value)) return { values: [value], shape: [] };
  const shape: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const values: unknown[] = [];
  const walk = (v: unknown, depth: number): string | null => {
    if (depth === shape.length) {
      if (Array.isArray(v)) return `ragged nested array: unexpected array at depth ${depth}`;
      values.push(v);
      return null;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) return `ragged nested array: axis ${depth} is not ${shape[depth]} long everywhere`;
    for (const item of v) {
      const err = walk(item, depth + 1);
      if (err !== null) return err;
    }
    return null;
  };
  const err = walk(value, 0);
  return err ?? { values, shape };
}

const FLOAT32_MAX = 3.4028234663852886e38;
const FLOAT16_MAX = 65504;

/**
 * JSON values → typed data of `type`. Floats accept finite numbers the type can hold and null (→ NaN, a missing value);
 * int64/uint64 accept integers or decimal strings (TensorData carries big ones as strings); bool
 * accepts booleans or 0/1. Throws BAD_INPUT naming `where` and the element index.
 */
export function encodeValues(type: ElementType, values: readonly unknown[], where: string): TypedData {
  const bad = (i: number, want: string): never => {
    throw new EdgefleetError('BAD_INPUT', `${where}: element ${i} is ${JSON.stringify(values[i]) ?? 'undefined'}, expected ${want}`);
  };
  const n = values.length;
  switch (type) {
    case 'float32':
    case 'float64':
    case 'float16': {
      const out = type === 'float64' ? new Float64Array(n) : new Float32Array(n);
      // `1e999` parses as Infinity and `1e39` overflows float32: neither can run, nor ride in a manifest's JSON
      const max = type === 'float64' ? Number.MAX_VALUE : type === 'float32' ? FLOAT32_MAX : FLOAT16_MAX;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v === 'number') {
          const stored = type === 'float64' ? v : type === 'float32' ? Math.fround(v) : halfToFloat(floatToHalf(v));
          if (!Number.isFinite(stored)) bad(i, `a finite ${type} number (|x| ≤ ${max})`);
          out[i] = v;
        } else if (v === null) out[i] = NaN;
        else bad(i, 'a number');
      }
      if (type !== 'float16') return out;
      const half = new Uint16Array(n);
      for (let i = 0; i < n; i++) half[i] = floatToHalf(out[i]!);
      return half;
    }
    case 'int64':
    case 'uint64': {
      const out = type === 'int64' ? new BigInt64Array(n) : new BigUint64Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        let b: bigint | null = null;
        if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
        else if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) b = BigInt(v);
        const ok =
          b !== null &&
          (type === 'int64' ? b >= -(2n ** 63n) && b < 2n ** 63n : b >= 0n && b < 2n ** 64n);
        if (!ok) bad(i, `an ${type} integer`);
        out[i] = b!;
      }
      return out;
    }
    case 'bool': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === true || v === 1) out[i] = 1;
        else if (v === false || v === 0) out[i] = 0;
        else bad(i, 'a boolean');
      }
      return out;
    }
    case 'string': {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'string') bad(i, 'a string');
        out.push(v as string);
      }
      return out;
    }
    default: {
      const [lo, hi] = INTEGER_RANGES[type]!;
      const out = new TYPED_ARRAYS[type](n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bad(i, `an ${type} integer`);
        out[i] = v as number;
      }
      return out;
    }
  }
}

/** Concatenate same-typed data (batching validation rows). */
export function concatData(type: ElementType, parts: readonly TypedData[]): TypedData {
  if (type === 'string') return (parts as string[][]).flat();
  const total = parts.reduce((n, p) => n + p.length, 0);
  const first = parts[0] as Exclude<TypedData, string[]>;
  const Ctor = first.constructor as new (n: number) => Exclude<TypedData, string[]>;
  const out = new Ctor(total);
  let at = 0;
  for (const p of parts) {
    (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(p as ArrayLike<unknown>, at);
    at += p.length;
  }
  return out;
}

/** The first `rows` batch rows of a tensor. */
export function sliceRows(t: HostTensor, rows: number): HostTensor {
  const batch = t.dims[0] ?? 1;
  const rowSize = batch === 0 ? 0 : t.data.length / batch;
  return { type: t.type, dims: [rows, ...t.dims.slice(1)], data: t.data.slice(0, rows * rowSize) as TypedData };
}

export function toOrtTensor(t: HostTensor): ort.Tensor {
  return new ort.Tensor(t.type as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims);
}

/** An onnxruntime output → HostTensor; non-tensor outputs (sequences, maps) are refused. */
export function fromOrtValue(name: string, value: ort.OnnxValue | undefined): HostTensor {
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

/** True when a float tensor holds NaN or ±∞, which JSON (and so a manifest) cannot carry. */
export function hasNonFinite(t: HostTensor): boolean {
  if (!isFloatType(t.type)) return false;
  const n = t.data.length;
  for (let i = 0; i < n; i++) {
    const v = t.type === 'float16' ? halfToFloat((t.data as Uint16Array)[i]!) : (t.data as Float32Array)[i]!;
    if (!Number.isFinite(v)) return true;
  }
  return false;
}

/**
 * HostTensor → TensorData (design §3 selfTest). Floats are the exact float32/float64 values as numbers;
 * int64/uint64 are numbers when every value is a safe integer, else all decimal strings (the schema
 * wants one element kind per array); bool → booleans; float16 → decoded numbers.
 */
export function toTensorData(name: string, t: HostTensor): TensorData {
  let data: number[] | boolean[] | string[];
  if (t.type === 'bool') data = Array.from(t.data as Uint8Array, (v) => v !== 0);
  else if (t.type === 'string') data = [...(t.data as string[])];
  else if (t.type === 'float16') data = Array.from(t.data as Uint16Array, halfToFloat);
  else if (t.type === 'int64' || t.type === 'uint64') {
    const big = Array.from(t.data as BigInt64Array | BigUint64Array);
    const safe = big.every((b) => b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER));
    data = safe ? big.map(Number) : big.map(String);
  } else data = Array.from(t.data as ArrayLike<number>);
  return { name, type: t.type, shape: [...t.dims], data };
}

/** TensorData → HostTensor (used to run a recorded self-test again). */
export function fromTensorData(d: TensorData): HostTensor {
  return { type: d.type, dims: [...d.shape], data: encodeValues(d.type, d.data, `tensor "${d.name}"`) };
}

/**
 * Inputs for a self-test when the operator gave neither a sample nor validation rows. Symbolic dims
 * become 1; floats get small deterministic values in [-0.5, 0.5] (sin of the index, so not all equal);
 * integers are zeros, bools false, strings empty. Models that only accept certain values reject these,
 * and the caller then asks for `--sample`.
 */
export function synthesizeInput(spec: TensorSpec): HostTensor {
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
