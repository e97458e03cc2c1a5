// A drift alarm that says where and how much it matters (design §6, §7): three MQTT devices on two sites
// publish real telemetry windows to a real hub, site b's drifted; the signed webhook, the audit row and the
// overview all carry "site b: <feature> PSI x > y (tiny@1.0.0); <feature> carries n % of this model's importance".
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest, Reference } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, endClient, hubDb, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';
import { buildWindow, launchBrowser, publishTelemetry, registerDevices, screenshot, signIn, tinyValidation, watch, type FleetDevice, type TestBrowser } from './dashboard-support.js';
import { signatureValid, startReceiver, type Receiver } from './webhooks-support.js';

const MINUTE = 60_000;
const SECRET = 'drift-alarm-test-secret';

describe('drift alarm message and details', () => {
  let dir: ReturnType<typeof tempDir>;
  let hub: Hub;
  let receiver: Receiver;
  let manifest: Manifest;
  let reference: Reference;
  let devices: FleetDevice[];
  let browser: TestBrowser | undefined;
  let message = '';
  const clock = Date.now();
  const api = () => apiClient(hub.urls.http, hub.adminToken);

  const publish = async (d: FleetDevice, shift: Record<string, number>, seed: number, version = '1.0.0') => {
    const windows = [4, 2].map((m, i) =>
      buildWindow(reference, { model: 'tiny', version, start: Math.floor((clock - m * MINUTE) / MINUTE) * MINUTE, inferences: 300, latencyMs: 5, shift, seed: seed + i }),
    );
    const before = d.telemetrySeq;
    await publishTelemetry(d, windows);
    const db = hubDb(hub);
    await waitFor(async () => {
      await hub.flush();
      return db.prepare<[string, number], { n: number }>('SELECT COUNT(*) AS n FROM telemetry_batches WHERE device_id = ? AND seq > ?').get(d.id, before)!.n > 0;
    }, `telemetry of ${d.id} committed`);
  };

  beforeAll(async () => {
    dir = tempDir('edgefleet-drift-alarm-');
    receiver = await startReceiver();
    hub = await startTestHub(join(dir.path, 'data'), {
      ws: null,
      now: () => new Date(clock),
      webhooks: [receiver.url],
      webhookSecret: SECRET,
      alarms: { intervalMs: 3_600_000, windowMs: 10 * MINUTE, silentMs: 24 * 60 * MINUTE },
    });
    const res = await api().pushModel(tinyModel(0), { name: 'tiny', version: '1.0.0', validation: tinyValidation(400) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    manifest = res.body.manifest;
    reference = manifest.reference!;
    devices = await registerDevices(hub, [
      { id: 'pump-a1', tags: { site: 'a' }, online: true },
      { id: 'pump-a2', tags: { site: 'a' }, online: true },
      { id: 'pump-b1', tags: { site: 'b' }, online: true },
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    for (const d of devices ?? []) await endClient(d.client);
    await hub?.close();
    await receiver?.close();
    dir.remove();
  });

  it('names the drifted site, the feature, PSI against its threshold and the feature’s importance share', async () => {
    const importance = manifest.lineage.importance!;
    expect(importance.features.map((f) => f.name)).toEqual(reference.features.map((f) => f.name));
    // drift the feature the model relies on most, on site b only
    const top = importance.features.reduce((a, b) => (b.share > a.share ? b : a));
    await publish(devices[0]!, {}, 10);
    await publish(devices[1]!, {}, 20);
    await publish(devices[2]!, { [top.name]: 1.5 }, 30);

    const res = await hub.services.alarms!.check();
    expect(res.raised).toEqual([{ kind: 'drift', key: `drift:tiny@1.0.0:${top.name}` }]);
    const [got] = await receiver.waitFor(1, 'drift-alarm');
    expect(signatureValid(SECRET, got!.raw, got!.headers['x-edgefleet-signature'])).toBe(true);
    const p = got!.body.payload;
    expect(p).toMatchObject({ model: 'tiny', version: '1.0.0', feature: top.name, statistic: 'PSI', scope: { site: 'b' }, importanceShare: top.share, n: 1800 });
    expect(p.value).toBeGreaterThan(p.threshold);
    // within site b alone (600 values) the shift is larger than in the version's 1 800
    expect(p.value).toBeGreaterThan(p.psi);
    expect(p.from).toBe(new Date(clock - 10 * MINUTE).toISOString());
    expect(p.to).toBe(new Date(clock).toISOString());
    const percent = Math.round(top.share * 100);
    expect(p.message).toBe(
      `site b: ${top.name} PSI ${p.value.toPrecision(2)} > ${p.threshold.toPrecision(2)} (tiny@1.0.0); ${top.name} carries ${percent} % of this model's importance`,
    );

    // the audit row and the overview say the same, the overview with the time the alarm was raised
    const audit = (await hub.services.ctx.store.listAudit()).filter((a) => a.action === 'alarm.drift');
    expect(JSON.parse(audit[0]!.details).message).toBe(p.message);
    const ov = await api().get('/health/overview?minutes=10');
    expect(ov.status).toBe(200);
    const shown = ov.body.alarms.find((a: any) => a.feature === top.name);
    expect(shown).toMatchObject({ message: p.message, raisedAt: new Date(clock).toISOString() });
    message = p.message;
  });

  it('names the rollout’s tag group when the drifted version runs only there', async () => {
    const pushed = await api().pushModel(tinyModel(1), { name: 'tiny', version: '1.1.0', validation: tinyValidation(400) });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
    const started = await api().post('/rollouts', { model: 'tiny', version: '1.1.0', targets: { tags: [{ site: 'b' }] } });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const feature = reference.features[2]!.name;
    // only site b reports 1.1.0: no stable sibling group to compare with, the rollout says where it runs
    await publish(devices[2]!, { [feature]: 1.5 }, 40, '1.1.0');
    const before = (await receiver.waitFor(1, 'drift-alarm')).length;
    const res = await hub.services.alarms!.check();
    expect(res.raised).toEqual([{ kind: 'drift', key: `drift:tiny@1.1.0:${feature}` }]);
    const got = await receiver.waitFor(before + 1, 'drift-alarm');
    const p = got[got.length - 1]!.body.payload;
    expect(p).toMatchObject({ version: '1.1.0', feature, scope: { site: 'b' }, value: p.psi, threshold: p.critical, n: 600 });
    expect(p.message).toMatch(new RegExp(`^site b: ${feature.replace(/[[\]]/g, '\\$&')} PSI [0-9.]+ > [0-9.]+ \\(tiny@1\\.1\\.0\\)`));
  });

  it('shows the alarm sentence with its time on the overview, and the importance bars on the model page (Chromium)', async () => {
    expect(message).not.toBe('');
    browser = await launchBrowser();
    const ctx = await browser.context(1400, 900);
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, hub.adminToken);
    const alarm = page.locator('.card-events li.event', { hasText: message }).first();
    await alarm.waitFor();
    const text = (await alarm.textContent()) ?? '';
    expect(text).toContain(message);
    // the time it was raised, as the page's clock shows times
    const raisedShown = await page.evaluate((iso) => new Date(iso).toLocaleString(), new Date(clock).toISOString());
    expect(text).toContain(raisedShown);
    await screenshot(page, 'drift-alarm-overview');

    await page.goto(`${hub.urls.http}/#/model/tiny`);
    const rows = page.locator('.card-importance .importance[data-version="1.0.0"] .importance-row');
    await rows.first().waitFor();
    const shares = manifest.lineage.importance!.features.slice().sort((a, b) => b.share - a.share);
    expect(await rows.count()).toBe(shares.length);
    // largest first, each "feature — bar — share %"
    for (const [i, f] of shares.entries()) {
      const row = rows.nth(i);
      expect(await row.getAttribute('data-feature')).toBe(f.name);
      expect(await row.locator('.share').textContent()).toBe(`${(f.share * 100).toFixed(0)} %`);
    }
    const width = await rows.first().locator('.fill').evaluate((e) => (e as HTMLElement).style.width);
    expect(parseFloat(width)).toBeCloseTo(shares[0]!.share * 100, 1);
    await screenshot(page, 'model-importance');
    expect(problems).toEqual([]);
    await ctx.close();
  });
});
