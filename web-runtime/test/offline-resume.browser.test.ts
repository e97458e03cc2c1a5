// A browser device offline and resuming, in real Chromium against a real hub: the page's inferences are counted
// by the hub's fleet health (and the device shows as a browser running onnxruntime-web); an outbox filled while
// the hub is down reaches the restarted hub exactly once; a tab closed mid-download resumes in a reopened tab
// of the same profile, and the hub serves it only the chunks it lacked.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHUNK_SIZE, decodeChunkFrame, parseTopic } from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { seededClassifier } from '@edgefleet/protocol/testing';
import { enrolDevice, idbCount, inferInPage, modelState, startDeviceStand, type DeviceStand } from './support/device-hub.js';

/** features [batch, 3] → probabilities [batch, 2] and label [batch]. */
const TINY = seededClassifier({ seed: 22, features: 3, classes: 2 });
// windows of one second: the hub sees telemetry soon after the inferences
const TELEMETRY = { windowSeconds: 1, probationSeconds: 0 };
const WEB = { site: 'web' };

/** The chunk indices the device's partial download of `sha256` has persisted (its IndexedDB bitmap). */
const persistedChunks = (page: Page, deviceId: string, sha256: string): Promise<number[]> =>
  page.evaluate(
    async ({ name, sha256 }) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      try {
        const row = await new Promise<{ chunks: number; bitmap: Uint8Array } | undefined>((resolve, reject) => {
          const r = db.transaction('partials', 'readonly').objectStore('partials').get(sha256);
          r.onsuccess = () => resolve(r.result as { chunks: number; bitmap: Uint8Array } | undefined);
          r.onerror = () => reject(r.error);
        });
        const out: number[] = [];
        if (row) for (let i = 0; i < row.chunks; i++) if ((row.bitmap[i >> 3]! >> (i & 7)) & 1) out.push(i);
        return out;
      } finally {
        db.close();
      }
    },
    { name: `edgefleet-agent:${deviceId}`, sha256 },
  );

const health = async (stand: DeviceStand, model: string, version: string) => {
  await stand.hub.flush();
  const r = await stand.api('GET', `/health?model=${model}&version=${version}`);
  expect(r.status).toBe(200);
  return r.body.totals as { devices: number; inferences: number; errors: number };
};

describe('a browser device offline and resuming, against a real hub', () => {
  let stand: DeviceStand;
  beforeAll(async () => {
    // each test starts its own hub, on a data dir of its own
    stand = await startDeviceStand({ prefix: 'edgefleet-weboffline-', startHub: false, hub: { telemetry: TELEMETRY } });
  });
  afterEach(async () => {
    await stand.stopHub();
  });
  afterAll(async () => {
    await stand?.close();
  });

  it('telemetry of the inferences made in the page is counted by the hub’s fleet health', async () => {
    await stand.startHub({ dataDir: join(stand.dir, 'hub-health') });
    const { ctx, page } = await enrolDevice(stand, 'web-health', WEB);
    try {
      await stand.push('tiny', '1.0.0', TINY);
      await stand.rollout('tiny', '1.0.0', WEB);
      await expect.poll(() => modelState(page, 'tiny'), { timeout: 60_000 }).toBe('active');
      for (let i = 0; i < 4; i++) expect(await inferInPage(page, `${i}, 1, 2`)).toContain('version 1.0.0');
      await expect.poll(async () => (await health(stand, 'tiny', '1.0.0')).inferences, { timeout: 30_000 }).toBe(4);
      const totals = await health(stand, 'tiny', '1.0.0');
      expect(totals).toMatchObject({ devices: 1, inferences: 4, errors: 0 });
      // the dashboard's device view: a browser like any other
      const device = (await stand.api('GET', '/devices/web-health')).body.device;
      expect(device.reported.platform).toMatch(/^browser-/);
      expect(device.reported.runtime).toMatch(/^onnxruntime-web@\d/);
      expect(device.reported.models.tiny.active.version).toBe('1.0.0');
    } finally {
      await ctx.close();
    }
  });

  it('an outbox filled offline is delivered exactly once after reconnect', async () => {
    const dataDir = join(stand.dir, 'hub-outbox');
    const first = await stand.startHub({ dataDir });
    const { ctx, page } = await enrolDevice(stand, 'web-outbox', WEB);
    try {
      await stand.push('tiny', '1.0.0', TINY);
      await stand.rollout('tiny', '1.0.0', WEB);
      await expect.poll(() => modelState(page, 'tiny'), { timeout: 60_000 }).toBe('active');
      for (let i = 0; i < 2; i++) await inferInPage(page, `${i}, 0, 0`);
      await expect.poll(async () => (await health(stand, 'tiny', '1.0.0')).inferences, { timeout: 30_000 }).toBe(2);

      // the hub goes away (its data dir stays): the page serves, its windows close into the IndexedDB outbox
      const port = new URL(first.urls.http).port;
      await stand.stopHub();
      await expect.poll(() => page.textContent('#connection')).toBe('offline (serving from this device)');
      const OFFLINE = 5;
      for (let i = 0; i < OFFLINE; i++) expect(await inferInPage(page, `${i}, 2, 4`)).toContain('version 1.0.0');
      await expect.poll(() => idbCount(page, 'web-outbox', ['outbox', 'batches']), { timeout: 30_000 }).toBeGreaterThan(0);

      // the same hub again, on the same port: the page's config still points at it
      await stand.startHub({ dataDir, http: `127.0.0.1:${port}` });
      await expect.poll(() => page.textContent('#connection'), { timeout: 60_000 }).toBe('online');
      await expect.poll(async () => (await health(stand, 'tiny', '1.0.0')).inferences, { timeout: 30_000 }).toBe(2 + OFFLINE);
      // delivered and confirmed: nothing left to resend, and nothing was counted twice
      await expect.poll(() => idbCount(page, 'web-outbox', ['outbox', 'batches']), { timeout: 30_000 }).toBe(0);
      expect(await health(stand, 'tiny', '1.0.0')).toMatchObject({ devices: 1, inferences: 2 + OFFLINE, errors: 0 });
    } finally {
      await ctx.close();
    }
  });

  it('a tab closed mid-download and reopened fetches only the chunks it lacked', async () => {
    const hub = await stand.startHub({ dataDir: join(stand.dir, 'hub-resume') });
    // ~4.8 MB of incompressible weights: features [1, 4] → 200 000 hidden → 2 classes, 74 chunks of 64 KiB
    const big = seededClassifier({ seed: 21, features: 4, hidden: 200_000, classes: 2, scale: 0.01 });
    const chunkCount = Math.ceil(big.length / DEFAULT_CHUNK_SIZE);
    expect(chunkCount).toBeGreaterThan(40);
    const tap = chunkTap(hub);
    const FIRST = 24; // chunks the hub lets through before the tab closes

    let ctx = await stand.launchProfile('resume');
    ctx.setDefaultTimeout(30_000);
    let page = await ctx.newPage();
    let held = new Set<number>();
    try {
      await enrolDevice(stand, 'web-resume', WEB, page);
      tap.allow(FIRST);
      await stand.push('big', '1.0.0', big);
      await stand.rollout('big', '1.0.0', WEB);
      // the first chunks are written and their bits persisted; the rest never comes: the tab closes mid-download
      await expect.poll(() => tap.served(0).length, { timeout: 60_000 }).toBe(FIRST);
      // (a chunk may have come twice, unicast and multicast: the device holds each once)
      const sent = () => [...new Set(tap.served(0))].sort((a, b) => a - b);
      await expect.poll(async () => (await persistedChunks(page, 'web-resume', tap.sha())).sort((a, b) => a - b), { timeout: 30_000 }).toEqual(sent());
      held = new Set(await persistedChunks(page, 'web-resume', tap.sha()));
      expect(held.size).toBeGreaterThan(FIRST / 2);
      expect(await modelState(page, 'big')).not.toBe('active');
    } finally {
      await ctx.close();
    }

    // the same profile reopened: the page starts the agent again from IndexedDB and resumes
    tap.next();
    ctx = await stand.launchProfile('resume');
    ctx.setDefaultTimeout(30_000);
    const events: string[] = [];
    try {
      page = await ctx.newPage();
      await page.goto(`${hub.urls.http}/device/`);
      await expect.poll(() => modelState(page, 'big'), { timeout: 120_000 }).toBe('active');
      events.push(...(await page.locator('#events li').allTextContents()));
      const again = tap.served(1);
      // every chunk it lacked, each once; none it held
      expect(again.filter((i) => held.has(i))).toEqual([]);
      expect(new Set(again).size).toBe(again.length);
      expect(again.length).toBe(chunkCount - held.size);
      expect(events.join('\n')).not.toContain('HASH_MISMATCH');
      expect(await inferInPage(page, '1, 2, 3, 4')).toContain('version 1.0.0');
    } finally {
      await ctx.close();
    }
  });
});

/**
 * Counts the artifact chunk frames the hub publishes (unicast and multicast) per session, and lets only so many
 * through: the ones beyond are dropped, as if the tab closed with them on the wire.
 */
function chunkTap(hub: Hub) {
  const bus = hub.services.ctx.bus;
  const publish = bus.publish.bind(bus);
  const sessions: number[][] = [[]];
  let allowance = Infinity;
  let sha = '';
  bus.publish = async (topic, payload, options) => {
    const kind = parseTopic(topic)?.kind;
    if (kind === 'artifact-data' || kind === 'artifact-multicast') {
      if (allowance <= 0) return;
      allowance--;
      const frame = decodeChunkFrame(typeof payload === 'string' ? new TextEncoder().encode(payload) : payload);
      if (frame.ok) {
        sha = frame.value.sha256;
        sessions[sessions.length - 1]!.push(frame.value.index);
      }
    }
    return publish(topic, payload, options);
  };
  return {
    allow(n: number) {
      allowance = n;
    },
    /** A new session: every chunk goes through again. */
    next() {
      sessions.push([]);
      allowance = Infinity;
    },
    served: (session: number): number[] => sessions[session] ?? [],
    sha: () => sha,
  };
}
