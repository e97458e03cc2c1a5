// What the API shows of a rollout (design §7 `rollout show`, the dashboard), built from the engine's spec and
// state and this tick's observations. Pure: the runner reads the store and the telemetry.

import { histogramQuantile } from '@edgefleet/protocol';
import type { RolloutView } from '../desired/index.js';
import type { Evidence, GateConfig, GateName, GateResult, VersionHealth } from './gate-config.js';
import { gateText, missingEvidence } from './gates.js';
import { waveCounts, type DeviceOutcome } from './outcomes.js';
import { maxSoakOf, noEvidencePolicy, type Observations, type OnNoEvidence, type RolloutSpec, type RolloutState, type WaveOutcome } from './spec.js';
import { failuresOf, type DeviceFailure, type WaveEnd, type WaveResult } from './wave-results.js';

/** A gate result with its value and limit in the gate's unit, as `rollout show` and the dashboard print them. */
export type GateView = GateResult & { text: { value: string; limit: string } };

export interface WaveView {
  index: number;
  percent: number;
  outcome: WaveOutcome;
  startedAt: string;
  doneAt: string | null;
  gatesAt: string | null;
  /** Devices in the wave (the dashboard's progress total). */
  devices: number;
  converged: number;
  counts: Record<DeviceOutcome, number> & { total: number; rolledBack: number };
  /** Device ids per outcome: pending, converged, failed, skipped (offline past the timeout), left; rolled back. */
  byOutcome: Record<DeviceOutcome, string[]> & { rolledBack: string[] };
  /** Failed devices with the error each reported (its agent's reason). */
  failures: DeviceFailure[];
  gates: GateView[];
  /**
   * How and when the wave ended, when it has: its counts are then the ones frozen at that moment (design §7),
   * not recomputed from devices' current state. Null while it runs — and for waves ended before results were
   * frozen, whose counts are recomputed as before.
   */
  ended: { how: WaveEnd; at: string } | null;
}

export interface ShadowView {
  compared: number;
  agreed: number;
  agreement: number | null;
  latencyMs: { shadow: { p50: number | null; p95: number | null }; active: { p50: number | null; p95: number | null } };
}

export interface RolloutDetail extends RolloutView {
  /** Wave plan (cumulative percents) and options of a gated rollout; all-at-once rollouts have none. */
  plan: {
    waves: number[];
    soakMs: number;
    maxSoakMs: number;
    onFail: 'pause' | 'rollback';
    onNoEvidence: OnNoEvidence;
    shadow: boolean;
    deviceTimeoutMs: number;
    gates: GateConfig;
  } | null;
  /** Current wave index (0-based), -1 before the first. */
  wave: number;
  waves: WaveView[];
  /** The latest evaluated gates (value against limit, pass / fail / no verdict). */
  gates: GateView[];
  /**
   * Rolled-back and aborted rollouts: the devices sent back to what they ran before, and what they run now
   * (active version → devices; '' for none): "the fleet returned to 2.0.0".
   */
  returned: { deviceIds: string[]; running: Record<string, number> } | null;
  /**
   * The current wave soaks past its soak because gates still lack evidence ("92 of 100 inferences"), until the
   * max soak; then the plan's onNoEvidence applies.
   */
  waitingFor: { wave: number; until: string; missing: Array<Evidence & { gate: GateName; text: string }> } | null;
  pausedReason: string | null;
  supersededBy: string | null;
  /** Shadow rollouts: agreement with and latency against the active version on the rollout's devices. */
  shadow: ShadowView | null;
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/** A rollout issued all at once: no plan, no waves. */
export function allAtOnceDetail(base: RolloutView): RolloutDetail {
  return { ...base, plan: null, wave: -1, waves: [], gates: [], returned: null, waitingFor: null, pausedReason: null, supersededBy: null, shadow: null };
}

const gateViews = (gates: readonly GateResult[]): GateView[] => gates.map((g) => ({ ...g, text: gateText(g) }));

/** A gated rollout: its plan, every wave with its device outcomes (frozen once it ended), the latest gates. */
export function gatedDetail(
  base: RolloutView,
  spec: RolloutSpec,
  state: RolloutState,
  obs: Observations,
  frozen: readonly WaveResult[],
  shadow: ShadowView | null,
): RolloutDetail {
  const results = new Map(frozen.map((f) => [f.wave, f]));
  const waves = state.waves.map((w): WaveView => {
    const f = results.get(w.index);
    const live = f ? null : waveCounts(spec, state, w, obs);
    const byOutcome = f ? f.byOutcome : { ...live!.byOutcome, rolledBack: [] };
    const counts = f
      ? f.counts
      : { pending: live!.pending, converged: live!.converged, failed: live!.failed, skipped: live!.skipped, left: live!.left, rolledBack: 0, total: w.deviceIds.length };
    return {
      index: w.index,
      percent: w.percent,
      outcome: w.outcome,
      startedAt: iso(w.startedAt)!,
      doneAt: iso(w.doneAt),
      gatesAt: iso(w.gatesAt),
      devices: w.deviceIds.length,
      converged: counts.converged,
      counts,
      byOutcome,
      failures: f ? f.failures : failuresOf(byOutcome.failed, obs),
      gates: gateViews(f ? f.gates : w.gates),
      ended: f ? { how: f.ended, at: iso(f.endedAt)! } : null,
    };
  });
  const judged = [...waves].reverse().find((w) => w.gates.length > 0);
  return {
    ...base,
    role: state.role,
    plan: {
      waves: spec.waves,
      soakMs: spec.soakMs,
      maxSoakMs: maxSoakOf(spec),
      onFail: spec.onFail,
      onNoEvidence: noEvidencePolicy(spec),
      shadow: spec.shadow,
      deviceTimeoutMs: spec.deviceTimeoutMs,
      gates: spec.gates,
    },
    wave: state.wave,
    waves,
    gates: judged?.gates ?? [],
    returned: returnedDevices(state, obs),
    waitingFor: waitingFor(spec, state),
    pausedReason: state.pausedReason,
    supersededBy: state.supersededBy,
    shadow,
  };
}

/** The current wave's gates that still lack evidence while it soaks past its soak (engine: tickWave). */
function waitingFor(spec: RolloutSpec, state: RolloutState): RolloutDetail['waitingFor'] {
  const w = state.waves[state.wave];
  if (state.status !== 'soaking' || !w || w.outcome !== 'soaking' || w.doneAt === null) return null;
  const missing = missingEvidence(w.gates);
  if (missing.length === 0) return null;
  return { wave: w.index, until: iso(w.doneAt + maxSoakOf(spec))!, missing };
}

/** The devices a rollback or an abort sent back, and the active versions they report now (live, not frozen). */
function returnedDevices(state: RolloutState, obs: Observations): RolloutDetail['returned'] {
  if (state.status !== 'rolled-back' && state.status !== 'aborted') return null;
  // an abort sends every device the rollout reached back (runner); a rollback the failed wave's
  const ids = Object.keys(state.devices)
    .filter((id) => state.status === 'aborted' || state.devices[id]!.sent === 'previous')
    .sort();
  const running: Record<string, number> = {};
  for (const id of ids) {
    const v = obs.devices[id]?.activeVersion ?? '';
    running[v] = (running[v] ?? 0) + 1;
  }
  return { deviceIds: ids, running };
}

/** Shadow against active on the rollout's devices: agreement and latency quantiles of each. */
export function shadowView(shadow: VersionHealth, active: VersionHealth | undefined): ShadowView {
  const q = (h: VersionHealth | undefined, p: number) => (h && h.latencyMs.count > 0 ? histogramQuantile(h.latencyMs, p) : null);
  const s = shadow.shadow;
  return {
    compared: s?.compared ?? 0,
    agreed: s?.agreed ?? 0,
    agreement: s && s.compared > 0 ? s.agreed / s.compared : null,
    latencyMs: { shadow: { p50: q(shadow, 0.5), p95: q(shadow, 0.95) }, active: { p50: q(active, 0.5), p95: q(active, 0.95) } },
  };
}
