// Rollout gate evaluation (design §6, §7): pure comparisons of the candidate version's merged telemetry with the
// version it replaces and the manifest's drift reference. `pass: null` means no verdict (too little data).

import { driftDecision, expectedAccuracy, histogramQuantile, wilson } from '@edgefleet/protocol';
import { errorCount } from '../telemetry/merge.js';
import type { Evidence, GateConfig, GateName, GateResult, ReferenceCounts, VersionHealth, WaveDeviceCounts } from './gate-config.js';

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
    of: decided,
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
      missing: { have: candidate.inferences, need: config.minSamples, unit: 'inferences' },
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
  if (!baseline) return { name, value: null, limit, pass: null, detail: 'no baseline to compare with (no target device runs another version)' };
  if (baseline.latencyMs.count < config.minSamples) {
    return {
      name,
      value: null,
      limit,
      pass: null,
      detail: `baseline has ${baseline.latencyMs.count} latency samples, need ${config.minSamples} to compare with`,
      missing: { have: baseline.latencyMs.count, need: config.minSamples, unit: 'baseline latency samples', baseline: true },
    };
  }
  if (candidate.latencyMs.count < config.minSamples) {
    return {
      name,
      value: null,
      limit,
      pass: null,
      detail: `${candidate.latencyMs.count} candidate latency samples, need ${config.minSamples}`,
      missing: { have: candidate.latencyMs.count, need: config.minSamples, unit: 'latency samples' },
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
  // the best-observed feature: the first verdict comes from it
  let most = 0;
  const features = Object.entries(reference);
  const confidence = 1 - (1 - config.driftConfidence) / Math.max(1, features.length);
  for (const [feature, ref] of features) {
    const observed = candidate.features[feature];
    if (!observed || observed.bins.length !== ref.length) {
      parts.push(`${feature}: no data`);
      continue;
    }
    const d = driftDecision(ref, observed.bins, { minCount: config.driftMinCount, confidence });
    most = Math.max(most, d.n);
    if (d.verdict === 'insufficient-data') {
      parts.push(`${feature}: n=${d.n} too few`);
      continue;
    }
    decided++;
    if (d.verdict === 'drift') drifted.push(feature);
    parts.push(`${feature}: PSI ${fmt(d.psi)} vs ${fmt(d.critical)} (n=${d.n}) ${d.verdict}`);
  }
  if (decided === 0) {
    if (features.length === 0) return { name: 'drift', value: null, limit, pass: null, detail: 'no drift reference in the manifest' };
    return {
      name: 'drift',
      value: null,
      limit,
      pass: null,
      detail: `no verdict: ${parts.join('; ')}`,
      missing: { have: most, need: config.driftMinCount, unit: 'values of a feature' },
    };
  }
  return {
    name: 'drift',
    value: drifted.length,
    limit,
    pass: drifted.length <= limit,
    of: decided,
    detail: `${drifted.length} of ${decided} features drifted${drifted.length ? ` (${drifted.join(', ')})` : ''}: ${parts.join('; ')}`,
  };
}

export function accuracyGate(config: GateConfig, candidate: VersionHealth, baseline?: VersionHealth): GateResult {
  const limit = config.maxAccuracyDrop;
  const name = 'accuracy-drop';
  // labels come back only where the operator feeds them: a baseline without any means this model gets none,
  // and there is nothing to wait for; otherwise each side needs enough labels and label coverage
  if (!baseline?.labels || baseline.labels.labelled === 0) {
    return { name, value: null, limit, pass: null, detail: `no verdict: ${baseline ? 'baseline has no labels' : 'no baseline to compare with'}` };
  }
  const lacking = (h: VersionHealth, who: string): { detail: string; missing: Evidence } | null => {
    const labelled = h.labels?.labelled ?? 0;
    const side: Pick<Evidence, 'unit' | 'baseline'> = who === 'candidate' ? { unit: 'labels' } : { unit: 'baseline labels', baseline: true };
    if (labelled < config.minLabels) return { detail: `${who} has ${labelled} labels, need ${config.minLabels}`, missing: { have: labelled, need: config.minLabels, ...side } };
    const coverage = h.inferences > 0 ? labelled / h.inferences : 0;
    if (coverage < config.minLabelCoverage) {
      return {
        detail: `${who} label coverage ${pct(coverage)}, need ${pct(config.minLabelCoverage)}`,
        missing: { have: labelled, need: Math.ceil(config.minLabelCoverage * h.inferences), ...side },
      };
    }
    return null;
  };
  const short = lacking(candidate, 'candidate') ?? lacking(baseline, 'baseline');
  if (short !== null) return { name, value: null, limit, pass: null, detail: `no verdict: ${short.detail}`, missing: short.missing };
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

/**
 * Accuracy without labels (CBPE), only when `maxEstimatedAccuracyDrop` is set: where `accuracy-drop` has
 * labels enough for a verdict it judges and this gate passes on its word; otherwise the candidate's mean
 * top-class probability is compared with the baseline's, failing only when the drop is beyond doubt (as
 * accuracy-drop: the candidate's upper 95 % bound below the baseline's lower bound minus the allowed drop).
 * No verdict when either side has fewer than minSamples predictions with a probability. The estimate trusts
 * the model's calibration: the health API's calibration check says whether labelled windows bear it out.
 */
export function estimatedAccuracyGate(config: GateConfig, candidate: VersionHealth, baseline?: VersionHealth): GateResult | null {
  if (config.maxEstimatedAccuracyDrop === undefined) return null;
  const limit = config.maxEstimatedAccuracyDrop;
  const name = 'estimated-accuracy-drop';
  const c = expectedAccuracy(candidate.outputs?.confidenceSums);
  const b = expectedAccuracy(baseline?.outputs?.confidenceSums);
  const drop = c && b ? b.p - c.p : null;
  const labelled = accuracyGate(config, candidate, baseline);
  if (labelled.pass !== null) {
    return { name, value: drop, limit, pass: true, detail: `labels suffice: accuracy-drop judges (${labelled.pass ? 'pass' : 'fail'})${drop !== null ? `; estimated drop ${pct(drop)}` : ''}` };
  }
  // a side short of predictions holds the wave while it soaks (no-evidence policy); a model without
  // probability outputs never will have them, so that says no verdict without holding anything
  const lacking = (h: VersionHealth | undefined, e: typeof c, who: string, baseline: boolean): { detail: string; missing?: Evidence } | null => {
    const side: Pick<Evidence, 'unit' | 'baseline'> = baseline ? { unit: 'predictions with confidences', baseline: true } : { unit: 'predictions with confidences' };
    if (!h || h.inferences === 0) return { detail: `${who} has no inferences`, missing: { have: 0, need: config.minSamples, ...side } };
    if (!e) return { detail: `${who} has no confidences (no probability output)` };
    if (e.n < config.minSamples) return { detail: `${who} has ${e.n} predictions with confidences, need ${config.minSamples}`, missing: { have: e.n, need: config.minSamples, ...side } };
    return null;
  };
  const lack = lacking(candidate, c, 'candidate', false) ?? lacking(baseline, b, 'baseline', true);
  if (lack !== null) return { name, value: null, limit, pass: null, detail: `no verdict: ${lack.detail}`, ...(lack.missing ? { missing: lack.missing } : {}) };
  const cHigh = c!.p + 1.96 * c!.se;
  const bLow = b!.p - 1.96 * b!.se;
  return {
    name,
    value: drop,
    limit,
    pass: !(cHigh < bLow - limit),
    detail:
      `estimated accuracy ${pct(c!.p)} (≤ ${pct(cHigh)}, n=${c!.n}) vs baseline ${pct(b!.p)} (≥ ${pct(bLow)}, n=${b!.n}) without labels ` +
      `(${labelled.detail.replace(/^no verdict: /, '')}); fails when ${pct(cHigh)} < ${pct(bLow)} − ${pct(limit)}`,
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
      missing: { have: s?.compared ?? 0, need: config.minSamples, unit: 'shadow comparisons' },
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

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
const signed = (x: number, digits: number) => `${x > 0 ? '+' : x < 0 ? '−' : ''}${Math.abs(x).toFixed(digits)} %`;
const percent = (x: number) => `${+(x * 100).toFixed(2)} %`;

/**
 * A gate's value and limit in the gate's unit, for people (`rollout show`, the dashboard): "1 of 3 devices
 * (33.3 %)" against "≤ 10 %", "0 of 4 features" against "≤ 0 features", "−56.0 %" against "≤ +50 %" (the p95
 * change from the baseline), "no data" when there was nothing to measure.
 */
export function gateText(g: Pick<GateResult, 'name' | 'value' | 'limit' | 'of' | 'missing'>): { value: string; limit: string } {
  const v = g.value;
  if (v === null && g.missing) return { limit: gateText({ name: g.name, value: null, limit: g.limit }).limit, value: evidenceText(g.missing) };
  switch (g.name) {
    case 'device-failure-rate':
      return {
        value: v === null ? 'no device decided' : g.of !== undefined ? `${Math.round(v * g.of)} of ${plural(g.of, 'device')} (${percent(v)})` : percent(v),
        limit: `≤ ${percent(g.limit)}`,
      };
    case 'min-reporting-devices':
      return { value: v === null ? 'no data' : plural(v, 'device'), limit: `≥ ${plural(g.limit, 'device')}` };
    case 'p95-latency-regression':
      return { value: v === null ? 'no data' : signed(v, 1), limit: `≤ ${signed(g.limit, 0)}` };
    case 'drift':
      return { value: v === null ? 'no verdict' : g.of !== undefined ? `${v} of ${plural(g.of, 'feature')}` : plural(v, 'feature'), limit: `≤ ${plural(g.limit, 'feature')}` };
    case 'accuracy-drop':
    case 'estimated-accuracy-drop':
      return { value: v === null ? 'no verdict' : `${+(v * 100).toFixed(1)} points`, limit: `≤ ${+(g.limit * 100).toFixed(1)} points` };
    case 'shadow-agreement':
      return { value: v === null ? 'no data' : percent(v), limit: `≥ ${percent(g.limit)}` };
    default:
      return { value: v === null ? 'no data' : percent(v), limit: `≤ ${percent(g.limit)}` };
  }
}

/** "92 of 100 inferences": what a gate waiting for evidence has of what it needs. */
export const evidenceText = (e: Evidence): string => `${e.have} of ${e.need} ${e.unit}`;

/** Gates without a verdict that more soaking can still give one (the wave waits for them up to its max soak). */
export const lackingEvidence = (results: readonly GateResult[]): GateResult[] => results.filter((r) => r.pass === null && r.missing !== undefined);

/**
 * Once every target device was sent the candidate no device is left to add to the baseline: a gate lacking only
 * baseline evidence cannot get it by waiting, and no longer holds the wave (its detail says why).
 */
export function baselineFinal(results: readonly GateResult[]): GateResult[] {
  return results.map((r) => {
    if (!r.missing?.baseline) return r;
    const { missing: _, ...rest } = r;
    return { ...rest, detail: `${r.detail} (no target device left on the version being replaced: the baseline cannot grow)` };
  });
}

/** What those gates lack, one entry per gate, with its words: `rollout show`, the dashboard, audit and webhooks. */
export const missingEvidence = (results: readonly GateResult[]): Array<Evidence & { gate: GateName; text: string }> =>
  lackingEvidence(results).map((g) => ({ gate: g.name, ...g.missing!, text: evidenceText(g.missing!) }));

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
  const estimated = estimatedAccuracyGate(config, candidate, baseline);
  if (estimated) out.push(estimated);
  const shadow = shadowAgreementGate(config, candidate);
  if (shadow) out.push(shadow);
  return out;
}

/** Gates that stop the rollout: a failure, or no verdict where the config requires one. */
export function failedGates(config: GateConfig, results: readonly GateResult[]): GateResult[] {
  return results.filter((r) => r.pass === false || (r.pass === null && config.requireVerdict.includes(r.name)));
}
