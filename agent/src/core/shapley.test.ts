// Shapley arithmetic on functions whose attributions are known in closed form.
import { describe, expect, it } from 'vitest';
import { createRng } from '@edgefleet/protocol';
import { coalitionCount, exactShapley, sampledShapley, samplePermutations } from './shapley.js';

/** v over every coalition of `f` between x and baseline (bit i of the mask: feature i from x). */
function allCoalitions(f: (row: number[]) => number, x: number[], b: number[]): Float64Array {
  const k = x.length;
  return Float64Array.from({ length: coalitionCount(k) }, (_, m) => f(x.map((xi, i) => (m & (1 << i) ? xi : b[i]!))));
}

/** v at each permutation's proper non-empty prefixes, as sampledShapley reads them. */
function prefixes(f: (row: number[]) => number, x: number[], b: number[], perms: Uint16Array): Float64Array {
  const k = x.length;
  const out: number[] = [];
  for (let p = 0; p < perms.length / k; p++) {
    const row = b.slice();
    for (let j = 0; j < k - 1; j++) {
      const i = perms[p * k + j]!;
      row[i] = x[i]!;
      out.push(f(row));
    }
  }
  return Float64Array.from(out);
}

describe('exact Shapley values', () => {
  it('of a linear function are w·(x − baseline)', () => {
    const w = [0.5, -2, 3, 0, 1.25];
    const f = (r: number[]) => 7 + r.reduce((s, v, i) => s + w[i]! * v, 0);
    const x = [1, 2, 3, 4, 5];
    const b = [0.5, -1, 0, 2, 10];
    const phi = exactShapley(allCoalitions(f, x, b), 5);
    for (let i = 0; i < 5; i++) expect(phi[i]).toBeCloseTo(w[i]! * (x[i]! - b[i]!), 12);
  });

  it('split an interaction equally and sum to f(x) − f(baseline)', () => {
    const f = (r: number[]) => r[0]! * r[1]! + Math.sin(r[2]!) * r[3]!;
    const x = [2, 3, 1, 4];
    const b = [0, 0, 0, 0];
    const phi = exactShapley(allCoalitions(f, x, b), 4);
    expect(phi[0]).toBeCloseTo(3, 12); // x0·x1 = 6, half each
    expect(phi[1]).toBeCloseTo(3, 12);
    expect(phi[2]).toBeCloseTo(2 * Math.sin(1), 12);
    expect(phi[2]).toBeCloseTo(phi[3]!, 12);
    expect(phi.reduce((a, v) => a + v, 0)).toBeCloseTo(f(x) - f(b), 12);
  });

  it('refuses a value count that is not 2^k', () => {
    expect(() => exactShapley(new Float64Array(7), 3)).toThrow(RangeError);
  });
});

describe('sampled Shapley values', () => {
  it('draw each permutation uniformly and reproducibly for a seed', () => {
    const a = samplePermutations(4, 2000, createRng(9));
    expect(samplePermutations(4, 2000, createRng(9))).toEqual(a);
    expect(samplePermutations(4, 2000, createRng(10))).not.toEqual(a);
    const firsts = [0, 0, 0, 0];
    for (let p = 0; p < 2000; p++) {
      expect([...a.subarray(p * 4, p * 4 + 4)].sort()).toEqual([0, 1, 2, 3]);
      firsts[a[p * 4]!]!++;
    }
    for (const n of firsts) expect(n).toBeGreaterThan(400); // 500 expected each
  });

  it('come within a few standard errors of the exact ones and still sum to f(x) − f(baseline)', () => {
    const k = 8;
    const f = (r: number[]) => Math.tanh(r[0]! * r[1]! - r[2]!) + r[3]! * r[4]! * r[5]! + Math.max(r[6]!, r[7]!);
    const rng = createRng(3);
    const x = Array.from({ length: k }, () => rng() * 2 - 1);
    const b = Array.from({ length: k }, () => rng() * 2 - 1);
    const exact = exactShapley(allCoalitions(f, x, b), k);
    const perms = samplePermutations(k, 3000, createRng(4));
    const { phi, standardError } = sampledShapley(perms, k, prefixes(f, x, b, perms), f(b), f(x));
    for (let i = 0; i < k; i++) {
      expect(Math.abs(phi[i]! - exact[i]!)).toBeLessThanOrEqual(4 * standardError[i]! + 1e-12);
      expect(standardError[i]).toBeLessThan(0.05);
    }
    expect(phi.reduce((a, v) => a + v, 0)).toBeCloseTo(f(x) - f(b), 10);
  });

  it('have no spread on an additive function', () => {
    const f = (r: number[]) => 2 * r[0]! - r[1]! + 0.5 * r[2]!;
    const perms = samplePermutations(3, 10, createRng(1));
    const { phi, standardError } = sampledShapley(perms, 3, prefixes(f, [1, 1, 1], [0, 0, 0], perms), 0, 1.5);
    expect([...phi].map((v) => Number(v.toFixed(12)))).toEqual([2, -1, 0.5]);
    for (const se of standardError) expect(se).toBeLessThan(1e-12);
  });
});
