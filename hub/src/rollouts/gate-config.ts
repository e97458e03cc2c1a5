// Rollout gate definitions (design §6, §7): the merged telemetry a gate reads, the gates' names, results
// and thresholds with their defaults, and the per-rollout settings check. Evaluation is in gates.ts.

import { EdgefleetError, type Reference } from '@edgefleet/protocol';
import type { VersionHealth } from '../telemetry/merge.js';

// merged telemetry of one model version over a wave's devices and time: the one merge's type (telemetry/merge.ts)
export type { VersionHealth };

/** Reference bin counts per feature, from the manifest (`referenceCounts(manifest.reference)`). */
export type ReferenceCounts = Record<string, readonly number[]>;

export type GateName =
  | 'device-failure-rate'
  | 'min-reporting-devices'
  | 'error-rate'
  | 'p95-latency-regression'
  | 'drift'
  | 'accuracy-drop'
  | 'estimated-accuracy-drop'
  | 'shadow-agreement';

export interface GateResult {
  name: GateName;
  /** The measured value, null when there was nothing to measure. */
  value: number | null;
  limit: number;
  /** true pass, false fail, null no verdict (too little data; allowed unless the gate is in `requireVerdict`). */
  pass: boolean | null;
  detail: string;
  /** Out of how many the value counts, for a count out of a whole: devices decided, features judged. */
  of?: number;
  /**
   * No verdict for want of evidence that more soaking can bring (92 of 100 inferences): the wave keeps soaking
   * for it up to the rollout's max soak. Absent on a no-verdict gate that cannot apply (no drift reference in the
   * manifest, no baseline to compare with, a model whose baseline gets no labels): waiting would not help.
   */
  missing?: Evidence;
}

/** Evidence a gate still lacks: `have` of `need` `unit` ("92 of 100 inferences"). */
export interface Evidence {
  have: number;
  need: number;
  unit: string;
  /** The version being replaced lacks it: only target devices still running that version can add to it. */
  baseline?: true;
}

/** Every gate's threshold; each can be set per rollout (design §7), defaults in DEFAULT_GATES. */
export interface GateConfig {
  /** Failed devices / decided devices of the wave (verification, download, self-test, probation). */
  maxDeviceFailureRate: number;
  /** Absolute error rate (errors / inferences) of the candidate. */
  maxErrorRate: number;
  /** When set and the baseline has data, the limit is the baseline's error rate plus this instead. */
  maxErrorRateIncrease?: number;
  /** p95 latency may be at most this many percent above the baseline's. */
  maxP95RegressionPct: number;
  /**
   * …and the gate fails only when p95 also grew by more than this many ms: a sub-millisecond model on a
   * busy device shows +100 % from scheduling noise alone (1.5 → 3.7 ms measured with 12 agents on 2 cores),
   * which no operator would pause a wave for. 0 judges by the percentage alone.
   */
  minP95RegressionMs: number;
  /** Fewest inferences (each side) for an error-rate or latency verdict. */
  minSamples: number;
  /** Features whose drift decision is 'drift' allowed before the gate fails. */
  maxDriftedFeatures: number;
  /** Passed to driftDecision: fewest observed values per feature for a verdict. */
  driftMinCount: number;
  /**
   * Family-wise confidence of the drift gate: each of the k reference features is judged at
   * 1 − (1 − driftConfidence)/k (Bonferroni), so a healthy version's false-alarm rate does not grow
   * with the number of features. Measured on in-distribution vibration streams (6 features, n = 123):
   * 2.3 % of gate checks alarmed at 0.999 per feature, 0.6 % with the correction.
   */
  driftConfidence: number;
  /** Fail when the candidate's accuracy is confidently more than this below the baseline's. */
  maxAccuracyDrop: number;
  /**
   * When set: where labels are too few for `accuracy-drop`, fail when the accuracy estimated without labels
   * (CBPE: mean top-class probability) is confidently more than this below the baseline's estimate.
   */
  maxEstimatedAccuracyDrop?: number;
  /** Labelled / inferences needed (each side) before accuracy is judged. */
  minLabelCoverage: number;
  /** Labelled predictions needed (each side) before accuracy is judged. */
  minLabels: number;
  /** Devices that must report candidate telemetry (capped at the wave's converged devices, at least 1). */
  minReportingDevices: number;
  /** Shadow rollouts only, when set: fewest agreed / compared. */
  minShadowAgreement?: number;
  /** Gates whose "no verdict" counts as a failure instead of a pass. */
  requireVerdict: GateName[];
}

export const DEFAULT_GATES: Readonly<GateConfig> = Object.freeze({
  maxDeviceFailureRate: 0.1,
  maxErrorRate: 0.05,
  maxP95RegressionPct: 50,
  minP95RegressionMs: 0,
  minSamples: 100,
  maxDriftedFeatures: 0,
  driftMinCount: 100,
  driftConfidence: 0.999,
  maxAccuracyDrop: 0.05,
  minLabelCoverage: 0.05,
  minLabels: 50,
  minReportingDevices: 1,
  requireVerdict: [],
});

const RATE_KEYS = new Set([
  'maxDeviceFailureRate',
  'maxErrorRate',
  'maxErrorRateIncrease',
  'maxAccuracyDrop',
  'maxEstimatedAccuracyDrop',
  'minLabelCoverage',
  'minShadowAgreement',
]);
/** Settings without a default: the gate or variant they turn on is off unless set. */
const OPTIONAL_KEYS: ReadonlySet<string> = new Set(['maxErrorRateIncrease', 'minShadowAgreement', 'maxEstimatedAccuracyDrop']);
const GATE_NAMES: ReadonlySet<string> = new Set<GateName>([
  'device-failure-rate',
  'min-reporting-devices',
  'error-rate',
  'p95-latency-regression',
  'drift',
  'accuracy-drop',
  'estimated-accuracy-drop',
  'shadow-agreement',
]);

/**
 * Defaults filled in for every gate the operator did not set. Throws BAD_INPUT on unknown keys,
 * negative or non-finite thresholds, rates above 1, a drift confidence outside (0, 1), or unknown
 * gate names in `requireVerdict` (the API validates shape; this checks meaning).
 */
export function resolveGateConfig(partial: Partial<GateConfig> = {}): GateConfig {
  const out: GateConfig = { ...DEFAULT_GATES, requireVerdict: [...DEFAULT_GATES.requireVerdict] };
  for (const [k, v] of Object.entries(partial)) {
    if (v === undefined) continue;
    if (!(k in DEFAULT_GATES) && !OPTIONAL_KEYS.has(k)) {
      throw new EdgefleetError('BAD_INPUT', `unknown gate setting ${k}`);
    }
    if (k === 'requireVerdict') {
      if (!Array.isArray(v) || v.some((n) => !GATE_NAMES.has(n as string))) {
        throw new EdgefleetError('BAD_INPUT', `requireVerdict: gate names are ${[...GATE_NAMES].join(', ')}`);
      }
      out.requireVerdict = [...(v as GateName[])];
      continue;
    }
    const bad =
      typeof v !== 'number' ||
      !Number.isFinite(v) ||
      v < 0 ||
      (RATE_KEYS.has(k) && v > 1) ||
      (k === 'driftConfidence' && !(v > 0 && v < 1));
    if (bad) throw new EdgefleetError('BAD_INPUT', `gate setting ${k} out of range: ${String(v)}`);
    (out as unknown as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** The per-feature reference counts of a manifest's drift reference. */
export function referenceCounts(reference: Reference | undefined): ReferenceCounts {
  const out: ReferenceCounts = {};
  for (const f of reference?.features ?? []) out[f.name] = f.counts;
  return out;
}

/** Device outcomes of the wave being judged, counted by the engine. */
export interface WaveDeviceCounts {
  converged: number;
  failed: number;
  /** Timed out while offline: neither converged nor failed (see engine). */
  skipped: number;
}
