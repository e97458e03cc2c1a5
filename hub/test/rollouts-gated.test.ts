// Gated rollouts end to end (design §7): a real hub and broker, 20 real agents (the fleet simulator:
// one process, real onnxruntime sessions), real telemetry; waves, soak, every gate, pause, rollback, late devices.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EdgefleetError } from '@edgefleet/protocol';
import { startHub, type Hub } from '@edgefleet/hub';
import type { InferenceRuntime } from '@edgefleet/agent/core';
import { createOnnxRuntime } from '@edgefleet/agent';
import { createSimulatedFleet, type SimulatedFleet } from '../../scripts/sim/fleet.js';
import { sizedClassifier, trainVibrationModels, type TrainedModel } from '../../scripts/sim/models.js';
import { createSharedRuntime, defaultSessionOptions, sha256Of, type SharedRuntime } from '../../scripts/sim/shared-runtime.js';
import { apiClient } from './helpers.js';
import { TEST_KEK, testDb } from './support/test-db.js';

const N = 20;
let v1: TrainedModel;
let v2: TrainedModel;

interface Env {
  hub: Hub;
  fleet: SimulatedFleet;
  api: ReturnType<typeof apiClient>;
}
const envs: Env[] = [];
const dirs: string[] = [];

beforeAll(() => {
  ({ v1, v2 } = trainVibrationModels());
});

afterEach(async () => {
  for (const e of envs.splice(0)) {
    await e.fleet.close();
    await e.hub.close();
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A runtime for every agent, wrapped per model file (sha256) as a test needs. `own: true` gives each agent its
 * own onnxruntime session instead of one shared by all: 20 agents bursting into one shared session queue
 * behind each other, which would show up as latency the devices of a real fleet never have.
 */
function runtimeWith(wrap: (base: InferenceRuntime) => InferenceRuntime, own = false): SharedRuntime {
  const shared = createSharedRuntime();
  const rt = wrap(own ? createOnnxRuntime(defaultSessionOptions()) : shared);
  return { name: rt.name, load: (m) => rt.load(m), sessions: () => shared.sessions(), get hits() { return shared.hits; } };
}

/** Every inference of a model file takes this many ms more (by sha256): a slower model on the same device. */
function slowerBy(base: InferenceRuntime, delays: Record<string, number>): InferenceRuntime {
  return {
    name: base.name,
    async load(model) {
      const s = await base.load(model);
      const ms = delays[sha256Of(model)] ?? 0;
      return {
        inputs: s.inputs,
        outputs: s.outputs,
        run: async (feeds, names) => {
          const t = performance.now();
          const out = await s.run(feeds, names);
          const left = ms - (performance.now() - t);
          if (left > 0) await new Promise((r) => setTimeout(r, left));
          return out;
        },
        release: () => s.release(),
      };
    },
  };
}

/** Every run of these model files fails — the agent's self-test included: a model broken on the device. */
function failingSelfTest(base: InferenceRuntime, sha: string): InferenceRuntime {
  return {
    name: base.name,
    async load(model) {
      const s = await base.load(model);
      if (sha256Of(model) !== sha) return s;
      return {
        inputs: s.inputs,
        outputs: s.outputs,
        run: () => Promise.reject(new EdgefleetError('INFERENCE_FAILED', 'kernel not supported on this device (test fault)')),
        release: () => s.release(),
      };
    },
  };
}

/** A hub sending 1 s telemetry windows in desired states, 20 agents streaming 10 inferences/s and pushing them each second, all running v1; v2 pushed. */
async function setup(options: { v2?: Uint8Array; runtime?: SharedRuntime; labelFraction?: number } = {}): Promise<Env & { v2sha: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-gated-'));
  dirs.push(dir);
  const db = await testDb(join(dir, 'hub'));
  const hub = await startHub({ dataDir: join(dir, 'hub'), ...(db ? { db, keys: { encryptionKey: TEST_KEK } } : {}), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null, rolloutTickMs: 100, telemetry: { windowSeconds: 1 } });
  const fleet = await createSimulatedFleet({
    hub: hub.urls.http,
    token: hub.adminToken,
    devices: N,
    rate: 10,
    flushSeconds: 1,
    dataDir: join(dir, 'fleet'),
    ...(options.runtime ? { runtime: options.runtime } : {}),
    ...(options.labelFraction !== undefined ? { labelFraction: options.labelFraction } : {}),
  });
  const env = { hub, fleet, api: apiClient(hub.urls.http, hub.adminToken) };
  envs.push(env);
  await fleet.hub.pushModel({ name: 'vibration', version: '1.0.0', file: v1.bytes, validation: v1.validation });
  const pushed = await fleet.hub.pushModel({ name: 'vibration', version: '2.0.0', file: options.v2 ?? v2.bytes, validation: v2.validation });
  await fleet.hub.startRollout({ model: 'vibration', version: '1.0.0', targets: { all: true }, waves: [100], soak: 0 });
  await fleet.waitForVersion('1.0.0', { timeoutMs: 60_000 });
  await untilReported(env, '1.0.0', N);
  return { ...env, v2sha: pushed.sha256 };
}

/** The hub sees `n` devices report `version` active (reported states reach it through ingest). */
async function untilReported(env: Env, version: string, n: number): Promise<void> {
  await expect
    .poll(async () => (await env.fleet.hub.fleetStatus()).versions.find((v) => v.version === version)?.devices ?? 0, { timeout: 30_000, interval: 100 })
    .toBe(n);
}

async function rollout(env: Env, id: string): Promise<any> {
  return (await env.api.get(`/rollouts/${id}`)).body.rollout;
}

async function until(env: Env, id: string, statuses: string[], timeout = 60_000): Promise<any> {
  await expect.poll(async () => (await rollout(env, id)).status, { timeout, interval: 100 }).toSatisfy((s: string) => statuses.includes(s));
  return rollout(env, id);
}

const gate = (r: any, name: string) => (r.gates as Array<{ name: string; pass: boolean | null; value: number | null; limit: number }>).find((g) => g.name === name);
const LEAN = { minSamples: 20, driftMinCount: 50 };
const versionsOf = (fleet: SimulatedFleet) => Object.values(fleet.activeVersions());

describe('gated rollouts with 20 real agents', () => {
  it('takes a healthy v2 through every wave to completion; an offline device is skipped, not failed, and converges when it returns', async () => {
    const env = await setup();
    await env.fleet.stopDevice('sim-7');
    const started = await env.fleet.hub.startRollout({
      model: 'vibration',
      version: '2.0.0',
      targets: { all: true },
      waves: [25, 50, 100],
      soak: '3s',
      // long enough for a loaded run's download through the multicast carousel (a 1 s gather, then chunks as
      // 20 agents in one process take them): at 2 s every device of a wave timed out on a loaded CI machine
      deviceTimeout: '15s',
      // one process hosts the hub and all 20 agents: under a loaded test run their p95s wander with CPU
      // contention, which is not what this test is about (the next one is). Percent alone is not enough:
      // at load average ~9 a 1 ms baseline read 4.8 ms (+357 %), so a few ms of growth are noise here too;
      // with a browser test beside it a same-speed v2 read p95 54 ms vs 4.5 ms, hence 100 ms of growth allowed
      // drift is judged at 1e-5 family-wise here: at the default 0.999 three gate checks per run would fail
      // about 1 % of runs by chance (offline replay of these very streams: 0.2–0.4 % per check; 1 alarm in
      // 18 idle runs of this test), too flaky for a test about wave progression. The bins the hub stores
      // were checked to equal the bins of the rows each device was fed, so the pipeline adds no bias.
      gates: { ...LEAN, maxP95RegressionPct: 300, minP95RegressionMs: 100, driftConfidence: 0.99999 },
    });
    expect(started.status).toBe('running');
    expect((started.waves as unknown[]).length).toBe(1);
    const done = await until(env, started.id, ['completed', 'paused', 'rolled-back']);
    expect(done.status, JSON.stringify(done.gates)).toBe('completed');
    expect(done.waves.map((w: any) => [w.percent, w.outcome])).toEqual([[25, 'passed'], [50, 'passed'], [100, 'passed']]);
    // stable hash assignment: at least the quota per wave (25 % of 20 = 5 first), every device once
    expect(done.waves[0].devices).toBeGreaterThanOrEqual(5);
    expect(done.waves.reduce((n: number, w: any) => n + w.devices, 0)).toBe(N);
    // no gate failed in any wave; the first wave had data for every gate but accuracy (no labels here),
    // in-distribution inputs included: no drift
    expect(done.waves.flatMap((w: any) => w.gates.filter((g: any) => g.pass === false))).toEqual([]);
    const first = { gates: done.waves[0].gates };
    for (const name of ['device-failure-rate', 'min-reporting-devices', 'error-rate', 'p95-latency-regression', 'drift']) {
      expect(gate(first, name)?.pass, `${name}: ${JSON.stringify(first.gates)}`).toBe(true);
    }
    expect(gate(first, 'drift')?.value).toBe(0);
    expect(gate(first, 'accuracy-drop')?.pass).toBeNull();
    const waveOf7 = done.waves.find((w: any) => w.byOutcome.skipped.includes('sim-7') || w.byOutcome.converged.includes('sim-7'));
    expect(waveOf7.byOutcome.skipped).toEqual(['sim-7']);
    expect(done.waves.reduce((n: number, w: any) => n + w.counts.failed, 0)).toBe(0);
    await env.fleet.waitForVersion('2.0.0', { ids: env.fleet.devices.map((d) => d.id).filter((id) => id !== 'sim-7') });
    // the device that was offline comes back after completion and converges to v2
    await env.fleet.startDevice('sim-7');
    await env.fleet.waitForVersion('2.0.0', { ids: ['sim-7'], timeoutMs: 30_000 });
    expect(versionsOf(env.fleet)).toEqual(new Array(N).fill('2.0.0'));
    expect(env.hub.metrics.get('edgefleet_rollouts_completed_total')).toBe(1);
    // devices per version from what they report running now: the whole fleet on v2, nobody left on v1
    await expect.poll(async () => (await env.hub.metrics.refresh(), env.hub.metrics.render()), { timeout: 30_000, interval: 200 })
      .toContain(`edgefleet_model_version_devices{model="vibration",version="2.0.0",role="active"} ${N}\n`);
    expect(env.hub.metrics.render()).not.toContain('edgefleet_model_version_devices{model="vibration",version="1.0.0",role="active"}');
    const audit = (await env.hub.services.ctx.store.listAudit()).map((a) => a.action);
    expect(audit).toEqual(expect.arrayContaining(['rollout.start', 'rollout.wave-started', 'rollout.gates', 'rollout.completed']));
  });

  it('stops a v2 that fails its self-test on the devices at the first wave; the rest of the fleet stays on v1', async () => {
    const sha = sha256Of(v2.bytes);
    const env = await setup({ runtime: runtimeWith((b) => failingSelfTest(b, sha)) });
    const r = await env.fleet.hub.startRollout({ model: 'vibration', version: '2.0.0', targets: { all: true }, waves: [10, 50, 100], soak: '2s', gates: LEAN });
    await until(env, r.id, ['paused', 'completed']);
    // the first failure already decides it (best case 1 of n > 10 %); the wave's other devices fail too
    const size: number = (await rollout(env, r.id)).waves[0].devices;
    expect(size).toBeGreaterThanOrEqual(2); // ceil(10 % of 20), more when the hash puts more devices under 10 %
    expect(size).toBeLessThan(N / 2);
    await expect.poll(async () => (await rollout(env, r.id)).waves[0].counts.failed, { timeout: 30_000, interval: 100 }).toBe(size);
    const paused = await rollout(env, r.id);
    expect(paused.status).toBe('paused');
    expect(paused.waves).toHaveLength(1);
    expect(paused.waves[0].counts).toMatchObject({ failed: size, converged: 0, pending: 0 });
    expect(gate(paused, 'device-failure-rate')).toMatchObject({ pass: false, value: 1 });
    expect(paused.pausedReason).toMatch(/device-failure-rate/);
    // a few more ticks: nothing else is sent
    await new Promise((res) => setTimeout(res, 1000));
    expect((await rollout(env, r.id)).waves).toHaveLength(1);
    const wave0 = new Set<string>(paused.waves[0].byOutcome.failed);
    for (const d of env.fleet.devices) {
      expect(d.agent.core.slots()['vibration']?.active?.version, d.id).toBe('1.0.0');
      const desired = (await env.api.get(`/devices/${d.id}/desired`)).body;
      expect(desired.sequence, d.id).toBe(wave0.has(d.id) ? 2 : 1);
    }
  });

  it('pauses a 3× slower v2 on the latency gate; with onFail rollback the wave returns to v1', async () => {
    const env = await setup({
      runtime: runtimeWith((b) =>
        slowerBy(b, { [sha256Of(v1.bytes)]: 250, [sha256Of(v2.bytes)]: 750 }),
      true),
    });
    const spec = { model: 'vibration', version: '2.0.0', targets: { all: true }, waves: [25, 100], soak: '2s', gates: LEAN };
    const first = await env.fleet.hub.startRollout(spec);
    const paused = await until(env, first.id, ['paused', 'completed', 'rolled-back']);
    expect(paused.status, JSON.stringify(paused.waves.map((w: any) => w.gates))).toBe('paused');
    expect(gate(paused, 'p95-latency-regression')?.pass).toBe(false);
    expect(gate(paused, 'p95-latency-regression')!.value!).toBeGreaterThan(50);
    expect(paused.waves).toHaveLength(1);

    // the same v2 with onFail rollback: supersedes the paused rollout, fails its first wave, sends it back
    const second = await env.fleet.hub.startRollout({ ...spec, onFail: 'rollback' });
    expect((await rollout(env, first.id)).status).toBe('superseded');
    const back = await until(env, second.id, ['rolled-back', 'paused', 'completed']);
    expect(back.status, JSON.stringify(back.waves.map((w: any) => w.gates))).toBe('rolled-back');
    expect(gate(back, 'p95-latency-regression')?.pass).toBe(false);
    // the rolled-back wave runs v1 again; the first rollout's wave still runs what it was sent (superseded, not undone)
    const firstWave: string[] = paused.waves[0].byOutcome.converged;
    const wave: string[] = back.waves[0].byOutcome.pending.concat(back.waves[0].byOutcome.converged, back.waves[0].byOutcome.failed);
    const secondOnly = wave.filter((id) => !firstWave.includes(id));
    expect(secondOnly.length).toBeGreaterThan(0);
    await env.fleet.waitForVersion('1.0.0', { ids: secondOnly, timeoutMs: 30_000 });
    const audit = (await env.hub.services.ctx.store.listAudit()).map((a) => a.action);
    expect(audit).toEqual(expect.arrayContaining(['rollout.paused', 'rollout.superseded', 'rollout.rolled-back']));
    // what ops alert on: two failed gates, one pause, one rollback, none completed; rollouts by status
    const m = env.hub.metrics;
    expect(['gate_failures', 'pauses', 'rollbacks'].map((k) => m.get(`edgefleet_rollout_${k}_total`))).toEqual([2, 1, 1]);
    expect(m.get('edgefleet_rollouts_completed_total')).toBe(0);
    await m.refresh();
    const text = m.render();
    for (const [status, n] of [['rolled-back', 1], ['superseded', 1], ['completed', 1], ['paused', 0]] as const) expect(text).toContain(`edgefleet_rollouts{status="${status}"} ${n}\n`);
    expect(text).toMatch(/^edgefleet_model_version_devices\{model="vibration",version="1\.0\.0",role="active"\} \d+$/m);
  });

  it('trips the drift gate on shifted inputs, and passes in-distribution inputs of the same volume', async () => {
    const env = await setup();
    const spec = { model: 'vibration', version: '2.0.0', targets: { all: true }, waves: [50, 100], soak: '3s', gates: { ...LEAN, maxP95RegressionPct: 1000 } };
    const calm = await env.fleet.hub.startRollout(spec);
    // first wave judged: drift has a verdict and it is "no drift"
    await expect.poll(async () => (await rollout(env, calm.id)).waves[0]?.outcome, { timeout: 30_000, interval: 100 }).toBe('passed');
    const judged = (await rollout(env, calm.id)).waves[0];
    const calmDrift = judged.gates.find((g: any) => g.name === 'drift');
    expect(calmDrift).toMatchObject({ pass: true, value: 0 });
    await env.api.post(`/rollouts/${calm.id}/abort`);
    await env.fleet.waitForVersion('1.0.0');

    env.fleet.setDrift(env.fleet.devices.map((d) => d.id), 1.5);
    const shifted = await env.fleet.hub.startRollout(spec);
    const paused = await until(env, shifted.id, ['paused', 'completed']);
    expect(paused.status).toBe('paused');
    expect(gate(paused, 'drift')?.pass).toBe(false);
    expect(gate(paused, 'drift')!.value!).toBeGreaterThan(0);
  });

  it('trips the accuracy gate on labelled feedback showing a real drop; too few labels give no verdict', async () => {
    // an untrained v2: about chance on three classes, where v1 is right most of the time
    const env = await setup({ v2: sizedClassifier(2_000), labelFraction: 0.002 });
    const spec = { model: 'vibration', version: '2.0.0', targets: { all: true }, waves: [50, 100], soak: '3s', gates: { ...LEAN, minLabels: 30, maxP95RegressionPct: 1000 } };
    const few = await env.fleet.hub.startRollout(spec);
    await expect.poll(async () => (await rollout(env, few.id)).waves[0]?.gates?.length ?? 0, { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
    const fewGate = (await rollout(env, few.id)).waves[0].gates.find((g: any) => g.name === 'accuracy-drop');
    expect(fewGate.pass).toBeNull();
    expect(fewGate.detail).toMatch(/no verdict/);
    await env.api.post(`/rollouts/${few.id}/abort`);
    await env.fleet.waitForVersion('1.0.0');

    env.fleet.setLabelFraction(env.fleet.devices.map((d) => d.id), 0.5);
    const labelled = await env.fleet.hub.startRollout(spec);
    const paused = await until(env, labelled.id, ['paused', 'completed']);
    expect(paused.status).toBe('paused');
    const acc = gate(paused, 'accuracy-drop')!;
    expect(acc.pass).toBe(false);
    expect(acc.value!).toBeGreaterThan(0.2);
  });

  it('runs a shadow v2 beside v1 through the waves, reports agreement and latency against the active version, and promotes it', async () => {
    const env = await setup();
    const r = await env.fleet.hub.startRollout({
      model: 'vibration',
      version: '2.0.0',
      targets: { all: true },
      waves: [50, 100],
      soak: '2s',
      shadow: true,
      gates: { ...LEAN, maxP95RegressionPct: 1000, minShadowAgreement: 0.5, driftConfidence: 0.99999 },
    });
    const done = await until(env, r.id, ['completed', 'paused']);
    expect(done.status, JSON.stringify(done.gates)).toBe('completed');
    expect(done.role).toBe('shadow');
    expect(gate(done, 'shadow-agreement')?.pass).toBe(true);
    expect(done.shadow.compared).toBeGreaterThan(0);
    expect(done.shadow.agreement).toBeGreaterThan(0.5);
    expect(done.shadow.latencyMs.shadow.p95).toBeGreaterThan(0);
    expect(done.shadow.latencyMs.active.p95).toBeGreaterThan(0);
    await expect.poll(() => env.fleet.devices.every((d) => d.agent.core.slots()['vibration']?.shadow?.version === '2.0.0'), { timeout: 30_000 }).toBe(true);
    expect(versionsOf(env.fleet)).toEqual(new Array(N).fill('1.0.0'));

    const viewer = (await env.api.post('/tokens', { role: 'viewer' })).body.token as string;
    expect((await apiClient(env.hub.urls.http, viewer).post(`/rollouts/${r.id}/promote`)).status).toBe(403);
    const promoted = await env.api.post(`/rollouts/${r.id}/promote`);
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    expect(promoted.body.rollout.role).toBe('active');
    await env.fleet.waitForVersion('2.0.0', { timeoutMs: 30_000 });
  });
});
