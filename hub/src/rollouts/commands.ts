// Operator commands on a rollout (design §7): pause, resume (or override a failed gate), abort, supersede
// and shadow → active promotion. Pure like the tick: (spec, state, now) → (state, actions).

import { EdgefleetError } from '@edgefleet/protocol';
import { Run } from './engine.js';
import type { RolloutSpec, RolloutState, RolloutStatus, StepResult } from './spec.js';

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
 * (or the max soak ran out without evidence) overrides it — the wave counts as passed and the next `step` starts the next wave (audited).
 */
export function resume(spec: RolloutSpec, state: RolloutState, now: number): StepResult {
  const run = command(spec, state, now, ['paused'], 'resume');
  const wave = run.s.waves[run.s.wave];
  const override = state.pausedFrom === null && (wave?.outcome === 'failed' || wave?.outcome === 'no-evidence');
  if (override) wave.outcome = 'overridden';
  run.s.status = override ? 'running' : (state.pausedFrom ?? 'running');
  run.s.pausedReason = null;
  run.s.pausedFrom = null;
  run.audit('rollout.resumed', { wave: state.wave, override });
  return { state: run.s, actions: run.actions };
}

/**
 * Stops the rollout for good. The runner then sends every device it reached back to what it ran before (an aborted
 * rollout assigns nothing: desired/assignments.ts), so abort is also how an operator undoes a rollout.
 */
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
