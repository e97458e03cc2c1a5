// The device table with 10,000 registered devices: filters run on the hub, one page at a time.
// Timings are measured and printed, not asserted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '@edgefleet/hub';
import { apiClient, startTestHub, tempDir } from './helpers.js';
import { launchBrowser, reportedState, screenshot, signIn, watch, type TestBrowser } from './dashboard-support.js';

const N = 10_000;
const SHA = 'ab'.repeat(32);

describe('dashboard at 10,000 devices', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let browser: TestBrowser;

  beforeAll(async () => {
    dir = tempDir('edgefleet-dashboard-scale-');
    hub = await startTestHub(dir.path);
    // bulk registration straight through the store (the API path is exercised in dashboard.test.ts)
    const { store } = hub.services.ctx;
    const t0 = performance.now();
    const at = new Date().toISOString();
    await store.transaction(async () => {
      for (let i = 0; i < N; i++) {
        const id = `dev-${String(i).padStart(5, '0')}`;
        await store.insertDevice({ id, tags: { line: `l${i % 20}`, site: i % 3 === 0 ? 'lyon' : 'turin' }, tokenHash: '0'.repeat(64), brokerHash: null, createdAt: at });
        if (i % 4 !== 3) {
          const version = i % 10 === 0 ? '1.1.0' : '1.0.0';
          await store.setDeviceReported(id, reportedState(id, { tiny: { version, release: version === '1.1.0' ? 2 : 1, sha256: SHA, state: i % 50 === 0 ? 'failed' : 'active' } }), at);
        }
        if (i % 5 !== 0) await store.setDeviceStatus(id, 'online', at);
      }
    });
    console.log(`inserted ${N} devices in ${(performance.now() - t0).toFixed(0)} ms`);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    dir?.remove();
  });

  it('answers each device-table filter from the server with the API’s page and total (time printed)', async () => {
    const api = apiClient(hub.urls.http, hub.adminToken);
    const ctx = await browser.context();
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, hub.adminToken);
    await page.evaluate(() => (location.hash = '#/devices'));
    await page.waitForSelector(`table.devices[data-total="${N}"]`);
    expect(await page.locator('table.devices tbody tr').count()).toBe(50);

    const cases: Array<{ name: string; set: Record<string, string>; query: string }> = [
      { name: 'tag line=l10', set: { tag: 'line=l10' }, query: 'tag=line%3Dl10' },
      { name: '+ version 1.1.0', set: { version: '1.1.0' }, query: 'tag=line%3Dl10&version=1.1.0' },
      { name: 'state failed', set: { tag: '', version: '', state: 'failed' }, query: 'state=failed' },
      { name: 'offline, site=lyon', set: { state: '', online: 'false', tag: 'site=lyon' }, query: 'tag=site%3Dlyon&online=false' },
      { name: 'id contains -01', set: { tag: '', online: '', q: '-01' }, query: 'q=-01' },
    ];
    const rows: string[] = [];
    for (const c of cases) {
      for (const [name, value] of Object.entries(c.set)) {
        const sel = `[name="${name}"]`;
        if ((await page.locator(`select${sel}`).count()) > 0) await page.selectOption(`select${sel}`, value);
        else await page.fill(`input${sel}`, value);
      }
      const t0 = performance.now();
      await page.click('form.filters button[type="submit"]');
      const table = page.locator(`table.devices[data-query^="${c.query}&limit="]`);
      await table.waitFor();
      const uiMs = performance.now() - t0;
      const fetchRenderMs = Number(await table.getAttribute('data-ms'));
      const a0 = performance.now();
      const res = await api.get(`/devices?${c.query}&limit=50`);
      const apiMs = performance.now() - a0;
      expect(Number(await table.getAttribute('data-total'))).toBe(res.body.total);
      const shown = await page.locator('table.devices tbody tr[data-device]').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-device')));
      expect(shown).toEqual(res.body.devices.map((d: { id: string }) => d.id));
      rows.push(`${c.name.padEnd(20)} total ${String(res.body.total).padStart(5)}  click→table ${uiMs.toFixed(0).padStart(4)} ms  fetch+render ${fetchRenderMs.toFixed(0).padStart(4)} ms  API alone ${apiMs.toFixed(0).padStart(4)} ms`);
    }
    console.log(`device table filters at ${N} devices:\n${rows.join('\n')}`);
    await screenshot(page, '11-devices-10k');
    // the expected totals follow from how the fleet was generated
    expect((await api.get('/devices?tag=line=l10&limit=0')).body.total).toBe(N / 20);
    expect((await api.get('/devices?state=failed&limit=0')).body.total).toBe(N / 50);
    expect((await api.get('/devices?model=tiny&version=1.1.0&limit=0')).body.total).toBe(N / 10);
    expect((await api.get('/devices?online=false&limit=0')).body.total).toBe(N / 5);
    for (const bad of ['limit=9999', 'limit=10&online=maybe', 'limit=10&state=sleeping', 'limit=10&tag=novalue', 'limit=-1']) {
      const res = await api.get(`/devices?${bad}`);
      expect([bad, res.status, res.body.error?.code]).toEqual([bad, 400, 'BAD_INPUT']);
    }

    // paging walks on from the filtered page
    await page.click('.pager .next');
    await page.waitForSelector('table.devices[data-query*="offset=50"]');
    expect(problems).toEqual([]);
    await ctx.close();
  });
});
