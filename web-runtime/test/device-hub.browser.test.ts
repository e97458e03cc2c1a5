// The device page end to end in real Chromium against a real hub (its /device and MQTT over WebSocket at
// /mqtt): enrol from the config `POST /devices` returns → push → rollout → active in the browser; the form's
// outputs equal onnxruntime-node's on the same inputs; a second tab of the same device runs no second agent
// (one broker connection) and still infers; with the hub stopped a reload opens the page and serves the model
// from IndexedDB.
import * as ortNode from 'onnxruntime-node';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMlpClassifier } from '@edgefleet/protocol/onnx';
import type { Hub } from '@edgefleet/hub';
import { startHubBrowser, type HubBrowser } from './support/hub-browser.js';

const MODEL = buildMlpClassifier({ weights: [Float32Array.from([0.5, -0.5, 0.25, -0.25, 1, -1])], biases: [Float32Array.from([0.1, -0.1])] });

describe('a browser device against a real hub', () => {
  let stand: HubBrowser;
  let hub: Hub | null = null;
  let browser: Browser;
  const api = (method: string, path: string, body?: unknown) => stand.api(method, path, body);
  beforeAll(async () => {
    stand = await startHubBrowser('edgefleet-webdevice-');
    hub = stand.hub;
    browser = stand.browser;
  });
  afterAll(async () => {
    await stand?.close();
  });

  const infer = async (page: Page, text: string): Promise<string> => {
    const form = page.locator('#infer form').first();
    await form.locator('input').first().fill(text);
    const out = form.locator('.outputs');
    await out.evaluate((e) => (e.textContent = ''));
    await form.locator('button').click();
    await expect.poll(() => out.textContent()).toMatch(/version|[A-Z_]+:/);
    return (await out.textContent()) ?? '';
  };

  it('enrols, activates a rollout, infers like onnxruntime-node, shares one agent across tabs and serves offline', async () => {
    const ctx = await browser.newContext();
    ctx.setDefaultTimeout(30_000);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const base = `${hub!.urls.http}/device/`;
    await page.goto(base);
    await page.waitForSelector('#enrol');
    await page.waitForFunction(() => document.getElementById('sw-status')?.textContent === 'works offline');
    const added = await api('POST', '/devices', { id: 'web-1', tags: { site: 'web' } });
    expect(added.status).toBe(201);
    await page.fill('#config', JSON.stringify(added.body.agentConfig));
    await page.click('#enrol button[type=submit]');
    await expect.poll(() => page.textContent('#connection'), { timeout: 30_000 }).toBe('online');

    const form = new FormData();
    form.set('file', new Blob([MODEL]), 'model.onnx');
    form.set('name', 'tiny');
    form.set('version', '1.0.0');
    expect((await api('POST', '/models', form)).status).toBe(201);
    expect((await api('POST', '/rollouts', { model: 'tiny', version: '1.0.0', targets: { tags: [{ site: 'web' }] } })).status).toBe(201);
    await expect.poll(() => page.textContent('#models tbody tr[data-model=tiny] td:nth-child(2)'), { timeout: 60_000 }).toBe('active');
    const reported = (await api('GET', '/devices/web-1')).body.device.reported;
    expect(reported.runtime).toMatch(/^onnxruntime-web@/);
    expect(reported.platform).toMatch(/^browser-/);
    expect(reported.resources.storageQuotaBytes).toBeGreaterThan(0);

    // the same inputs in onnxruntime-node: the page prints 5 significant digits
    const session = await ortNode.InferenceSession.create(MODEL);
    const want = await session.run({ [session.inputNames[0]!]: new ortNode.Tensor('float32', Float32Array.from([1, 2, 3]), [1, 3]) });
    await session.release();
    const probs = Array.from(want[session.outputNames[0]!]!.data as Float32Array, (v) => v.toPrecision(5));
    const text = await infer(page, '1, 2, 3');
    expect(text).toContain('version 1.0.0');
    expect(text).toContain(probs.join(', '));

    // a second tab of the device: no second agent (one broker connection), and it infers through the first
    const second = await ctx.newPage();
    second.on('pageerror', (e) => errors.push(e.message));
    await second.goto(base);
    await expect.poll(() => second.textContent('#role')).toBe('uses the agent of another tab');
    await second.waitForSelector('#infer form');
    expect(await infer(second, '1 2 3')).toContain(probs.join(', '));
    const metrics = await (await fetch(`${hub!.urls.http}/metrics`, { headers: { authorization: `Bearer ${hub!.adminToken}` } })).text();
    expect(/^edgefleet_mqtt_connected_clients(?:\{\})? (\d+)/m.exec(metrics)?.[1]).toBe('1');
    await second.close();

    // the hub goes away: a reload opens from the Service Worker cache and serves v1 from IndexedDB
    await stand.stopHub();
    hub = null;
    await page.reload();
    await expect.poll(() => page.textContent('#models tbody tr[data-model=tiny] td:nth-child(2)')).toBe('active');
    expect(await page.textContent('#connection')).toBe('offline (serving from this device)');
    expect(await infer(page, '1, 2, 3')).toContain(probs.join(', '));
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
