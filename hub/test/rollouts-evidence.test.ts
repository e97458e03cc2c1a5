// No verdict is not a pass (design §7), through a real hub, MQTT devices sending real telemetry windows, the CLI
// and Chromium: a wave whose error-rate gate has 92 of 100 inferences soaks on and says so everywhere, passes once
// the evidence arrives; a wave whose max soak runs out pauses, naming what was missing (audit, webhook, metric).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWindow, histogramAdd, type TelemetryWindow } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, endClient, startTestHub, tempDir, tinyModel } from './helpers.js';
import { launchBrowser, publishReported, publishTelemetry, registerDevices, reportedState, screenshot, signIn, watch, type FleetDevice } from './dashboard-support.js';
import { runCli, startReceiver, type Receiver } from './webhooks-support.js';

/** A window of `n` inferences of `version` that overlaps now (the wave's soak). */
function windowOf(version: string, n: number, seq: number): TelemetryWindow {
  const start = Date.now() - 20_000 + seq;
  const w = createWindow('tiny', version, 'active', start, start + 60_000);
  w.inferences = n;
  for (let i = 0; i < n; i++) histogramAdd(w.latencyMs, 4 + (i % 5));
  return w;
}

describe('a wave that lacks evidence', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof apiClient>;
  let receiver: Receiver;
  let devices: FleetDevice[];
  const versions: Record<string, { release: number; sha256: string }> = {};
  const get = async (id: string) => (await api.get(`/rollouts/${id}`)).body.rollout;
  const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 30_000, interval: 100 });
  const report = async (version: string, n: number) => {
    for (const [i, d] of devices.entries()) {
      await publishReported(d, reportedState(d.id, { tiny: { version, ...versions[version]! } }));
      if (n > 0) await publishTelemetry(d, [windowOf(version, n, d.telemetrySeq * 10 + i)]);
    }
  };

  beforeAll(async () => {
    dir = tempDir('edgefleet-evidence-');
    receiver = await startReceiver();
    hub = await startTestHub(dir.path, { ws: null, rolloutTickMs: 100, webhooks: [receiver.url], alarms: false });
    api = apiClient(hub.urls.http, hub.adminToken);
    for (const [v, seed] of [['1.0.0', 0], ['1.1.0', 1]] as const) {
      const res = await api.pushModel(tinyModel(seed), { name: 'tiny', version: v });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      versions[v] = { release: res.body.release, sha256: res.body.sha256 };
    }
    devices = await registerDevices(hub, [
      { id: 'cell-1', tags: { ring: 'e' }, online: true },
      { id: 'cell-2', tags: { ring: 'e' }, online: true },
    ]);
  });

  afterAll(async () => {
    await Promise.all((devices ?? []).map((d) => endClient(d.client)));
    await hub?.close();
    await receiver?.close();
    dir?.remove();
  });

  it('soaks on while the candidate has 92 of 100 inferences, says so in the API, `rollout show` and the rollout page, and passes once they arrive', async () => {
    const started = await api.post('/rollouts', { model: 'tiny', version: '1.1.0', targets: { tags: [{ ring: 'e' }] }, waves: [100], soak: '1s', maxSoak: '1h' });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const id = started.body.rollout.id as string;
    expect(started.body.rollout.plan).toMatchObject({ soakMs: 1000, maxSoakMs: 3_600_000, onNoEvidence: 'pause' });
    await report('1.1.0', 46);

    await poll(async () => (await get(id)).waitingFor).not.toBeNull();
    const waiting = await get(id);
    expect(waiting.status).toBe('soaking');
    expect(waiting.waitingFor.missing).toEqual([{ gate: 'error-rate', have: 92, need: 100, unit: 'inferences', text: '92 of 100 inferences' }]);
    const gate = waiting.waves[0].gates.find((g: { name: string }) => g.name === 'error-rate');
    expect(gate).toMatchObject({ pass: null, missing: { have: 92, need: 100, unit: 'inferences' }, text: { value: '92 of 100 inferences' } });

    const show = await runCli(['rollout', 'show', id], { EDGEFLEET_HUB: hub.urls.http, EDGEFLEET_TOKEN: hub.adminToken });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/wave 1 waiting for evidence: 92 of 100 inferences \(error-rate\); \d.* left of the max soak 1h, then pause/);
    expect(show.stdout).toMatch(/^error-rate\s+92 of 100 inferences\s+≤ 5 %\s+no verdict/m);
    expect(show.stdout).toMatch(/without evidence soak up to 1h, then pause/);

    const browser = await launchBrowser();
    try {
      const page = await (await browser.context(1400, 900)).newPage();
      const problems = watch(page);
      await signIn(page, hub.urls.http, hub.adminToken);
      await page.evaluate((rid) => (location.hash = '#/rollout/' + rid), id);
      const wait = page.locator('.card-outcome .evidence-wait');
      await wait.waitFor();
      expect(await wait.innerText()).toMatch(/^Waiting for evidence: 92 of 100 inferences \(error-rate\) · max soak: \d.* left, then pause$/);
      expect(await page.locator('.wave[data-wave="0"] .evidence-wait').count()).toBe(1);
      expect(await page.locator('tr.gate[data-gate="error-rate"] .gate-value').first().innerText()).toBe('92 of 100 inferences');
      expect(await page.locator('.facts').innerText()).toMatch(/gates without evidence\s+soak on up to 1 h, then pause/);
      await screenshot(page, 'evidence-01-waiting');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }

    // the missing 8 inferences (and more) arrive: the wave passes on the evidence
    await report('1.1.0', 5);
    await poll(async () => (await get(id)).status).toBe('completed');
    const done = await get(id);
    expect(done.waves[0].gates.find((g: { name: string }) => g.name === 'error-rate')).toMatchObject({ pass: true });
    expect(done.waitingFor).toBeNull();
    const actions = (await hub.services.ctx.store.listAudit()).filter((a) => a.details.includes(id)).map((a) => a.action);
    expect(actions).toContain('rollout.waiting-for-evidence');
    expect(actions).not.toContain('rollout.no-evidence');
  });

  it('pauses when the max soak runs out, naming the missing evidence in the reason, the audit log, a webhook and a metric; resume passes the wave', async () => {
    const started = await api.post('/rollouts', { model: 'tiny', version: '1.0.0', targets: { tags: [{ ring: 'e' }] }, waves: [100], soak: '1s', maxSoak: '2s' });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const id = started.body.rollout.id as string;
    await report('1.0.0', 5);

    await poll(async () => (await get(id)).status).toBe('paused');
    const paused = await get(id);
    expect(paused.waves[0].outcome).toBe('no-evidence');
    expect(paused.pausedReason).toMatch(/^wave 1 lacks evidence after the max soak of 2 s: error-rate 10 of 100 inferences/);
    const [hook] = await receiver.waitFor(1, 'rollout-no-evidence', 15_000);
    expect(hook!.body.payload).toMatchObject({ id, wave: 0, policy: 'pause', missing: expect.arrayContaining([expect.objectContaining({ gate: 'error-rate', have: 10, need: 100 })]) });
    const audit = (await hub.services.ctx.store.listAudit()).filter((a) => a.action === 'rollout.no-evidence' && a.details.includes(id));
    expect(audit).toHaveLength(1);
    expect(hub.metrics.get('edgefleet_rollout_no_evidence_total')).toBe(1);

    const resumed = await api.post(`/rollouts/${id}/resume`);
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    await poll(async () => (await get(id)).status).toBe('completed');
    expect((await get(id)).waves[0].outcome).toBe('overridden');
  });
});
