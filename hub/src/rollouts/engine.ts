// The rollout engine (design §7): a pure state machine (spec, state, observations) → (state, actions).
// The hub persists the state as JSON, feeds observations on a ticker and executes the actions; no I/O here.
// This file is the tick (`step`); operator commands are in commands.ts, the types in spec.ts.

import { EdgefleetError } from '@edgefleet/protocol';
import type { GateResult } from './gate-config.js';
import { baselineFinal, deviceFailureGate, evaluateGates, failedGates, lackingEvidence, missingEvidence } from './gates.js';
import { emptyHealth, waveCounts, type WaveCounts } from './outcomes.js';
import { maxSoakOf, noEvidencePolicy, type NotifyEvent, type Observations, type RolloutAction, type RolloutSpec, type RolloutState, type RolloutStatus, type StepResult, type WaveRecord } from './spec.js';
import { planWave } from './waves.js';

const TERMINAL: ReadonlySet<RolloutStatus> = new Set(['aborted', 'rolled-back', 'superseded']);

/** One tick or command in progress: the cloned state it changes and the actions it collects. */
export class Run {
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

  fail(wave: WaveRecord, results: GateResult[], failing: GateResult[], why?: string): void {
    wave.gates = results;
    wave.gatesAt = this.now;
    wave.outcome = 'failed';
    const failed = failing.map((g) => ({ name: g.name, value: g.value, limit: g.limit, detail: g.detail }));
    this.audit('rollout.gates', { wave: wave.index, pass: false, results });
    this.notify('gate-failed', { wave: wave.index, failed });
    const names = failing.map((g) => g.name).join(', ');
    const reason = why ?? `wave ${wave.index + 1} failed gates: ${names}`;
    if (this.spec.onFail === 'pause') {
      this.s.status = 'paused';
      this.s.pausedReason = reason;
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
    this.s.pausedReason = reason;
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
    const judged = evaluateGates(
      this.spec.gates,
      this.obs.candidate ?? emptyHealth(),
      this.obs.baseline,
      this.obs.reference ?? {},
      c,
    );
    const results = this.targets().every((id) => this.s.devices[id]) ? baselineFinal(judged) : judged;
    const failing = failedGates(this.spec.gates, results);
    if (failing.length > 0) {
      this.fail(wave, results, failing);
      return;
    }
    // design §7: no verdict is not a pass — gates that more soaking can still judge keep the wave soaking
    const lacking = lackingEvidence(results);
    if (lacking.length > 0 && this.now - wave.doneAt < maxSoakOf(this.spec)) {
      if (wave.gatesAt === null) this.audit('rollout.waiting-for-evidence', { wave: wave.index, missing: missingEvidence(lacking), until: wave.doneAt + maxSoakOf(this.spec) });
      wave.gates = results;
      wave.gatesAt = this.now;
      return;
    }
    if (lacking.length > 0 && this.noEvidence(wave, results, lacking)) return;
    wave.gates = results;
    wave.gatesAt = this.now;
    wave.outcome = 'passed';
    this.audit('rollout.gates', { wave: wave.index, pass: true, results });
    this.advance();
  }

  /** The max soak is over and gates still lack evidence: the operator's policy. True when the wave does not pass. */
  noEvidence(wave: WaveRecord, results: GateResult[], lacking: GateResult[]): boolean {
    const policy = noEvidencePolicy(this.spec);
    const missing = missingEvidence(lacking);
    const reason = `wave ${wave.index + 1} lacks evidence after the max soak of ${spanText(maxSoakOf(this.spec))}: ${missing.map((m) => `${m.gate} ${m.text}`).join('; ')}`;
    this.audit('rollout.no-evidence', { wave: wave.index, policy, missing, reason });
    this.notify('rollout-no-evidence', { wave: wave.index, policy, missing, reason });
    if (policy === 'pass') return false;
    if (policy === 'fail') {
      this.fail(wave, results, lacking, reason);
      return true;
    }
    wave.gates = results;
    wave.gatesAt = this.now;
    wave.outcome = 'no-evidence';
    this.s.status = 'paused';
    this.s.pausedReason = reason;
    this.s.pausedFrom = null;
    this.audit('rollout.paused', { wave: wave.index, reason });
    this.notify('rollout-paused', { wave: wave.index, reason, missing });
    return true;
  }
}

const spanText = (ms: number): string =>
  ms >= 3_600_000 && ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${+(ms / 1000).toFixed(1)} s`;

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
