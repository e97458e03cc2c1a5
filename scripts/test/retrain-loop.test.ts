// The loop, end to end (issue 14 item 5): a real hub with capture on, real agents (the simulator's fleet, real
// onnxruntime) on two sites, site b fed drifted inputs with label feedback; the hub's signed drift-alarm webhook
// reaches the retraining service, which exports site b's captured labelled rows, retrains, pushes v3 through the
// accuracy gate with the export's hash as its dataset and rolls it out to site b only — where accuracy recovers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureRule } from '@edgefleet/protocol';
import { startHub, type Hub } from '@edgefleet/hub';
import { createSimulatedFleet, type SimulatedFleet } from '../sim/fleet.js';
import { createHubClient, type HubClient, type HealthView } from '../sim/hub-client.js';
import { trainVibrationModels } from '../sim/models.js';
import { createRetrainService, type RetrainService } from '../retrain.js';

const SECRET = 'retrain-loop-test-secret';
const MODEL = 'vibration';
const DRIFT = { temperature: 2, rms: 2 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return last;
    await sleep(500);
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

describe('drift → signed webhook → retraining service → v3 on site b', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-retrain-'));
  let hub: Hub;
  let fleet: SimulatedFleet;
  let service: RetrainService;
  let client: HubClient;
  const lines: string[] = [];

  const accuracyOn = async (version: string): Promise<HealthView['accuracy']> => (await client.health(MODEL, version, { tag: 'site=b' }))!.accuracy;
  const datasets = () => client.request<{ datasets: Array<{ model: string; version: string; labelled: number }>; exports: unknown[] }>('GET', '/api/v1/datasets');
  const versions = () => client.request<{ versions: Array<{ version: string }> }>('GET', `/api/v1/models/${MODEL}`);

  beforeAll(async () => {
    hub = await startHub({
      dataDir: join(dir, 'hub'),
      http: '127.0.0.1:0',
      mqtt: '127.0.0.1:0',
      ws: '127.0.0.1:0',
      telemetry: { windowSeconds: 2, probationSeconds: 5, capture: [CaptureRule.parse({ model: MODEL, rate: 1, windowBytes: 1024 * 1024 })] },
      rolloutTickMs: 500,
      webhookSecret: SECRET,
      // the test says when the hub looks for drift (once site b has enough labelled captures), not a timer
      alarms: { intervalMs: 3_600_000, windowMs: 10 * 60_000 },
      log: () => undefined,
    });
    client = createHubClient(hub.urls.http, hub.adminToken);
    service = await createRetrainService({
      hub: hub.urls.http,
      token: hub.adminToken,
      secret: SECRET,
      minAccuracy: 0.7,
      rollout: { soak: '3s', maxSoak: '6s', gates: { maxP95RegressionPct: 100, minP95RegressionMs: 25, minLabels: 10 } },
      log: (l) => lines.push(l),
    });
    await client.request('POST', '/api/v1/webhooks', { url: service.url });

    const { v2 } = trainVibrationModels();
    await client.pushModel({ name: MODEL, version: v2.version, file: v2.bytes, validation: v2.validation, sample: v2.sample, minAccuracy: 0.8, dataset: 'vibration-seed-7' });
    fleet = await createSimulatedFleet({
      hub: hub.urls.http,
      token: hub.adminToken,
      devices: 4,
      prefix: 'pump',
      model: MODEL,
      rate: 10,
      flushSeconds: 2,
      dataDir: join(dir, 'agents'),
      // site b (odd devices) reads hot and rough and its operators label every prediction; site a labels some
      device: (i) => (i % 2 === 1 ? { tags: { site: 'b' }, drift: DRIFT, labelFraction: 1 } : { tags: { site: 'a' }, labelFraction: 0.3 }),
    });
    await client.startRollout({ model: MODEL, version: v2.version, targets: { all: true }, waves: [100], soak: 0 });
    await fleet.waitForVersion(v2.version, { timeoutMs: 90_000 });
  }, 180_000);

  afterAll(async () => {
    await service?.close().catch(() => undefined);
    await fleet?.close().catch(() => undefined);
    await hub?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a webhook with a bad signature (401) or a replayed old one (EXPIRED): no export, no push', async () => {
    const body = JSON.stringify({ id: 'evt-forged', event: 'drift-alarm', at: new Date().toISOString(), hub: hub.urls.http, payload: { model: MODEL, version: '2.0.0', feature: 'temperature', scope: { site: 'b' } } });
    for (const sig of ['sha256=' + createHmac('sha256', 'not-the-secret').update(body).digest('hex'), undefined]) {
      const res = await fetch(service.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(sig ? { 'x-edgefleet-signature': sig } : {}) }, body });
      expect(res.status).toBe(401);
    }
    // signed with the right secret, but sent two hours ago: a replay, refused
    const old = JSON.stringify({ ...JSON.parse(body), id: 'evt-old', at: new Date(Date.now() - 2 * 3600_000).toISOString() });
    const replayed = await fetch(service.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-edgefleet-signature': 'sha256=' + createHmac('sha256', SECRET).update(old).digest('hex') }, body: old });
    expect(replayed.status).toBe(400);
    expect(((await replayed.json()) as { error: { code: string } }).error.code).toBe('EXPIRED');
    expect(service.handled).toHaveLength(0);
    expect((await datasets()).exports).toHaveLength(0);
    expect((await versions()).versions.map((v) => v.version)).toEqual(['2.0.0']);
  });

  it('retrains on the captured rows of site b and rolls v3 out there only; site b’s accuracy rises', async () => {
    // enough labelled captures for a model, and v2's realized accuracy on site b's drifted inputs
    await until('labelled captures of 2.0.0', datasets, (d) => (d.datasets.find((x) => x.version === '2.0.0')?.labelled ?? 0) >= 900, 120_000);
    const before = await until('labels of v2 on site b', () => accuracyOn('2.0.0'), (a) => a.labelled >= 200);

    const raised = await hub.services.alarms!.check();
    expect(raised.raised.some((r) => r.kind === 'drift' && r.key.startsWith(`drift:${MODEL}@2.0.0:`))).toBe(true);
    await until('the service to get the alarm', async () => service.handled.length, (n) => n >= 1, 60_000);
    const result = await service.handled[0]!;
    expect(result).toMatchObject({ model: MODEL, from: '2.0.0', version: '3.0.0', scope: { site: 'b' } });

    // v3's lineage names the export the service made: captured data, site b's labelled rows
    const { exports } = await datasets();
    expect(exports).toEqual([expect.objectContaining({ sha256: result.dataset.sha256, model: MODEL, version: '2.0.0' })]);
    const v3 = (await client.request<{ versions: Array<{ version: string; manifest: { lineage: { dataset?: { id?: string; sha256?: string } } } }> }>('GET', `/api/v1/models/${MODEL}`)).versions.find((v) => v.version === '3.0.0')!;
    expect(v3.manifest.lineage.dataset).toEqual({ id: `captured:${MODEL}@2.0.0`, sha256: result.dataset.sha256 });

    // the rollout targets site b; site b runs v3, site a stays on v2
    const rollout = await until('the v3 rollout to finish', () => client.rollout(result.rollout), (r) => ['completed', 'rolled-back', 'aborted', 'paused'].includes(r.status), 120_000);
    expect(rollout.status).toBe('completed');
    const siteB = fleet.devices.filter((d) => d.spec.tags?.site === 'b').map((d) => d.id);
    const siteA = fleet.devices.filter((d) => d.spec.tags?.site === 'a').map((d) => d.id);
    await fleet.waitForVersion('3.0.0', { ids: siteB, timeoutMs: 60_000 });
    const active = fleet.activeVersions();
    for (const id of siteA) expect(active[id]).toBe('2.0.0');

    // the same drifted streams, labelled, on v3: realized accuracy above v2's
    const after = await until('labels of v3 on site b', () => accuracyOn('3.0.0'), (a) => a.labelled >= 200, 120_000);
    lines.push(`site b accuracy: v2 ${before.p} (${before.labelled} labels) → v3 ${after.p} (${after.labelled} labels)`);
    console.log(lines.join('\n'));
    expect(after.p!).toBeGreaterThan(before.p!);
  }, 400_000);
});
