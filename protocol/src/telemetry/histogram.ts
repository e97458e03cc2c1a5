// Log-bucketed latency histogram (DDSketch-style, design §6): ≤ α relative error on any quantile,
// merge by addition, compact JSON. `histogramAdd` is on the agent's inference hot path: no allocation
// unless the value falls outside the buckets seen so far.

import * as z from 'zod';
import { EdgefleetError } from '../errors.js';
import { Count, refineWith } from './refine.js';

/** Default relative accuracy: every quantile is within 1% of a sample value at that rank (design §6 asks ≤ 2%). */
export const HISTOGRAM_DEFAULT_ALPHA = 0.01;
/** Values ≤ this (zero, negatives) are counted in `zeros`: log buckets cannot hold them. */
export const HISTOGRAM_MIN_INDEXABLE = 1e-9;
/**
 * Values above this (1e9 ms ≈ 11.6 days: no real latency) are counted in its bucket (sum, min and max stay exact), so every bucket index
 * a histogram can hold lies in histogramIndexRange(alpha) and a device cannot name one beyond it.
 */
export const HISTOGRAM_MAX_INDEXABLE = 1e9;
/** Finest accuracy accepted: below it the index range outgrows the bucket cap many times over. */
export const HISTOGRAM_MIN_ALPHA = 0.001;
/** Most buckets a histogram keeps (the schema's cap); beyond it the lowest buckets are folded together. */
export const HISTOGRAM_MAX_BUCKETS = 8192;

/**
 * Log-bucketed latency histogram (DDSketch-style): bucket i holds values in (γ^(i-1), γ^i] with
 * γ = (1+α)/(1-α); `counts[k]` is bucket `offset + k`. Values ≤ `minIndexable` go to `zeros`. Every
 * bucket lies in histogramIndexRange(alpha) and the buckets hold `count` (histogramIssue).
 */
export const Histogram = z
  .object({
    alpha: z.number().min(HISTOGRAM_MIN_ALPHA).max(0.5),
    count: Count,
    sum: z.number(),
    min: z.number().nullable(),
    max: z.number().nullable(),
    zeros: Count,
    offset: z.number().int(),
    counts: z.array(Count).max(HISTOGRAM_MAX_BUCKETS),
  })
  .superRefine(refineWith(histogramIssue));
export type Histogram = z.infer<typeof Histogram>;

// a structural type, not the schema's (which refines with histogramIssue: no type cycle)
interface Buckets {
  alpha: number;
  count: number;
  zeros: number;
  offset: number;
  counts: readonly number[];
}

/**
 * Why a histogram cannot be what histogramAdd builds, or null: a bucket outside the index range any value
 * can reach at its alpha (histogramIndexRange), or bucket counts that do not add up to `count`.
 */
export function histogramIssue(h: Buckets): string | null {
  const [lo, hi] = histogramIndexRange(h.alpha);
  if (h.offset < lo || h.offset > hi || h.offset + h.counts.length - 1 > hi) {
    return `buckets ${h.offset}…${h.offset + h.counts.length - 1} are outside [${lo}, ${hi}], the range of alpha ${h.alpha}`;
  }
  let n = h.zeros;
  for (let k = 0; k < h.counts.length; k++) n += h.counts[k]!;
  if (n !== h.count) return `count ${h.count} is not zeros + bucket counts (${n})`;
  return null;
}

// 1/ln(γ) for the last alpha seen: histograms are plain JSON objects, so the constant is cached here
// instead of on the object (almost every histogram in a process shares one alpha).
let cachedAlpha = Number.NaN;
let cachedInvLnGamma = 0;
let cachedGamma = 1;

function invLnGamma(alpha: number): number {
  if (alpha !== cachedAlpha) {
    cachedGamma = (1 + alpha) / (1 - alpha);
    cachedInvLnGamma = 1 / Math.log(cachedGamma);
    cachedAlpha = alpha;
  }
  return cachedInvLnGamma;
}

function gammaOf(alpha: number): number {
  invLnGamma(alpha);
  return cachedGamma;
}

/** An empty histogram. `alpha` is the relative accuracy (HISTOGRAM_MIN_ALPHA ≤ α ≤ 0.5). */
export function createHistogram(alpha: number = HISTOGRAM_DEFAULT_ALPHA): Histogram {
  if (!(alpha >= HISTOGRAM_MIN_ALPHA && alpha <= 0.5)) {
    throw new EdgefleetError('BAD_INPUT', `histogram alpha must be in [${HISTOGRAM_MIN_ALPHA}, 0.5], got ${alpha}`);
  }
  return { alpha, count: 0, sum: 0, min: null, max: null, zeros: 0, offset: 0, counts: [] };
}

/** Bucket index of a value > HISTOGRAM_MIN_INDEXABLE: bucket i holds (γ^(i-1), γ^i]. */
export function histogramBucketIndex(alpha: number, v: number): number {
  return Math.ceil(Math.log(v) * invLnGamma(alpha));
}

/** The lowest and highest bucket index a histogram of accuracy `alpha` can hold (both inclusive). */
export function histogramIndexRange(alpha: number): [number, number] {
  return [histogramBucketIndex(alpha, HISTOGRAM_MIN_INDEXABLE), histogramBucketIndex(alpha, HISTOGRAM_MAX_INDEXABLE)];
}

/**
 * Adds `count` observations of `v` (mutates and returns `h`). Non-finite values are ignored, so a bad
 * measurement cannot poison a window's JSON; values above HISTOGRAM_MAX_INDEXABLE land in its bucket.
 */
export function histogramAdd(h: Histogram, v: number, count = 1): Histogram {
  if (!Number.isFinite(v) || !(count > 0)) return h;
  h.count += count;
  h.sum += v * count;
  if (h.min === null || v < h.min) h.min = v;
  if (h.max === null || v > h.max) h.max = v;
  if (v <= HISTOGRAM_MIN_INDEXABLE) {
    h.zeros += count;
    return h;
  }
  const i = Math.ceil(Math.log(v) * (h.alpha === cachedAlpha ? cachedInvLnGamma : invLnGamma(h.alpha)));
  const counts = h.counts;
  const k = i - h.offset;
  if (k >= 0 && k < counts.length) {
    counts[k]! += count; // common case: no allocation
    return h;
  }
  addOutOfRange(h, i, count);
  return h;
}

function addOutOfRange(h: Histogram, i: number, count: number): void {
  if (h.counts.length === 0) {
    h.offset = Math.min(i, histogramIndexRange(h.alpha)[1]);
    h.counts.push(count);
    return;
  }
  addBuckets(h, Math.min(i, histogramIndexRange(h.alpha)[1]), [count]);
}

/**
 * Adds `counts` (bucket `offset + k` at k) into `h`'s buckets. At most HISTOGRAM_MAX_BUCKETS are kept: when
 * the union spans more, everything below the top HISTOGRAM_MAX_BUCKETS folds into the lowest kept bucket
 * (DDSketch's collapsing). The work and the allocation are O(both lengths + HISTOGRAM_MAX_BUCKETS) whatever
 * the offsets, so no bucket index, however far, can make a merge allocate by the distance between them.
 */
function addBuckets(h: Histogram, offset: number, counts: readonly number[]): void {
  const theirs = nonZeroSpan(counts);
  if (theirs === null) return;
  // common case (a rollup taking a device's window): their buckets lie within ours, added in place
  const within = offset + theirs[0] - h.offset;
  if (within >= 0 && offset + theirs[1] - h.offset < h.counts.length && h.counts.length <= HISTOGRAM_MAX_BUCKETS) {
    for (let k = theirs[0]; k <= theirs[1]; k++) h.counts[within - theirs[0] + k]! += counts[k]!;
    trim(h);
    return;
  }
  const mine = nonZeroSpan(h.counts);
  if (mine === null) {
    h.offset = offset;
    h.counts = counts.slice();
  } else {
    // the span of non-empty buckets only, so padding zeros never decide where the fold falls
    const lo = Math.min(h.offset + mine[0], offset + theirs[0]);
    const hi = Math.max(h.offset + mine[1], offset + theirs[1]) + 1;
    const base = hi - lo > HISTOGRAM_MAX_BUCKETS ? hi - HISTOGRAM_MAX_BUCKETS : lo;
    const out = new Array<number>(hi - base).fill(0);
    const add = (from: number, xs: readonly number[], span: [number, number]) => {
      for (let k = span[0]; k <= span[1]; k++) out[Math.max(0, from + k - base)]! += xs[k]!;
    };
    add(h.offset, h.counts, mine);
    add(offset, counts, theirs);
    h.offset = base;
    h.counts = out;
  }
  trim(h);
  foldLow(h);
}

/** First and last index of a non-zero count, or null when every count is zero. */
function nonZeroSpan(xs: readonly number[]): [number, number] | null {
  let first = 0;
  while (first < xs.length && xs[first] === 0) first++;
  if (first === xs.length) return null;
  let last = xs.length - 1;
  while (xs[last] === 0) last--;
  return [first, last];
}

/** Keeps at most HISTOGRAM_MAX_BUCKETS buckets by folding the lowest into the lowest kept one. */
function foldLow(h: Histogram): void {
  const excess = h.counts.length - HISTOGRAM_MAX_BUCKETS;
  if (excess <= 0) return;
  let folded = 0;
  for (let k = 0; k <= excess; k++) folded += h.counts[k]!;
  h.counts.splice(0, excess);
  h.counts[0] = folded;
  h.offset += excess;
}

function trim(h: Histogram): void {
  const counts = h.counts;
  let end = counts.length;
  while (end > 0 && counts[end - 1] === 0) end--;
  let start = 0;
  while (start < end && counts[start] === 0) start++;
  if (start === 0 && end === counts.length) return;
  h.counts = counts.slice(start, end);
  h.offset = end === 0 ? 0 : h.offset + start;
}

/** Adds `src` into `target` (mutates and returns `target`). Refuses histograms of different alpha. */
export function histogramMergeInto(target: Histogram, src: Histogram): Histogram {
  if (target.alpha !== src.alpha) {
    throw new EdgefleetError(
      'BAD_INPUT',
      `cannot merge histograms of different accuracy (alpha ${target.alpha} vs ${src.alpha})`,
    );
  }
  target.count += src.count;
  target.sum += src.sum;
  target.zeros += src.zeros;
  if (src.min !== null && (target.min === null || src.min < target.min)) target.min = src.min;
  if (src.max !== null && (target.max === null || src.max > target.max)) target.max = src.max;
  addBuckets(target, src.offset, src.counts);
  return target;
}

/** A new histogram holding both inputs' observations. */
export function histogramMerge(a: Histogram, b: Histogram): Histogram {
  const out: Histogram = { ...a, counts: a.counts.slice() };
  return histogramMergeInto(out, b);
}

/**
 * Estimated q-quantile (0 ≤ q ≤ 1) of the observations, or null when empty. The estimate is within
 * relative error α of the sample at rank ⌊q·(count−1)⌋ (DDSketch), clamped to [min, max].
 */
export function histogramQuantile(h: Histogram, q: number): number | null {
  if (h.count === 0 || h.min === null || h.max === null) return null;
  if (q <= 0) return h.min;
  if (q >= 1) return h.max;
  const rank = q * (h.count - 1);
  let seen = h.zeros;
  let estimate: number;
  if (seen > rank) {
    estimate = 0;
  } else {
    const gamma = gammaOf(h.alpha);
    let k = 0;
    for (; k < h.counts.length; k++) {
      seen += h.counts[k]!;
      if (seen > rank) break;
    }
    if (k === h.counts.length) return h.max;
    // the point of (γ^(i-1), γ^i] whose relative distance to both ends is α
    estimate = (2 * Math.pow(gamma, h.offset + k)) / (gamma + 1);
  }
  return Math.min(h.max, Math.max(h.min, estimate));
}

/** Mean of the observations, or null when empty. */
export function histogramMean(h: Histogram): number | null {
  return h.count === 0 ? null : h.sum / h.count;
}
