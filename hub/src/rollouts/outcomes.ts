// Wave evaluation (design §7), pure: where each sent device stands, a wave's counts, and when (and over
// which devices and time range) the current wave's gates are judged.

import { createHistogram } from '@edgefleet/protocol';
import type { VersionHealth, WaveDeviceCounts } from './gate-config.js';
import type { DeviceObservation, DeviceRecord, Observations, RolloutSpec, RolloutState, WaveRecord } from './spec.js';

export type DeviceOutcome = 'pending' | 'converged' | 'failed' | 'skipped' | 'left';

const FAILED_STATES: ReadonlySet<string> = new Set(['failed', 'rolled-back']);

/**
 * Where one sent device stands. A failure counts only when it is about this send (rolloutId, or a
 * report made after sending), so a stale 'failed' from an earlier attempt does not fail the wave.
 * Not converged within `deviceTimeoutMs` of the send: offline devices are *skipped* (they say nothing
 * about the model — a flaky network must not fail a rollout; they still converge when they come back,
 * their desired state is retained), online ones *failed* (reachable, but the install never finished).
 * Outcomes are recomputed every tick, so a skipped device that converges later counts as converged.
 */
export function deviceOutcome(
  spec: RolloutSpec,
  record: DeviceRecord,
  obs: DeviceObservation | undefined,
  now: number,
): DeviceOutcome {
  if (!obs) return 'left';
  const fresh =
    obs.rolloutId !== undefined
      ? obs.rolloutId === spec.id
      : (obs.reportedAt ?? obs.lastSeen ?? -Infinity) >= record.sentAt;
  if (FAILED_STATES.has(obs.modelState) && fresh) return 'failed';
  const version = record.sent === 'shadow' ? obs.shadowVersion : obs.activeVersion;
  if (record.sent !== 'previous' && version === spec.version && !FAILED_STATES.has(obs.modelState)) {
    return 'converged';
  }
  if (now - record.sentAt >= spec.deviceTimeoutMs) return obs.online ? 'failed' : 'skipped';
  return 'pending';
}

export interface WaveCounts extends WaveDeviceCounts {
  pending: number;
  left: number;
}

/** Device outcomes of one wave, plus the ids per outcome (for `rollout show`). */
export function waveCounts(
  spec: RolloutSpec,
  state: RolloutState,
  wave: WaveRecord,
  obs: Observations,
): WaveCounts & { byOutcome: Record<DeviceOutcome, string[]> } {
  const byOutcome: Record<DeviceOutcome, string[]> = { pending: [], converged: [], failed: [], skipped: [], left: [] };
  for (const id of wave.deviceIds) {
    const record = state.devices[id];
    if (!record) continue;
    byOutcome[deviceOutcome(spec, record, obs.devices[id], obs.now)].push(id);
  }
  return {
    pending: byOutcome.pending.length,
    converged: byOutcome.converged.length,
    failed: byOutcome.failed.length,
    skipped: byOutcome.skipped.length,
    left: byOutcome.left.length,
    byOutcome,
  };
}

/**
 * The device set and time range the hub should merge telemetry over for the current wave's gates:
 * the wave's devices from its start to now. The baseline is the version being replaced over the
 * same range (design §7) — the hub takes it from target devices still running it (or, on shadow
 * rollouts, the same devices' active version). Null when no wave is in progress.
 */
export function healthQuery(
  state: RolloutState,
  now: number,
): { wave: number; deviceIds: string[]; from: number; to: number } | null {
  const w = state.waves[state.wave];
  if (!w || (state.status !== 'running' && state.status !== 'soaking' && state.status !== 'paused')) return null;
  return { wave: w.index, deviceIds: [...w.deviceIds], from: w.startedAt, to: now };
}

/** True when the next `step` will evaluate the current wave's gates (so the hub needs health). */
export function gatesDue(spec: RolloutSpec, state: RolloutState, now: number): boolean {
  const w = state.waves[state.wave];
  return state.status === 'soaking' && !!w && w.doneAt !== null && now - w.doneAt >= spec.soakMs;
}

/** A VersionHealth with nothing in it: what the gates see when the hub had no telemetry. */
export function emptyHealth(): VersionHealth {
  return {
    devices: 0,
    inferences: 0,
    errors: 0,
    latencyMs: createHistogram(),
    features: {},
  };
}
