// The rollout engine (design §7): a pure state machine (spec, state, observations) → (state, actions).
// The hub persists the state as JSON, feeds observations on a ticker and executes the actions; no I/O here.

import { EdgefleetError, createHistogram } from '@edgefleet/protocol';
import {
  deviceFailureGate,
  evaluateGates,
  failedGates,
  resolveGateConfig,
  type GateConfig,
  type GateResult,
  type ReferenceCounts,
  type VersionHealth,
  type WaveDeviceCounts,
} from './gates.js';
import { DEFAULT_WAVES, planWave, validateWaves } from './waves.js';

export type RolloutStatus = 'running' | 'soaking' | 'paused' | 'completed' | 'aborted' | 'rolled-back' | 'superseded';
export type OnFail = 'pause' | 'rollback';
export type Role = 'active' | 'shadow';

export const DEFAULT_SOAK_MS = 10 * 60_000;
export const DEFAULT_DEVICE_TIMEOUT_MS = 30 * 60_000;

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
  shadow?: boolean;
  gates?: Partial<GateConfig>;
  deviceTimeoutMs?: number;
}

/** Fills in defaults (waves 1,10,50,100; soak 10 min; pause on failure) and checks the plan (BAD_INPUT). */
export function resolveRolloutSpec(input: RolloutSpecInput): RolloutSpec {
  const waves = input.waves ?? [...DEFAULT_WAVES];
  validateWaves(waves);
  const soakMs = input.soakMs ?? DEFAULT_SOAK_MS;
  const deviceTimeoutMs = input.deviceTimeoutMs ?? DEFAULT_DEVICE_TIMEOUT_MS;
  if (!(soakMs >= 0) || !(deviceTimeoutMs > 0)) {
    throw new EdgefleetError('BAD_INPUT', 'soak must be ≥ 0 and the device timeout > 0');
  }
  return {
    id: input.id,
    model: input.model,
    version: input.version,
    release: input.release,
    waves: [...waves],
    soakMs,
    onFail: input.onFail ?? 'pause',
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

export type WaveOutcome = 'rolling' | 'soaking' | 'passed' | 'failed' | 'overridden';

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

export type NotifyEvent = 'gate-failed' | 'rollout-paused' | 'rollout-rolled-back' | 'rollout-completed';

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

// ---- device outcomes ----

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

// ---- step ----

const TERMINAL: ReadonlySet<RolloutStatus> = new Set(['aborted', 'rolled-back', 'superseded']);

class Run {
  readonly actions: RolloutAction[] = [];
  constructor(
    readonly spec: RolloutSpec,
    readonly s: RolloutState,
    readonly obs: Observations,
  ) {}

  get now(): number {
    return this.obs.now;
  }

  base(): Record<string, unknown> {
    return { rolloutId: this.spec.id, model: this.spec.model, version: this.spec.version };
  }

  audit(action: string, details: Record<string, unknown> = {}): void {
    this.actions.push({ type: 'audit', action, details: { ...this.base(), ...details } });
  }

  notify(event: NotifyEvent, details: Record<string, unknown>): void {
    this.actions.push({ type: 'notify', event, details: { ...this.base(), ...details } });
  }

  send(ids: string[], wave: number): void {
    if (ids.length === 0) return;
    for (const id of ids) this.s.devices[id] = { wave, sent: this.s.role, sentAt: this.now };
    this.actions.push({ type: 'send-desired', deviceIds: ids, role: this.s.role });
  }

  targets(): string[] {
    return Object.keys(this.obs.devices);
  }

  /** Starts the next non-empty wave, or completes the rollout after the last one. */
  advance(): void {
    for (;;) {
      const k = this.s.wave + 1;
      if (k >= this.spec.waves.length) {
        this.complete();
        return;
      }
      const ids = planWave(this.spec.id, this.targets(), this.spec.waves, k, new Set(Object.keys(this.s.devices)));
      const percent = this.spec.waves[k]!;
      const wave: WaveRecord = {
        index: k,
        percent,
        deviceIds: ids,
        startedAt: this.now,
        doneAt: null,
        gatesAt: null,
        gates: [],
        outcome: 'rolling',
      };
      this.s.waves.push(wave);
      this.s.wave = k;
      this.s.status = 'running';
      if (ids.length === 0) {
        // a small fleet already covered by earlier waves' quotas: nothing new to judge
        wave.outcome = 'passed';
        wave.doneAt = wave.gatesAt = this.now;
        this.audit('rollout.wave-skipped', { wave: k, percent, reason: 'no devices left for this wave' });
        continue;
      }
      this.audit('rollout.wave-started', { wave: k, percent, devices: ids, role: this.s.role });
      this.actions.push({ type: 'wave-started', index: k, deviceIds: ids });
      this.send(ids, k);
      return;
    }
  }

  complete(): void {
    this.s.status = 'completed';
    this.s.endedAt = this.now;
    const sent = Object.keys(this.s.devices).length;
    this.audit('rollout.completed', { waves: this.s.waves.length, devices: sent });
    this.notify('rollout-completed', { waves: this.s.waves.length, devices: sent });
    this.convergeLateJoiners();
  }

  /** Design §7: devices that join the target set after completion get the rolled-out version. */
  convergeLateJoiners(): void {
    const late = this.targets().filter((id) => !this.s.devices[id]);
    if (late.length === 0) return;
    late.sort();
    this.audit('rollout.late-join', { devices: late, role: this.s.role });
    this.send(late, this.spec.waves.length);
  }

  fail(wave: WaveRecord, results: GateResult[], failing: GateResult[]): void {
    wave.gates = results;
    wave.gatesAt = this.now;
    wave.outcome = 'failed';
    const failed = failing.map((g) => ({ name: g.name, value: g.value, limit: g.limit, detail: g.detail }));
    this.audit('rollout.gates', { wave: wave.index, pass: false, results });
    this.notify('gate-failed', { wave: wave.index, failed });
    const names = failing.map((g) => g.name).join(', ');
    if (this.spec.onFail === 'pause') {
      this.s.status = 'paused';
      this.s.pausedReason = `wave ${wave.index + 1} failed gates: ${names}`;
      this.s.pausedFrom = null;
      this.audit('rollout.paused', { wave: wave.index, reason: this.s.pausedReason });
      this.notify('rollout-paused', { wave: wave.index, reason: this.s.pausedReason, failed });
      return;
    }
    // roll the wave back (design §7): exactly the devices this wave sent to, nothing earlier
    const ids = wave.deviceIds.filter((id) => this.s.devices[id]?.sent !== 'previous');
    for (const id of ids) this.s.devices[id] = { wave: wave.index, sent: 'previous', sentAt: this.now };
    if (ids.length > 0) this.actions.push({ type: 'send-previous', deviceIds: ids });
    this.s.status = 'rolled-back';
    this.s.endedAt = this.now;
    this.s.pausedReason = `wave ${wave.index + 1} failed gates: ${names}`;
    this.audit('rollout.rolled-back', { wave: wave.index, devices: ids, reason: this.s.pausedReason });
    this.notify('rollout-rolled-back', { wave: wave.index, devices: ids, reason: this.s.pausedReason, failed });
  }

  /**
   * Fails the wave without waiting when failures already exceed the limit even if every pending
   * device were to converge (a self-test failure needs no soak to be conclusive).
   */
  earlyFail(wave: WaveRecord, c: WaveCounts): boolean {
    if (c.failed === 0) return false;
    const best = c.failed / (c.converged + c.failed + c.pending);
    if (best <= this.spec.gates.maxDeviceFailureRate) return false;
    const gate = deviceFailureGate(this.spec.gates, c);
    this.fail(wave, [gate], [gate]);
    return true;
  }

  tickWave(): void {
    const wave = this.s.waves[this.s.wave];
    if (!wave) {
      this.advance();
      return;
    }
    if (wave.outcome === 'passed' || wave.outcome === 'overridden') {
      this.advance();
      return;
    }
    const c = waveCounts(this.spec, this.s, wave, this.obs);
    if (this.earlyFail(wave, c)) return;
    if (this.s.status === 'running') {
      if (c.pending > 0) return;
      wave.doneAt = this.now;
      wave.outcome = 'soaking';
      this.s.status = 'soaking';
      this.audit('rollout.wave-done', { wave: wave.index, converged: c.converged, failed: c.failed, skipped: c.skipped, left: c.left });
    }
    if (wave.doneAt === null || this.now - wave.doneAt < this.spec.soakMs) return;
    const results = evaluateGates(
      this.spec.gates,
      this.obs.candidate ?? emptyHealth(),
      this.obs.baseline,
      this.obs.reference ?? {},
      c,
    );
    const failing = failedGates(this.spec.gates, results);
    if (failing.length > 0) {
      this.fail(wave, results, failing);
      return;
    }
    wave.gates = results;
    wave.gatesAt = this.now;
    wave.outcome = 'passed';
    this.audit('rollout.gates', { wave: wave.index, pass: true, results });
    this.advance();
  }
}

/**
 * One tick: reads the observations, returns the new state (never the input object) and what the hub
 * must do. Idempotent: a device recorded in `state.devices` is never sent the same thing again, so
 * replaying a tick after a crash (state persisted, actions not yet executed — or the reverse) is
 * safe as long as the hub persists the returned state before or with executing its sends.
 */
export function step(spec: RolloutSpec, state: RolloutState, obs: Observations): StepResult {
  if (spec.id !== state.id) throw new EdgefleetError('BAD_INPUT', `spec ${spec.id} does not match state ${state.id}`);
  const s = structuredClone(state);
  const run = new Run(spec, s, obs);
  if (s.status === 'running' || s.status === 'soaking') run.tickWave();
  else if (s.status === 'completed') run.convergeLateJoiners();
  // paused and terminal rollouts send nothing
  if (run.actions.length > 0 || s.status !== state.status) s.updatedAt = obs.now;
  return { state: s, actions: run.actions };
}

// ---- operator commands ----

function command(spec: RolloutSpec, state: RolloutState, now: number, allowed: readonly RolloutStatus[], what: string) {
  if (!allowed.includes(state.status)) {
    throw new EdgefleetError('CONFLICT', `cannot ${what} rollout ${state.id}: it is ${state.status}`);
  }
  const s = structuredClone(state);
  s.updatedAt = now;
  return new Run(spec, s, { now, devices: {} });
}

/** Manual pause: nothing more is sent until `resume`. */
export function pause(spec: RolloutSpec, state: RolloutState, reason: string, now: number): StepResult {
  const run = command(spec, state, now, ['running', 'soaking'], 'pause');
  run.s.pausedFrom = state.status === 'soaking' ? 'soaking' : 'running';
  run.s.status = 'paused';
  run.s.pausedReason = reason;
  run.audit('rollout.paused', { wave: state.wave, reason, by: 'operator' });
  run.notify('rollout-paused', { wave: state.wave, reason, by: 'operator' });
  return { state: run.s, actions: run.actions };
}

/**
 * Resume: after a manual pause the rollout carries on where it was; after a failed gate the operator
 * overrides it — the wave counts as passed and the next `step` starts the next wave (audited).
 */
export function resume(spec: RolloutSpec, state: RolloutState, now: number): StepResult {
  const run = command(spec, state, now, ['paused'], 'resume');
  const wave = run.s.waves[run.s.wave];
  const override = state.pausedFrom === null && wave?.outcome === 'failed';
  if (override) wave.outcome = 'overridden';
  run.s.status = override ? 'running' : (state.pausedFrom ?? 'running');
  run.s.pausedReason = null;
  run.s.pausedFrom = null;
  run.audit('rollout.resumed', { wave: state.wave, override });
  return { state: run.s, actions: run.actions };
}

/** Stops the rollout for good; devices keep what they were sent. */
export function abort(spec: RolloutSpec, state: RolloutState, reason: string, now: number): StepResult {
  const run = command(spec, state, now, ['running', 'soaking', 'paused', 'completed'], 'abort');
  run.s.status = 'aborted';
  run.s.endedAt = now;
  run.audit('rollout.aborted', { wave: state.wave, reason });
  return { state: run.s, actions: run.actions };
}

/** A newer rollout of the same model takes over (design §7): this one stops, even after completion. */
export function supersede(spec: RolloutSpec, state: RolloutState, byRolloutId: string, now: number): StepResult {
  const run = command(spec, state, now, ['running', 'soaking', 'paused', 'completed'], 'supersede');
  run.s.status = 'superseded';
  run.s.endedAt = now;
  run.s.supersededBy = byRolloutId;
  run.audit('rollout.superseded', { wave: state.wave, by: byRolloutId });
  return { state: run.s, actions: run.actions };
}

/**
 * Shadow → active: every device running the version as shadow is sent it as active, and the rest of
 * the rollout (later waves, late joiners) sends it active. The current wave waits for its devices to
 * report it active before soaking again.
 */
export function promote(spec: RolloutSpec, state: RolloutState, now: number): StepResult {
  const run = command(spec, state, now, ['running', 'soaking', 'paused', 'completed'], 'promote');
  if (state.role !== 'shadow') {
    throw new EdgefleetError('CONFLICT', `rollout ${state.id} is not a shadow rollout (or is already promoted)`);
  }
  run.s.role = 'active';
  const ids = Object.keys(run.s.devices)
    .filter((id) => run.s.devices[id]!.sent === 'shadow')
    .sort();
  for (const id of ids) run.s.devices[id] = { ...run.s.devices[id]!, sent: 'active', sentAt: now };
  if (ids.length > 0) run.actions.push({ type: 'send-desired', deviceIds: ids, role: 'active' });
  const wave = run.s.waves[run.s.wave];
  if (wave && (wave.outcome === 'rolling' || wave.outcome === 'soaking')) {
    wave.outcome = 'rolling';
    wave.doneAt = null;
    if (run.s.status === 'soaking') run.s.status = 'running';
    if (run.s.pausedFrom === 'soaking') run.s.pausedFrom = 'running';
  }
  run.audit('rollout.promoted', { wave: state.wave, devices: ids });
  return { state: run.s, actions: run.actions };
}
