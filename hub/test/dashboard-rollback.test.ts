// The rollout page after a rollback, in real Chromium against a real hub and real agents (the fleet simulator):
// v1 everywhere, v2 through gated waves, then a v2.1 whose inferences fail on the devices (fault injection) is
// stopped by their probation and rolled back. The page says why, names the failed devices, says where the fleet
// went back to, offers nothing on the ended rollout — and the completed v2 rollout's waves keep their counts.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startHub, type Hub } from '@edgefleet/hub';
import { createSimulatedFleet, type SimulatedFleet } from '../../scripts/sim/fleet.js';
import { trainVibrationModels } from '../../scripts/sim/models.js';
import { sha256Of } from '../../scripts/sim/shared-runtime.js';
import { apiClient } from './helpers.js';
import { launchBrowser, screenshot, signIn, watch, type TestBrowser } from './dashboard-support.js';

const N = 4;
// one process hosts the hub and the agents: loose latency and drift limits (these gates are not what this test is
// about), and a wave without evidence passes at its soak's end
const CALM = { minSamples: 20, driftMinCount: 50, maxP95RegressionPct: 1000, minP95RegressionMs: 100, driftConfidence: 0.99999 };

type Wave = { index: number; devices: number; counts: Record<string, number>; ended: { how: string } | null; byOutcome: Record<string, string[]> };

describe('rollout page after a rollback', () => {
  let dir: string;
  let hub: Hub;
  let fleet: SimulatedFleet;
  let browser: TestBrowser;
  let api: ReturnType<typeof apiClient>;
  const get = async (id: string) => (await api.get(`/rollouts/${id}`)).body.rollout;
  const until = async (id: string, statuses: string[]) => {
    await expect.poll(async () => (await get(id)).status, { timeout: 90_000, interval: 200 }).toSatisfy((s: string) => statuses.includes(s));
    return get(id);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-dash-rollback-'));
    // short windows and probation: agents judge a new version within seconds (design §5)
    hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: null, rolloutTickMs: 100, telemetry: { windowSeconds: 1, probationSeconds: 20 } });
    api = apiClient(hub.urls.http, hub.adminToken);
    const { v1, v2, v21 } = trainVibrationModels();
    // the fault: every device fails 60 % of the inferences of v2.1's artifact, and only of that one
    const bad = sha256Of(v21.bytes);
    fleet = await createSimulatedFleet({
      hub: hub.urls.http,
      token: hub.adminToken,
      devices: N,
      rate: 10,
      flushSeconds: 1,
      dataDir: join(dir, 'fleet'),
      device: () => ({ faults: { errorRate: 0.6, onlyArtifacts: [bad] } }),
    });
    await fleet.hub.pushModel({ name: 'vibration', version: '1.0.0', file: v1.bytes, validation: v1.validation });
    await fleet.hub.pushModel({ name: 'vibration', version: '2.0.0', file: v2.bytes, validation: v2.validation });
    const pushed = await fleet.hub.pushModel({ name: 'vibration', version: '2.1.0', file: v21.bytes, validation: v21.validation });
    expect(pushed.sha256).toBe(bad);
    await fleet.hub.startRollout({ model: 'vibration', version: '1.0.0', targets: { all: true }, waves: [100], soak: 0 });
    await fleet.waitForVersion('1.0.0', { timeoutMs: 60_000 });
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await fleet?.close();
    await hub?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the rolled-back v2.1 with its cause, failed devices, the version the fleet returned to and no actions; v2’s waves keep their counts', async () => {
    const v2 = await fleet.hub.startRollout({
      model: 'vibration',
      version: '2.0.0',
      targets: { all: true },
      waves: [50, 100],
      soak: '2s',
      maxSoak: '2s',
      onNoEvidence: 'pass',
      gates: CALM,
    });
    const v2done = await until(v2.id, ['completed', 'paused', 'rolled-back']);
    expect(v2done.status, JSON.stringify(v2done.waves.map((w: { gates: unknown }) => w.gates))).toBe('completed');
    await fleet.waitForVersion('2.0.0', { timeoutMs: 60_000 });
    const frozen = (v2done.waves as Wave[]).map((w) => ({ index: w.index, devices: w.devices, counts: w.counts, ended: w.ended }));
    expect(frozen.map((w) => w.ended?.how)).toEqual(['passed', 'passed']);
    expect(frozen.reduce((n, w) => n + w.counts.converged!, 0)).toBe(N);

    // v2.1: the devices' probation sees the failing inferences and rolls each back; the wave fails on it
    const v21 = await fleet.hub.startRollout({ model: 'vibration', version: '2.1.0', targets: { all: true }, waves: [50, 100], soak: '1h', onFail: 'rollback', gates: CALM });
    const ended = await until(v21.id, ['rolled-back', 'paused', 'completed']);
    expect(ended.status).toBe('rolled-back');
    const wave1 = (ended.waves as Wave[])[0]!;
    expect(ended.waves).toHaveLength(1);
    // every device of the wave is back on 2.0.0 (probation first, the rollback's desired state after)
    await expect
      .poll(async () => (await get(v21.id)).returned?.running?.['2.0.0'] ?? 0, { timeout: 60_000, interval: 200 })
      .toBe(wave1.devices);
    await fleet.waitForVersion('2.0.0', { timeoutMs: 60_000 });
    const failedIds = wave1.byOutcome.failed!;
    expect(failedIds.length).toBeGreaterThan(0);

    const ctx = await browser.context(1400, 900);
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, hub.adminToken);
    await page.evaluate((id) => (location.hash = '#/rollout/' + id), v21.id);

    // what happened and why, first
    const outcome = page.locator('.card-outcome[data-status="rolled-back"]');
    await outcome.waitFor();
    await expect.poll(() => outcome.locator('h2').innerText()).toBe('Rolled back');
    expect(await outcome.locator('.outcome-reason').innerText()).toMatch(/wave 1 failed gates: device-failure-rate/);
    expect(await outcome.locator('.outcome-gates li[data-gate="device-failure-rate"]').innerText()).toMatch(/of \d+ devices? \(.*%\), limit ≤ 10 %/);
    expect(await outcome.locator('.outcome-causes').innerText()).toMatch(/failed with .*during probation/);
    await expect.poll(() => outcome.locator('.outcome-returned').innerText(), { timeout: 15_000 }).toMatch(/The fleet returned to 2\.0\.0\./);

    // the failed devices, each linked to its page with its cause
    const rows = page.locator('tr.failed-device');
    expect(await rows.count()).toBe(failedIds.length);
    for (const id of failedIds) {
      const row = page.locator(`tr.failed-device[data-device="${id}"]`);
      expect(await row.locator('a').getAttribute('href')).toBe('#/device/' + id);
      expect(await row.innerText()).toMatch(/error rate [\d.]+% over \d+ inferences exceeds 20\.0% during probation/);
    }

    // gate rows with units, visible detail
    const gate = page.locator('tr.gate[data-gate="device-failure-rate"]').first();
    expect(await gate.getAttribute('data-pass')).toBe('false');
    expect(await gate.locator('.gate-value').innerText()).toMatch(/^\d+ of \d+ devices? \([\d.]+ %\)$/);
    expect(await gate.locator('.gate-limit').innerText()).toBe('≤ 10 %');
    expect(await gate.locator('.gate-detail').innerText()).toMatch(/devices failed/);
    // the wave's counts are the frozen ones, said so
    expect(await page.locator('.wave[data-wave="0"] .wave-counts').innerText()).toMatch(/frozen when the wave ended, rolled-back/);

    // an ended rollout offers no action
    expect(await page.locator('.actions button').count()).toBe(0);
    await screenshot(page, 'rollback-01-rolled-back');

    // the completed v2 rollout: its waves' counts are those frozen when each ended, not the fleet's state now
    const after = (await get(v2.id)).waves as Wave[];
    expect(after.map((w) => ({ index: w.index, devices: w.devices, counts: w.counts, ended: w.ended }))).toEqual(frozen);
    await page.evaluate((id) => (location.hash = '#/rollout/' + id), v2.id);
    await page.locator('.card-outcome[data-status="completed"]').waitFor();
    const countsText = (p: Page, i: number) => p.locator(`.wave[data-wave="${i}"] .wave-counts`).innerText();
    for (const w of frozen) {
      const text = await countsText(page, w.index);
      expect(text).toContain(`${w.devices} device${w.devices === 1 ? '' : 's'}: ${w.counts.converged} converged`);
      expect(text).not.toMatch(/pending|failed/);
      expect(text).toMatch(/frozen when the wave ended, passed/);
    }
    expect(await page.locator('.actions button').count()).toBe(0);
    await screenshot(page, 'rollback-02-completed-v2');

    // the overview answers "did the last rollout go well?": v2.1 first, in red, with its reason and what runs now
    await page.evaluate(() => (location.hash = '#/'));
    const last = page.locator('.rollout').first();
    await expect.poll(() => last.getAttribute('data-rollout'), { timeout: 15_000 }).toBe(v21.id);
    expect(await last.getAttribute('data-status')).toBe('rolled-back');
    expect(await last.getAttribute('class')).toContain('rollout-bad');
    const reason = last.locator('.rollout-reason');
    expect(await reason.innerText()).toMatch(/^Rolled back: wave 1 failed gates: device-failure-rate.* — vibration now runs 2\.0\.0 \(\d+\)/);
    const [r, g] = (await reason.evaluate((e) => getComputedStyle(e).color)).match(/\d+/g)!.map(Number);
    expect(r).toBeGreaterThan(2 * g!); // red (--bad), not the green of a good outcome
    expect(await page.locator(`.rollout[data-rollout="${v2.id}"]`).getAttribute('class')).not.toContain('rollout-bad');
    // v1's all-at-once rollout is history once v2 followed: no "0 / 4 devices run 1.0.0" progress left on it
    await expect.poll(() => page.locator('.rollout').filter({ hasText: 'vibration@1.0.0' }).innerText()).not.toMatch(/devices run/);
    // v2's wave that passed on the no-evidence policy is a warning in the events, not a green routine line
    expect(await page.locator('li.event[data-kind="rollout.no-evidence"]').first().getAttribute('class')).toMatch(/\bwarn\b/);
    await screenshot(page, 'rollback-03-overview');

    expect(problems).toEqual([]);
    await ctx.close();
  }, 300_000);
});
