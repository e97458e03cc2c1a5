// The fleet health dashboard in real Chromium against a real hub with a small fleet of MQTT
// devices publishing real status, reported state, events and telemetry windows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { topics, type Reference } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { createAgent, type Agent } from '@edgefleet/agent';
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

const MINUTE = 60_000;

describe('dashboard', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let admin: ReturnType<typeof apiClient>;
  let browser: TestBrowser;
  let fleet: FleetDevice[];
  let operatorToken: string;
  let viewerToken: string;
  let rolloutId: string;
  let agent: Agent | undefined;
  let agentConfig: Parameters<typeof createAgent>[0];
  const versions: Record<string, { release: number; sha256: string }> = {};

  beforeAll(async () => {
    dir = tempDir('edgefleet-dashboard-');
    hub = await startTestHub(dir.path);
    admin = apiClient(hub.urls.http, hub.adminToken);
    operatorToken = (await admin.post('/tokens', { role: 'operator', name: 'ops' })).body.token;
    viewerToken = (await admin.post('/tokens', { role: 'viewer', name: 'wall screen' })).body.token;

    let reference: Reference | undefined;
    for (const [version, seed] of [['1.0.0', 0], ['1.1.0', 1]] as const) {
      const res = await admin.pushModel(tinyModel(seed), {
        name: 'tiny',
        version,
        validation: tinyValidation(600),
        labels: JSON.stringify(['normal', 'fault']),
        dataset: 'bench-rig-2026-11',
        run: `run-${version}`,
        commit: 'c0ffee1234567890',
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      versions[version] = { release: res.body.release, sha256: res.body.sha256 };
      reference = res.body.manifest.reference;
    }
    expect(reference?.features.length).toBe(3);

    // 5 connected devices on two lines, 2 registered that never connected, 1 of them silent for an hour
    fleet = await registerDevices(hub, [
      { id: 'press-01', tags: { line: 'a', site: 'lyon' }, online: true },
      { id: 'press-02', tags: { line: 'a', site: 'lyon' }, online: true },
      { id: 'press-03', tags: { line: 'b', site: 'lyon' }, online: true },
      { id: 'press-04', tags: { line: 'b', site: 'turin' }, online: true },
      { id: 'press-05', tags: { line: 'b', site: 'turin' }, online: true },
      { id: 'spare-01', tags: { line: 'b', site: 'turin' }, online: false },
      { id: 'spare-02', tags: { line: 'c', site: 'turin' }, online: false },
    ]);
    await hub.services.ctx.store.setDeviceStatus('spare-02', 'offline', new Date(Date.now() - 3_600_000).toISOString());
    // and a real agent, started while the dashboard watches (it joins line b, the rollout's target)
    const added = await admin.post('/devices', { id: 'agent-01', tags: { line: 'b', site: 'nice' } });
    expect(added.status).toBe(201);
    agentConfig = added.body.agentConfig;

    const runs = (d: FleetDevice) => (['press-03'].includes(d.id) ? '1.1.0' : '1.0.0');
    const now = Date.now();
    for (const [i, d] of fleet.entries()) {
      if (!d.client) continue;
      const v = runs(d);
      await publishReported(d, reportedState(d.id, { tiny: { version: v, ...versions[v]! } }));
      const windows = [];
      for (let m = 8; m >= 1; m--) {
        windows.push(
          buildWindow(reference!, {
            model: 'tiny',
            version: v,
            start: Math.floor((now - m * MINUTE) / MINUTE) * MINUTE,
            inferences: 150,
            latencyMs: v === '1.1.0' ? 9 : 6 + i,
            errors: m % 3 === 0 ? 2 : 0,
            labelled: 40,
            // 1.1.0 sees shifted sensor data on its second feature: drift
            shift: v === '1.1.0' ? { [reference!.features[1]!.name]: 1.2 } : {},
            seed: i * 100 + m,
          }),
        );
      }
      await publishTelemetry(d, windows);
    }
    await fleet[2]!.client!.publishAsync(
      topics.events('press-03'),
      JSON.stringify({ type: 'verification-failed', model: 'tiny', version: '1.1.0', code: 'BAD_SIGNATURE', message: 'manifest signature did not verify', at: new Date().toISOString() }),
      { qos: 1 },
    );
    await waitFor(async () => {
      await hub.flush();
      const s = (await admin.get('/fleet/status')).body;
      return s.devices.online === 5 && s.versions.length === 2 && s.health.length === 2;
    }, 'fleet reported');

    // all at once (`--waves 100 --soak 0`): the overview's progress is the devices that report it active
    const ro = await admin.post('/rollouts', { model: 'tiny', version: '1.1.0', targets: { tags: [{ line: 'b' }] }, waves: [100], soak: 0 });
    expect(ro.status, JSON.stringify(ro.body)).toBe(201);
    rolloutId = ro.body.rollout.id;

    browser = await launchBrowser();
  });

  afterAll(async () => {
    await agent?.stop();
    await browser?.close();
    await Promise.all((fleet ?? []).map((d) => endClient(d.client)));
    await hub?.close();
    dir?.remove();
  });

  const text = (page: Page, sel: string) => page.locator(sel).first().innerText();
  const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 10_000, interval: 100 });

  it('signs in with a token kept out of URLs and shows the true fleet counts, updating live as a rollout progresses', async () => {
    const ctx = await browser.context();
    const page = await ctx.newPage();
    const problems = watch(page);
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    await signIn(page, hub.urls.http, operatorToken);

    const overview = (await admin.get('/health/overview')).body;
    const status = (await admin.get('/fleet/status')).body;
    expect(overview.devices).toMatchObject({ total: 8, online: 5, offline: 3, silent: 1 });
    for (const [key, want] of [['online', status.devices.online], ['offline', status.devices.offline], ['silent', overview.devices.silent], ['total', status.devices.total]]) {
      await poll(() => text(page, `[data-count="${key}"] .num`)).toBe(String(want));
    }
    // versions in use per model, and the recent verification failure
    await poll(() => text(page, '.model-versions[data-model="tiny"] [data-version="1.0.0"] .progress-text')).toBe('4 devices');
    await poll(() => text(page, '.card-events')).toContain('manifest signature did not verify');

    // the rollout to line b: 1 of its 5 targets runs 1.1.0; two more converge while we watch
    const bar = page.locator(`.card-rollouts [data-rollout="${rolloutId}"] .progress`).first();
    await poll(() => bar.getAttribute('data-done')).toBe('1');
    expect(await bar.getAttribute('data-total')).toBe('5');
    await screenshot(page, '01-overview');
    const press04 = fleet.find((d) => d.id === 'press-04')!;
    await publishReported(press04, reportedState('press-04', { tiny: { version: '1.1.0', ...versions['1.1.0']! } }));
    await poll(() => bar.getAttribute('data-done')).toBe('2');
    expect(await text(page, `.card-rollouts [data-rollout="${rolloutId}"] .progress-text`)).toContain('2 / 5');
    // a real agent comes online, fetches, verifies, self-tests and activates 1.1.0: the page follows
    agent = createAgent(agentConfig, {
      dataDir: `${dir.path}/agent-01`,
      api: false,
      core: { retry: { baseMs: 100, maxMs: 1000 }, download: { timeoutMs: 1000 } },
      reconnect: { initialMs: 50, maxMs: 500 },
    });
    await agent.start();
    await poll(() => text(page, '[data-count="online"] .num')).toBe('6');
    await expect.poll(() => bar.getAttribute('data-done'), { timeout: 30_000, interval: 200 }).toBe('3');
    expect((await admin.get('/devices/agent-01')).body.device.reported.models.tiny.active.version).toBe('1.1.0');
    await screenshot(page, '01b-overview-after-agent');

    // the silent count links to exactly those devices
    await page.click('[data-count="silent"]');
    await page.waitForSelector('table.devices[data-query^="silentMinutes=15&"]');
    expect(await page.locator('table.devices tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-device')))).toEqual(['spare-02']);

    expect(urls.filter((u) => u.includes(operatorToken))).toEqual([]);
    expect(page.url()).not.toContain(operatorToken);
    expect(await page.evaluate(() => document.cookie)).toBe('');
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it('renders every chart from real telemetry with axis labels, marks the drifted feature, and lists lineage', async () => {
    const ctx = await browser.context();
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, viewerToken);
    await page.evaluate(() => (location.hash = '#/model/tiny?v=1.0.0&v=1.1.0'));
    await page.waitForSelector('.version-col[data-version="1.1.0"] table.drift');

    const api = (await admin.get('/health?model=tiny&version=1.1.0')).body;
    const drifted = api.drift.filter((d: { verdict: string }) => d.verdict === 'drift').map((d: { feature: string }) => d.feature);
    expect(drifted.length).toBe(1);
    const col = (v: string) => page.locator(`.version-col[data-version="${v}"]`);
    const row = col('1.1.0').locator(`tr.drift-row[data-feature="${drifted[0]}"]`);
    expect(await row.getAttribute('data-verdict')).toBe('drift');
    expect(await row.locator('.verdict-drift').innerText()).toBe('drifted');
    expect(await col('1.0.0').locator('.verdict-drift').count()).toBe(0);

    for (const v of ['1.0.0', '1.1.0']) {
      const titles = await col(v).locator('figcaption').allInnerTexts();
      expect(titles).toEqual([
        'Latency',
        'Error rate',
        'Drift per feature over time',
        'Drift per feature, whole range',
        'Prediction mix vs reference',
        'Accuracy (labelled feedback)',
        'Shadow agreement',
      ]);
      // every chart with data has a non-empty plot; shadow has none in this fleet and says so
      const plots = await col(v).locator('svg.chart').evaluateAll((svgs) =>
        svgs.map((s) => ({
          points: Number(s.querySelector('.plot')?.getAttribute('data-points') ?? 0),
          marks: s.querySelectorAll('.plot path.series, .plot rect.bar').length,
          drawn: [...s.querySelectorAll('.plot path.series')].every((p) => (p.getAttribute('d') ?? '').length > 10),
          yLabel: s.querySelector('.axis-label-y')?.textContent ?? '',
          xLabel: s.querySelector('.axis-label-x')?.textContent ?? '',
          ticks: s.querySelectorAll('.axis-y .tick').length,
          thresholds: s.querySelectorAll('.threshold').length,
        })),
      );
      expect(plots).toHaveLength(7);
      for (const p of plots.slice(0, 6)) {
        expect(p.points).toBeGreaterThan(0);
        expect(p.marks).toBeGreaterThan(0);
        expect(p.drawn).toBe(true);
        expect(p.yLabel).toMatch(/\(.+\)/); // a unit on every y axis
        expect(p.xLabel).not.toBe('');
        expect(p.ticks).toBeGreaterThan(1);
      }
      expect(plots.map((p) => p.yLabel)).toEqual(['latency (ms)', 'error rate (%)', 'PSI (unitless)', 'PSI (unitless)', 'share of predictions (%)', 'accuracy (%)', 'agreement (%)']);
      expect(plots[2]!.thresholds).toBeGreaterThan(0); // the drift threshold is drawn
      expect(plots[3]!.thresholds).toBeGreaterThan(0);
      expect(plots[6]!.points).toBe(0);
    }
    const lineage = await page.locator('table.lineage tr[data-version="1.1.0"]').innerText();
    expect(lineage).toContain('bench-rig-2026-11');
    expect(lineage).toContain('run-1.1.0');
    expect(lineage).toContain('c0ffee123456');
    await screenshot(page, '04-model-versions');

    await page.evaluate(() => (location.hash = '#/models'));
    await page.waitForSelector('.card-models tbody tr a');
    await screenshot(page, '03-models');
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it('filters the device table on the server and shows a device page with its own charts', async () => {
    const ctx = await browser.context();
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, viewerToken);
    await page.evaluate(() => (location.hash = '#/devices'));
    await page.waitForSelector('table.devices[data-total="8"]');
    await page.fill('input[name="tag"]', 'site=turin');
    await page.selectOption('select[name="online"]', 'true');
    await page.waitForSelector('table.devices[data-query*="online=true"][data-query*="tag=site"]');
    const shown = await page.locator('table.devices tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-device')));
    const api = (await admin.get('/devices?tag=site=turin&online=true&limit=50')).body;
    expect(shown).toEqual(api.devices.map((d: { id: string }) => d.id));
    expect(shown).toEqual(['press-04', 'press-05']);
    await screenshot(page, '02-devices');
    // the old unpaged shape still answers callers that do not page
    const plain = (await admin.get('/devices')).body;
    expect(plain.devices).toHaveLength(8);
    expect(plain.total).toBeUndefined();

    await page.click('table.devices a[href="#/device/press-05"]');
    await page.waitForSelector('.card-device-health svg.chart');
    expect(await text(page, '.card-device')).toContain('site=turin');
    expect(await text(page, '.card-reported')).toContain('tiny');
    expect(await page.locator('.card-enrol').count()).toBe(0); // a viewer is offered no enrolment link
    const plots = await page.locator('.card-device-health svg.chart .plot').evaluateAll((gs) => gs.map((g) => Number(g.getAttribute('data-points'))));
    expect(plots.length).toBeGreaterThanOrEqual(3);
    expect(plots.slice(0, 2).every((n) => n > 0)).toBe(true);
    await screenshot(page, '05-device');

    await page.evaluate(() => (location.hash = '#/device/press-03'));
    await poll(() => text(page, '.card-device-events')).toContain('verification-failed');
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it('hides rollout actions from a viewer, whose pause the API refuses, and shows them to an operator', async () => {
    const ctx = await browser.context();
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, viewerToken);
    await page.evaluate(() => (location.hash = '#/rollouts'));
    await page.waitForSelector(`table.rollouts tr[data-rollout="${rolloutId}"]`);
    await screenshot(page, '06-rollouts');
    await page.click(`table.rollouts a[href="#/rollout/${rolloutId}"]`);
    await page.waitForSelector('.card-rollout');
    expect(await page.locator('.action-pause, .action-abort, .action-resume, .action-promote').count()).toBe(0);
    await screenshot(page, '07-rollout-viewer');
    const refused = await apiClient(hub.urls.http, viewerToken).post(`/rollouts/${rolloutId}/pause`);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    expect(problems).toEqual([]);
    await ctx.close();

    const ops = await browser.context();
    const opsPage = await ops.newPage();
    const opsProblems = watch(opsPage);
    await signIn(opsPage, hub.urls.http, operatorToken);
    await opsPage.evaluate((id) => (location.hash = `#/rollout/${id}`), rolloutId);
    // an all-at-once rollout is issued at once ('completed'): no action means something there any more
    await opsPage.waitForSelector('.card-outcome[data-status="completed"]');
    expect(await opsPage.locator('.actions button').count()).toBe(0);
    await screenshot(opsPage, '08-rollout-operator');
    expect(opsProblems).toEqual([]);
    await ops.close();
  });

  it('health API merges telemetry per version, device and tag group, and refuses bad queries', async () => {
    const get = async (q: string) => (await admin.get(`/health?model=tiny&version=1.0.0${q}`)).body;
    const fleetWide = await get('');
    expect(fleetWide.totals).toMatchObject({ devices: 4, inferences: 4 * 8 * 150 });
    expect(fleetWide.series).toHaveLength(8);
    expect(fleetWide.accuracy.labelled).toBe(4 * 8 * 40);
    expect(fleetWide.accuracy.low).toBeLessThan(fleetWide.accuracy.p);
    expect(fleetWide.accuracy.coverage).toBeCloseTo(40 / 150);
    expect(fleetWide.predictionMix.labels).toEqual(['normal', 'fault']);
    expect(fleetWide.shadow).toBeNull();
    expect((await get('&device=press-05')).totals).toMatchObject({ devices: 1, inferences: 8 * 150 });
    expect((await get('&tag=site=lyon')).totals).toMatchObject({ devices: 2, inferences: 2 * 8 * 150 });
    expect((await get('&tag=site=lyon&tag=line=b')).totals).toMatchObject({ devices: 0, inferences: 0 });
    const bucketed = await get(`&bucketMs=${10 * MINUTE}`);
    expect(bucketed.series.reduce((n: number, p: { inferences: number }) => n + p.inferences, 0)).toBe(4 * 8 * 150);
    expect((await admin.get('/health?model=tiny&version=banana')).body.error.code).toBe('BAD_INPUT');
    expect((await admin.get('/health?model=tiny&version=9.9.9')).status).toBe(404);
    expect((await admin.get('/health?model=tiny&version=1.0.0&tag=nokey')).body.error.code).toBe('BAD_INPUT');
    expect((await apiClient(hub.urls.http, 'ef_nope').get('/health/overview')).status).toBe(401);
    expect((await apiClient(hub.urls.http, viewerToken).get('/whoami')).body.role).toBe('viewer');
  });

  it('fits a phone-width window without horizontal scrolling and shows times in the viewer’s zone', async () => {
    const ctx = await browser.context(390, 844, 'Asia/Kolkata');
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, viewerToken);
    await page.waitForSelector('[data-count="online"]');
    for (const [hash, name, sel] of [
      ['#/', '09-phone-overview', '.card-rollouts .progress'],
      ['#/model/tiny?v=1.1.0', '10-phone-model', '.version-col svg.chart'],
    ] as const) {
      await page.evaluate((h) => (location.hash = h), hash);
      await page.waitForSelector(sel);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(page, name);
    }
    // (ICU may spell the zone by its older name, Asia/Calcutta)
    expect(await text(page, 'footer')).toMatch(/Times in Asia\/(Kolkata|Calcutta) \(UTC\+05:30\)/);
    expect(await page.locator('.version-col svg.chart .axis-label-x').first().textContent()).toMatch(/^time \(Asia\/(Kolkata|Calcutta)\)$/);
    // tick labels are wall-clock times in that zone
    const tick = await page.locator('.version-col svg.chart .axis-x .tick').first().textContent();
    expect(tick).toMatch(/\d{1,2}:[0-5]\d/);
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it('lets an operator pause and resume a gated rollout from its page (checked via the API and the audit log)', async () => {
    const res = await admin.post('/rollouts', { model: 'tiny', version: '1.1.0', targets: { tags: [{ line: 'a' }] }, waves: [50, 100], soak: '1h' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id: string = res.body.rollout.id;
    const ctx = await browser.context();
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, operatorToken);
    await page.evaluate((rid) => (location.hash = `#/rollout/${rid}`), id);
    await page.waitForSelector('.card-progress .wave');
    // each action says its effect: the abort names the devices it would send back and where to
    expect(await text(page, '.action-pause')).toMatch(/^Pause: start no further wave/);
    expect(await text(page, '.action-abort')).toMatch(/^Abort: stop here and send the \d+ devices? it reached back to /);
    await page.click('.action-pause');
    await page.waitForSelector('.card-rollout .badge.status-paused');
    expect((await admin.get(`/rollouts/${id}`)).body.rollout.status).toBe('paused');
    await screenshot(page, '12-rollout-paused');
    await page.click('.action-resume');
    await poll(async () => (await admin.get(`/rollouts/${id}`)).body.rollout.status).not.toBe('paused');
    const actions = (await hub.services.ctx.store.listAudit()).filter((a) => a.details.includes(id)).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['rollout.pause', 'rollout.resume']));
    expect(problems).toEqual([]);
    await ctx.close();
  });
  it('sorts ids naturally, says "no such device" for an unknown id and stops asking, and clips no health column at 1400 px or 390 px', async () => {
    for (const id of ['pump-10', 'pump-2', 'pump-1']) expect((await admin.post('/devices', { id, tags: { site: 'b' } })).status).toBe(201);
    const ctx = await browser.context(1400, 900);
    const page = await ctx.newPage();
    const problems = watch(page);
    const asked: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/v1/devices/no-such-pump')) asked.push(r.url());
    });
    await signIn(page, hub.urls.http, viewerToken);
    await page.evaluate(() => (location.hash = '#/devices?q=pump'));
    await page.waitForSelector('table.devices[data-query*="q=pump"] tr[data-device]');
    expect(await page.locator('table.devices tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-device')))).toEqual(['pump-1', 'pump-2', 'pump-10']);

    await page.evaluate(() => (location.hash = '#/device/no-such-pump'));
    await page.waitForSelector('.card-missing .no-such-device');
    expect(await text(page, '.card-missing h2')).toBe('No such device');
    await page.waitForTimeout(3000); // several poll ticks: the page asked once
    expect(asked).toHaveLength(1);

    // every cell of the health table shows whole, at desktop width and as phone cards
    const clipped = () =>
      page.evaluate(() => {
        const wrap = document.querySelector('.card-health .table-wrap') as HTMLElement;
        const cells = [...document.querySelectorAll('.card-health th, .card-health td')] as HTMLElement[];
        const bad = cells.filter((c) => c.offsetParent !== null && c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent);
        const right = Math.max(...cells.map((c) => c.getBoundingClientRect().right));
        return { bad, overflow: wrap.scrollWidth - wrap.clientWidth, outside: right > window.innerWidth };
      });
    await page.evaluate(() => (location.hash = '#/'));
    await page.waitForSelector('.card-health tbody tr td[data-label="error rate"]');
    // the verdict first: 1.1.0 drifted and a device is silent, so the fleet is degraded and says why
    const verdict = (await admin.get('/health/overview')).body.verdict;
    expect(verdict.level).toBe('degraded');
    expect(verdict.reasons.map((r: { text: string }) => r.text).join('\n')).toMatch(/tiny@1\.1\.0: .* drifted/);
    expect(await text(page, '.card-verdict h2')).toBe('Fleet degraded');
    expect(await text(page, '.card-verdict')).toContain('silent');
    expect(await clipped()).toEqual({ bad: [], overflow: 0, outside: false });
    expect(await page.locator('.card-health th').allInnerTexts()).toEqual(['model version', 'role', 'running', 'reporting', 'inferences', 'error rate', 'p95 latency', 'drift']);
    await screenshot(page, '13-overview-1400');
    await page.setViewportSize({ width: 390, height: 844 });
    await poll(async () => (await clipped()).overflow).toBe(0);
    expect(await clipped()).toEqual({ bad: [], overflow: 0, outside: false });
    expect(await page.locator('.card-health td[data-label="error rate"]').first().isVisible()).toBe(true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await screenshot(page, '14-overview-phone');
    // the one expected 404 (the unknown id, asked once), as the response and as Chromium's own console line
    const expected = (p: string) => p.includes('/devices/no-such-pump') || p === 'console: Failed to load resource: the server responded with a status of 404 (Not Found)';
    expect(problems.filter((p) => !expected(p))).toEqual([]);
    expect(problems.filter(expected)).toHaveLength(2);
    await ctx.close();
  });
});
