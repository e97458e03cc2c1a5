// What the rollout engine reads and writes (design §7): the operator's spec with defaults filled in, the
// observations the hub feeds it each tick, the state it persists as JSON and the actions it returns.

import { EdgefleetError } from '@edgefleet/protocol';
import { resolveGateConfig, type GateConfig, type GateResult, type ReferenceCounts, type VersionHealth } from './gate-config.js';
import { DEFAULT_WAVES, validateWaves } from './waves.js';

export type RolloutStatus = 'running' | 'soaking' | 'paused' | 'completed' | 'aborted' | 'rolled-back' | 'superseded';
export type OnFail = 'pause' | 'rollback';
/** What a wave does when its max soak is over and gates still lack evidence (design §7). */
export type OnNoEvidence = 'pause' | 'pass' | 'fail';
export type Role = 'active' | 'shadow';

export const DEFAULT_SOAK_MS = 10 * 60_000;
export const DEFAULT_DEVICE_TIMEOUT_MS = 30 * 60_000;
/**
 * The default max soak: six soaks, at most one hour beyond the soak. A 10 min soak waits up to 1 h for evidence,
 * a 10 s one up to 1 min; a soak of 0 judges at once and applies the no-evidence policy at once.
 */
export const defaultMaxSoakMs = (soakMs: number): number => Math.min(6 * soakMs, soakMs + 3_600_000);

/** What the operator asked for, defaults filled in (`resolveRolloutSpec`). */
export interface RolloutSpec {
  id: string;
  model: string;
  version: string;
  release: number;
  /** Cumulative percents of the target set, strictly increasing, ending at 100. */
  waves: number[];
  /** Time after a wave's devices all converged (or failed) before its gates are checked. */
  soakMs: number;
  onFail: OnFail;
  /**
   * How long (from the same start as the soak) a wave whose gates lack evidence keeps soaking for it; ≥ soakMs.
   * Absent on rollouts persisted before it existed: they judge at the soak's end (maxSoakMs = soakMs, pass).
   */
  maxSoakMs?: number;
  /** At the max soak, gates still lacking evidence: pause (default, saying what was missing), pass, or fail (onFail). */
  onNoEvidence?: OnNoEvidence;
  /** Run the version beside the active one until `promote`. */
  shadow: boolean;
  gates: GateConfig;
  /** Time after sending within which a device must converge: offline devices are skipped after it, online ones failed. */
  deviceTimeoutMs: number;
}

export interface RolloutSpecInput {
  id: string;
  model: string;
  version: string;
  release: number;
  waves?: number[];
  soakMs?: number;
  onFail?: OnFail;
  maxSoakMs?: number;
  onNoEvidence?: OnNoEvidence;
  shadow?: boolean;
  gates?: Partial<GateConfig>;
  deviceTimeoutMs?: number;
}

/** The wave's max soak; a rollout persisted before max soaks existed judges at its soak's end. */
export const maxSoakOf = (spec: RolloutSpec): number => Math.max(spec.soakMs, spec.maxSoakMs ?? spec.soakMs);

/** The no-evidence policy; a rollout persisted before it existed passes, as it did then. */
export const noEvidencePolicy = (spec: RolloutSpec): OnNoEvidence => spec.onNoEvidence ?? 'pass';

/**
 * Fills in defaults (waves 1,10,50,100; soak 10 min; pause on failure; max soak `defaultMaxSoakMs`; pause when
 * evidence is still missing then) and checks the plan (BAD_INPUT).
 */
export function resolveRolloutSpec(input: RolloutSpecInput): RolloutSpec {
  const waves = input.waves ?? [...DEFAULT_WAVES];
  validateWaves(waves);
  const soakMs = input.soakMs ?? DEFAULT_SOAK_MS;
  const deviceTimeoutMs = input.deviceTimeoutMs ?? DEFAULT_DEVICE_TIMEOUT_MS;
  if (!(soakMs >= 0) || !(deviceTimeoutMs > 0)) {
    throw new EdgefleetError('BAD_INPUT', 'soak must be ≥ 0 and the device timeout > 0');
  }
  const maxSoakMs = input.maxSoakMs ?? defaultMaxSoakMs(soakMs);
  if (!(maxSoakMs >= soakMs)) throw new EdgefleetError('BAD_INPUT', `max soak must be at least the soak (${soakMs} ms)`);
  return {
    id: input.id,
    model: input.model,
    version: input.version,
    release: input.release,
    waves: [...waves],
    soakMs,
    onFail: input.onFail ?? 'pause',
    maxSoakMs,
    onNoEvidence: input.onNoEvidence ?? 'pause',
    shadow: input.shadow ?? false,
    gates: resolveGateConfig(input.gates),
    deviceTimeoutMs,
  };
}

// ---- observations ----

/** One target device as the hub sees it this tick (its reported state for the rollout's model). */
export interface DeviceObservation {
  online: boolean;
  /** Last time anything was heard from the device (ms), null if never. */
  lastSeen: number | null;
  activeVersion: string | null;
  shadowVersion?: string | null;
  /** ReportedModel.state: 'idle' | 'downloading' | … | 'active' | 'probation' | 'rolled-back' | 'failed'. */
  modelState: string;
  errorCode?: string;
  /** ReportedModel.error.message: why the device failed (e.g. its probation verdict), shown with the failure. */
  errorMessage?: string;
  /** ReportedModel.rolloutId: when present, a failure counts only if it names this rollout. */
  rolloutId?: string;
  /** When the reported state was produced (ms); a failure reported before our send is stale. */
  reportedAt?: number;
}

export interface Observations {
  now: number;
  /** The target set resolved this tick (devices joining later simply appear here). */
  devices: Record<string, DeviceObservation>;
  /** The candidate's merged telemetry over `healthQuery(...)`; needed only when gates are due. */
  candidate?: VersionHealth;
  /** The version being replaced, same time range (see healthQuery). */
  baseline?: VersionHealth;
  /** Reference bin counts per feature, from the candidate's manifest. */
  reference?: ReferenceCounts;
}

// ---- state ----

export interface DeviceRecord {
  /** Wave index the device was sent in; `waves.length` for devices converged after completion. */
  wave: number;
  /** What was sent last: the version in a role, or the previous version (rollback). */
  sent: Role | 'previous';
  sentAt: number;
}

/** 'no-evidence': paused at the max soak with gates still lacking evidence (onNoEvidence pause). */
export type WaveOutcome = 'rolling' | 'soaking' | 'passed' | 'failed' | 'no-evidence' | 'overridden';

export interface WaveRecord {
  index: number;
  percent: number;
  deviceIds: string[];
  startedAt: number;
  /** When every device converged, failed or was skipped: the soak starts here. */
  doneAt: number | null;
  gatesAt: number | null;
  gates: GateResult[];
  outcome: WaveOutcome;
}

export interface RolloutState {
  v: 1;
  id: string;
  status: RolloutStatus;
  /** Index of the current (last started) wave, -1 before the first. */
  wave: number;
  waves: WaveRecord[];
  /** Every device ever sent something, keyed by id: the engine never sends what is recorded here again. */
  devices: Record<string, DeviceRecord>;
  /** Role the version is sent in: 'shadow' for shadow rollouts until promoted. */
  role: Role;
  pausedReason: string | null;
  /** Status to return to on resume after a manual pause; null after a gate failure (resume overrides it). */
  pausedFrom: 'running' | 'soaking' | null;
  createdAt: number;
  updatedAt: number;
  endedAt: number | null;
  supersededBy: string | null;
}

export type NotifyEvent = 'gate-failed' | 'rollout-paused' | 'rollout-rolled-back' | 'rollout-completed' | 'rollout-no-evidence';

export type RolloutAction =
  | { type: 'send-desired'; deviceIds: string[]; role: Role }
  | { type: 'send-previous'; deviceIds: string[] }
  | { type: 'audit'; action: string; details: Record<string, unknown> }
  | { type: 'notify'; event: NotifyEvent; details: Record<string, unknown> }
  | { type: 'wave-started'; index: number; deviceIds: string[] };

export interface StepResult {
  state: RolloutState;
  actions: RolloutAction[];
}

export function createRolloutState(spec: RolloutSpec, now: number): RolloutState {
  return {
    v: 1,
    id: spec.id,
    status: 'running',
    wave: -1,
    waves: [],
    devices: {},
    role: spec.shadow ? 'shadow' : 'active',
    pausedReason: null,
    pausedFrom: null,
    createdAt: now,
    updatedAt: now,
    endedAt: null,
    supersededBy: null,
  };
}
