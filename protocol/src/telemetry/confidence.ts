// Confidence sums for confidence-based performance estimation (CBPE, as NannyML does it offline; design §6):
// per window, the predictions that carried a top-class probability, the sum of that probability and of its
// square, and per predicted class the count and the sum. A calibrated classifier is right with probability
// equal to its top-class confidence, so the expected accuracy of n predictions is Σp / n, and Σp(1 − p) / n²
// is the variance of the accuracy labels would show. Sums are integers in 1/CONFIDENCE_SCALE units, so merging
// across devices and windows is exact addition in any order (floats would depend on the order of the adds).

import * as z from 'zod';
import { TELEMETRY_LIMITS } from '../limits.js';
import { Count } from './refine.js';

/** Confidence units per 1.0: sums are integers, exact under merge; one prediction rounds by ≤ 5e-7. */
export const CONFIDENCE_SCALE = 1_000_000;

/** Sums of top-class confidence, in 1/CONFIDENCE_SCALE units (telemetry/confidence.ts: CBPE). */
const ConfidenceTotal = z.number().int().min(0).max(TELEMETRY_LIMITS.count * CONFIDENCE_SCALE);
export const ConfidenceSums = z.object({
  /** Predictions that carried a top-class probability. */
  count: Count,
  /** Σ top-class probability. */
  sum: ConfidenceTotal,
  /** Σ (top-class probability)². */
  sumSq: ConfidenceTotal,
  /** Per predicted class index: predictions and Σ their confidence. */
  classCounts: z.array(Count).max(TELEMETRY_LIMITS.classes),
  classSums: z.array(ConfidenceTotal).max(TELEMETRY_LIMITS.classes),
});
export type ConfidenceSums = z.infer<typeof ConfidenceSums>;

export function createConfidenceSums(classes = 0): ConfidenceSums {
  return { count: 0, sum: 0, sumSq: 0, classCounts: new Array<number>(classes).fill(0), classSums: new Array<number>(classes).fill(0) };
}

/**
 * Counts one prediction of class `classIndex` made with top-class probability `confidence` (mutates and
 * returns `s`). A confidence that is not a number in [0, 1] is left out: the window then estimates from the
 * predictions that had one.
 */
export function confidenceAdd(s: ConfidenceSums, classIndex: number, confidence: number): ConfidenceSums {
  if (!(confidence >= 0 && confidence <= 1)) return s;
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= TELEMETRY_LIMITS.classes) return s;
  const units = Math.round(confidence * CONFIDENCE_SCALE);
  s.count++;
  s.sum += units;
  // round(p²·S) ≤ round(p·S) for p in [0, 1]: sumSq ≤ sum holds for every window the agent builds
  s.sumSq += Math.round(confidence * confidence * CONFIDENCE_SCALE);
  while (s.classCounts.length <= classIndex) s.classCounts.push(0), s.classSums.push(0);
  s.classCounts[classIndex]!++;
  s.classSums[classIndex]! += units;
  return s;
}

/** Element-wise sum of two count arrays; the shorter one counts as zeros beyond its end. */
export const addArrays = (a: readonly number[], b: readonly number[]): number[] => {
  const out = new Array<number>(Math.max(a.length, b.length)).fill(0);
  for (let i = 0; i < a.length; i++) out[i]! += a[i]!;
  for (let i = 0; i < b.length; i++) out[i]! += b[i]!;
  return out;
};

/** A new summary adding both: exact (integer sums). */
export function mergeConfidenceSums(a: ConfidenceSums, b: ConfidenceSums): ConfidenceSums {
  return {
    count: a.count + b.count,
    sum: a.sum + b.sum,
    sumSq: a.sumSq + b.sumSq,
    classCounts: addArrays(a.classCounts, b.classCounts),
    classSums: addArrays(a.classSums, b.classSums),
  };
}

/**
 * Why the sums cannot be from real predictions, or null: per-class arrays of different lengths, totals that
 * are not the sum of the per-class parts, more confidence than predictions (a probability above 1), or a
 * sum of squares above the sum.
 */
export function confidenceSumsIssue(s: ConfidenceSums): string | null {
  if (s.classCounts.length !== s.classSums.length) return `confidenceSums: ${s.classCounts.length} class counts but ${s.classSums.length} class sums`;
  let n = 0;
  let total = 0;
  for (let k = 0; k < s.classCounts.length; k++) {
    const c = s.classCounts[k]!;
    const x = s.classSums[k]!;
    if (x > c * CONFIDENCE_SCALE) return `confidenceSums: class ${k} sums ${x / CONFIDENCE_SCALE} over ${c} predictions`;
    n += c;
    total += x;
  }
  if (n !== s.count) return `confidenceSums: count ${s.count} is not the sum of its class counts (${n})`;
  if (total !== s.sum) return `confidenceSums: sum ${s.sum} is not the sum of its class sums (${total})`;
  if (s.sum > s.count * CONFIDENCE_SCALE) return `confidenceSums: sum ${s.sum / CONFIDENCE_SCALE} over ${s.count} predictions`;
  if (s.sumSq > s.sum) return `confidenceSums: sum of squares ${s.sumSq} above the sum ${s.sum}`;
  return null;
}

export interface ExpectedAccuracy {
  /** Predictions with a confidence. */
  n: number;
  /** Σp / n: the accuracy a calibrated model has on them. */
  p: number;
  /** √(Σp(1 − p)) / n: the standard deviation of the accuracy their labels would show, if calibrated. */
  sd: number;
  /** √(Var p / n): the standard error of p as an estimate of the model's expected accuracy on its input distribution. */
  se: number;
}

/** CBPE's estimate from the sums, or null without predictions. */
export function expectedAccuracy(s: Pick<ConfidenceSums, 'count' | 'sum' | 'sumSq'> | undefined): ExpectedAccuracy | null {
  if (!s || s.count <= 0) return null;
  const n = s.count;
  const mean = s.sum / CONFIDENCE_SCALE / n;
  const meanSq = s.sumSq / CONFIDENCE_SCALE / n;
  const sd = Math.sqrt(Math.max(0, mean - meanSq) / n);
  const se = Math.sqrt(Math.max(0, meanSq - mean * mean) / n);
  return { n, p: mean, sd, se };
}
