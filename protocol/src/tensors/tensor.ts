// The one in-memory tensor of edgefleet (agent serving, hub model push), laid out as onnxruntime-common
// lays it out, and the layout-level helpers on it. Pure: converting to an onnxruntime Tensor is each side's.

import type { ElementType } from '../schemas/manifest.js';
import { halfToFloat, TYPED_ARRAYS, type TypedArray } from './elements.js';

/** The data of a tensor: the typed array of its element type, or string[] for BYTES. */
export type TypedData = TypedArray | string[];

/**
 * A concrete tensor: row-major `data`, bool as Uint8Array (0/1), float16 as Uint16Array of IEEE half
 * bits, string as string[].
 */
export interface Tensor {
  type: ElementType;
  dims: number[];
  data: TypedData;
}

/** A fresh zeroed array of `type` holding `n` elements. */
export function allocate(type: ElementType, n: number): TypedData {
  return type === 'string' ? new Array<string>(n).fill('') : new TYPED_ARRAYS[type](n);
}

export function isFloatType(type: ElementType): boolean {
  return type === 'float32' || type === 'float64' || type === 'float16';
}

export function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
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
export function sliceRows(t: Tensor, rows: number): Tensor {
  const batch = t.dims[0] ?? 1;
  const rowSize = batch === 0 ? 0 : t.data.length / batch;
  return { type: t.type, dims: [rows, ...t.dims.slice(1)], data: t.data.slice(0, rows * rowSize) as TypedData };
}

/** True when a float tensor holds NaN or ±∞, which JSON (and so a manifest) cannot carry. */
export function hasNonFinite(t: Tensor): boolean {
  if (!isFloatType(t.type)) return false;
  const n = t.data.length;
  for (let i = 0; i < n; i++) {
    const v = t.type === 'float16' ? halfToFloat((t.data as Uint16Array)[i]!) : (t.data as Float32Array)[i]!;
    if (!Number.isFinite(v)) return true;
  }
  return false;
}
