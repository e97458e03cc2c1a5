// The update state machine as pure functions of (slots, observation, time) → (slots, tasks) (design §5,
// STYLE "pure cores"). The agent core executes the tasks; nothing here touches I/O, so crash recovery is
// "load the persisted slots and plan again".

import type { ErrorCode, Manifest, ModelState, TelemetrySettings } from '@edgefleet/protocol';
import type { Envelope } from '@edgefleet/protocol';

export interface VersionRef {
  version: string;
  release: number;
  sha256: string;
}

export interface Probation {
  sha256: string;
  /** Epoch ms when probation ends. */
  until: number;
  /** Agent starts while this probation was running (crash-loop detection, design §5). */
  restarts: number;
}

/** Everything the agent remembers about one model name, persisted after every transition. */
export interface ModelSlot {
  name: string;
  active: VersionRef | null;
  previous: VersionRef | null;
  shadow: VersionRef | null;
  pending: VersionRef | null;
  state: ModelState;
  progress?: number;
  error: { code: ErrorCode; message: string } | null;
  rolloutId?: string;
  probation: Probation | null;
  /** Manifests rolled back on this device: not retried until a newer desired state (design §5). */
  blocked: string[];
}

export interface WantedModel {
  manifest: Manifest;
  envelope: Envelope;
  role: 'active' | 'shadow';
  rolloutId?: string;
}

export interface InstallTask extends WantedModel {
  ref: VersionRef;
}

export interface Plan {
  install: InstallTask[];
  /** Model names whose active version the desired state no longer names. */
  removeActive: string[];
  /** Model names whose shadow the desired state no longer names. */
  removeShadow: string[];
}

export const DEFAULT_TELEMETRY: TelemetrySettings = {
  windowSeconds: 60,
  probationSeconds: 600,
  probationMaxErrorRate: 0.2,
  probationMinInferences: 20,
};

export const refOf = (m: Manifest): VersionRef => ({ version: m.version, release: m.release, sha256: m.artifact.sha256 });

export function emptySlot(name: string): ModelSlot {
  return { name, active: null, previous: null, shadow: null, pending: null, state: 'idle', error: null, probation: null, blocked: [] };
}

/** What has to happen to go from the slots to the desired models. Active installs come before shadows. */
export function planUpdates(slots: Readonly<Record<string, ModelSlot>>, wanted: readonly WantedModel[]): Plan {
  const install: InstallTask[] = [];
  const shadows: InstallTask[] = [];
  const namedActive = new Set<string>();
  const namedShadow = new Set<string>();
  for (const w of wanted) {
    const slot = slots[w.manifest.model];
    const ref = refOf(w.manifest);
    if (w.role === 'active') {
      namedActive.add(w.manifest.model);
      if (slot?.active?.sha256 === ref.sha256) continue;
      if (slot?.blocked.includes(ref.sha256)) continue; // rolled back: wait for a newer desired state
      install.push({ ...w, ref });
    } else {
      namedShadow.add(w.manifest.model);
      if (slot?.shadow?.sha256 === ref.sha256) continue;
      if (slot?.blocked.includes(ref.sha256)) continue;
      shadows.push({ ...w, ref });
    }
  }
  const removeActive: string[] = [];
  const removeShadow: string[] = [];
  for (const slot of Object.values(slots)) {
    if (slot.active && !namedActive.has(slot.name)) removeActive.push(slot.name);
    if (slot.shadow && !namedShadow.has(slot.name)) removeShadow.push(slot.name);
  }
  return { install: [...install, ...shadows], removeActive, removeShadow };
}

/** Slot after a verified version went live as the active one; the old one stays on disk as `previous`. */
export function activated(slot: ModelSlot, ref: VersionRef, now: number, settings: TelemetrySettings, rolloutId?: string): ModelSlot {
  const previous = slot.active && slot.active.sha256 !== ref.sha256 ? slot.active : slot.previous;
  const onProbation = settings.probationSeconds > 0 && previous !== null;
  const next: ModelSlot = {
    ...slot,
    active: ref,
    previous,
    pending: null,
    progress: undefined,
    error: null,
    state: onProbation ? 'probation' : 'active',
    probation: onProbation ? { sha256: ref.sha256, until: now + settings.probationSeconds * 1000, restarts: 0 } : null,
  };
  if (rolloutId !== undefined) next.rolloutId = rolloutId;
  return next;
}

/** Where a slot rests when nothing is being installed: serving (on probation or not), or idle. */
export function restingState(slot: ModelSlot): ModelState {
  return slot.active ? (slot.probation ? 'probation' : 'active') : 'idle';
}

/** An install began (or is retried: `keepError` leaves the last attempt's error reported until one succeeds). */
export function downloadStarted(slot: ModelSlot, ref: VersionRef, keepError: boolean, rolloutId?: string): ModelSlot {
  return { ...slot, pending: ref, state: 'downloading', progress: 0, error: keepError ? slot.error : null, ...(rolloutId !== undefined ? { rolloutId } : {}) };
}

export function downloadProgressed(slot: ModelSlot, progress: number): ModelSlot {
  return { ...slot, progress };
}

/** Every byte is on disk: the sha256 is being checked. */
export function verifying(slot: ModelSlot): ModelSlot {
  return { ...slot, state: 'verifying', progress: 1 };
}

/** Verified bytes are loading in a fresh session for the manifest's self-test. */
export function selfTesting(slot: ModelSlot): ModelSlot {
  return { ...slot, state: 'self-testing' };
}

/** A verified, self-tested version now runs as the shadow. */
export function shadowStarted(slot: ModelSlot, ref: VersionRef): ModelSlot {
  return { ...slot, shadow: ref, pending: null, progress: undefined, error: null, state: restingState(slot) };
}

/** An install stopped without failing (superseded, or interrupted by a restart): back to resting. */
export function installAbandoned(slot: ModelSlot): ModelSlot {
  return { ...slot, pending: null, progress: undefined, state: restingState(slot) };
}

/**
 * An install failed. A permanent failure (verified bytes that fail to load or self-test) blocks the
 * manifest and reads 'failed' even while the old version keeps serving (`active` says which): the hub's
 * rollout counts it as a failed device rather than waiting for a timeout.
 */
export function installFailed(slot: ModelSlot, sha256: string, error: { code: ErrorCode; message: string }, permanent: boolean): ModelSlot {
  return {
    ...slot,
    pending: null,
    progress: undefined,
    state: permanent || !slot.active ? 'failed' : restingState(slot),
    error,
    blocked: permanent && !slot.blocked.includes(sha256) ? [...slot.blocked, sha256] : slot.blocked,
  };
}

/** Probation is over and the version stays. */
export function probationPassed(slot: ModelSlot): ModelSlot {
  return { ...slot, probation: null, state: 'active' };
}

/** The desired state no longer names an active version for this model. */
export function activeRemoved(slot: ModelSlot): ModelSlot {
  return { ...slot, active: null, probation: null, pending: null, state: 'idle', progress: undefined };
}

/** The shadow is gone: no longer desired, or it could not be loaded. */
export function shadowRemoved(slot: ModelSlot): ModelSlot {
  return { ...slot, shadow: null };
}

/** design §3: a refused keyring, desired state or command leaves what runs alone and reports why. */
export function refused(slot: ModelSlot, refusal: { code: ErrorCode; message: string }): ModelSlot {
  return { ...slot, error: refusal };
}

/** A newer desired state lifts the blocks of rolled-back manifests and clears stale errors (design §5). */
export function desiredArrived(slot: ModelSlot): ModelSlot {
  return { ...slot, blocked: [], error: slot.state === 'rolled-back' || slot.state === 'failed' ? slot.error : null };
}

/** On start, the active file cannot be served: nothing active, the slot failed (its previous may take over). */
export function activeUnusable(slot: ModelSlot, error: { code: ErrorCode; message: string }): ModelSlot {
  return { ...slot, active: null, probation: null, state: 'failed', error };
}

/** On start, the previous version took over from an unusable active file. */
export function fellBackToPrevious(slot: ModelSlot): ModelSlot {
  return { ...slot, active: slot.previous, previous: null, state: 'rolled-back' };
}

/** On start, the previous version cannot be served either. */
export function previousUnusable(slot: ModelSlot): ModelSlot {
  return { ...slot, previous: null };
}

/** Slot after returning to the previous version; the failed one is blocked until a newer desired state. */
export function rolledBack(slot: ModelSlot, error: { code: ErrorCode; message: string } | null): ModelSlot {
  const failed = slot.active;
  return {
    ...slot,
    active: slot.previous,
    previous: null,
    pending: null,
    progress: undefined,
    state: 'rolled-back',
    error,
    probation: null,
    blocked: failed && !slot.blocked.includes(failed.sha256) ? [...slot.blocked, failed.sha256] : slot.blocked,
  };
}

export type ProbationVerdict = { kind: 'continue' } | { kind: 'pass' } | { kind: 'fail'; reason: string };

/** Judge a probation from the counts since activation (design §5 "watch and roll back"). */
export function probationVerdict(
  probation: Probation,
  stats: { inferences: number; errors: number },
  settings: TelemetrySettings,
  now: number,
): ProbationVerdict {
  if (stats.inferences >= settings.probationMinInferences) {
    const rate = stats.errors / stats.inferences;
    if (rate > settings.probationMaxErrorRate) {
      return {
        kind: 'fail',
        reason: `error rate ${(rate * 100).toFixed(1)}% over ${stats.inferences} inferences exceeds ${(settings.probationMaxErrorRate * 100).toFixed(1)}% during probation`,
      };
    }
  }
  return now >= probation.until ? { kind: 'pass' } : { kind: 'continue' };
}

/**
 * An agent start after an unclean exit while a probation runs counts as a restart; N of them is a
 * crash loop (design §5).
 * Returns the slot to run with and, when it rolled back, why.
 */
export function onAgentStart(slot: ModelSlot, now: number, maxRestarts: number, crashed = true): { slot: ModelSlot; rollback?: string } {
  const p = slot.probation;
  if (!p || slot.active?.sha256 !== p.sha256) return { slot };
  if (now >= p.until) return { slot: probationPassed(slot) };
  if (!crashed) return { slot }; // a clean stop and start is maintenance, not a crash loop
  const restarts = p.restarts + 1;
  if (restarts >= maxRestarts && slot.previous) {
    const reason = `crash loop: ${restarts} restarts during probation`;
    return { slot: rolledBack(slot, { code: 'PROBATION_FAILED', message: reason }), rollback: reason };
  }
  return { slot: { ...slot, probation: { ...p, restarts } } };
}

export function settingsOf(t: Partial<TelemetrySettings> | undefined): TelemetrySettings {
  return { ...DEFAULT_TELEMETRY, ...(t ?? {}) };
}
