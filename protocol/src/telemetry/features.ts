// Input-feature summaries (design §6): counts in the reference's quantile bins plus moments, how a
// feature is read from a tensor (FeatureSource), and how a reference is built from training data.

import { EdgefleetError } from '../errors.js';
import type { FeatureSource, ReferenceFeature } from '../schemas/manifest.js';
import type { FeatureSummary } from './schemas.js';

/** An empty summary with `binCount` bins; for a reference with `edges`, binCount = edges.length + 1. */
export function createFeatureSummary(binCount: number): FeatureSummary {
  if (!Number.isInteger(binCount) || binCount < 2 || binCount > 65) {
    throw new EdgefleetError('BAD_INPUT', `feature bin count must be an integer in [2, 65], got ${binCount}`);
  }
  return { bins: new Array<number>(binCount).fill(0), nulls: 0, count: 0, sum: 0, sumSq: 0, min: null, max: null };
}

/**
 * Bin of `v` for strictly increasing `edges`: 0 is (-∞, e0), i is [e(i-1), e(i)), edges.length is
 * [e_last, +∞) — i.e. the number of edges ≤ v (binary search).
 */
export function featureBinIndex(edges: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Counts one value (mutates and returns `summary`). null, NaN and ±∞ count as `nulls` (infinities
 * would turn `sum` into something JSON cannot carry); `count`, `sum`, `sumSq`, `min`, `max` cover
 * the finite values only (moments only where the summary has them: hasMoments).
 */
export function featureAdd(summary: FeatureSummary, edges: readonly number[], value: number | null): FeatureSummary {
  if (value === null || !Number.isFinite(value)) {
    summary.nulls++;
    return summary;
  }
  if (summary.bins.length !== edges.length + 1) {
    throw new EdgefleetError(
      'BAD_INPUT',
      `feature summary has ${summary.bins.length} bins but the reference has ${edges.length} edges (needs ${edges.length + 1})`,
    );
  }
  summary.bins[featureBinIndex(edges, value)]!++;
  const moments = hasMoments(summary);
  summary.count++;
  // a summary whose moments were withheld stays so: it counts bins only
  if (!moments) return summary;
  summary.sum! += value;
  summary.sumSq! += value * value;
  if (summary.min === null || value < summary.min!) summary.min = value;
  if (summary.max === null || value > summary.max!) summary.max = value;
  return summary;
}

/** Whether a summary carries its moments (sum, sumSq, min, max), which come all together or not at all. */
export function hasMoments(s: FeatureSummary): boolean {
  return s.sum !== undefined;
}

/**
 * The summary without its moments (mutates and returns `s`): what a device sends for a feature whose values
 * must not leave it (schemas/capture.ts captureWithheld). min and max are row values, and sum and sumSq are
 * too in a window of one row (or two, together): only the bin counts, count and nulls remain, which is all
 * drift (PSI, Jensen–Shannon, KS on the reference bins) reads. A bin says which reference-quantile interval a
 * value fell in — the manifest's own edges, no finer.
 */
export function withholdMoments(s: FeatureSummary): FeatureSummary {
  delete s.sum;
  delete s.sumSq;
  delete s.min;
  delete s.max;
  return s;
}

/**
 * A new summary adding both; refuses summaries binned against different references. The moments survive
 * only when every side that counted a value has them: a sum over some devices' values is no one's sum.
 */
export function mergeFeatureSummary(a: FeatureSummary, b: FeatureSummary): FeatureSummary {
  if (a.bins.length !== b.bins.length) {
    throw new EdgefleetError('BAD_INPUT', `cannot merge feature summaries of ${a.bins.length} and ${b.bins.length} bins`);
  }
  const out: FeatureSummary = { bins: a.bins.map((c, i) => c + b.bins[i]!), nulls: a.nulls + b.nulls, count: a.count + b.count };
  const withA = hasMoments(a);
  const withB = hasMoments(b);
  if ((withA || a.count === 0) && (withB || b.count === 0) && (withA || withB)) {
    out.sum = (a.sum ?? 0) + (b.sum ?? 0);
    out.sumSq = (a.sumSq ?? 0) + (b.sumSq ?? 0);
    out.min = minOf(a.min ?? null, b.min ?? null);
    out.max = maxOf(a.max ?? null, b.max ?? null);
  }
  return out;
}

function minOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}
function maxOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/** Mean and population standard deviation of a summary's finite values (null when empty or withheld). */
export function featureMoments(s: FeatureSummary): { mean: number; std: number } | null {
  if (s.count === 0 || s.sum === undefined || s.sumSq === undefined) return null;
  const mean = s.sum / s.count;
  return { mean, std: Math.sqrt(Math.max(0, s.sumSq / s.count - mean * mean)) };
}

const num = (x: number | bigint | boolean): number => (typeof x === 'number' ? x : Number(x));
const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * One value per batch row (axis 0) of a tensor with `dims` and row-major `data`, as `source` says
 * (schemas/manifest.ts FeatureSource): `index` picks element `index` of the row's last axis (other non-batch
 * axes at position 0); otherwise `reduce` (default 'mean') summarizes the row, or only `channel` of
 * axis 1 when given. A source that does not fit the tensor (index or channel out of range, empty row)
 * yields null for every row rather than throwing: telemetry must never fail an inference.
 * NaN/∞ results are null.
 */
export function extractFeatureValues(
  source: FeatureSource,
  dims: readonly number[],
  data: ArrayLike<number | bigint | boolean>,
): (number | null)[] {
  const batch = dims.length === 0 ? 1 : dims[0]!;
  let rowSize = 1;
  for (let d = 1; d < dims.length; d++) rowSize *= dims[d]!;
  const out = new Array<number | null>(batch).fill(null);
  if (batch === 0 || rowSize === 0 || data.length < batch * rowSize) return out;

  if (source.index !== undefined) {
    const last = dims.length >= 2 ? dims[dims.length - 1]! : 1;
    if (source.index >= last) return out;
    for (let r = 0; r < batch; r++) out[r] = finiteOrNull(num(data[r * rowSize + source.index]!));
    return out;
  }

  // the slice of each row to reduce: the whole row, or one channel of axis 1
  let start = 0;
  let size = rowSize;
  if (source.channel !== undefined) {
    if (dims.length < 2 || source.channel >= dims[1]!) return out;
    size = rowSize / dims[1]!;
    start = source.channel * size;
  }
  const reduce = source.reduce ?? 'mean';
  for (let r = 0; r < batch; r++) {
    const base = r * rowSize + start;
    let sum = 0;
    let sumSq = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let k = 0; k < size; k++) {
      const x = num(data[base + k]!);
      sum += x;
      sumSq += x * x;
      if (x < min) min = x;
      if (x > max) max = x;
    }
    let v: number;
    switch (reduce) {
      case 'mean':
        v = sum / size;
        break;
      case 'std': {
        const mean = sum / size;
        v = Math.sqrt(Math.max(0, sumSq / size - mean * mean));
        break;
      }
      case 'min':
        v = min;
        break;
      case 'max':
        v = max;
        break;
      case 'l2':
        v = Math.sqrt(sumSq);
        break;
    }
    // min/max skip NaN in comparisons; a NaN anywhere in the slice makes the value unknown
    out[r] = Number.isNaN(sum) ? null : finiteOrNull(v);
  }
  return out;
}

/**
 * A drift reference for one feature from training values (design §6): edges at the k/bins quantiles
 * (k = 1…bins−1, equal edges merged so they are strictly increasing), the values counted into those
 * bins, and their mean and population std. Non-finite values are skipped.
 */
export function buildReferenceFeature(
  name: string,
  source: FeatureSource,
  values: readonly number[],
  bins = 10,
): ReferenceFeature {
  if (!Number.isInteger(bins) || bins < 2 || bins > 65) {
    throw new EdgefleetError('BAD_INPUT', `reference bins must be an integer in [2, 65], got ${bins}`);
  }
  const sorted = Float64Array.from(values.filter((v) => Number.isFinite(v))).sort();
  const n = sorted.length;
  if (n === 0) throw new EdgefleetError('BAD_INPUT', `reference feature "${name}" has no finite values`);
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    // value below which ≈ k/bins of the data lies
    const e = sorted[Math.min(n - 1, Math.floor((k * n) / bins))]!;
    if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e);
  }
  const counts = new Array<number>(edges.length + 1).fill(0);
  let sum = 0;
  let sumSq = 0;
  for (const v of sorted) {
    counts[featureBinIndex(edges, v)]!++;
    sum += v;
    sumSq += v * v;
  }
  const mean = sum / n;
  return { name, source, edges, counts, mean, std: Math.sqrt(Math.max(0, sumSq / n - mean * mean)) };
}

/**
 * The median of a reference feature read from its bins (a central value where the mean is pulled by a
 * long tail): linear within the bin holding the middle count; the open under/overflow bins give their edge.
 */
export function referenceMedian(feature: Pick<ReferenceFeature, 'edges' | 'counts'>): number {
  const { edges, counts } = feature;
  const total = counts.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return edges[Math.floor((edges.length - 1) / 2)]!;
  const half = total / 2;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > 0 && below + c >= half) {
      if (i === 0) return edges[0]!;
      if (i >= edges.length) return edges[edges.length - 1]!;
      const lo = edges[i - 1]!;
      return lo + ((half - below) / c) * (edges[i]! - lo);
    }
    below += c;
  }
  return edges[edges.length - 1]!;
}
