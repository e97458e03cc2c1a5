// The device page end to end in real Chromium against a real hub (its /device and MQTT over WebSocket at
// /mqtt): enrol from the config `POST /devices` returns → push → rollout → active in the browser; the form's
// outputs equal onnxruntime-node's on the same inputs; a second tab of the same device runs no second agent
// (one broker connection) and still infers; with the hub stopped a reload opens the page and serves the model
// from IndexedDB.
import * as ortNode from 'onnxruntime-node';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMlpClassifier } from '@edgefleet/protocol/onnx';
import { deviceStand, enrolDevice, inferInPage as infer, launchChromium, modelState, rollOut, type Stand } from './support/device-hub.js';

const MODEL = buildMlpClassifier({ weights: [Float32Array.from([0.5, -0.5, 0.25, -0.25, 1, -1])], biases: [Float32Array.from([0.1, -0.1])] });

describe('a browser device against a real hub', () => {
  let stand: Stand;
  let browser: Browser;
  beforeAll(async () => {
    stand = await deviceStand();
    await stand.start();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stand?.close();
  });

  it('enrols, activates a rollout, infers like onnxruntime-node, shares one agent across tabs and serves offline', async () => {
    const ctx = await browser.newContext();
    ctx.setDefaultTimeout(30_000);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const base = `${stand.hub!.urls.http}/device/`;
    await enrolDevice(stand, page, 'web-1');
    await rollOut(stand, MODEL, 'tiny', '1.0.0');
    await expect.poll(() => modelState(page, 'tiny'), { timeout: 60_000 }).toBe('active');
    const reported = (await stand.api('GET', '/devices/web-1')).body.device.reported;
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
    const metrics = await (await fetch(`${stand.hub!.urls.http}/metrics`, { headers: { authorization: `Bearer ${stand.hub!.adminToken}` } })).text();
    expect(/^edgefleet_mqtt_connected_clients(?:\{\})? (\d+)/m.exec(metrics)?.[1]).toBe('1');
    await second.close();

    // the hub goes away: a reload opens from the Service Worker cache and serves v1 from IndexedDB
    await stand.stop();
    await page.reload();
    await expect.poll(() => modelState(page, 'tiny')).toBe('active');
    expect(await page.textContent('#connection')).toBe('offline (serving from this device)');
    expect(await infer(page, '1, 2, 3')).toContain(probs.join(', '));
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
