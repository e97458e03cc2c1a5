// JSON values ⇄ tensor data (design §3 selfTest, §5 OIP): the one element checker behind the OIP request
// decoder, manifest self-tests and model push, and the one JSON encoder of a tensor's values.

import { EdgefleetError } from '../errors.js';
import type { ElementType } from '../schemas/manifest.js';
import { floatToHalf, halfToFloat, INTEGER_RANGES, oipDatatypeOf, TYPED_ARRAYS, type TypedArray } from './elements.js';
import type { Tensor, TypedData } from './tensor.js';

/** Why one JSON value cannot be an element of a type; each caller words it for its own audience. */
export type ValueFault =
  | 'not-number'
  | 'not-finite'
  | 'not-integer'
  | 'unsafe-integer'
  | 'out-of-range'
  | 'not-bool'
  | 'not-string';

export interface ParseValuesOptions {
  /** Floats: null is a missing value, stored as NaN (validation rows); otherwise refused as not-number. */
  nullAsNaN?: boolean;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL = /^-?\d{1,20}$/;
/** Largest finite binary32 and binary16 values. */
export const FP32_MAX = 3.4028234663852886e38;
export const FP16_MAX = 65504;

/**
 * Typed data of `type` from flat JSON values, checking each one; the first misfit throws what `fault`
 * makes of its index and fault. Accepts: finite numbers the float type can hold; integers in range for
 * int types (int64/uint64 also as decimal strings, since JSON numbers lose precision past 2^53);
 * true/false or 0/1 for bool; strings for BYTES.
 */
export function parseValues(
  type: ElementType,
  values: readonly unknown[],
  fault: (index: number, why: ValueFault) => Error,
  options: ParseValuesOptions = {},
): TypedData {
  const n = values.length;
  const nullAsNaN = options.nullAsNaN === true;
  switch (type) {
    // JSON has no NaN or Infinity, but `1e999` parses as Infinity and `1e39` overflows FP32: a value the
    // datatype cannot hold is refused, never run (its outputs would be NaN, answered as nulls).
    case 'float32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === null && nullAsNaN) out[i] = NaN;
        else if (typeof v !== 'number') throw fault(i, 'not-number');
        else {
          const f = Math.fround(v);
          if (!Number.isFinite(f)) throw fault(i, 'not-finite');
          out[i] = f;
        }
      }
      return out;
    }
    case 'float64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === null && nullAsNaN) out[i] = NaN;
        else if (typeof v !== 'number') throw fault(i, 'not-number');
        else if (!Number.isFinite(v)) throw fault(i, 'not-finite');
        else out[i] = v;
      }
      return out;
    }
    case 'float16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === null && nullAsNaN) out[i] = floatToHalf(NaN);
        else if (typeof v !== 'number') throw fault(i, 'not-number');
        else {
          const h = floatToHalf(v);
          if ((h & 0x7c00) === 0x7c00) throw fault(i, 'not-finite');
          out[i] = h;
        }
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
          if (!Number.isInteger(v)) throw fault(i, 'not-integer');
          if (!Number.isSafeInteger(v)) throw fault(i, 'unsafe-integer');
          b = BigInt(v);
        } else if (typeof v === 'string' && DECIMAL.test(v)) {
          b = BigInt(v);
        } else {
          throw fault(i, 'not-integer');
        }
        if (unsigned ? b < 0n || b > UINT64_MAX : b < INT64_MIN || b > INT64_MAX) throw fault(i, 'out-of-range');
        out[i] = b;
      }
      return out;
    }
    case 'bool': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === true || v === 1) out[i] = 1;
        else if (v !== false && v !== 0) throw fault(i, 'not-bool');
      }
      return out;
    }
    case 'string': {
      const out = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'string') throw fault(i, 'not-string');
        out[i] = v;
      }
      return out;
    }
    default: {
      const [min, max] = INTEGER_RANGES[type]!;
      const out = new TYPED_ARRAYS[type](n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v)) throw fault(i, 'not-integer');
        if (v < min || v > max) throw fault(i, 'out-of-range');
        out[i] = v;
      }
      return out;
    }
  }
}

/**
 * JSON values → typed data of `type`, as model push words its refusals (BAD_INPUT naming `where` and the
 * element index). Floats also take null (→ NaN, a missing value).
 */
export function encodeValues(type: ElementType, values: readonly unknown[], where: string): TypedData {
  const expected = (why: ValueFault): string => {
    if (type === 'bool') return 'a boolean';
    if (type === 'string') return 'a string';
    if (type !== 'float32' && type !== 'float64' && type !== 'float16') return `an ${type} integer`;
    if (why !== 'not-finite') return 'a number';
    const max = type === 'float64' ? Number.MAX_VALUE : type === 'float32' ? FP32_MAX : FP16_MAX;
    return `a finite ${type} number (|x| ≤ ${max})`;
  };
  return parseValues(
    type,
    values,
    (i, why) => new EdgefleetError('BAD_INPUT', `${where}: element ${i} is ${JSON.stringify(values[i]) ?? 'undefined'}, expected ${expected(why)}`),
    { nullAsNaN: true },
  );
}

/**
 * JSON values → typed data of `type`, as the OIP API and the agent's self-test word their refusals
 * (BAD_INPUT: "<label> value at index i (v) is … for FP32").
 */
export function oipValues(label: string, type: ElementType, values: readonly unknown[]): TypedData {
  const datatype = oipDatatypeOf(type);
  const why = (fault: ValueFault): string => {
    switch (fault) {
      case 'not-number':
        return 'is not a number';
      case 'not-finite':
        if (type === 'float32') return `is not finite or is out of range ±${FP32_MAX}`;
        if (type === 'float16') return `is not finite or is out of range ±${FP16_MAX}`;
        return 'is not finite';
      case 'not-integer':
        return 'is not an integer';
      case 'unsafe-integer':
        return 'is beyond 2^53 and lost precision in JSON; send it as a decimal string';
      case 'out-of-range': {
        const range = INTEGER_RANGES[type];
        return range === undefined ? 'is out of range' : `is out of range [${range[0]}, ${range[1]}]`;
      }
      case 'not-bool':
        return 'is not true/false';
      case 'not-string':
        return 'is not a string';
    }
  };
  return parseValues(type, values, (i, fault) => {
    const v = values[i];
    const shown = typeof v === 'string' ? `'${v.slice(0, 32)}'` : Array.isArray(v) ? 'an array' : String(v);
    return new EdgefleetError('BAD_INPUT', `${label} value at index ${i} (${shown}) ${why(fault)} for ${datatype}`);
  });
}

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
