// Enrolment from a one-time link in real Chromium against a real hub: an operator clicks "Enrol a browser
// device" on the dashboard's device page, a fresh browser opens the link it shows (its QR code decodes to the same link), and the device page takes
// the code out of its URL and history before trading it for the agent config; the agent comes online with
// the new token, coming back to the page starts it from IndexedDB, and the same link opened again is refused with its code.
import type { Page } from 'playwright-core';
import jsQR from 'jsqr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeviceStand, type DeviceStand } from './support/device-hub.js';

describe('enrolment from a one-time link', () => {
  let stand: DeviceStand;
  beforeAll(async () => {
    stand = await startDeviceStand({ prefix: 'edgefleet-enrol-link-' });
  });
  afterAll(async () => {
    await stand?.close();
  });

  const watch = (page: Page, errors: string[]) => page.on('pageerror', (e) => errors.push(e.message));

  /** The text of the QR code in a PNG: Chromium (a blank page, no hub CSP) turns the PNG into pixels, jsQR reads them. */
  async function readQr(png: Buffer): Promise<string | undefined> {
    const ctx = await stand.browser.newContext();
    try {
      const page = await ctx.newPage();
      const { width, height, rgba } = await page.evaluate(async (src) => {
        const img = new Image();
        img.src = src;
        await img.decode();
        const canvas = new OffscreenCanvas(img.naturalWidth, img.naturalHeight);
        const g = canvas.getContext('2d')!;
        g.drawImage(img, 0, 0);
        return { width: canvas.width, height: canvas.height, rgba: Array.from(g.getImageData(0, 0, canvas.width, canvas.height).data) };
      }, `data:image/png;base64,${png.toString('base64')}`);
      return jsQR(Uint8ClampedArray.from(rgba), width, height)?.data;
    } finally {
      await ctx.close();
    }
  }

  it('enrols the tab that opens the link the dashboard shows, with the code gone from its URL and history', async () => {
    const hub = stand.hub;
    expect((await stand.api('POST', '/devices', { id: 'web-link' })).status).toBe(201);
    const operator = (await stand.api('POST', '/tokens', { role: 'operator' })).body.token as string;
    const errors: string[] = [];

    // the operator's dashboard: the device page's button makes the link and shows it
    const ops = await stand.browser.newContext();
    ops.setDefaultTimeout(30_000);
    const dash = await ops.newPage();
    watch(dash, errors);
    await dash.goto(`${hub.urls.http}/`);
    await dash.fill('#token', operator);
    await dash.click('#signin');
    await dash.waitForSelector('header.top .who');
    await dash.evaluate(() => (location.hash = '#/device/web-link'));
    await dash.click('.card-enrol button.action-enrol');
    const link = await dash.locator('.card-enrol input.enrol-url').inputValue();
    expect(link).toMatch(new RegExp(`^${hub.urls.http}/device/#enrol=[A-Za-z0-9_-]{43}$`));
    // the QR code beside it, as the screen shows it, read back by a decoder that is not its encoder
    expect(await readQr(await dash.locator('.card-enrol svg.enrol-qr').screenshot())).toBe(link);
    await ops.close();

    // the device: a browser that has never seen this hub opens the link
    const ctx = await stand.browser.newContext();
    ctx.setDefaultTimeout(30_000);
    const page = await ctx.newPage();
    watch(page, errors);
    await page.goto(link);
    await expect.poll(() => page.textContent('#connection'), { timeout: 30_000 }).toBe('online');
    expect(page.url()).toBe(`${hub.urls.http}/device/`);
    // the tab's history: the blank page it opened on, then this page, whose one entry no longer holds the code
    expect(await page.evaluate(() => [history.length, location.hash])).toEqual([2, '']);
    expect(await page.textContent('h2 code')).toBe('web-link');
    // the tab shows online once connected; its reported state reaches the hub's store a moment later
    let device: { status: string; reported: { runtime: string } | null } = { status: '', reported: null };
    await expect.poll(async () => (device = (await stand.api('GET', '/devices/web-link')).body.device).reported !== null, { timeout: 15_000 }).toBe(true);
    expect(device.status).toBe('online');
    expect(device.reported!.runtime).toMatch(/^onnxruntime-web@/);

    // back and forward walk those two entries; the config is kept in IndexedDB, so the page comes back as the device
    await page.goBack();
    expect(page.url()).toBe('about:blank');
    await page.goForward();
    expect(page.url()).toBe(`${hub.urls.http}/device/`);
    await expect.poll(() => page.textContent('#connection'), { timeout: 30_000 }).toBe('online');
    expect(await page.textContent('h2 code')).toBe('web-link');

    // the same link a second time, in another browser: refused with its code, and out of that URL too
    const other = await stand.browser.newContext();
    other.setDefaultTimeout(30_000);
    const again = await other.newPage();
    watch(again, errors);
    await again.goto(link);
    await expect.poll(() => again.textContent('#enrol-error')).toMatch(/^enrolment link refused: NOT_FOUND: .*used already/);
    expect(again.url()).toBe(`${hub.urls.http}/device/`);
    expect(await again.evaluate(() => history.length)).toBe(2);
    expect(await page.textContent('#connection')).toBe('online'); // the enrolled device is untouched
    expect(hub.metrics.get('edgefleet_enrolment_redemptions_total', { outcome: 'used' })).toBe(1);
    expect(errors).toEqual([]);
    await other.close();
    await ctx.close();
  });
});
