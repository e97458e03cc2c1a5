// The shared tensor element plumbing: OIP datatype table, typed arrays per element type, half floats.
import { describe, expect, it } from 'vitest';
import { ElementType } from '../schemas/index.js';
import {
  INTEGER_RANGES,
  OIP_DATATYPES,
  TYPED_ARRAYS,
  elementCount,
  elementTypeOf,
  floatToHalf,
  halfToFloat,
  oipDatatypeOf,
} from './elements.js';

const isNaNBits = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('OIP datatype table', () => {
  it('maps every OIP datatype to an element type and back', () => {
    const all = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'];
    expect(Object.keys(OIP_DATATYPES).sort()).toEqual([...all].sort());
    for (const dt of all) {
      const type = elementTypeOf(dt);
      expect(type).toBeDefined();
      expect(oipDatatypeOf(type!)).toBe(dt);
    }
  });
  it('gives every element type an OIP datatype', () => {
    for (const type of ElementType.options) expect(elementTypeOf(oipDatatypeOf(type))).toBe(type);
  });
  it('knows no datatype outside the table, not even prototype keys', () => {
    expect(elementTypeOf('FLOAT')).toBeUndefined();
    expect(elementTypeOf('fp32')).toBeUndefined();
    expect(elementTypeOf('toString')).toBeUndefined();
    expect(elementTypeOf('__proto__')).toBeUndefined();
  });
});

describe('typed arrays per element type', () => {
  it('stores bool as bytes, float16 as half bits and 64-bit integers as bigints', () => {
    expect(TYPED_ARRAYS.bool).toBe(Uint8Array);
    expect(TYPED_ARRAYS.float16).toBe(Uint16Array);
    expect(TYPED_ARRAYS.int64).toBe(BigInt64Array);
    expect(TYPED_ARRAYS.uint64).toBe(BigUint64Array);
    for (const type of ElementType.options) {
      if (type === 'string') expect(Object.hasOwn(TYPED_ARRAYS, type)).toBe(false);
      else expect(new TYPED_ARRAYS[type](3)).toHaveLength(3);
    }
  });
  it('holds exactly the integer ranges it declares', () => {
    for (const [type, range] of Object.entries(INTEGER_RANGES)) {
      const [lo, hi] = range!;
      const Typed = TYPED_ARRAYS[type as keyof typeof TYPED_ARRAYS] as new (v: number[]) => ArrayLike<number>;
      expect(Array.from(new Typed([lo, hi]))).toEqual([lo, hi]);
      expect(Array.from(new Typed([lo - 1, hi + 1]))).not.toEqual([lo - 1, hi + 1]);
    }
  });
  it('counts elements as the product of dims, 1 for a scalar', () => {
    expect(elementCount([])).toBe(1);
    expect(elementCount([2, 3, 4])).toBe(24);
    expect(elementCount([0, 5])).toBe(0);
  });
});

describe('half floats', () => {
  it('round-trips every non-NaN half, subnormals, ±0 and ±Infinity included', () => {
    const wrong: number[] = [];
    for (let h = 0; h <= 0xffff; h++) if (!isNaNBits(h) && floatToHalf(halfToFloat(h)) !== h) wrong.push(h);
    expect(wrong).toEqual([]);
    expect(halfToFloat(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(halfToFloat(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(halfToFloat(0x0400)).toBe(2 ** -14); // smallest normal
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
  });
  it('keeps NaN a NaN both ways', () => {
    expect(isNaNBits(floatToHalf(NaN))).toBe(true);
    for (const h of [0x7c01, 0x7e00, 0xfe00, 0x7fff]) expect(halfToFloat(h)).toBeNaN();
  });
  it('rounds to nearest even, overflowing to infinity and underflowing to signed zero', () => {
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(65519)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00); // the tie above the largest half rounds to infinity
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(floatToHalf(-Infinity)).toBe(0xfc00);
    expect(floatToHalf(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal → even (0)
    expect(floatToHalf(3 * 2 ** -25)).toBe(0x0002); // tie between subnormals 1 and 2 → even (2)
    expect(floatToHalf(-(2 ** -26))).toBe(0x8000);
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie → even mantissa (1)
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even mantissa (1 + 2^-9)
    expect(floatToHalf(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up out of the subnormals
  });
});
