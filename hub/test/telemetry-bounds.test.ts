// Every device-supplied size, index, count and time in a telemetry window is bounded before the hub stores
// or merges it (design §4, §6): a refused batch is counted and changes nothing, and rollups or raw windows
// already stored with such content (a database written before these bounds) are skipped on read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createWindow, histogramAdd, topics, type Reference, type TelemetryBatch, type TelemetryWindow } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, connectDevice, endClient, hubDb, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';
import { buildWindow, tinyValidation } from './dashboard-support.js';

const MINUTE = 60_000;

function window(latencies: number[], start = Math.floor(Date.now() / MINUTE) * MINUTE): TelemetryWindow {
  const w = createWindow('tiny', '1.0.0', 'active', start, start + MINUTE);
  for (const l of latencies) histogramAdd(w.latencyMs, l);
  w.inferences = latencies.length;
  return w;
}

describe('telemetry bounds', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof apiClient>;
  let device: MqttClient;
  let seq = 0;
  const rejected = () => hub.metrics.get('edgefleet_rejected_messages_total', { reason: 'BAD_MESSAGE', topic: 'telemetry' });
  const count = (table: string) => (hubDb(hub).prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  const rows = () => ({ batches: count('telemetry_batches'), windows: count('telemetry_windows'), rollups: count('rollups') });
  const inferences = async () => (await api.get('/fleet/status')).body.health.find((h: { model: string }) => h.model === 'tiny')?.inferences ?? 0;

  const send = async (windows: unknown[]): Promise<void> => {
    const body = { deviceId: 'dev-b1', seq: ++seq, windows, dropped: 0 };
    await device.publishAsync(topics.telemetry('dev-b1'), JSON.stringify(body), { qos: 1 });
  };

  /** Publishes a batch that must be refused: one more refusal counted, and no row anywhere changed. */
  const expectRefused = async (windows: unknown[], what: string): Promise<void> => {
    await hub.flush();
    const before = { rejected: rejected(), rows: rows() };
    await send(windows);
    await waitFor(() => rejected() === before.rejected + 1, `${what} refused`);
    await hub.flush();
    expect(rows(), what).toEqual(before.rows);
  };

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path);
    api = apiClient(hub.urls.http, hub.adminToken);
    const token = (await api.post('/devices', { id: 'dev-b1' })).body.token;
    device = await connectDevice(hub.urls.mqtt!, 'dev-b1', token);
  });
  afterAll(async () => {
    await endClient(device);
    await hub.close();
    dir.remove();
  });

  it('refuses latency buckets no real latency can reach, before merging them into a rollup', async () => {
    await send([window([5, 6, 7])]);
    await waitFor(async () => (await hub.flush(), (await inferences()) === 3), 'a good window merged');
    // bucket 3e7 is γ^3e7 ms: a rollup merge spanning it would allocate 3e7 buckets (5e8: the hub dies)
    const far = window([5]);
    far.latencyMs.offset = 30_000_000;
    await expectRefused([far], 'a bucket offset of 3e7');
    const low = window([5]);
    low.latencyMs.offset = -30_000_000;
    await expectRefused([window([5]), low], 'a batch with one window far below');
    const shadow = window([5]);
    shadow.shadow = { compared: 1, agreed: 1, dropped: 0, latencyMs: structuredClone(far.latencyMs) };
    await expectRefused([shadow], 'a shadow histogram beyond the range');
    expect(await inferences()).toBe(3);
  });

  it('refuses windows outside the clock-skew bounds of now, reversed or longer than a window can be', async () => {
    const now = Date.now();
    const at = (start: number, end: number) => ({ ...window([5], 0), start, end });
    await expectRefused([at(now + 3_600_000, now + 3_660_000)], 'a window an hour in the future');
    await expectRefused([at(now - 30 * 86_400_000, now - 30 * 86_400_000 + MINUTE)], 'a window older than raw retention');
    await expectRefused([at(now, now - MINUTE)], 'end before start');
    await expectRefused([at(now - 2 * 86_400_000, now)], 'a two-day window');
  });

  it('refuses counts over the per-window ceiling and summaries whose parts do not add up', async () => {
    const big = window([5]);
    big.inferences = 1e12;
    await expectRefused([big], 'a trillion inferences');
    const lying = window([5, 6]);
    lying.latencyMs.count = 1000;
    await expectRefused([lying], 'a histogram count its buckets do not hold');
    const labels = window([5]);
    labels.labels = { labelled: 1, correct: 1, confusion: [[1_000_000, 0, 1]] };
    await expectRefused([labels], 'a confusion key beyond any class index');
    const feature = window([5]);
    feature.features = { f: { bins: [1, 1], nulls: 0, count: 50, sum: 1, sumSq: 1, min: 0, max: 1 } };
    await expectRefused([feature], 'feature bins that do not add up to the count');
    const alpha = window([5]);
    alpha.latencyMs.alpha = 0.3;
    await expectRefused([alpha], 'a histogram of another accuracy than the fleet merges');
    expect(await inferences()).toBe(3);
  });

  it('refuses feature and output bins other than the model version\'s reference, so one device cannot shut the others out of a rollup', async () => {
    const pushed = await api.pushModel(tinyModel(), { name: 'ref', version: '1.0.0', validation: tinyValidation(300) });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
    const reference = pushed.body.manifest.reference as Reference;
    const start = Math.floor(Date.now() / MINUTE) * MINUTE;
    const honest = () => buildWindow(reference, { model: 'ref', version: '1.0.0', start, inferences: 50, latencyMs: 4, seed: ++seq });
    const name = reference.features[0]!.name;
    const rebinned = honest();
    rebinned.features[name] = { bins: [50, 0, 0], nulls: 0, count: 50, sum: 1, sumSq: 1, min: 0, max: 1 };
    await expectRefused([rebinned], 'a feature binned in 3 instead of the reference bins');
    const unknown = honest();
    unknown.features['not-in-reference'] = { bins: [50, 0], nulls: 0, count: 50, sum: 1, sumSq: 1, min: 0, max: 1 };
    await expectRefused([unknown], 'a feature the reference does not name');
    const values = honest();
    values.outputs = { valueBins: [1, 2, 3] };
    await expectRefused([values], 'regressor bins on a classifier');
    await send([honest(), honest()]);
    await waitFor(async () => {
      await hub.flush();
      const h = await api.get(`/health?model=ref&version=1.0.0&from=${start - MINUTE}&to=${start + 2 * MINUTE}`);
      return h.body.totals.inferences === 100 && h.body.drift.every((d: { n: number }) => d.n === 100);
    }, 'both honest windows merged, features included');
  });

  it('de-duplicates a batch replayed after its raw windows and de-duplication record were pruned', async () => {
    const body: TelemetryBatch = { deviceId: 'dev-b1', seq: 1000, windows: [window([9])], dropped: 0 };
    const before = await inferences();
    await device.publishAsync(topics.telemetry('dev-b1'), JSON.stringify(body), { qos: 1 });
    await waitFor(async () => (await hub.flush(), (await inferences()) === before + 1), 'batch 1000 counted');
    await hub.services.ingest.prune(Date.now() + 1, 0); // raw retention over: windows and batch records gone
    expect(count('telemetry_batches')).toBe(0);
    const dups = hub.metrics.get('edgefleet_telemetry_duplicates_total');
    await device.publishAsync(topics.telemetry('dev-b1'), JSON.stringify(body), { qos: 1 });
    await waitFor(async () => (await hub.flush(), hub.metrics.get('edgefleet_telemetry_duplicates_total') === dups + 1), 'replay seen as a duplicate');
    expect(await inferences()).toBe(before + 1);
  });
});

describe('telemetry stored before the bounds', () => {
  it('a hub started on a database with poisoned rollups and raw windows serves status, health and rollouts', async () => {
    const dir = tempDir();
    try {
      let hub = await startTestHub(dir.path, { mqtt: null, ws: null });
      const api0 = apiClient(hub.urls.http, hub.adminToken);
      expect((await api0.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0' })).status).toBe(201);
      await api0.post('/devices', { id: 'dev-p1' });
      const db = hubDb(hub);
      const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
      const good = window([5, 5, 5], minute - MINUTE);
      const poisoned = window([5], minute);
      poisoned.latencyMs.offset = 30_000_000;
      const putRollup = db.prepare('INSERT INTO rollups (model, version, role, minute, inferences, errors, body) VALUES (?, ?, ?, ?, ?, 0, ?)');
      putRollup.run('tiny', '1.0.0', 'active', minute - MINUTE, 3, JSON.stringify(good));
      putRollup.run('tiny', '1.0.0', 'active', minute, 1, JSON.stringify(poisoned));
      putRollup.run('tiny', '1.0.0', 'active', minute - 2 * MINUTE, 1, '{"not":"a window"');
      const putRaw = db.prepare(
        'INSERT INTO telemetry_windows (device_id, model, version, role, start, end, inferences, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      const shadowGood = { ...window([5, 5], minute), role: 'shadow' as const };
      const shadowBad = { ...structuredClone(poisoned), role: 'shadow' as const };
      for (const w of [shadowGood, shadowBad]) putRaw.run('dev-p1', w.model, w.version, w.role, w.start, w.end, w.inferences, JSON.stringify(w), Date.now());
      await hub.close();

      hub = await startTestHub(dir.path, { mqtt: null, ws: null });
      try {
        const api = apiClient(hub.urls.http, hub.adminToken);
        const status = await api.get('/fleet/status');
        expect(status.status).toBe(200);
        const h = status.body.health.find((x: { model: string }) => x.model === 'tiny');
        expect(h.inferences).toBe(3);
        expect(h.latencyMs.p99).toBeLessThan(6);
        const health = await api.get(`/health?model=tiny&version=1.0.0&from=${minute - 10 * MINUTE}&to=${minute + MINUTE}`);
        expect(health.status).toBe(200);
        expect(health.body.totals.inferences).toBe(3);
        const perDevice = await api.get(`/health?model=tiny&version=1.0.0&device=dev-p1&role=shadow&from=${minute - 10 * MINUTE}&to=${minute + MINUTE}`);
        expect(perDevice.body.totals.inferences).toBe(2);
        // the rollout engine's merge of a wave's raw windows (here: a shadow rollout's comparison view)
        const r = await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { devices: ['dev-p1'] }, waves: [100], soak: '1h', shadow: true });
        expect(r.status).toBe(201);
        const view = (await api.get(`/rollouts/${r.body.rollout.id}`)).body.rollout;
        expect(view.shadow.latencyMs.shadow.p95).toBeLessThan(6);
      } finally {
        await hub.close();
      }
    } finally {
      dir.remove();
    }
  });
});
