// zod schemas of device telemetry (design §6): per-window summaries and the batch that carries them.

import * as z from 'zod';
import { LIMITS, TELEMETRY_LIMITS } from '../limits.js';
import { DeviceId, ErrorCodeSchema, ModelName, SemVer } from '../schemas/primitives.js';
import { windowIssue } from './bounds.js';
import { ConfidenceSums } from './confidence.js';
import { CAPTURE_LIMITS, Capture } from '../schemas/capture.js';
import { Histogram } from './histogram.js';
import { Count, refineWith } from './refine.js';

const ClassIndex = z.number().int().min(0).max(TELEMETRY_LIMITS.classes - 1);

/**
 * Counts of one feature in its reference bins (edges.length + 1 entries), plus moments. The moments (sum,
 * sumSq, min, max) come all together or not at all: a device leaves them out for a feature its capture policy
 * redacts, hashes or does not allow (schemas/capture.ts captureWithheld), since a window of one row would carry
 * that row's value; drift needs only the bins.
 */
export const FeatureSummary = z.object({
  bins: z.array(Count).max(65),
  nulls: Count,
  count: Count,
  sum: z.number().optional(),
  sumSq: z.number().optional(),
  min: z.number().nullable().optional(),
  max: z.number().nullable().optional(),
});
export type FeatureSummary = z.infer<typeof FeatureSummary>;

export const CONFIDENCE_BINS = 10;

export { ConfidenceSums } from './confidence.js';

export const OutputSummary = z.object({
  /** Classifiers: predictions per class index. */
  classCounts: z.array(Count).max(TELEMETRY_LIMITS.classes).optional(),
  /** Classifiers: top-class confidence in CONFIDENCE_BINS equal bins over [0, 1]. */
  confidence: z.array(Count).max(CONFIDENCE_BINS).optional(),
  /** Regressors: counts in the reference output bins. */
  valueBins: z.array(Count).max(65).optional(),
  /** Classifiers with probability outputs: confidence sums for estimated accuracy (CBPE). */
  confidenceSums: ConfidenceSums.optional(),
});
export type OutputSummary = z.infer<typeof OutputSummary>;

export const LabelSummary = z.object({
  labelled: Count,
  correct: Count,
  /** Sparse confusion counts: [predicted, actual, count]. */
  confusion: z.array(z.tuple([ClassIndex, ClassIndex, Count])).max(TELEMETRY_LIMITS.confusion),
});
export type LabelSummary = z.infer<typeof LabelSummary>;

export const ShadowSummary = z.object({
  compared: Count,
  agreed: Count,
  dropped: Count,
  latencyMs: Histogram,
});
export type ShadowSummary = z.infer<typeof ShadowSummary>;

/** One device window; its parts fit together (telemetry/bounds.ts windowIssue: start ≤ end, ≤ 1 h, …). */
export const TelemetryWindow = z
  .object({
    model: ModelName,
    version: SemVer,
    role: z.enum(['active', 'shadow']),
    /** Window bounds, epoch milliseconds; a late-label delta carries its original window's bounds. */
    start: z.number().int().min(0),
    end: z.number().int().min(0),
    inferences: Count,
    errors: z.partialRecord(ErrorCodeSchema, Count).default({}),
    latencyMs: Histogram,
    features: z.record(z.string().max(128), FeatureSummary).default({}),
    outputs: OutputSummary.optional(),
    labels: LabelSummary.optional(),
    shadow: ShadowSummary.optional(),
  })
  .superRefine(refineWith((w) => windowIssue(w)));
export type TelemetryWindow = z.infer<typeof TelemetryWindow>;

export const TelemetryBatch = z.object({
  deviceId: DeviceId,
  seq: z.number().int().min(0),
  windows: z.array(TelemetryWindow).max(LIMITS.windowsPerBatch),
  /** Windows the agent's outbox dropped (oldest first) since its last batch. */
  dropped: Count.default(0),
  /**
   * The device keeps this batch until a `telemetry-confirm` names its seq (design §4, TelemetrySettings
   * `confirm`): the hub confirms only batches that say so, so a device that does not know the command never gets one.
   */
  confirm: z.boolean().optional(),
  /** Captured field data and late labels for it (schemas/capture.ts), sent exactly once with this batch. */
  captures: z.array(Capture).max(CAPTURE_LIMITS.rowsPerBatch).optional(),
  /** Captured rows the device dropped since its last batch, by reason (quota: window bytes; disk: outbox budget; oversized). */
  capturesDropped: z.object({ quota: Count.default(0), disk: Count.default(0), oversized: Count.default(0) }).optional(),
});
export type TelemetryBatch = z.infer<typeof TelemetryBatch>;
