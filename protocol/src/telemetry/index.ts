// Telemetry summaries and drift statistics (design §6): pure, JSON-able, merged by addition.
export {
  HISTOGRAM_DEFAULT_ALPHA,
  HISTOGRAM_MIN_INDEXABLE,
  HISTOGRAM_MAX_BUCKETS,
  HISTOGRAM_MAX_INDEXABLE,
  HISTOGRAM_MIN_ALPHA,
  histogramIndexRange,
  createHistogram,
  histogramAdd,
  histogramBucketIndex,
  histogramMerge,
  histogramMergeInto,
  histogramQuantile,
  histogramMean,
} from './histogram.js';
export {
  createFeatureSummary,
  featureAdd,
  featureBinIndex,
  featureMoments,
  hasMoments,
  withholdMoments,
  mergeFeatureSummary,
  extractFeatureValues,
  buildReferenceFeature,
  referenceMedian,
} from './features.js';
export {
  createOutputSummary,
  outputAddClassifier,
  outputAddValue,
  confidenceBinIndex,
  mergeOutputSummary,
} from './outputs.js';
export {
  CONFIDENCE_SCALE,
  createConfidenceSums,
  confidenceAdd,
  mergeConfidenceSums,
  confidenceSumsIssue,
  expectedAccuracy,
  type ExpectedAccuracy,
} from './confidence.js';
export { createLabelSummary, labelAdd, mergeLabelSummary } from './labels.js';
export { createShadowSummary, shadowAdd, mergeShadowSummary } from './shadow.js';
export { createWindow, windowAddError, mergeWindows } from './window.js';
export {
  PSI_EPSILON,
  psi,
  jensenShannon,
  ksBinned,
  wilson,
  normalQuantile,
  chiSquareQuantile,
  psiCritical,
  driftDecision,
  type DriftOptions,
  type DriftDecision,
} from './stats.js';
export { histogramIssue } from './histogram.js';
export { windowIssue, windowTimeIssue, type WindowBounds } from './bounds.js';
