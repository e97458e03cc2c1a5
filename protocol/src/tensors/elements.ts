// Tensor element plumbing shared by the OIP codec, the model-push codec and the ONNX builder:
// typed arrays per element type, OIP datatypes ⇄ element types (design §5), IEEE half floats. Pure: no node:*.
import type { ElementType } from '../schemas/manifest.js';

/** Every typed array a numeric tensor is stored in (bool as Uint8Array 0/1, float16 as Uint16Array bits). */
export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export type NumericElementType = Exclude<ElementType, 'string'>;

/** Name used in a TensorSpec shape for a dimension that is dynamic and unnamed (ONNX: neither dim_value nor dim_param). */
export const UNNAMED_DIM = '?';

/**
 * The typed-array class holding each numeric element type, laid out as onnxruntime lays tensors out:
 * bool is one byte per element, float16 the IEEE half bits (Node 20 has no Float16Array).
 */
export const TYPED_ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
} as const satisfies Record<NumericElementType, new (length: number) => TypedArray>;

/** Inclusive value ranges of the integer types a JSON number carries exactly (64-bit ones are bigint). */
export const INTEGER_RANGES: Readonly<Partial<Record<ElementType, readonly [number, number]>>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

/** Number of elements of a tensor with these dims (1 for a scalar, []). */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

// ---- OIP datatypes (kserve inference_rest.md "Tensor Data Types") ----

export const OIP_DATATYPES = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
} as const satisfies Record<string, ElementType>;

export type OipDatatype = keyof typeof OIP_DATATYPES;

const OIP_OF: Record<ElementType, OipDatatype> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
};

export function oipDatatypeOf(type: ElementType): OipDatatype {
  return OIP_OF[type];
}

/** The element type of an OIP datatype, or undefined for an unknown one (own keys only: not 'toString'). */
export function elementTypeOf(datatype: string): ElementType | undefined {
  return Object.hasOwn(OIP_DATATYPES, datatype) ? OIP_DATATYPES[datatype as OipDatatype] : undefined;
}

// ---- IEEE 754 binary16 ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of `v`, rounded to nearest even; NaN stays NaN, overflow becomes ±Infinity. */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp32 = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp32 === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const exp = exp32 - 127 + 15;
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    // subnormal half (or ±0)
    const shift = 14 - exp;
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    let hm = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (hm & 1) !== 0)) hm += 1;
    return sign | hm;
  }
  let hm = mant >>> 13;
  const rem = mant & 0x1fff;
  let he = exp;
  if (rem > 0x1000 || (rem === 0x1000 && (hm & 1) !== 0)) {
    hm += 1;
    if (hm === 0x400) {
      hm = 0;
      he += 1;
      if (he >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (he << 10) | hm;
}

/** The number that IEEE 754 binary16 bits `h` stand for. */
export function halfToFloat(h: number): number {
  const s = (h & 0x8000) !== 0 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m !== 0 ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
