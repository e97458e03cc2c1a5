import { describe, expect, it } from 'vitest';
import { Histogram } from '../schemas/index.js';
import {
  HISTOGRAM_MAX_BUCKETS,
  HISTOGRAM_MAX_INDEXABLE,
  createHistogram,
  histogramAdd,
  histogramIndexRange,
  histogramMerge,
  histogramMergeInto,
  histogramQuantile,
} from './histogram.js';
import { createNormal, createRng } from '../testing/index.js';

/** Lognormal latencies (median ≈ 20 ms), rounded to 2^-10 ms so sums are exact in any order. */
function latencies(seed: number, n: number): number[] {
  const normal = createNormal(createRng(seed));
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.round(Math.exp(Math.log(20) + 0.9 * normal()) * 1024) / 1024);
  return out;
}

function histogramOf(values: readonly number[], alpha?: number): Histogram {
  const h = createHistogram(alpha);
  for (const v of values) histogramAdd(h, v);
  return h;
}

describe('latency histogram', () => {
  it('keeps every quantile of 100k lognormal samples within 2% of the exact quantile', () => {
    const values = latencies(42, 100_000);
    const h = histogramOf(values);
    const sorted = Float64Array.from(values).sort();
    for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
      const estimate = histogramQuantile(h, q)!;
      expect(Math.abs(estimate - exact) / exact, `q=${q} exact=${exact} estimate=${estimate}`).toBeLessThanOrEqual(0.02);
    }
    expect(histogramQuantile(h, 0)).toBe(sorted[0]);
    expect(histogramQuantile(h, 1)).toBe(sorted[sorted.length - 1]);
    expect(h.count).toBe(100_000);
    expect(h.counts.length).toBeLessThan(1000); // compact: ~log(max/min)/ln γ buckets
  });

  it('merges two histograms into exactly the histogram of the concatenated data', () => {
    const values = latencies(7, 20_000);
    values.push(0, 0, -1); // zeros and negatives land in `zeros`
    const rng = createRng(3);
    const a: number[] = [];
    const b: number[] = [];
    for (const v of values) (rng() < 0.3 ? a : b).push(v);
    const whole = histogramOf(values);
    expect(histogramMerge(histogramOf(a), histogramOf(b))).toEqual(whole);
    expect(histogramMerge(histogramOf(b), histogramOf(a))).toEqual(whole);
    const target = histogramOf(a);
    histogramMergeInto(target, histogramOf(b));
    expect(target).toEqual(whole);
    expect(whole.zeros).toBe(3);
  });

  it('merges a histogram whose buckets lie within the target\'s (added in place) as the histogram of both data sets', () => {
    const wide = latencies(11, 5_000);
    const target = histogramOf(wide);
    const narrow = histogramOf([wide[0]!, wide[1]!, wide[2]!]);
    histogramMergeInto(target, narrow);
    expect(target).toEqual(histogramOf([...wide, wide[0]!, wide[1]!, wide[2]!]));
    // a target holding padding zeros at both ends (as a device may send it) ends trimmed, as the copying path leaves it
    const padded = histogramOf([5, 6, 7]);
    padded.counts = [0, 0, ...padded.counts, 0, 0];
    padded.offset -= 2;
    histogramMergeInto(padded, histogramOf([6]));
    expect(padded).toEqual(histogramOf([5, 6, 7, 6]));
  });

  it('leaves its inputs untouched when merging into a new histogram', () => {
    const a = histogramOf([1, 2, 3]);
    const b = histogramOf([1000, 2000]);
    const before = structuredClone(a);
    histogramMerge(a, b);
    expect(a).toEqual(before);
  });

  it('refuses to merge histograms of different alpha', () => {
    expect(() => histogramMerge(createHistogram(0.01), createHistogram(0.02))).toThrow(/different accuracy/);
  });

  it('survives a JSON round trip and validates against the schema', () => {
    const h = histogramOf(latencies(11, 5000));
    const back = Histogram.parse(JSON.parse(JSON.stringify(h)));
    expect(back).toEqual(h);
    expect(histogramQuantile(back, 0.95)).toBe(histogramQuantile(h, 0.95));
    expect(Histogram.parse(JSON.parse(JSON.stringify(createHistogram())))).toEqual(createHistogram());
  });

  it('answers null for the quantile of an empty histogram and ignores non-finite values', () => {
    const h = createHistogram();
    histogramAdd(h, Number.NaN);
    histogramAdd(h, Infinity);
    expect(h.count).toBe(0);
    expect(histogramQuantile(h, 0.5)).toBeNull();
  });

  it('folds the lowest buckets beyond the bucket cap, the same way whatever the insertion order', () => {
    // at alpha 0.001 the index range (≈ 20,700 buckets) is wider than the cap
    const up = histogramOf([1e-8, 5, 1e8, 1e8, 1e8], 0.001);
    const down = histogramOf([1e8, 1e8, 1e8, 5, 1e-8], 0.001);
    expect(up).toEqual(down);
    expect(up.counts.length).toBe(HISTOGRAM_MAX_BUCKETS);
    expect(up.count).toBe(5);
    // the top keeps its accuracy; 1e-8 and 5 share the lowest kept bucket
    expect(Math.abs(histogramQuantile(up, 0.9)! / 1e8 - 1)).toBeLessThanOrEqual(0.001);
    expect(up.counts[0]).toBe(2);
    expect(Histogram.safeParse(JSON.parse(JSON.stringify(up))).success).toBe(true);
  });

  it('counts values beyond any real latency in the top bucket of its index range', () => {
    const h = histogramOf([5, 1e300, HISTOGRAM_MAX_INDEXABLE * 10]);
    expect(h.max).toBe(1e300);
    const [lo, hi] = histogramIndexRange(h.alpha);
    expect(h.offset).toBeGreaterThanOrEqual(lo);
    expect(h.offset + h.counts.length - 1).toBe(hi);
    expect(h.counts[h.counts.length - 1]).toBe(2);
    expect(Histogram.safeParse(JSON.parse(JSON.stringify(h))).success).toBe(true);
  });

  it('merges buckets any distance apart with at most the bucket cap allocated, keeping every count', () => {
    for (const gap of [5e8, 5e9, 2 ** 52]) {
      const a = histogramOf([5, 5]);
      const b = { ...histogramOf([7]), offset: histogramOf([7]).offset + gap };
      histogramMergeInto(a, b);
      expect(a.counts.length).toBeLessThanOrEqual(HISTOGRAM_MAX_BUCKETS);
      expect(a.count).toBe(3);
      expect(a.counts.reduce((s, c) => s + c, 0)).toBe(3);
      const c = histogramOf([5, 5]);
      histogramMergeInto(c, { ...histogramOf([7]), offset: -gap });
      expect(c.counts.length).toBeLessThanOrEqual(HISTOGRAM_MAX_BUCKETS);
      expect(c.counts.reduce((s, x) => s + x, 0)).toBe(3);
    }
  });

  it('refuses, in its schema, buckets outside the index range and counts its buckets do not hold', () => {
    const h = histogramOf([5, 6]);
    const [lo, hi] = histogramIndexRange(h.alpha);
    expect(Histogram.safeParse({ ...h, offset: hi + 1 }).success).toBe(false);
    expect(Histogram.safeParse({ ...h, offset: lo - 1 }).success).toBe(false);
    expect(Histogram.safeParse({ ...h, offset: hi - h.counts.length + 2 }).success).toBe(false);
    expect(Histogram.safeParse({ ...h, count: 3 }).success).toBe(false);
    expect(Histogram.safeParse({ ...h, alpha: 1e-6 }).success).toBe(false);
    expect(Histogram.safeParse(h).success).toBe(true);
  });

  it('counts repeated observations with a count argument', () => {
    const once = createHistogram();
    histogramAdd(once, 12.5, 3);
    expect(once).toEqual(histogramOf([12.5, 12.5, 12.5]));
  });
});
