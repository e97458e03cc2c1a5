// The device page end to end in real Chromium against a real hub (its /device and MQTT over WebSocket at
// /mqtt): enrol from the config `POST /devices` returns → push → rollout → active in the browser; the agent's
// outputs equal a bare onnxruntime-web session's in the same page exactly, and onnxruntime-node's to float32 rounding; a second tab of the same device runs no second agent
// (one broker connection) and still infers; with the hub stopped a reload opens the page and serves the model
// from IndexedDB.
import * as ortNode from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededClassifier } from '@edgefleet/protocol/testing';
import { bareOrtWebInPage, enrolDevice, inferAsTab, inferInPage as infer, modelState, startDeviceStand, type DeviceStand, type PageTensors } from './support/device-hub.js';

/** features [batch, 3] → probabilities [batch, 2] and label [batch]. */
const MODEL = seededClassifier({ seed: 21, features: 3, classes: 2 });

/** `feeds` through `model` in onnxruntime-node, as plain arrays. */
async function onnxruntimeNode(model: Uint8Array, feeds: PageTensors): Promise<PageTensors> {
  const session = await ortNode.InferenceSession.create(model);
  try {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ortNode.Tensor('float32', Float32Array.from(t.data), t.dims)]));
    const out = await session.run(inputs);
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], data: Array.from(t.data as ArrayLike<number | bigint>, Number) }]));
  } finally {
    await session.release();
  }
}

describe('a browser device against a real hub', () => {
  let stand: DeviceStand;
  beforeAll(async () => {
    stand = await startDeviceStand();
  });
  afterAll(async () => {
    await stand?.close();
  });

  it('enrols, activates a rollout, infers like bare onnxruntime-web and onnxruntime-node, shares one agent across tabs and serves offline', async () => {
    const { ctx, page, errors } = await enrolDevice(stand, 'web-1', { site: 'web' });
    await stand.push('tiny', '1.0.0', MODEL);
    await stand.rollout('tiny', '1.0.0', { site: 'web' });
    await expect.poll(() => modelState(page, 'tiny'), { timeout: 60_000 }).toBe('active');
    const reported = (await stand.api('GET', '/devices/web-1')).body.device.reported;
    expect(reported.runtime).toMatch(/^onnxruntime-web@/);
    expect(reported.platform).toMatch(/^browser-/);
    expect(reported.resources.storageQuotaBytes).toBeGreaterThan(0);

    // the same inputs to the agent (asked as another tab asks it, for the tensors themselves), to a bare
    // onnxruntime-web session in the same page, and to onnxruntime-node
    const feeds = { features: { type: 'float32', dims: [1, 3], data: [1, 2, 3] } };
    const agent = await inferAsTab(page, 'web-1', 'tiny', feeds);
    expect(agent.version).toBe('1.0.0');
    const bare = await bareOrtWebInPage(stand, page, MODEL, feeds);
    expect(agent.outputs).toEqual(bare); // the same engine: to the bit
    const node = await onnxruntimeNode(MODEL, feeds);
    expect(Object.keys(agent.outputs).sort()).toEqual(Object.keys(node).sort());
    for (const [name, want] of Object.entries(node)) {
      const got = agent.outputs[name]!;
      expect({ type: got.type, dims: got.dims }).toEqual({ type: want.type, dims: want.dims });
      // float32 rounding apart: wasm and native MLAS sum MatMul in different orders (a last-bit difference)
      if (want.type === 'float32') got.data.forEach((v, i) => expect(Math.abs(v - want.data[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-6 + 1e-6 * Math.abs(want.data[i]!)));
      else expect(got.data, name).toEqual(want.data);
    }
    // the form shows the same numbers (5 significant digits)
    const probs = agent.outputs.probabilities!.data.map((v) => v.toPrecision(5));
    const text = await infer(page, '1, 2, 3');
    expect(text).toContain('version 1.0.0');
    expect(text).toContain(probs.join(', '));

    // a second tab of the device: no second agent (one broker connection), and it infers through the first
    const second = await ctx.newPage();
    second.on('pageerror', (e) => errors.push(e.message));
    await second.goto(stand.base);
    await expect.poll(() => second.textContent('#role')).toBe('uses the agent of another tab');
    await second.waitForSelector('#infer form');
    expect(await infer(second, '1 2 3')).toContain(probs.join(', '));
    const metrics = await (await fetch(`${stand.hub.urls.http}/metrics`, { headers: { authorization: `Bearer ${stand.hub.adminToken}` } })).text();
    expect(/^edgefleet_mqtt_connected_clients(?:\{\})? (\d+)/m.exec(metrics)?.[1]).toBe('1');
    await second.close();

    // the hub goes away: a reload opens from the Service Worker cache and serves v1 from IndexedDB
    await stand.stopHub();
    await page.reload();
    await expect.poll(() => modelState(page, 'tiny')).toBe('active');
    expect(await page.textContent('#connection')).toBe('offline (serving from this device)');
    expect(await infer(page, '1, 2, 3')).toContain(probs.join(', '));
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
