// The IndexedDB store in real Chromium (fake-indexeddb has no quota and no reload): a download that
// outgrows the origin's quota (set with the DevTools protocol) refuses with DISK_FULL and leaves nothing
// half-written; after a reload, with no clean close before it, the download resumes from exactly the
// synced bits and commits the right bytes.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHROMIUM } from './support/chromium.js';

let browser: Browser;
let server: http.Server;
let origin: string;

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./support/idb-page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    write: false,
    logLevel: 'silent',
    // the store as it is in the sources, not a stale dist
    alias: { '@edgefleet/protocol': fileURLToPath(new URL('../../protocol/src/index.ts', import.meta.url)) },
  });
  const js = bundle.outputFiles[0]!.contents;
  server = http.createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<script type="module" src="/page.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch(CHROMIUM);
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

it('refuses a write beyond the origin quota with DISK_FULL, and after a reload resumes with exactly the synced bits', async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => 'idbFill' in globalThis);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 4 * 1024 * 1024 });
    const filled = await page.evaluate(() => (globalThis as unknown as { idbFill: () => Promise<Record<string, unknown>> }).idbFill());
    expect(filled.errors).toEqual(['DISK_FULL', 'DISK_FULL']); // the sync, then the commit
    expect(filled.artifacts).toEqual([]);
    expect(filled.slots).toEqual({ m: 'v1' });

    await cdp.send('Storage.overrideQuotaForOrigin', { origin }); // back to the browser's own quota
    await page.reload(); // the tab goes away without closing the store
    await page.waitForFunction(() => 'idbResume' in globalThis);
    const resumed = await page.evaluate(() => (globalThis as unknown as { idbResume: () => Promise<Record<string, unknown>> }).idbResume());
    expect(resumed).toMatchObject({ bits: [0b11], syncedIntact: true, restEmpty: true, equal: true, slots: { m: 'v1' } });
    expect(resumed.freeBytes).toBeGreaterThan(0);
  } finally {
    await page.close();
  }
});
