import { describe, expect, it } from 'vitest';
import { FeatureSummary, ReferenceFeature } from '../schemas/index.js';
import {
  buildReferenceFeature,
  createFeatureSummary,
  extractFeatureValues,
  featureAdd,
  featureBinIndex,
  featureMoments,
  mergeFeatureSummary,
  withholdMoments,
} from './features.js';
import { windowIssue } from './bounds.js';

describe('feature bins', () => {
  it('puts values in (-inf, e0), [e0, e1), …, [e_last, +inf)', () => {
    const edges = [0, 10, 20];
    expect([-5, 0, 9.99, 10, 19, 20, 1e9].map((v) => featureBinIndex(edges, v))).toEqual([0, 1, 1, 2, 2, 3, 3]);
  });

  it('counts values with moments, and null, NaN and infinities as nulls', () => {
    const edges = [0, 10];
    const s = createFeatureSummary(edges.length + 1);
    for (const v of [-1, 5, 5, 12, null, Number.NaN, Infinity]) featureAdd(s, edges, v);
    expect(s).toEqual({ bins: [1, 2, 1], nulls: 3, count: 4, sum: 21, sumSq: 1 + 25 + 25 + 144, min: -1, max: 12 });
    expect(FeatureSummary.parse(JSON.parse(JSON.stringify(s)))).toEqual(s);
  });

  it('withholds the moments of a feature, keeping the bins drift reads; merged moments only where every counted side has them', () => {
    const edges = [0, 10];
    const full = createFeatureSummary(3);
    const secret = createFeatureSummary(3);
    for (const v of [-1, 5]) featureAdd(full, edges, v);
    featureAdd(secret, edges, 12.5);
    withholdMoments(secret);
    expect(secret).toEqual({ bins: [0, 0, 1], nulls: 0, count: 1 });
    expect(JSON.stringify(secret)).not.toContain('12.5');
    expect(FeatureSummary.parse(JSON.parse(JSON.stringify(secret)))).toEqual(secret);
    expect(featureMoments(secret)).toBeNull();
    featureAdd(secret, edges, 3); // counting on stays bins-only
    expect(secret).toEqual({ bins: [0, 1, 1], nulls: 0, count: 2 });
    // a sum over some devices' values is no one's sum: the merge drops the moments, never half-fills them
    expect(mergeFeatureSummary(full, secret)).toEqual({ bins: [1, 2, 1], nulls: 0, count: 4 });
    expect(mergeFeatureSummary(withholdMoments(createFeatureSummary(3)), full)).toEqual(full);
    const w = { start: 0, end: 1, features: { f: { bins: [1], count: 1, sum: 1 } } };
    expect(windowIssue(w)).toMatch(/1 of its 4 moments/);
    expect(windowIssue({ ...w, features: { f: { bins: [1], count: 1 } } })).toBeNull();
  });

  it('refuses a summary whose bins do not fit the edges', () => {
    expect(() => featureAdd(createFeatureSummary(3), [1, 2, 3], 1.5)).toThrow(/bins/);
  });

  it('merges summaries into the summary of the concatenated values', () => {
    const edges = [1, 2, 3];
    const a = createFeatureSummary(4);
    const b = createFeatureSummary(4);
    const all = createFeatureSummary(4);
    [0.5, 1.5, null].forEach((v) => (featureAdd(a, edges, v), featureAdd(all, edges, v)));
    [2.5, 3.5, 4].forEach((v) => (featureAdd(b, edges, v), featureAdd(all, edges, v)));
    expect(mergeFeatureSummary(a, b)).toEqual(all);
    expect(mergeFeatureSummary(createFeatureSummary(4), a)).toEqual(a);
    expect(() => mergeFeatureSummary(a, createFeatureSummary(5))).toThrow(/bins/);
  });
});

describe('feature extraction', () => {
  it('indexes the last axis of each row of a tabular batch', () => {
    // [3, 4]: three rows of four features
    const data = Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
    expect(extractFeatureValues({ input: 'x', index: 2 }, [3, 4], data)).toEqual([2, 12, 22]);
    expect(extractFeatureValues({ input: 'x', index: 4 }, [3, 4], data)).toEqual([null, null, null]);
  });

  it('reads int64 (bigint) and bool tensors as numbers', () => {
    expect(extractFeatureValues({ input: 'x', index: 1 }, [2, 2], BigInt64Array.from([1n, 2n, 3n, 40n]))).toEqual([2, 40]);
    expect(extractFeatureValues({ input: 'x', index: 0 }, [2, 1], [true, false])).toEqual([1, 0]);
  });

  it('reduces each image, or one channel of it, to a statistic', () => {
    // [2, 3, 2, 2]: two images, three channels of 2×2; image r channel c pixel k = 100r + 10c + k
    const dims = [2, 3, 2, 2];
    const data: number[] = [];
    for (let r = 0; r < 2; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 4; k++) data.push(100 * r + 10 * c + k);
    expect(extractFeatureValues({ input: 'img', reduce: 'mean', channel: 1 }, dims, data)).toEqual([11.5, 111.5]);
    expect(extractFeatureValues({ input: 'img', reduce: 'max', channel: 2 }, dims, data)).toEqual([23, 123]);
    expect(extractFeatureValues({ input: 'img', reduce: 'min' }, dims, data)).toEqual([0, 100]);
    // whole-image mean: channel means 1.5, 11.5, 21.5 → 11.5
    expect(extractFeatureValues({ input: 'img', reduce: 'mean' }, dims, data)).toEqual([11.5, 111.5]);
    // std of 0,1,2,3 = √1.25
    expect(extractFeatureValues({ input: 'img', reduce: 'std', channel: 0 }, dims, data)[0]).toBeCloseTo(Math.sqrt(1.25), 12);
    // l2 of 10,11,12,13 = √534
    expect(extractFeatureValues({ input: 'img', reduce: 'l2', channel: 1 }, dims, data)[0]).toBeCloseTo(Math.sqrt(534), 12);
    expect(extractFeatureValues({ input: 'img', reduce: 'mean', channel: 3 }, dims, data)).toEqual([null, null]);
  });

  it('gives null for a row containing NaN and for a tensor shorter than its dims', () => {
    expect(extractFeatureValues({ input: 'x', reduce: 'mean' }, [2, 2], [1, Number.NaN, 3, 5])).toEqual([null, 4]);
    expect(extractFeatureValues({ input: 'x', index: 0 }, [2, 2], [1, 2, 3])).toEqual([null, null]);
  });
});

describe('reference features', () => {
  it('puts edges at the deciles and counts the values into them', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i);
    const ref = buildReferenceFeature('x', { input: 'x', index: 0 }, values);
    expect(ref.edges).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900]);
    expect(ref.counts).toEqual(new Array(10).fill(100));
    expect(ref.mean).toBe(499.5);
    expect(ref.std).toBeCloseTo(Math.sqrt((1000 * 1000 - 1) / 12), 9);
    expect(ReferenceFeature.parse(JSON.parse(JSON.stringify(ref)))).toEqual(ref);
  });

  it('merges equal quantiles so edges stay strictly increasing for discrete features', () => {
    // 70% zeros, then 1, 2, 3 at 10% each
    const values = [...new Array(70).fill(0), ...new Array(10).fill(1), ...new Array(10).fill(2), ...new Array(10).fill(3)];
    const ref = buildReferenceFeature('x', { input: 'x', index: 0 }, values);
    expect(ref.edges).toEqual([0, 1, 2, 3]);
    expect(ref.counts).toEqual([0, 70, 10, 10, 10]);
    expect(ReferenceFeature.safeParse(ref).success).toBe(true);
  });

  it('refuses a feature without finite values', () => {
    expect(() => buildReferenceFeature('x', { input: 'x', index: 0 }, [Number.NaN])).toThrow(/no finite values/);
  });
});
