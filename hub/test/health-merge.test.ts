// One health merge (design §6): for the same stored windows the health API (raw windows of a tag group, and
// rollups), fleet status and the rollout gates' evidence give the same merged health. Telemetry goes over
// MQTT into a real hub; one window of another bin layout (stored before its version was pushed, when the hub
// could not check its layout) cannot merge with the others and is left out whole by every reader.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reference } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, endClient, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';
import { buildWindow, publishReported, publishTelemetry, registerDevices, reportedState, tinyValidation, type FleetDevice } from './dashboard-support.js';

const MINUTE = 60_000;
const IDS = ['hm-1', 'hm-2', 'hm-3'];
/** The candidate's inferences per device (its errors: a tenth of them). */
const INFERENCES = [120, 80, 200];

/** What every reader of merged health says about the candidate, in the numbers it shows. */
interface Merged {
  devices?: number;
  inferences: number;
  errorRate: number | null;
  p95: string | null;
  featureCounts?: number[];
}

/** The latency gate's formatting of a p95 (gates.ts `fmt`), so the API's number compares with the gate's text. */
const fmt = (x: number | null) => (x === null ? null : Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));

describe('one health merge', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof apiClient>;
  let devices: FleetDevice[];
  let reference: Reference;
  let start: number;

  const flushed = async (n: number) => waitFor(async () => (await hub.flush(), hub.metrics.get('edgefleet_telemetry_batches_total') >= n), `${n} batches stored`);

  beforeAll(async () => {
    dir = tempDir();
    hub = await startTestHub(dir.path, { rolloutTickMs: 100 });
    api = apiClient(hub.urls.http, hub.adminToken);
    const v1 = await api.pushModel(tinyModel(), { name: 'tiny', version: '1.0.0', validation: tinyValidation(300) });
    expect(v1.status, JSON.stringify(v1.body)).toBe(201);
    reference = v1.body.manifest.reference as Reference;
    devices = await registerDevices(hub, IDS.map((id) => ({ id, tags: { ring: 'canary' }, online: true })));
    for (const d of devices) await publishReported(d, reportedState(d.id, { tiny: { version: '1.0.0', release: v1.body.release, sha256: v1.body.sha256 } }));
    // the candidate's windows end in the minute after the one they start in (so after the wave converged),
    // and the odd window starts in that later minute: a rollup of its own, which no reader may merge either
    let boundary = Math.floor(Date.now() / MINUTE) * MINUTE;
    if (Date.now() - boundary > 45_000) {
      await new Promise((r) => setTimeout(r, boundary + MINUTE + 100 - Date.now()));
      boundary += MINUTE;
    }
    start = boundary - 1000;
    // the baseline the gates compare with: v1 on the same devices
    for (const [i, d] of devices.entries()) {
      await publishTelemetry(d, [buildWindow(reference, { model: 'tiny', version: '1.0.0', start, inferences: 100, latencyMs: 4, seed: 10 + i })]);
    }
    // the candidate, sent before v2 is pushed: the hub cannot check its layout yet and stores every window
    for (const [i, d] of devices.entries()) {
      const n = INFERENCES[i]!;
      await publishTelemetry(d, [buildWindow(reference, { model: 'tiny', version: '2.0.0', start, inferences: n, errors: n / 10, latencyMs: 5 + i, seed: 20 + i })]);
    }
    await flushed(2 * IDS.length);
    const odd = buildWindow(reference, { model: 'tiny', version: '2.0.0', start: boundary + 1, inferences: 50, latencyMs: 500, seed: 30 });
    odd.features[reference.features[0]!.name] = { bins: [50, 0, 0], nulls: 0, count: 50, sum: 1, sumSq: 1, min: 0, max: 1 };
    await publishTelemetry(devices[2]!, [odd]);
    await flushed(2 * IDS.length + 1);
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => endClient(d.client)));
    await hub.close();
    dir.remove();
  });

  it('gives the health API, fleet status and the rollout gates the same merged result for the same windows', async () => {
    const v2 = await api.pushModel(tinyModel(1), { name: 'tiny', version: '2.0.0', validation: tinyValidation(300) });
    expect(v2.status, JSON.stringify(v2.body)).toBe(201);

    const range = `model=tiny&version=2.0.0&role=active&from=${start - MINUTE}&to=${start + 2 * MINUTE}`;
    const fromApi = async (query: string): Promise<Merged> => {
      const h = (await api.get(`/health?${query}`)).body;
      return {
        devices: h.totals.devices,
        inferences: h.totals.inferences,
        errorRate: h.totals.errorRate,
        p95: fmt(h.totals.latencyMs.p95),
        featureCounts: h.drift.map((d: { n: number }) => d.n),
      };
    };
    const tagGroup = await fromApi(`${range}&tag=ring=canary`); // raw windows of the devices
    const rollups = await fromApi(range); // per-minute rollups

    const row = (await api.get('/fleet/status')).body.health.find((h: { version: string; role: string }) => h.version === '2.0.0' && h.role === 'active');
    const status: Merged = { devices: row.reportingDevices, inferences: row.inferences, errorRate: row.errorRate, p95: fmt(row.latencyMs.p95) };

    // the gates: a one-wave rollout to the same devices, judged after they report v2
    const r = await api.post('/rollouts', {
      model: 'tiny',
      version: '2.0.0',
      targets: { tags: [{ ring: 'canary' }] },
      waves: [100],
      soak: '1s',
      gates: { minSamples: 1, driftMinCount: 1, maxP95RegressionPct: 1e6, maxErrorRate: 1, maxDriftedFeatures: 100 },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    for (const d of devices) await publishReported(d, reportedState(d.id, { tiny: { version: '2.0.0', release: v2.body.release, sha256: v2.body.sha256 } }));
    const judged = await waitFor(async () => {
      const w = (await api.get(`/rollouts/${r.body.rollout.id}`)).body.rollout.waves[0];
      return w?.gates.length ? w : null;
    }, 'the wave judged', 20_000);
    const gate = (name: string) => judged.gates.find((g: { name: string }) => g.name === name);
    const gates: Merged = {
      devices: gate('min-reporting-devices').value,
      inferences: Number(/of (\d+) inferences failed/.exec(gate('error-rate').detail)?.[1]),
      errorRate: gate('error-rate').value,
      p95: /^p95 (\S+) ms vs baseline/.exec(gate('p95-latency-regression').detail)?.[1] ?? null,
      featureCounts: [...(gate('drift').detail as string).matchAll(/n=(\d+)/g)].map((m) => Number(m[1])),
    };

    // the window of another layout is left out whole: its 50 inferences count nowhere
    const total = INFERENCES.reduce((a, b) => a + b, 0);
    expect(tagGroup).toMatchObject({ devices: IDS.length, inferences: total, errorRate: 0.1 });
    expect(reference.features.length).toBeGreaterThan(0);
    expect(tagGroup.p95).not.toBeNull();
    expect(tagGroup.featureCounts).toEqual(reference.features.map(() => total));
    expect(rollups).toEqual(tagGroup);
    expect(status).toEqual({ ...tagGroup, featureCounts: undefined, devices: IDS.length });
    expect(gates).toEqual(tagGroup);
  });
});
