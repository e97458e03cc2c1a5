// What the API shows of a rollout (design §7 `rollout show`, the dashboard), built from the engine's spec and
// state and this tick's observations. Pure: the runner reads the store and the telemetry.

import { histogramQuantile } from '@edgefleet/protocol';
import type { RolloutView } from '../desired/index.js';
import type { GateConfig, GateResult, VersionHealth } from './gate-config.js';
import { waveCounts, type DeviceOutcome } from './outcomes.js';
import type { Observations, RolloutSpec, RolloutState, WaveOutcome } from './spec.js';

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
  counts: Record<DeviceOutcome, number> & { total: number };
  /** Device ids per outcome: pending, converged, failed, skipped (offline past the timeout), left. */
  byOutcome: Record<DeviceOutcome, string[]>;
  gates: GateResult[];
}

export interface ShadowView {
  compared: number;
  agreed: number;
  agreement: number | null;
  latencyMs: { shadow: { p50: number | null; p95: number | null }; active: { p50: number | null; p95: number | null } };
}

export interface RolloutDetail extends RolloutView {
  /** Wave plan (cumulative percents) and options of a gated rollout; all-at-once rollouts have none. */
  plan: { waves: number[]; soakMs: number; onFail: 'pause' | 'rollback'; shadow: boolean; deviceTimeoutMs: number; gates: GateConfig } | null;
  /** Current wave index (0-based), -1 before the first. */
  wave: number;
  waves: WaveView[];
  /** The latest evaluated gates (value against limit, pass / fail / no verdict). */
  gates: GateResult[];
  pausedReason: string | null;
  supersededBy: string | null;
  /** Shadow rollouts: agreement with and latency against the active version on the rollout's devices. */
  shadow: ShadowView | null;
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/** A rollout issued all at once: no plan, no waves. */
export function allAtOnceDetail(base: RolloutView): RolloutDetail {
  return { ...base, plan: null, wave: -1, waves: [], gates: [], pausedReason: null, supersededBy: null, shadow: null };
}

/** A gated rollout: its plan, every wave with its device outcomes, the latest gates. */
export function gatedDetail(base: RolloutView, spec: RolloutSpec, state: RolloutState, obs: Observations, shadow: ShadowView | null): RolloutDetail {
  const waves = state.waves.map((w): WaveView => {
    const c = waveCounts(spec, state, w, obs);
    return {
      index: w.index,
      percent: w.percent,
      outcome: w.outcome,
      startedAt: iso(w.startedAt)!,
      doneAt: iso(w.doneAt),
      gatesAt: iso(w.gatesAt),
      devices: w.deviceIds.length,
      converged: c.converged,
      counts: { pending: c.pending, converged: c.converged, failed: c.failed, skipped: c.skipped, left: c.left, total: w.deviceIds.length },
      byOutcome: c.byOutcome,
      gates: w.gates,
    };
  });
  const judged = [...state.waves].reverse().find((w) => w.gates.length > 0);
  return {
    ...base,
    role: state.role,
    plan: { waves: spec.waves, soakMs: spec.soakMs, onFail: spec.onFail, shadow: spec.shadow, deviceTimeoutMs: spec.deviceTimeoutMs, gates: spec.gates },
    wave: state.wave,
    waves,
    gates: judged?.gates ?? [],
    pausedReason: state.pausedReason,
    supersededBy: state.supersededBy,
    shadow,
  };
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
