// Accuracy without labels (design §6): confidence-based performance estimation (CBPE, as NannyML does it
// offline) from the windows' confidence sums, beside realized accuracy, and a check of the estimate's
// calibration against the windows that do have labels. Pure: merged health in, numbers out.

import { CONFIDENCE_SCALE, expectedAccuracy, type ConfidenceSums } from '@edgefleet/protocol';

/** Labelled predictions a window needs before its realized accuracy is compared with its estimate. */
export const CALIBRATION_MIN_LABELS = 30;
/** Allowed |estimated − realized| beyond label noise: the model's own calibration error we accept. */
export const CALIBRATION_TOLERANCE = 0.02;
/** How many standard deviations of label noise the calibration threshold allows. */
const CALIBRATION_Z = 2;
const Z95 = 1.96;

export interface EstimatedAccuracy {
  /** Predictions that carried a top-class probability. */
  n: number;
  /** Mean top-class probability: the accuracy of a calibrated model on those predictions. */
  p: number | null;
  /** 95 % band of the accuracy their labels would show if the model is calibrated (√Σp(1−p)/n each side). */
  low: number | null;
  high: number | null;
  /** n / inferences: the share of predictions the estimate covers. */
  coverage: number | null;
  /** Per predicted class index: predictions and their mean confidence (the class's estimated precision). */
  classes: Array<{ index: number; n: number; precision: number | null }>;
}

export interface CalibrationWindow {
  t: number;
  labelled: number;
  estimated: number;
  realized: number;
  absError: number;
}

export interface Calibration {
  /** calibrated: mean |estimated − realized| ≤ threshold on windows with ≥ minLabels labels; insufficient-data: no such window. */
  verdict: 'calibrated' | 'not-calibrated' | 'insufficient-data';
  minLabels: number;
  /** Windows compared (each with ≥ minLabels labels and confidence sums). */
  windows: CalibrationWindow[];
  /** Label-weighted mean and the largest |estimated − realized| over those windows. */
  meanAbsError: number | null;
  maxAbsError: number | null;
  /** CALIBRATION_TOLERANCE + 2 × the label-weighted mean label noise √(Σp(1−p)/n / labelled) of those windows. */
  threshold: number | null;
  detail: string;
}

const clamp = (x: number) => Math.min(1, Math.max(0, x));

/** CBPE over merged confidence sums; `inferences` gives the coverage. */
export function estimateAccuracy(sums: ConfidenceSums | undefined, inferences: number): EstimatedAccuracy {
  const e = expectedAccuracy(sums);
  if (!e) return { n: 0, p: null, low: null, high: null, coverage: inferences > 0 ? 0 : null, classes: [] };
  const classes = sums!.classCounts.map((n, index) => ({ index, n, precision: n > 0 ? sums!.classSums[index]! / CONFIDENCE_SCALE / n : null }));
  return { n: e.n, p: e.p, low: clamp(e.p - Z95 * e.sd), high: clamp(e.p + Z95 * e.sd), coverage: inferences > 0 ? Math.min(1, e.n / inferences) : null, classes };
}

/** Compares each window's estimate with its realized accuracy where enough labels came back. */
export function checkCalibration(
  windows: ReadonlyArray<{ t: number; labelled: number; correct: number; sums: ConfidenceSums | undefined }>,
  minLabels = CALIBRATION_MIN_LABELS,
): Calibration {
  const used: CalibrationWindow[] = [];
  let weight = 0;
  let err = 0;
  let noise = 0;
  for (const w of windows) {
    const e = expectedAccuracy(w.sums);
    if (!e || w.labelled < minLabels) continue;
    const realized = w.correct / w.labelled;
    const absError = Math.abs(e.p - realized);
    used.push({ t: w.t, labelled: w.labelled, estimated: e.p, realized, absError });
    // label noise of this window: Var(realized | calibrated) = mean p(1 − p) / labelled = sd² · n / labelled
    noise += w.labelled * Math.sqrt((e.sd * e.sd * e.n) / w.labelled);
    err += w.labelled * absError;
    weight += w.labelled;
  }
  if (used.length === 0) {
    return { verdict: 'insufficient-data', minLabels, windows: [], meanAbsError: null, maxAbsError: null, threshold: null, detail: `no window has ${minLabels} labels and confidences to compare` };
  }
  const meanAbsError = err / weight;
  const threshold = CALIBRATION_TOLERANCE + CALIBRATION_Z * (noise / weight);
  const maxAbsError = Math.max(...used.map((w) => w.absError));
  const calibrated = meanAbsError <= threshold;
  const pts = (x: number) => `${(x * 100).toFixed(1)} points`;
  return {
    verdict: calibrated ? 'calibrated' : 'not-calibrated',
    minLabels,
    windows: used,
    meanAbsError,
    maxAbsError,
    threshold,
    detail: `mean |estimated − realized| ${pts(meanAbsError)} over ${used.length} labelled window${used.length === 1 ? '' : 's'} (${weight} labels), ${calibrated ? '≤' : '>'} ${pts(threshold)}`,
  };
}
