// Rollout gates (design §6, §7): pure comparisons of the candidate version's merged telemetry with the
// version it replaces and the manifest's drift reference. `pass: null` means no verdict (too little data).

import {
  EdgefleetError,
  driftDecision,
  histogramQuantile,
  wilson,
  type Reference,
} from '@edgefleet/protocol';
import { errorCount, type VersionHealth } from '../telemetry/merge.js';

// merged telemetry of one model version over a wave's devices and time: the health API's own type and merge
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
  | 'shadow-agreement';

export interface GateResult {
  name: GateName;
  /** The measured value, null when there was nothing to measure. */
  value: number | null;
  limit: number;
  /** true pass, false fail, null no verdict (too little data; allowed unless the gate is in `requireVerdict`). */
  pass: boolean | null;
  detail: string;
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
  'minLabelCoverage',
  'minShadowAgreement',
]);
const GATE_NAMES: ReadonlySet<string> = new Set<GateName>([
  'device-failure-rate',
  'min-reporting-devices',
  'error-rate',
  'p95-latency-regression',
  'drift',
  'accuracy-drop',
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
    if (!(k in DEFAULT_GATES) && k !== 'maxErrorRateIncrease' && k !== 'minShadowAgreement') {
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

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));

export function deviceFailureGate(config: GateConfig, devices: WaveDeviceCounts): GateResult {
  const decided = devices.converged + devices.failed;
  const limit = config.maxDeviceFailureRate;
  if (decided === 0) {
    return { name: 'device-failure-rate', value: null, limit, pass: null, detail: 'no device has converged or failed yet' };
  }
  const value = devices.failed / decided;
  return {
    name: 'device-failure-rate',
    value,
    limit,
    pass: value <= limit,
    detail: `${devices.failed} of ${decided} devices failed (${pct(value)}, limit ${pct(limit)})` +
      (devices.skipped > 0 ? `; ${devices.skipped} offline past the timeout not counted` : ''),
  };
}

export function minReportingGate(config: GateConfig, candidate: VersionHealth, devices?: WaveDeviceCounts): GateResult {
  // a one-device canary cannot have five reporting devices: cap at what converged, but never below 1,
  // so a wave whose devices all went silent does not pass
  const limit = devices ? Math.max(1, Math.min(config.minReportingDevices, devices.converged)) : config.minReportingDevices;
  const value = candidate.devices;
  return {
    name: 'min-reporting-devices',
    value,
    limit,
    pass: value >= limit,
    detail: `${value} devices reported telemetry for the candidate (need ${limit})`,
  };
}

export function errorRateGate(config: GateConfig, candidate: VersionHealth, baseline?: VersionHealth): GateResult {
  const baseRate =
    baseline && baseline.inferences >= config.minSamples ? errorCount(baseline) / baseline.inferences : null;
  const relative = config.maxErrorRateIncrease !== undefined && baseRate !== null;
  const limit = relative ? baseRate + config.maxErrorRateIncrease! : config.maxErrorRate;
  if (candidate.inferences < config.minSamples) {
    return {
      name: 'error-rate',
      value: null,
      limit,
      pass: null,
      detail: `${candidate.inferences} inferences, need ${config.minSamples} for a verdict`,
    };
  }
  const value = errorCount(candidate) / candidate.inferences;
  return {
    name: 'error-rate',
    value,
    limit,
    pass: value <= limit,
    detail:
      `${pct(value)} of ${candidate.inferences} inferences failed, limit ${pct(limit)}` +
      (relative ? ` (baseline ${pct(baseRate)} + ${pct(config.maxErrorRateIncrease!)})` : '') +
      (baseRate !== null && !relative ? ` (baseline ${pct(baseRate)})` : ''),
  };
}

export function latencyGate(config: GateConfig, candidate: VersionHealth, baseline?: VersionHealth): GateResult {
  const limit = config.maxP95RegressionPct;
  const name = 'p95-latency-regression';
  if (!baseline || baseline.latencyMs.count < config.minSamples) {
    return { name, value: null, limit, pass: null, detail: 'baseline has too few latency samples to compare with' };
  }
  if (candidate.latencyMs.count < config.minSamples) {
    return {
      name,
      value: null,
      limit,
      pass: null,
      detail: `${candidate.latencyMs.count} candidate latency samples, need ${config.minSamples}`,
    };
  }
  const c = histogramQuantile(candidate.latencyMs, 0.95);
  const b = histogramQuantile(baseline.latencyMs, 0.95);
  if (c === null || b === null || !(b > 0)) {
    return { name, value: null, limit, pass: null, detail: 'p95 latency undefined (empty or zero baseline)' };
  }
  const value = ((c - b) / b) * 100;
  const floor = config.minP95RegressionMs;
  const withinFloor = floor > 0 && c - b <= floor;
  return {
    name,
    value,
    limit,
    pass: value <= limit || withinFloor,
    detail:
      `p95 ${fmt(c)} ms vs baseline ${fmt(b)} ms (${value >= 0 ? '+' : ''}${value.toFixed(1)}%, limit +${limit}%` +
      (floor > 0 ? ` and +${fmt(floor)} ms${withinFloor ? ': within the ms floor' : ''})` : ')'),
  };
}

export function driftGate(config: GateConfig, candidate: VersionHealth, reference: ReferenceCounts): GateResult {
  const limit = config.maxDriftedFeatures;
  const drifted: string[] = [];
  const parts: string[] = [];
  let decided = 0;
  const features = Object.entries(reference);
  const confidence = 1 - (1 - config.driftConfidence) / Math.max(1, features.length);
  for (const [feature, ref] of features) {
    const observed = candidate.features[feature];
    if (!observed || observed.bins.length !== ref.length) {
      parts.push(`${feature}: no data`);
      continue;
    }
    const d = driftDecision(ref, observed.bins, { minCount: config.driftMinCount, confidence });
    if (d.verdict === 'insufficient-data') {
      parts.push(`${feature}: n=${d.n} too few`);
      continue;
    }
    decided++;
    if (d.verdict === 'drift') drifted.push(feature);
    parts.push(`${feature}: PSI ${fmt(d.psi)} vs ${fmt(d.critical)} (n=${d.n}) ${d.verdict}`);
  }
  if (decided === 0) {
    return {
      name: 'drift',
      value: null,
      limit,
      pass: null,
      detail: parts.length ? `no verdict: ${parts.join('; ')}` : 'no drift reference in the manifest',
    };
  }
  return {
    name: 'drift',
    value: drifted.length,
    limit,
    pass: drifted.length <= limit,
    detail: `${drifted.length} of ${decided} features drifted${drifted.length ? ` (${drifted.join(', ')})` : ''}: ${parts.join('; ')}`,
  };
}

export function accuracyGate(config: GateConfig, candidate: VersionHealth, baseline?: VersionHealth): GateResult {
  const limit = config.maxAccuracyDrop;
  const name = 'accuracy-drop';
  const enough = (h: VersionHealth | undefined, who: string): string | null => {
    const l = h?.labels;
    if (!h || !l) return `${who} has no labels`;
    if (l.labelled < config.minLabels) return `${who} has ${l.labelled} labels, need ${config.minLabels}`;
    const coverage = h.inferences > 0 ? l.labelled / h.inferences : 0;
    if (coverage < config.minLabelCoverage) {
      return `${who} label coverage ${pct(coverage)}, need ${pct(config.minLabelCoverage)}`;
    }
    return null;
  };
  const missing = enough(candidate, 'candidate') ?? enough(baseline, 'baseline');
  if (missing !== null) return { name, value: null, limit, pass: null, detail: `no verdict: ${missing}` };
  const cl = candidate.labels!;
  const bl = baseline!.labels!;
  const c = wilson(cl.correct, cl.labelled);
  const b = wilson(bl.correct, bl.labelled);
  // fail only when the drop is beyond doubt: the candidate's best case is below the baseline's worst
  // case minus the allowed drop
  const value = b.p - c.p;
  const pass = !(c.high < b.low - limit);
  return {
    name,
    value,
    limit,
    pass,
    detail:
      `accuracy ${pct(c.p)} [${pct(c.low)}, ${pct(c.high)}] (n=${cl.labelled}) vs baseline ` +
      `${pct(b.p)} [${pct(b.low)}, ${pct(b.high)}] (n=${bl.labelled}); fails when ${pct(c.high)} < ${pct(b.low)} − ${pct(limit)}`,
  };
}

export function shadowAgreementGate(config: GateConfig, candidate: VersionHealth): GateResult | null {
  if (config.minShadowAgreement === undefined) return null;
  const limit = config.minShadowAgreement;
  const s = candidate.shadow;
  if (!s || s.compared < config.minSamples) {
    return {
      name: 'shadow-agreement',
      value: null,
      limit,
      pass: null,
      detail: `${s?.compared ?? 0} shadow comparisons, need ${config.minSamples}`,
    };
  }
  const value = s.agreed / s.compared;
  return {
    name: 'shadow-agreement',
    value,
    limit,
    pass: value >= limit,
    detail: `${s.agreed} of ${s.compared} predictions agree with the active version (${pct(value)}, need ${pct(limit)})`,
  };
}

/**
 * Every gate for one wave (design §7). `baseline` is the version being replaced over the same time
 * range; `devices` (when given) adds the device failure rate and caps the reporting-device minimum.
 */
export function evaluateGates(
  config: GateConfig,
  candidate: VersionHealth,
  baseline: VersionHealth | undefined,
  reference: ReferenceCounts,
  devices?: WaveDeviceCounts,
): GateResult[] {
  const out: GateResult[] = [];
  if (devices) out.push(deviceFailureGate(config, devices));
  out.push(
    minReportingGate(config, candidate, devices),
    errorRateGate(config, candidate, baseline),
    latencyGate(config, candidate, baseline),
    driftGate(config, candidate, reference),
    accuracyGate(config, candidate, baseline),
  );
  const shadow = shadowAgreementGate(config, candidate);
  if (shadow) out.push(shadow);
  return out;
}

/** Gates that stop the rollout: a failure, or no verdict where the config requires one. */
export function failedGates(config: GateConfig, results: readonly GateResult[]): GateResult[] {
  return results.filter((r) => r.pass === false || (r.pass === null && config.requireVerdict.includes(r.name)));
}
