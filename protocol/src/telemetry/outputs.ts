// Output summaries (design §6): class counts and a top-class confidence histogram for classifiers,
// counts in the reference output bins for regressors; merged by addition.

import { EdgefleetError } from '../errors.js';
import { CONFIDENCE_BINS, type OutputSummary } from './schemas.js';
import { featureBinIndex } from './features.js';
import { addArrays, createConfidenceSums, mergeConfidenceSums } from './confidence.js';

/** An empty summary; with `classes`, a classifier summary with that many class counters. */
export function createOutputSummary(classes?: number): OutputSummary {
  if (classes === undefined) return {};
  if (!Number.isInteger(classes) || classes < 0 || classes > 4096) {
    throw new EdgefleetError('BAD_INPUT', `class count must be an integer in [0, 4096], got ${classes}`);
  }
  return { classCounts: new Array<number>(classes).fill(0), confidence: new Array<number>(CONFIDENCE_BINS).fill(0) };
}

/** Confidence bin of c in CONFIDENCE_BINS equal bins over [0, 1] (1.0 lands in the last bin). */
export function confidenceBinIndex(c: number): number {
  if (!(c > 0)) return 0;
  return Math.min(CONFIDENCE_BINS - 1, Math.floor(c * CONFIDENCE_BINS));
}

/**
 * Counts one classifier prediction (mutates and returns `summary`): the predicted class and its
 * confidence. Class counters grow when the index is beyond them (classes not known up front);
 * a NaN confidence counts the class but not the confidence.
 */
export function outputAddClassifier(summary: OutputSummary, classIndex: number, confidence: number): OutputSummary {
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= 4096) return summary;
  const counts = (summary.classCounts ??= []);
  while (counts.length <= classIndex) counts.push(0);
  counts[classIndex]!++;
  if (!Number.isNaN(confidence)) {
    const conf = (summary.confidence ??= new Array<number>(CONFIDENCE_BINS).fill(0));
    conf[confidenceBinIndex(confidence)]!++;
  }
  return summary;
}

/** Counts one regressor output into the reference output bins (mutates and returns `summary`). */
export function outputAddValue(summary: OutputSummary, edges: readonly number[], value: number): OutputSummary {
  if (!Number.isFinite(value)) return summary;
  const bins = (summary.valueBins ??= new Array<number>(edges.length + 1).fill(0));
  if (bins.length !== edges.length + 1) {
    throw new EdgefleetError('BAD_INPUT', `output summary has ${bins.length} value bins, reference needs ${edges.length + 1}`);
  }
  bins[featureBinIndex(edges, value)]!++;
  return summary;
}

function addOptional(a: number[] | undefined, b: number[] | undefined): number[] | undefined {
  if (a === undefined) return b?.slice();
  if (b === undefined) return a.slice();
  return addArrays(a, b);
}

/** A new summary adding both; value bins of different lengths (different references) are refused. */
export function mergeOutputSummary(a: OutputSummary, b: OutputSummary): OutputSummary {
  if (a.valueBins && b.valueBins && a.valueBins.length !== b.valueBins.length) {
    throw new EdgefleetError('BAD_INPUT', `cannot merge output value bins of ${a.valueBins.length} and ${b.valueBins.length}`);
  }
  const out: OutputSummary = {};
  const classCounts = addOptional(a.classCounts, b.classCounts);
  const confidence = addOptional(a.confidence, b.confidence);
  const valueBins = addOptional(a.valueBins, b.valueBins);
  if (classCounts) out.classCounts = classCounts;
  if (confidence) out.confidence = confidence;
  if (valueBins) out.valueBins = valueBins;
  if (a.confidenceSums || b.confidenceSums) {
    out.confidenceSums = mergeConfidenceSums(a.confidenceSums ?? createConfidenceSums(), b.confidenceSums ?? createConfidenceSums());
  }
  return out;
}
