// Field-data capture from a browser device (design §4 capture) in real Chromium against a real hub whose
// signed telemetry settings carry a capture rule: the rows the IndexedDB outbox sends with its telemetry
// batches are stored at the hub exactly once (one per prediction id), without the field the rule redacts,
// also when they waited offline in IndexedDB through a page reload; and the page's own capture switch holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureRule } from '@edgefleet/protocol';
import { seededClassifier } from '@edgefleet/protocol/testing';
import { enrolDevice, idbCount, inferAsTab, modelState, startDeviceStand, type DeviceStand } from './support/device-hub.js';

/** features [batch, 3] → probabilities [batch, 2] and label [batch]; no drift reference: fields are `features.i`. */
const MODEL = seededClassifier({ seed: 22, features: 3, classes: 2 });
const INFERENCES = 6;

describe('capture from a browser device', () => {
  let stand: DeviceStand;
  beforeAll(async () => {
    stand = await startDeviceStand({
      prefix: 'edgefleet-webcapture-',
      hub: { telemetry: { windowSeconds: 2, capture: [CaptureRule.parse({ model: 'tiny', rate: 1, redact: ['features.1'] })] } },
    });
  });
  afterAll(async () => {
    await stand?.close();
  });

  it('sends every captured row once with its telemetry, the redacted field absent from what the hub stored, also after an offline reload', async () => {
    const { page, errors } = await enrolDevice(stand, 'web-cap', { site: 'web' });
    await stand.push('tiny', '1.0.0', MODEL);
    await stand.rollout('tiny', '1.0.0', { site: 'web' });
    await expect.poll(() => modelState(page, 'tiny'), { timeout: 60_000 }).toBe('active');
    for (let i = 0; i < INFERENCES; i++) await inferAsTab(page, 'web-cap', 'tiny', { features: { type: 'float32', dims: [1, 3], data: [i, 100 + i, 2 * i] } });
    const rows = async (): Promise<Record<string, any>[]> => {
      const res = await fetch(`${stand.hub.urls.http}/api/v1/datasets/tiny/1.0.0/export`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stand.hub.adminToken}`, 'content-type': 'application/json' },
        body: '{}',
      });
      if (res.status !== 200) return [];
      return (await res.text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, any>);
    };
    await expect.poll(async () => (await rows()).length, { timeout: 60_000 }).toBe(INFERENCES);
    const stored = await rows();
    expect(new Set(stored.map((r) => r.predictionId)).size).toBe(INFERENCES); // exactly once each
    expect(stored.every((r) => r.deviceId === 'web-cap')).toBe(true);
    for (const r of stored) {
      expect(Object.keys(r.features).sort()).toEqual(['features.0', 'features.2']);
      expect(JSON.stringify(r)).not.toContain('features.1');
    }
    expect(stored.map((r) => r.features['features.0']).sort((a, b) => a - b)).toEqual(Array.from({ length: INFERENCES }, (_, i) => i));
    const datasets = (await stand.api('GET', '/datasets')).body.datasets as { model: string; version: string; rows: number }[];
    expect(datasets.find((d) => d.model === 'tiny' && d.version === '1.0.0')?.rows).toBe(INFERENCES);

    // offline: rows wait in IndexedDB and survive a reload, then go once when the same hub is back
    const port = new URL(stand.hub.urls.http).port;
    await stand.stopHub();
    await expect.poll(() => page.textContent('#connection')).toBe('offline (serving from this device)');
    for (let i = INFERENCES; i < 2 * INFERENCES; i++) await inferAsTab(page, 'web-cap', 'tiny', { features: { type: 'float32', dims: [1, 3], data: [i, 100 + i, 2 * i] } });
    await expect.poll(() => idbCount(page, 'web-cap', ['captures']), { timeout: 30_000 }).toBe(INFERENCES);
    await page.reload();
    await stand.startHub({ http: `127.0.0.1:${port}` });
    await expect.poll(async () => (await rows()).length, { timeout: 60_000 }).toBe(2 * INFERENCES);
    await expect.poll(() => idbCount(page, 'web-cap', ['captures']), { timeout: 30_000 }).toBe(0);
    const all = await rows();
    expect(new Set(all.map((r) => r.predictionId)).size).toBe(2 * INFERENCES);
    expect(all.map((r) => r.features['features.0']).sort((a, b) => a - b)).toEqual(Array.from({ length: 2 * INFERENCES }, (_, i) => i));

    // the device's own switch on the page: unticked, nothing more is captured (the hub's rule still asks),
    // and it stays off through a reload; ticked again, capture resumes
    await page.waitForSelector('#capture:checked');
    await page.click('#capture');
    await expect.poll(() => page.isChecked('#capture')).toBe(false);
    for (let i = 0; i < 3; i++) await inferAsTab(page, 'web-cap', 'tiny', { features: { type: 'float32', dims: [1, 3], data: [100 + i, 0, 0] } });
    await page.reload();
    await expect.poll(() => modelState(page, 'tiny'), { timeout: 60_000 }).toBe('active');
    await expect.poll(() => page.isChecked('#capture'), { timeout: 30_000 }).toBe(false);
    await inferAsTab(page, 'web-cap', 'tiny', { features: { type: 'float32', dims: [1, 3], data: [103, 0, 0] } });
    expect(await idbCount(page, 'web-cap', ['captures'])).toBe(0);
    await page.click('#capture');
    await expect.poll(() => page.isChecked('#capture')).toBe(true);
    await inferAsTab(page, 'web-cap', 'tiny', { features: { type: 'float32', dims: [1, 3], data: [200, 0, 0] } });
    await expect.poll(async () => (await rows()).length, { timeout: 60_000 }).toBe(2 * INFERENCES + 1);
    const last = await rows();
    expect(last.map((r) => r.features['features.0'])).toContain(200);
    expect(last.some((r) => r.features['features.0'] >= 100 && r.features['features.0'] < 200)).toBe(false);
    expect(errors).toEqual([]);
  });
});
