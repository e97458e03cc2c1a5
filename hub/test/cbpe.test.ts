// Accuracy without labels (CBPE, design §6) end to end: two real agents (real onnxruntime) stream predictions of
// a calibrated model — labels drawn from the model's own probabilities, seeded — to a real hub, which merges the
// windows' confidence sums exactly across devices, reports the estimate beside realized accuracy, and checks its
// calibration; a label shift drops realized accuracy while the estimate stays, and the check says so. Bad sums
// from a device are refused with a protocol code and counted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { confidenceAdd, createConfidenceSums, createWindow, mergeConfidenceSums, topics, type ConfidenceSums, type Tensor } from '@edgefleet/protocol';
import { startHub, type Hub } from '@edgefleet/hub';
import { createSimulatedFleet, type SimulatedFleet } from '../../scripts/sim/fleet.js';
import { trainVibrationModels } from '../../scripts/sim/models.js';
import { createRng } from '@edgefleet/protocol/testing';
import { exportClassifierOnnx, generateVibrationDataset, trainLogisticRegression, VIBRATION_FEATURES, VIBRATION_LABELS } from '../../scripts/lib/train.js';
import { apiClient, connectDevice, endClient, waitFor } from './helpers.js';
import { TEST_KEK, testDb } from './support/test-db.js';

const DEVICES = 2;
const PER_DEVICE = 400;
const YEAR = 365 * 86_400_000;

let hub: Hub;
let fleet: SimulatedFleet;
let api: ReturnType<typeof apiClient>;
let dir: string;
let output = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-cbpe-'));
  const db = await testDb(join(dir, 'hub'));
  hub = await startHub({ dataDir: join(dir, 'hub'), ...(db ? { db, keys: { encryptionKey: TEST_KEK } } : {}), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null, rolloutTickMs: 100, telemetry: { windowSeconds: 1 } });
  api = apiClient(hub.urls.http, hub.adminToken);
  // rate 0: the test drives every inference itself
  fleet = await createSimulatedFleet({ hub: hub.urls.http, token: hub.adminToken, devices: DEVICES, rate: 0, dataDir: join(dir, 'fleet'), device: () => ({ tags: { site: 'cbpe' } }) });
  const { v1 } = trainVibrationModels();
  await fleet.hub.pushModel({ name: 'vibration', version: '1.0.0', file: v1.bytes, validation: v1.validation });
  await fleet.hub.startRollout({ model: 'vibration', version: '1.0.0', targets: { all: true }, waves: [100], soak: 0 });
  await fleet.waitForVersion('1.0.0', { timeoutMs: 60_000 });
  const manifest = (await api.get('/models/vibration')).body.versions[0].manifest;
  output = manifest.reference.output.output;
}, 120_000);

afterAll(async () => {
  await fleet?.close();
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * PER_DEVICE predictions per device, half of them labelled: the label drawn from the model's own output
 * distribution (a calibrated model, by construction), or with probability `shift` class 0 instead (label
 * shift). Returns the confidence sums each device's windows must carry, computed here from the same outputs.
 */
async function stream(seed: number, shift: number): Promise<{ from: number; to: number; sums: ConfidenceSums[] }> {
  const from = Math.floor(Date.now() / 1000) * 1000; // windows are 1 s, aligned
  const sums: ConfidenceSums[] = [];
  for (const d of fleet.devices) {
    const rng = createRng(seed * 31 + d.index);
    const data = generateVibrationDataset({ n: PER_DEVICE, seed: seed * 1000 + d.index });
    const cols = data.X.cols;
    const s = createConfidenceSums(3);
    for (let r = 0; r < PER_DEVICE; r++) {
      const feeds: Record<string, Tensor> = { features: { type: 'float32', dims: [1, cols], data: data.X.data.slice(r * cols, r * cols + cols) } };
      const res = await d.agent.infer('vibration', feeds);
      const p = Array.from(res.outputs[output]!.data as Float32Array);
      const top = p.indexOf(Math.max(...p));
      confidenceAdd(s, top, p[top]!);
      if (r % 2 === 1) continue;
      let label = 0;
      if (!(rng() < shift)) {
        let u = rng();
        while (label < p.length - 1 && u >= p[label]!) u -= p[label++]!;
      }
      await d.agent.feedback('vibration', res.id, label);
    }
    sums.push(s);
    await d.agent.core.flushTelemetry();
  }
  const to = Date.now() + 1;
  // the next stream's windows start after this one's last (1 s windows)
  while (Date.now() < Math.ceil(to / 1000) * 1000 + 50) await new Promise((r) => setTimeout(r, 20));
  return { from, to, sums };
}

async function health(from: number, to: number): Promise<any> {
  const q = new URLSearchParams({ model: 'vibration', version: '1.0.0', from: String(from), to: String(to), bucketMs: String(YEAR), tag: 'site=cbpe' });
  return (await api.get(`/health?${q}`)).body;
}

/** Health once every prediction of the stream and its labels are in. */
async function healthOf(s: { from: number; to: number }): Promise<any> {
  return waitFor(async () => {
    await hub.flush();
    const h = await health(s.from, s.to);
    return h.totals.inferences === DEVICES * PER_DEVICE && h.accuracy.labelled === (DEVICES * PER_DEVICE) / 2 ? h : null;
  }, 'the stream reached the hub', 30_000);
}

describe('CBPE: accuracy without labels', () => {
  let calibrated: any;

  it('estimates a calibrated model within its stated error of realized accuracy, from sums merged exactly across devices', async () => {
    const s = await stream(1, 0);
    const h = await healthOf(s);
    calibrated = h;
    // exact merge: the hub's sums over both devices are the sums of each device's predictions, to the unit
    const expected = s.sums.reduce((a, b) => mergeConfidenceSums(a, b));
    const e = h.estimatedAccuracy;
    expect(e.n).toBe(expected.count);
    expect(e.p).toBe(expected.sum / 1_000_000 / expected.count);
    expect(e.coverage).toBe(1);
    // per predicted class too: counts and sums to the unit (the class's estimated precision)
    expect(e.classes.map((c: { n: number }) => c.n)).toEqual(expected.classCounts);
    expect(e.classes.map((c: { precision: number | null }) => c.precision)).toEqual(expected.classCounts.map((n, k) => (n > 0 ? expected.classSums[k]! / 1_000_000 / n : null)));
    expect(e.low).toBeLessThan(e.p);
    expect(e.high).toBeGreaterThan(e.p);
    const c = h.calibration;
    expect(c.verdict, c.detail).toBe('calibrated');
    expect(c.windows).toHaveLength(1);
    expect(Math.abs(e.p - h.accuracy.p)).toBeLessThanOrEqual(c.threshold);
    expect(c.meanAbsError).toBeCloseTo(Math.abs(e.p - h.accuracy.p), 12);
    // the series carries the estimate per bucket too
    expect(h.series[0].confident).toBe(expected.count);
    expect(h.series[0].estimatedAccuracy).toBeCloseTo(e.p, 12);
  }, 120_000);

  it('when labels shift, realized accuracy drops, the estimate stays put and the calibration check says not calibrated', async () => {
    const s = await stream(2, 0.6);
    const h = await healthOf(s);
    expect(Math.abs(h.estimatedAccuracy.p - calibrated.estimatedAccuracy.p)).toBeLessThan(0.03);
    expect(h.accuracy.p).toBeLessThan(calibrated.accuracy.p - 0.15);
    expect(h.calibration.verdict, h.calibration.detail).toBe('not-calibrated');
    expect(h.calibration.meanAbsError).toBeGreaterThan(h.calibration.threshold);
  }, 120_000);

  it('refuses bad sums (above the count, NaN, too many classes) with BAD_MESSAGE and counts each', async () => {
    const id = 'cbpe-raw';
    const token = (await api.post('/devices', { id })).body.token;
    const device: MqttClient = await connectDevice(hub.urls.mqtt!, id, token);
    try {
      const rejected = () => hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'BAD_MESSAGE', topic: 'telemetry' });
      const start = Math.floor(Date.now() / 1000) * 1000;
      const windowWith = (sums: Record<string, unknown>) => ({
        ...createWindow('vibration', '1.0.0', 'active', start, start + 1000),
        inferences: 2,
        outputs: { classCounts: [1, 1], confidenceSums: sums },
      });
      const good = { count: 2, sum: 1_500_000, sumSq: 1_250_000, classCounts: [1, 1], classSums: [1_000_000, 500_000] };
      const bad = [
        { ...good, sum: 2_500_000, classSums: [1_500_000, 1_000_000] }, // 1.5 confidence on one prediction
        { ...good, sum: null }, // NaN on the wire
        { ...good, classCounts: new Array(5000).fill(0), classSums: new Array(5000).fill(0) },
      ];
      let seq = 0;
      for (const sums of bad) {
        const before = rejected();
        await device.publishAsync(topics.telemetry(id), JSON.stringify({ deviceId: id, seq: ++seq, windows: [windowWith(sums)] }), { qos: 1 });
        await waitFor(() => rejected() === before + 1, `bad sums ${JSON.stringify(sums).slice(0, 60)} refused`);
      }
      const before = rejected();
      await device.publishAsync(topics.telemetry(id), JSON.stringify({ deviceId: id, seq: ++seq, windows: [windowWith(good)] }), { qos: 1 });
      await waitFor(async () => (await hub.flush(), hub.metrics.get('edgefleet_telemetry_batches_total') > 0 && rejected() === before), 'the good batch taken');
      const h = await waitFor(async () => {
        await hub.flush();
        const q = new URLSearchParams({ model: 'vibration', version: '1.0.0', from: String(start), to: String(start + 1000), device: id });
        const r = (await api.get(`/health?${q}`)).body;
        return r.estimatedAccuracy.n === 2 ? r : null;
      }, 'the good sums stored');
      expect(h.estimatedAccuracy.p).toBe(0.75);
    } finally {
      await endClient(device);
    }
  });

  it('pauses a rollout on estimated-accuracy-drop when labels are too few: an underfit v2 is far less confident than v1', async () => {
    // v2 trained for 2 epochs: probabilities near 1/3 each; no labels come back at all
    const data = generateVibrationDataset({ n: 1500, seed: 7 });
    const underfit = exportClassifierOnnx(trainLogisticRegression(data.X, data.y, { classes: 3, epochs: 2, lr: 0.001 }), { labels: VIBRATION_LABELS, featureNames: VIBRATION_FEATURES });
    await fleet.hub.pushModel({ name: 'vibration', version: '2.0.0', file: underfit });
    const r = await fleet.hub.startRollout({
      model: 'vibration',
      version: '2.0.0',
      targets: { tags: [{ site: 'cbpe' }] },
      waves: [50, 100],
      soak: '3s',
      gates: { minSamples: 50, driftMinCount: 50, maxP95RegressionPct: 1000, minP95RegressionMs: 100, driftConfidence: 0.99999, maxEstimatedAccuracyDrop: 0.05 },
    });
    // traffic on both devices (the wave's on v2, the other still on v1: the baseline) until the wave is judged
    let done = false;
    const rows = generateVibrationDataset({ n: 2000, seed: 77 });
    const cols = rows.X.cols;
    const traffic = (async () => {
      for (let i = 0; !done; i++) {
        for (const d of fleet.devices) {
          const r0 = i % rows.X.rows;
          await d.agent.infer('vibration', { features: { type: 'float32', dims: [1, cols], data: rows.X.data.slice(r0 * cols, r0 * cols + cols) } }).catch(() => undefined);
        }
        if (i % 50 === 0) await Promise.all(fleet.devices.map((d) => d.agent.core.flushTelemetry().catch(() => undefined)));
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    try {
      const paused = await waitFor(async () => {
        const x = (await api.get(`/rollouts/${r.id}`)).body.rollout;
        return ['paused', 'completed', 'rolled-back'].includes(x.status) ? x : null;
      }, 'the first wave judged', 90_000);
      const gates = paused.waves[0].gates as Array<{ name: string; pass: boolean | null; value: number | null; detail: string }>;
      const est = gates.find((g) => g.name === 'estimated-accuracy-drop')!;
      expect(paused.status, JSON.stringify(gates)).toBe('paused');
      expect(est.pass, est.detail).toBe(false);
      expect(est.value!).toBeGreaterThan(0.2);
      expect(gates.find((g) => g.name === 'accuracy-drop')!.pass).toBeNull();
      await api.post(`/rollouts/${r.id}/abort`);
    } finally {
      done = true;
      await traffic;
    }
  }, 150_000);
});
