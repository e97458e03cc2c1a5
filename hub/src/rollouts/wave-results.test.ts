// Frozen wave results, pure: which waves a step ends and the counts they keep (those the step judged).
import { describe, expect, it } from 'vitest';
import { abort } from './commands.js';
import { step } from './engine.js';
import { createRolloutState, resolveRolloutSpec, type DeviceObservation, type Observations } from './spec.js';
import { emptyHealth } from './outcomes.js';
import { endedWaves } from './wave-results.js';

const T0 = 1_700_000_000_000;
const ids = ['d-1', 'd-2', 'd-3', 'd-4'];
const dev = (over: Partial<DeviceObservation> = {}): DeviceObservation => ({ online: true, lastSeen: T0, activeVersion: '1.0.0', modelState: 'active', ...over });
const obsOf = (now: number, f: (id: string) => Partial<DeviceObservation>): Observations => ({
  now,
  devices: Object.fromEntries(ids.map((id) => [id, dev(f(id))])),
});

describe('endedWaves', () => {
  it('freezes a rolled-back wave with the counts its early failure was judged on, the causes, and the devices sent back', () => {
    const spec = resolveRolloutSpec({ id: 'r1', model: 'm', version: '2.0.0', release: 2, waves: [100], soakMs: 60_000, onFail: 'rollback' });
    let s = createRolloutState(spec, T0);
    const first = step(spec, s, obsOf(T0, () => ({})));
    expect(endedWaves(spec, s, first.state, obsOf(T0, () => ({})), first.actions)).toEqual([]);
    s = first.state;
    // one device fails probation, one converged, two still installing
    const obs = obsOf(T0 + 1000, (id) =>
      id === 'd-1'
        ? { activeVersion: '1.0.0', modelState: 'rolled-back', rolloutId: 'r1', errorCode: 'INFERENCE_FAILED', errorMessage: 'error rate 42.9% over 70 inferences exceeds 5.0% during probation' }
        : id === 'd-2'
          ? { activeVersion: '2.0.0', modelState: 'probation', rolloutId: 'r1' }
          : { modelState: 'downloading', rolloutId: 'r1' },
    );
    const res = step(spec, s, obs);
    expect(res.state.status).toBe('rolled-back');
    const [w] = endedWaves(spec, s, res.state, obs, res.actions);
    expect(w).toMatchObject({
      wave: 0,
      ended: 'rolled-back',
      endedAt: T0 + 1000,
      counts: { converged: 1, failed: 1, pending: 2, rolledBack: 4, total: 4 },
      failures: [{ deviceId: 'd-1', code: 'INFERENCE_FAILED', message: expect.stringContaining('42.9%') }],
    });
    // the gate and the frozen counts say the same thing
    expect(w!.gates[0]).toMatchObject({ name: 'device-failure-rate', value: 0.5, of: 2 });
    // nothing more to freeze on later steps
    expect(endedWaves(spec, res.state, step(spec, res.state, obs).state, obs, [])).toEqual([]);
  });

  it('freezes the running wave of an aborted rollout, and no wave twice', () => {
    const spec = resolveRolloutSpec({ id: 'r2', model: 'm', version: '2.0.0', release: 2, waves: [50, 100], soakMs: 0, onNoEvidence: 'pass' });
    const s0 = createRolloutState(spec, T0);
    const started = step(spec, s0, obsOf(T0, () => ({}))).state;
    const sent = started.waves[0]!.deviceIds;
    const converged = obsOf(T0 + 1000, (id) => (sent.includes(id) ? { activeVersion: '2.0.0', rolloutId: 'r2' } : {}));
    converged.candidate = { ...emptyHealth(), devices: 2 };
    // wave 1 converges, its gates pass (soak 0) and wave 2 starts
    const next = step(spec, started, converged);
    const passed = endedWaves(spec, started, next.state, converged, next.actions);
    expect(passed.map((w) => [w.wave, w.ended, w.counts.converged])).toEqual([[0, 'passed', 2]]);
    const aborted = abort(spec, next.state, 'test', T0 + 2000);
    const actions = [...aborted.actions, { type: 'send-previous' as const, deviceIds: Object.keys(next.state.devices) }];
    const ended = endedWaves(spec, next.state, aborted.state, obsOf(T0 + 2000, () => ({})), actions);
    expect(ended.map((w) => [w.wave, w.ended, w.counts.pending, w.counts.rolledBack])).toEqual([[1, 'aborted', 2, 2]]);
  });

  it('keeps a paused rollout\'s failed wave live, and freezes it with the later failures when the operator aborts', () => {
    const spec = resolveRolloutSpec({ id: 'r3', model: 'm', version: '2.0.0', release: 2, waves: [100], soakMs: 60_000, onFail: 'pause' });
    const started = step(spec, createRolloutState(spec, T0), obsOf(T0, () => ({}))).state;
    const oneFailed = obsOf(T0 + 1000, (id) => (id === 'd-1' ? { modelState: 'rolled-back', rolloutId: 'r3', errorCode: 'SELF_TEST_FAILED' } : { modelState: 'downloading', rolloutId: 'r3' }));
    const paused = step(spec, started, oneFailed);
    expect(paused.state.status).toBe('paused');
    expect(endedWaves(spec, started, paused.state, oneFailed, paused.actions)).toEqual([]);
    // the rest of the wave fails while the rollout is paused; then the operator aborts
    const allFailed = obsOf(T0 + 2000, () => ({ modelState: 'rolled-back', rolloutId: 'r3', errorCode: 'SELF_TEST_FAILED' }));
    const aborted = abort(spec, paused.state, 'test', T0 + 2000);
    const [w] = endedWaves(spec, paused.state, aborted.state, allFailed, aborted.actions);
    expect(w).toMatchObject({ wave: 0, counts: { failed: 4, pending: 0 } });
    expect(w!.failures.map((f) => f.deviceId).sort()).toEqual(ids);
  });
});
