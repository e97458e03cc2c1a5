// Frozen wave results (design §7: a rollout's history does not change): when a wave ends — its gates passed, the
// operator overrode them, or the rollout completed, was rolled back, aborted or superseded while it ran (a paused
// rollout's failed wave stays live until then) — its device counts, the failed devices with their causes and its
// gates are taken once, from the observations the step was judged on, and stored (store: rollout_wave_results,
// written once). Views read them instead of recomputing outcomes from devices' current state, which a later
// rollout changes. Pure.

import type { GateResult } from './gate-config.js';
import { waveCounts, type DeviceOutcome } from './outcomes.js';
import type { Observations, RolloutAction, RolloutSpec, RolloutState, RolloutStatus, WaveRecord } from './spec.js';

/** How a wave ended: its gates' outcome, or what ended the rollout while the wave ran. */
export type WaveEnd = 'passed' | 'failed' | 'overridden' | 'rolled-back' | 'aborted' | 'superseded' | 'completed';

/** A failed device and what it reported (its agent's reason, e.g. the probation verdict). */
export interface DeviceFailure {
  deviceId: string;
  code: string | null;
  message: string | null;
}

export interface WaveResult {
  wave: number;
  ended: WaveEnd;
  endedAt: number;
  /** Outcomes when the wave ended; `rolledBack`: devices this step sent the previous version (rollback, abort). */
  counts: Record<DeviceOutcome, number> & { rolledBack: number; total: number };
  byOutcome: Record<DeviceOutcome, string[]> & { rolledBack: string[] };
  failures: DeviceFailure[];
  gates: GateResult[];
}

const ROLLOUT_ENDS: ReadonlySet<RolloutStatus> = new Set(['completed', 'aborted', 'rolled-back', 'superseded']);
const GATED_ENDS = new Set(['passed', 'failed', 'overridden']);

/**
 * A wave is over when the rollout moved past it (passed, overridden) or the rollout ended. A failed wave of a
 * paused rollout is not over: its devices still pending keep reporting (and fail too, usually) until the
 * operator resumes, rolls back or aborts — the result is frozen then.
 */
const isOver = (s: RolloutState, w: WaveRecord): boolean =>
  w.outcome === 'passed' || w.outcome === 'overridden' || ROLLOUT_ENDS.has(s.status);

/** The failed devices of a wave with the error their reported state carries (this tick's observations). */
export function failuresOf(ids: readonly string[], obs: Observations): DeviceFailure[] {
  return ids.map((id) => {
    const o = obs.devices[id];
    return { deviceId: id, code: o?.errorCode ?? null, message: o?.errorMessage ?? null };
  });
}

/**
 * The waves that ended in the step from `before` to `after`, each with its result. Counts are taken on the
 * state the step judged (`before`'s records, the step's observations), so they are the counts its gates saw.
 */
export function endedWaves(spec: RolloutSpec, before: RolloutState, after: RolloutState, obs: Observations, actions: readonly RolloutAction[]): WaveResult[] {
  const previous = new Set<string>();
  for (const a of actions) if (a.type === 'send-previous') for (const id of a.deviceIds) previous.add(id);
  const out: WaveResult[] = [];
  for (const w of after.waves) {
    if (!isOver(after, w)) continue;
    const judged = before.waves[w.index];
    if (judged && isOver(before, judged)) continue;
    const c = waveCounts(spec, judged ? before : after, judged ?? w, obs);
    const rolledBack = w.deviceIds.filter((id) => previous.has(id));
    const ended: WaveEnd = GATED_ENDS.has(w.outcome) ? (w.outcome === 'failed' && after.status === 'rolled-back' ? 'rolled-back' : (w.outcome as WaveEnd)) : (after.status as WaveEnd);
    out.push({
      wave: w.index,
      ended,
      endedAt: obs.now,
      counts: { pending: c.pending, converged: c.converged, failed: c.failed, skipped: c.skipped, left: c.left, rolledBack: rolledBack.length, total: w.deviceIds.length },
      byOutcome: { ...c.byOutcome, rolledBack },
      failures: failuresOf(c.byOutcome.failed, obs),
      gates: w.gates,
    });
  }
  return out;
}
