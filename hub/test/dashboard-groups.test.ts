// Health sliced by a device tag, against a real hub and MQTT devices in real Chromium: site b's devices see
// drifted inputs, site a's do not, and the drift is found by grouping by `site` — in the API (the same
// numbers as a tag filter), the CLI, the overview, the device table and the model page; the overview's
// events fold routine ones and filter by severity; at 390 px no key cell of the health table is clipped.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { topics, type Reference } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { apiClient, endClient, startTestHub, tempDir, tinyModel, waitFor } from './helpers.js';
import {
  buildWindow,
  launchBrowser,
  publishReported,
  publishTelemetry,
  registerDevices,
  reportedState,
  screenshot,
  signIn,
  tinyValidation,
  watch,
  type FleetDevice,
  type TestBrowser,
} from './dashboard-support.js';
import { runCli } from './webhooks-support.js';

const MINUTE = 60_000;
const cli = runCli;

describe('health grouped by tag', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let admin: ReturnType<typeof apiClient>;
  let browser: TestBrowser;
  let fleet: FleetDevice[] = [];
  let drifted = '';

  beforeAll(async () => {
    dir = tempDir('edgefleet-groups-');
    hub = await startTestHub(dir.path);
    admin = apiClient(hub.urls.http, hub.adminToken);
    const res = await admin.pushModel(tinyModel(0), { name: 'tiny', version: '1.0.0', validation: tinyValidation(600), labels: JSON.stringify(['normal', 'fault']) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const version = { release: res.body.release as number, sha256: res.body.sha256 as string };
    const reference = res.body.manifest.reference as Reference;
    drifted = reference.features[1]!.name;

    fleet = await registerDevices(
      hub,
      ['a-1', 'a-2', 'a-3', 'b-1', 'b-2', 'b-3'].map((id) => ({ id, tags: { site: id[0]!, hw: 'rpi4' }, online: true })),
    );
    const now = Date.now();
    for (const [i, d] of fleet.entries()) {
      await publishReported(d, reportedState(d.id, { tiny: { version: '1.0.0', ...version } }));
      const windows = [];
      for (let m = 6; m >= 1; m--) {
        windows.push(
          buildWindow(reference, {
            model: 'tiny',
            version: '1.0.0',
            start: Math.floor((now - m * MINUTE) / MINUTE) * MINUTE,
            inferences: 200,
            latencyMs: 6,
            errors: d.tags.site === 'b' && m % 2 === 0 ? 3 : 0,
            labelled: 50,
            // site b's sensors read shifted values on one feature: drift there, and only there
            shift: d.tags.site === 'b' ? { [drifted]: 1.5 } : {},
            seed: i * 100 + m,
          }),
        );
      }
      await publishTelemetry(d, windows);
      // routine events: two activations per device (12 in all), to be folded into one line
      for (const k of [1, 2]) {
        await d.client!.publishAsync(
          topics.events(d.id),
          JSON.stringify({ type: 'activated', model: 'tiny', version: '1.0.0', message: `activated tiny@1.0.0 (${k})`, at: new Date(now - k * 1000).toISOString() }),
          { qos: 1 },
        );
      }
    }
    await waitFor(async () => {
      await hub.flush();
      const s = (await admin.get('/fleet/status')).body;
      const ov = (await admin.get('/health/overview')).body;
      return s.devices.online === 6 && s.health.length === 1 && ov.events.length >= 12 && ov.alarms.length > 0;
    }, 'fleet reported');
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(fleet.map((d) => endClient(d.client)));
    await hub?.close();
    dir?.remove();
  });

  const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 15_000, interval: 150 });

  it('finds the drifted site through GET /health/groups, with the numbers of a tag filter', async () => {
    const g = await admin.get('/health/groups?model=tiny&version=1.0.0&by=site');
    expect(g.status, JSON.stringify(g.body)).toBe(200);
    expect(g.body.groups.map((x: { value: string }) => x.value)).toEqual(['a', 'b']);
    const [a, b] = g.body.groups;
    expect(b.drift.drifted).toBeGreaterThan(0);
    expect(b.drift.worst.feature).toBe(drifted);
    expect(b.drift.text.startsWith(`${drifted} drifted `), b.drift.text).toBe(true);
    expect(b.drift.text.slice(drifted.length)).toMatch(new RegExp(`^ drifted \\(PSI [0-9.]+ > [0-9.]+\\), ${b.drift.drifted} of 3 features$`));
    expect(a.drift.drifted).toBe(0);
    expect(a.drift.text).toMatch(/^stable/);
    // each group is what /health says of that tag value: one merge, one set of statistics
    for (const x of g.body.groups) {
      const h = (await admin.get(`/health?model=tiny&version=1.0.0&tag=site=${x.value}`)).body;
      expect([x.devices, x.inferences, x.errors, x.latencyMs.p95, x.accuracy.p]).toEqual([h.totals.devices, h.totals.inferences, h.totals.errors, h.totals.latencyMs.p95, h.accuracy.p]);
      expect(x.drift.drifted).toBe(h.drift.filter((d: { verdict: string }) => d.verdict === 'drift').length);
    }
    expect(b.errors).toBeGreaterThan(0);
    expect(a.errors).toBe(0);
    // per device, and the tag index the dashboard offers to group by
    const per = (await admin.get('/health/groups?model=tiny&version=1.0.0&perDevice=true')).body.groups;
    expect(per.filter((x: { drift: { drifted: number } }) => x.drift.drifted > 0).map((x: { value: string }) => x.value)).toEqual(['b-1', 'b-2', 'b-3']);
    const tags = (await admin.get('/tags')).body.tags;
    expect(tags).toEqual([
      { key: 'hw', values: [{ value: 'rpi4', devices: 6 }] },
      { key: 'site', values: [{ value: 'a', devices: 3 }, { value: 'b', devices: 3 }] },
    ]);
    expect((await admin.get('/health/groups?model=tiny&version=1.0.0&by=site&perDevice=true')).status).toBe(400);
    expect((await admin.get('/health/groups?model=tiny&version=9.9.9&by=site')).status).toBe(404);
  });

  it('prints the same groups from `edgefleet fleet health NAME@V --by site`', async () => {
    const env = { EDGEFLEET_HUB: hub.urls.http, EDGEFLEET_TOKEN: hub.adminToken };
    const text = await cli(['fleet', 'health', 'tiny@1.0.0', '--by', 'site'], env);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[1]).toMatch(/^SITE +DEVICES +INFERENCES +ERROR RATE +P95 MS +ACCURACY +DRIFT$/);
    expect(lines.find((l) => l.startsWith('a '))).toMatch(/ stable \(features\[\d\] PSI [0-9.]+ ≤ [0-9.]+\)$/);
    expect(lines.find((l) => l.startsWith('b '))).toContain(`${drifted} drifted (PSI`);
    const yaml = await cli(['fleet', 'health', 'tiny@1.0.0', '--by', 'site', '-o', 'yaml'], env);
    expect(yaml.code, yaml.stderr).toBe(0);
    expect(yaml.stdout).toMatch(/^model: tiny\n/);
    expect((await cli(['fleet', 'health', 'tiny@1.0.0', '--by', 'site', '--device', 'a-1'], env)).code).toBe(2);
  });

  /** The group rows shown under `scope`, as [tag value, drifted features]. */
  const groupRows = (page: Page, scope: string) =>
    page.locator(`${scope} tr.group-row`).evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-group'), Number(r.getAttribute('data-drifted'))]));

  it('shows site b drifted and site a not when the overview, device table and model page group by site', async () => {
    const ctx = await browser.context(1400, 900);
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, hub.adminToken);

    // the overview's health table has a drift column naming the feature
    const health = page.locator('.card-health table.health tbody tr').first();
    await poll(() => health.locator('td[data-label="drift"]').innerText()).toContain(`${drifted} drifted`);
    await page.locator('.card-health select.group-by').selectOption('site');
    await poll(() => groupRows(page, '.card-health')).toEqual([['a', 0], ['b', 1]]);
    expect(await page.locator('.card-health tr.group-row[data-group="b"] td[data-label="drift"]').innerText()).toContain(`${drifted} drifted (PSI`);
    await screenshot(page, 'groups-overview-1400');

    // the device table: the same choice (one session), a drift cell per device
    await page.goto(`${hub.urls.http}/#/devices`);
    await poll(() => groupRows(page, '.card-device-table')).toEqual([['a', 0], ['b', 1]]);
    expect(await page.locator('.card-device-table select.group-by').inputValue()).toBe('site');
    await poll(() => page.locator('tr[data-device="b-2"] td.drift').innerText()).toContain(`${drifted} drifted`);
    await poll(() => page.locator('tr[data-device="a-2"] td.drift').innerText()).toMatch(/^stable/);
    await screenshot(page, 'groups-devices-1400');

    // the model page: each compared version's column with its groups; grouping by another tag regroups
    await page.goto(`${hub.urls.http}/#/model/tiny`);
    await poll(() => groupRows(page, '.version-col[data-version="1.0.0"]')).toEqual([['a', 0], ['b', 1]]);
    await page.locator('.card-lineage select.group-by').selectOption('hw');
    await poll(() => groupRows(page, '.version-col[data-version="1.0.0"]')).toEqual([['rpi4', 1]]);
    await page.locator('.card-lineage select.group-by').selectOption('');
    await poll(() => page.locator('.version-col .groups').count()).toBe(0);
    await screenshot(page, 'groups-model-1400');
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it('folds routine events into one line, keeps the drift alarm in view, and filters by severity', async () => {
    const ctx = await browser.context(1400, 900);
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, hub.adminToken);
    const events = page.locator('.card-events');
    await poll(() => events.locator('li.event-group[data-kind="activated"]').getAttribute('data-count')).toBe('12');
    expect(await events.locator('li.event-group[data-kind="activated"] .badge').innerText()).toBe('12 × activated');
    expect(await events.locator('li.event[data-kind="activated"]').count()).toBe(1);
    expect(await events.locator('li.event[data-kind="drift alarm"]').first().innerText()).toContain(drifted);

    await events.locator('button[data-severity="bad"]').click();
    await poll(() => page.locator('.card-events li.event').evaluateAll((li) => li.map((x) => x.classList.contains('bad')))).not.toContain(false);
    expect(await page.locator('.card-events li.event[data-kind="drift alarm"]').count()).toBeGreaterThan(0);
    expect(await page.locator('.card-events button[data-severity="bad"]').getAttribute('aria-pressed')).toBe('true');
    // the choice survives the page's refreshes
    await page.waitForTimeout(2500);
    expect(await page.locator('.card-events li.event[data-kind="activated"]').count()).toBe(0);
    await page.locator('.card-events button[data-severity="all"]').click();
    await poll(() => page.locator('.card-events li.event[data-kind="activated"]').count()).toBe(1);
    await screenshot(page, 'groups-events-1400');
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it('keeps every key cell of the health table and its groups inside a 390 px wide screen', async () => {
    const ctx = await browser.context(390, 844);
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, hub.adminToken);
    await page.locator('.card-health select.group-by').selectOption('site');
    await poll(() => groupRows(page, '.card-health')).toEqual([['a', 0], ['b', 1]]);
    const cells = ['model version', 'error rate', 'p95 latency', 'drift'].map((l) => `.card-health table.health td[data-label="${l}"]`);
    cells.push(...['site', 'error rate', 'p95 latency', 'drift'].map((l) => `.card-health table.groups td[data-label="${l}"]`));
    for (const sel of cells) {
      const boxes = await page.locator(sel).evaluateAll((els) => els.map((e) => ({ text: (e as HTMLElement).innerText, ...e.getBoundingClientRect().toJSON() })));
      expect(boxes.length, sel).toBeGreaterThan(0);
      for (const b of boxes) {
        expect(b.width, `${sel} ${b.text}`).toBeGreaterThan(0);
        expect(b.left, `${sel} ${b.text}`).toBeGreaterThanOrEqual(0);
        expect(b.right, `${sel} ${b.text}`).toBeLessThanOrEqual(390);
      }
      // and the text inside is not cut: nothing overflows its cell
      const clipped = await page.locator(sel).evaluateAll((els) => els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => (e as HTMLElement).innerText));
      expect(clipped, sel).toEqual([]);
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, 'groups-overview-390');
    expect(problems).toEqual([]);
    await ctx.close();
  });
});
