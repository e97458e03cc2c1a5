// The rollout engine against a simulated fleet: a fake clock value per tick, no sleeping, no I/O.
import { describe, expect, it } from 'vitest';
import { createHistogram, histogramAdd, type Histogram } from '@edgefleet/protocol';
import { abort, pause, promote, resume, supersede } from './commands.js';
import { step } from './engine.js';
import type { VersionHealth } from './gate-config.js';
import { deviceOutcome, gatesDue, healthQuery } from './outcomes.js';
import {
  createRolloutState,
  resolveRolloutSpec,
  type Observations,
  type RolloutAction,
  type RolloutSpec,
  type RolloutSpecInput,
  type RolloutState,
} from './spec.js';

const V1 = '1.0.0';
const V2 = '2.0.0';
const TICK = 60_000;

interface SimDevice {
  online: boolean;
  active: string | null;
  shadow: string | null;
  state: string;
  rolloutId?: string;
  lastSeen: number;
  /** What was sent while offline, applied on reconnect (retained desired state). */
  inbox: { version: string; role: 'active' | 'shadow' } | null;
}

type Behaviour = 'healthy' | 'self-test-fails';

function latency(scale: number, n = 500): Histogram {
  const h = createHistogram();
  for (let i = 0; i < n; i++) histogramAdd(h, scale * (5 + (i % 50) / 5));
  return h;
}

/** A fleet that applies the engine's actions and reports back, with a per-wave latency for the candidate. */
class Fleet {
  readonly devices = new Map<string, SimDevice>();
  readonly sends = new Map<string, number>();
  readonly log: RolloutAction[] = [];
  now = 1_700_000_000_000;
  behaviour: Behaviour = 'healthy';
  /** Candidate inferences the hub has merged when gates are judged. */
  inferences = 500;
  /** Baseline latency samples over the same range. */
  baselineSamples = 500;
  /** Candidate latency multiplier as a function of the wave being judged. */
  slowness: (wave: number) => number = () => 1;

  constructor(
    n: number,
    readonly rolloutId: string,
  ) {
    for (let i = 0; i < n; i++) this.add(`dev-${String(i).padStart(3, '0')}`);
  }

  add(id: string, online = true): void {
    this.devices.set(id, { online, active: V1, shadow: null, state: 'active', lastSeen: this.now, inbox: null });
  }

  install(d: SimDevice, version: string, role: 'active' | 'shadow'): void {
    d.rolloutId = this.rolloutId;
    d.lastSeen = this.now;
    if (version === V1) {
      d.active = V1;
      d.state = 'active';
      d.shadow = null;
    } else if (this.behaviour === 'self-test-fails') {
      d.state = 'failed';
    } else if (role === 'shadow') {
      d.shadow = version;
      d.state = 'active';
    } else {
      d.active = version;
      d.shadow = null;
      d.state = 'probation';
    }
  }

  apply(actions: RolloutAction[]): void {
    for (const a of actions) {
      this.log.push(a);
      if (a.type !== 'send-desired' && a.type !== 'send-previous') continue;
      for (const id of a.deviceIds) {
        const d = this.devices.get(id)!;
        const version = a.type === 'send-desired' ? V2 : V1;
        const role = a.type === 'send-desired' ? a.role : 'active';
        if (a.type === 'send-desired') this.sends.set(id, (this.sends.get(id) ?? 0) + 1);
        if (d.online) this.install(d, version, role);
        else d.inbox = { version, role };
      }
    }
  }

  setOnline(id: string, online: boolean): void {
    const d = this.devices.get(id)!;
    d.online = online;
    if (online) {
      d.lastSeen = this.now;
      if (d.inbox) this.install(d, d.inbox.version, d.inbox.role);
      d.inbox = null;
    }
  }

  observe(state: RolloutState): Observations {
    const devices: Observations['devices'] = {};
    for (const [id, d] of this.devices) {
      devices[id] = {
        online: d.online,
        lastSeen: d.lastSeen,
        activeVersion: d.active,
        shadowVersion: d.shadow,
        modelState: d.state,
        ...(d.rolloutId ? { rolloutId: d.rolloutId } : {}),
      };
    }
    const q = healthQuery(state, this.now);
    const reporting = q ? q.deviceIds.filter((id) => devices[id]?.activeVersion === V2 || devices[id]?.shadowVersion === V2).length : 0;
    const candidate: VersionHealth = {
      devices: reporting,
      inferences: this.inferences,
      errors: 0,
      latencyMs: latency(this.slowness(state.wave)),
      features: {},
    };
    const baseline: VersionHealth = { devices: 10, inferences: 500, errors: 0, latencyMs: latency(1, this.baselineSamples), features: {} };
    return { now: this.now, devices, candidate, baseline, reference: {} };
  }
}

function setup(n: number, input: Partial<RolloutSpecInput> = {}) {
  const spec = resolveRolloutSpec({ id: 'ro-1', model: 'iris', version: V2, release: 2, ...input });
  const fleet = new Fleet(n, spec.id);
  let state = createRolloutState(spec, fleet.now);
  const tick = () => {
    const r = step(spec, state, fleet.observe(state));
    fleet.apply(r.actions);
    state = r.state;
    fleet.now += TICK;
    return r;
  };
  const runUntil = (done: (s: RolloutState) => boolean, maxTicks = 400) => {
    for (let i = 0; i < maxTicks && !done(state); i++) tick();
    return state;
  };
  return {
    spec,
    fleet,
    tick,
    runUntil,
    get state() {
      return state;
    },
    set state(s: RolloutState) {
      state = s;
    },
  };
}

const ofType = <T extends RolloutAction['type']>(actions: RolloutAction[], type: T) =>
  actions.filter((a): a is Extract<RolloutAction, { type: T }> => a.type === type);

describe('rollout engine', () => {
  it('takes a healthy fleet of 40 through every wave to completion, sending each device exactly once', () => {
    const t = setup(40);
    const final = t.runUntil((s) => s.status !== 'running' && s.status !== 'soaking');
    expect(final.status).toBe('completed');
    expect(final.waves.map((w) => w.outcome)).toEqual(['passed', 'passed', 'passed', 'passed']);
    expect(final.waves[0]!.deviceIds).toHaveLength(1);
    expect(t.fleet.sends.size).toBe(40);
    for (const n of t.fleet.sends.values()) expect(n).toBe(1);
    for (const d of t.fleet.devices.values()) expect(d.active).toBe(V2);
    expect(ofType(t.fleet.log, 'send-previous')).toEqual([]);
    expect(ofType(t.fleet.log, 'notify').map((a) => a.event)).toEqual(['rollout-completed']);
    expect(ofType(t.fleet.log, 'wave-started').map((a) => a.index)).toEqual([0, 1, 2, 3]);
    // every wave soaked for at least soakMs before the next started
    for (let k = 1; k < 4; k++) {
      expect(final.waves[k]!.startedAt - final.waves[k - 1]!.doneAt!).toBeGreaterThanOrEqual(t.spec.soakMs);
    }
    // a completed rollout keeps quiet
    expect(t.tick().actions).toEqual([]);
  });

  it('stops at the first wave when the candidate fails its self-test, never sending to the rest', () => {
    const t = setup(40);
    t.fleet.behaviour = 'self-test-fails';
    t.runUntil((s) => s.status === 'paused');
    expect(t.state.status).toBe('paused');
    expect(t.state.wave).toBe(0);
    expect(t.state.waves[0]!.gates.map((g) => [g.name, g.pass])).toEqual([['device-failure-rate', false]]);
    expect(t.state.pausedReason).toContain('device-failure-rate');
    for (let i = 0; i < 30; i++) t.tick();
    expect(t.fleet.sends.size).toBe(1);
    expect(ofType(t.fleet.log, 'notify').map((a) => a.event)).toEqual(['gate-failed', 'rollout-paused']);
    const onV1 = [...t.fleet.devices.values()].filter((d) => d.active === V1).length;
    expect(onV1).toBe(40);
  });

  it('pauses when a 3× slower candidate trips the p95 gate', () => {
    const t = setup(40);
    t.fleet.slowness = () => 3;
    t.runUntil((s) => s.status === 'paused');
    expect(t.state.wave).toBe(0);
    const p95 = t.state.waves[0]!.gates.find((g) => g.name === 'p95-latency-regression')!;
    expect(p95.pass).toBe(false);
    expect(p95.value).toBeGreaterThan(150);
    expect(t.state.waves[0]!.gatesAt! - t.state.waves[0]!.doneAt!).toBeGreaterThanOrEqual(t.spec.soakMs);
    expect(t.fleet.sends.size).toBe(1);
    expect(ofType(t.fleet.log, 'send-previous')).toEqual([]);
  });

  it('with onFail rollback sends the previous version to exactly the failing wave’s devices', () => {
    const t = setup(40, { onFail: 'rollback' });
    t.fleet.slowness = (wave) => (wave === 2 ? 3 : 1);
    t.runUntil((s) => s.status === 'rolled-back');
    expect(t.state.status).toBe('rolled-back');
    const previous = ofType(t.fleet.log, 'send-previous');
    expect(previous).toHaveLength(1);
    expect([...previous[0]!.deviceIds].sort()).toEqual([...t.state.waves[2]!.deviceIds].sort());
    for (const id of t.state.waves[2]!.deviceIds) expect(t.fleet.devices.get(id)!.active).toBe(V1);
    for (const id of [...t.state.waves[0]!.deviceIds, ...t.state.waves[1]!.deviceIds]) {
      expect(t.fleet.devices.get(id)!.active).toBe(V2);
    }
    const sentSoFar = t.fleet.sends.size;
    expect(sentSoFar).toBeLessThan(40);
    expect(ofType(t.fleet.log, 'notify').map((a) => a.event)).toEqual(['gate-failed', 'rollout-rolled-back']);
    for (let i = 0; i < 30; i++) expect(t.tick().actions).toEqual([]);
    expect(t.fleet.sends.size).toBe(sentSoFar);
  });

  it('continues at the same wave without re-sending after its state went through JSON (hub restart)', () => {
    const t = setup(40);
    t.runUntil((s) => s.wave === 2 && s.status === 'running');
    const wave2 = [...t.state.waves[2]!.deviceIds];
    const sentBefore = new Map(t.fleet.sends);
    // replaying the tick that started wave 2 on the restored state sends nothing
    const restored = JSON.parse(JSON.stringify(t.state)) as RolloutState;
    const again = step(t.spec, restored, t.fleet.observe(restored));
    expect(ofType(again.actions, 'send-desired')).toEqual([]);
    expect(again.state.wave).toBe(2);
    t.state = restored;
    t.runUntil((s) => s.status === 'completed');
    expect(t.state.waves[2]!.deviceIds).toEqual(wave2);
    for (const [id, n] of sentBefore) expect(t.fleet.sends.get(id)).toBe(n);
    for (const n of t.fleet.sends.values()) expect(n).toBe(1);
    expect(t.fleet.sends.size).toBe(40);
  });

  it('picks up devices that join mid-rollout at the next wave, leaving started waves alone', () => {
    const t = setup(40);
    t.runUntil((s) => s.wave === 1 && s.status === 'soaking');
    const before = t.state.waves.map((w) => [...w.deviceIds]);
    for (let i = 0; i < 10; i++) t.fleet.add(`new-${i}`);
    t.runUntil((s) => s.status === 'completed');
    expect(t.state.waves.slice(0, 2).map((w) => w.deviceIds)).toEqual(before);
    expect(t.fleet.sends.size).toBe(50);
    for (const n of t.fleet.sends.values()) expect(n).toBe(1);
    for (let i = 0; i < 10; i++) expect(t.state.devices[`new-${i}`]!.wave).toBeGreaterThanOrEqual(2);
  });

  it('waits for an offline device instead of failing its wave before the timeout', () => {
    const t = setup(40);
    // find the canary by starting the rollout, then take it offline before it installs
    const spec = t.spec;
    const s0 = step(spec, t.state, t.fleet.observe(t.state));
    const canary = ofType(s0.actions, 'send-desired')[0]!.deviceIds[0]!;
    t.fleet.setOnline(canary, false);
    t.fleet.apply(s0.actions);
    t.state = s0.state;
    const ticksBeforeTimeout = spec.deviceTimeoutMs / TICK - 2;
    for (let i = 0; i < ticksBeforeTimeout; i++) {
      t.fleet.now += TICK;
      const r = step(spec, t.state, t.fleet.observe(t.state));
      expect(r.actions).toEqual([]);
      t.state = r.state;
    }
    expect(t.state.status).toBe('running');
    expect(t.state.waves[0]!.outcome).toBe('rolling');
    expect(deviceOutcome(spec, t.state.devices[canary]!, t.fleet.observe(t.state).devices[canary], t.fleet.now)).toBe('pending');
    t.fleet.setOnline(canary, true);
    t.runUntil((s) => s.status === 'completed');
    expect(t.state.status).toBe('completed');
    expect(t.fleet.sends.get(canary)).toBe(1);
  });

  it('skips a device offline past the timeout without failing the wave, and never re-sends it', () => {
    const t = setup(40);
    t.runUntil((s) => s.wave === 2);
    // one device of wave 2 went offline before applying its desired state
    const wave2 = t.state.waves[2]!.deviceIds;
    const victim = wave2[0]!;
    const d = t.fleet.devices.get(victim)!;
    d.online = false;
    d.active = V1;
    d.state = 'active';
    d.inbox = { version: V2, role: 'active' };
    t.runUntil((s) => s.status === 'completed');
    expect(t.state.status).toBe('completed');
    expect(t.state.waves[2]!.outcome).toBe('passed');
    expect(t.state.waves[2]!.doneAt! - t.state.waves[2]!.startedAt).toBeGreaterThanOrEqual(t.spec.deviceTimeoutMs);
    expect(t.state.waves[2]!.gates.find((g) => g.name === 'device-failure-rate')!.value).toBe(0);
    t.fleet.setOnline(victim, true);
    t.tick();
    expect(t.fleet.devices.get(victim)!.active).toBe(V2);
    expect(t.fleet.sends.get(victim)).toBe(1);
  });

  it('sends the version to a device that joins the target set after completion, once', () => {
    const t = setup(40);
    t.runUntil((s) => s.status === 'completed');
    t.fleet.add('late-1');
    const r = t.tick();
    expect(ofType(r.actions, 'send-desired')).toEqual([{ type: 'send-desired', deviceIds: ['late-1'], role: 'active' }]);
    expect(t.state.devices['late-1']!.wave).toBe(4);
    expect(t.tick().actions).toEqual([]);
    expect(t.fleet.devices.get('late-1')!.active).toBe(V2);
  });

  it('runs a shadow rollout beside the active version and promote makes it active everywhere', () => {
    const t = setup(20, { shadow: true });
    t.runUntil((s) => s.status === 'completed');
    expect(ofType(t.fleet.log, 'send-desired').every((a) => a.role === 'shadow')).toBe(true);
    for (const d of t.fleet.devices.values()) {
      expect(d.active).toBe(V1);
      expect(d.shadow).toBe(V2);
    }
    const r = promote(t.spec, t.state, t.fleet.now);
    t.fleet.apply(r.actions);
    t.state = r.state;
    expect(ofType(r.actions, 'send-desired')[0]!.deviceIds).toHaveLength(20);
    for (const d of t.fleet.devices.values()) expect(d.active).toBe(V2);
    t.fleet.add('late-1');
    expect(ofType(t.tick().actions, 'send-desired')).toEqual([{ type: 'send-desired', deviceIds: ['late-1'], role: 'active' }]);
    expect(() => promote(t.spec, t.state, t.fleet.now)).toThrow(/not a shadow rollout/);
  });

  it('sends nothing while manually paused and carries on after resume', () => {
    const t = setup(40);
    t.runUntil((s) => s.wave === 1 && s.status === 'soaking');
    const p = pause(t.spec, t.state, 'maintenance window', t.fleet.now);
    expect(ofType(p.actions, 'notify').map((a) => a.event)).toEqual(['rollout-paused']);
    t.state = p.state;
    for (let i = 0; i < 30; i++) expect(t.tick().actions).toEqual([]);
    expect(() => pause(t.spec, t.state, 'again', t.fleet.now)).toThrow(/cannot pause/);
    t.state = resume(t.spec, t.state, t.fleet.now).state;
    expect(t.state.status).toBe('soaking');
    t.runUntil((s) => s.status === 'completed');
    expect(t.state.status).toBe('completed');
    for (const n of t.fleet.sends.values()) expect(n).toBe(1);
  });

  it('resume after a failed gate overrides it and starts the next wave', () => {
    const t = setup(40);
    t.fleet.slowness = (wave) => (wave === 0 ? 3 : 1);
    t.runUntil((s) => s.status === 'paused');
    const r = resume(t.spec, t.state, t.fleet.now);
    expect(r.actions[0]).toMatchObject({ type: 'audit', action: 'rollout.resumed', details: { override: true } });
    t.state = r.state;
    const next = t.tick();
    expect(ofType(next.actions, 'wave-started').map((a) => a.index)).toEqual([1]);
    expect(t.state.waves[0]!.outcome).toBe('overridden');
  });

  it('abort and supersede stop the rollout for good', () => {
    const t = setup(40);
    t.runUntil((s) => s.wave === 1);
    const a = abort(t.spec, t.state, 'operator', t.fleet.now);
    expect(a.state.status).toBe('aborted');
    t.state = a.state;
    const sent = t.fleet.sends.size;
    for (let i = 0; i < 30; i++) t.tick();
    expect(t.fleet.sends.size).toBe(sent);
    expect(() => resume(t.spec, t.state, t.fleet.now)).toThrow(/cannot resume/);

    const u = setup(40);
    u.runUntil((s) => s.status === 'completed');
    u.state = supersede(u.spec, u.state, 'ro-2', u.fleet.now).state;
    u.fleet.add('late-1');
    expect(u.tick().actions).toEqual([]);
    expect(u.state.supersededBy).toBe('ro-2');
  });

  it('fails a soaking wave as soon as probation rollbacks push its failure rate over the limit', () => {
    const t = setup(40);
    t.runUntil((s) => s.wave === 2 && s.status === 'soaking');
    const wave2 = t.state.waves[2]!.deviceIds;
    expect(wave2.length).toBeGreaterThanOrEqual(10);
    for (const id of wave2.slice(0, 3)) Object.assign(t.fleet.devices.get(id)!, { active: V1, state: 'rolled-back', lastSeen: t.fleet.now });
    const r = t.tick();
    expect(t.state.status).toBe('paused');
    expect(t.state.waves[2]!.gates[0]).toMatchObject({ name: 'device-failure-rate', pass: false });
    expect(t.state.waves[2]!.gatesAt! - t.state.waves[2]!.doneAt!).toBeLessThan(t.spec.soakMs);
    expect(ofType(r.actions, 'notify').map((a) => a.event)).toEqual(['gate-failed', 'rollout-paused']);
  });

  it('completes a 3-device fleet, skipping waves that earlier quotas already covered', () => {
    const t = setup(3);
    t.runUntil((s) => s.status === 'completed');
    expect(t.state.status).toBe('completed');
    expect(t.state.waves[0]!.deviceIds).toHaveLength(1);
    const sizes = t.state.waves.map((w) => w.deviceIds.length);
    expect(sizes).toEqual([1, 0, 1, 1]);
    expect(t.state.waves[1]!.outcome).toBe('passed');
    expect(ofType(t.fleet.log, 'audit').some((a) => a.action === 'rollout.wave-skipped')).toBe(true);
    for (const w of t.state.waves) if (w.deviceIds.length === 0) expect(w.gates).toEqual([]);
    expect(t.fleet.sends.size).toBe(3);
  });

  it('ignores a failure reported for another rollout and asks for health only when gates are due', () => {
    const spec: RolloutSpec = resolveRolloutSpec({ id: 'ro-1', model: 'iris', version: V2, release: 2 });
    const record = { wave: 0, sent: 'active' as const, sentAt: 1000 };
    const base = { online: true, lastSeen: 2000, activeVersion: V1, modelState: 'failed' };
    expect(deviceOutcome(spec, record, { ...base, rolloutId: 'ro-0' }, 2000)).toBe('pending');
    expect(deviceOutcome(spec, record, { ...base, rolloutId: 'ro-1' }, 2000)).toBe('failed');
    expect(deviceOutcome(spec, record, { ...base, reportedAt: 500 }, 2000)).toBe('pending');
    expect(deviceOutcome(spec, record, { ...base, modelState: 'downloading' }, 1000 + spec.deviceTimeoutMs)).toBe('failed');

    const t = setup(10);
    t.runUntil((s) => s.status === 'soaking');
    expect(gatesDue(t.spec, t.state, t.fleet.now)).toBe(false);
    expect(gatesDue(t.spec, t.state, t.state.waves[0]!.doneAt! + t.spec.soakMs)).toBe(true);
    expect(healthQuery(t.state, t.fleet.now)).toMatchObject({ wave: 0, deviceIds: t.state.waves[0]!.deviceIds });
  });
});

describe('no verdict is not a pass (design §7)', () => {
  const MIN = 60_000;
  const audits = (log: RolloutAction[], action: string) => ofType(log, 'audit').filter((a) => a.action === action);

  it('keeps a wave soaking past its soak while the candidate has 92 of 100 inferences, and passes it once they arrive', () => {
    const t = setup(40, { soakMs: 10 * MIN });
    expect(t.spec.maxSoakMs).toBe(60 * MIN);
    t.fleet.inferences = 92;
    t.runUntil((s) => s.status === 'soaking');
    const doneAt = t.state.waves[0]!.doneAt!;
    t.runUntil(() => t.fleet.now > doneAt + 30 * MIN);
    expect(t.state.status).toBe('soaking');
    expect(t.state.waves).toHaveLength(1);
    const gate = t.state.waves[0]!.gates.find((g) => g.name === 'error-rate')!;
    expect(gate).toMatchObject({ pass: null, missing: { have: 92, need: 100, unit: 'inferences' } });
    expect(audits(t.fleet.log, 'rollout.waiting-for-evidence')).toHaveLength(1);
    t.fleet.inferences = 500;
    t.tick();
    expect(t.state.waves[0]!.outcome).toBe('passed');
    expect(t.state.waves).toHaveLength(2);
    expect(audits(t.fleet.log, 'rollout.no-evidence')).toEqual([]);
  });

  it('pauses at the max soak saying which evidence was missing, and resume counts the wave as passed', () => {
    const t = setup(40, { soakMs: 10 * MIN, maxSoakMs: 20 * MIN });
    t.fleet.inferences = 92;
    t.runUntil((s) => s.status === 'paused');
    const w = t.state.waves[0]!;
    expect(w.outcome).toBe('no-evidence');
    expect(w.gatesAt! - w.doneAt!).toBeGreaterThanOrEqual(20 * MIN);
    expect(t.state.pausedReason).toContain('error-rate 92 of 100 inferences');
    expect(t.fleet.sends.size).toBe(1);
    const [fired] = audits(t.fleet.log, 'rollout.no-evidence');
    expect(fired!.details).toMatchObject({ policy: 'pause', missing: [{ gate: 'error-rate', have: 92, need: 100, unit: 'inferences', text: '92 of 100 inferences' }] });
    expect(ofType(t.fleet.log, 'notify').map((a) => a.event)).toEqual(['rollout-no-evidence', 'rollout-paused']);
    const resumed = resume(t.spec, t.state, t.fleet.now);
    expect(resumed.state.waves[0]!.outcome).toBe('overridden');
    t.state = resumed.state;
    t.tick();
    expect(t.state.waves).toHaveLength(2);
  });

  it('passes the wave at the max soak with onNoEvidence pass, and rolls it back with fail and onFail rollback', () => {
    const pass = setup(40, { soakMs: 10 * MIN, maxSoakMs: 20 * MIN, onNoEvidence: 'pass' });
    pass.fleet.inferences = 92;
    pass.runUntil((s) => s.waves.length === 2);
    expect(pass.state.waves[0]!.outcome).toBe('passed');
    expect(pass.state.waves[1]!.startedAt - pass.state.waves[0]!.doneAt!).toBeGreaterThanOrEqual(20 * MIN);
    expect(audits(pass.fleet.log, 'rollout.no-evidence')[0]!.details).toMatchObject({ policy: 'pass' });

    const fail = setup(40, { soakMs: 10 * MIN, maxSoakMs: 20 * MIN, onNoEvidence: 'fail', onFail: 'rollback' });
    fail.fleet.inferences = 92;
    fail.runUntil((s) => s.status === 'rolled-back');
    expect(fail.state.status).toBe('rolled-back');
    expect(fail.state.pausedReason).toContain('lacks evidence');
    expect(ofType(fail.fleet.log, 'send-previous').flatMap((a) => a.deviceIds)).toEqual(fail.state.waves[0]!.deviceIds);
  });

  it('refuses a max soak shorter than the soak, and judges a rollout persisted without one at its soak', () => {
    expect(() => resolveRolloutSpec({ id: 'x', model: 'iris', version: V2, release: 2, soakMs: 10 * MIN, maxSoakMs: MIN })).toThrow(/max soak/);
    const t = setup(40, { soakMs: 10 * MIN });
    // a spec stored before max soak and the no-evidence policy existed: the old behaviour, a pass at the soak's end
    delete (t.spec as Partial<RolloutSpec>).maxSoakMs;
    delete (t.spec as Partial<RolloutSpec>).onNoEvidence;
    t.fleet.inferences = 92;
    t.runUntil((s) => s.waves.length === 2);
    expect(t.state.waves[1]!.startedAt - t.state.waves[0]!.doneAt!).toBeLessThan(12 * MIN);
  });

  it('waits for baseline evidence only while target devices still run the version being replaced', () => {
    const MINUTES = (n: number) => n * MIN;
    const part = setup(40, { waves: [50, 100], soakMs: MINUTES(10), maxSoakMs: MINUTES(20) });
    part.fleet.baselineSamples = 60;
    part.runUntil((s) => s.status === 'paused');
    expect(part.state.pausedReason).toContain('p95-latency-regression 60 of 100 baseline latency samples');

    const whole = setup(40, { waves: [100], soakMs: MINUTES(10), maxSoakMs: MINUTES(20) });
    whole.fleet.baselineSamples = 60;
    whole.runUntil((s) => s.status === 'completed');
    const w = whole.state.waves[0]!;
    expect(w.gatesAt! - w.doneAt!).toBeLessThan(MINUTES(12));
    const p95 = w.gates.find((g) => g.name === 'p95-latency-regression')!;
    expect(p95.missing).toBeUndefined();
    expect(p95.detail).toMatch(/the baseline cannot grow/);
  });
});
