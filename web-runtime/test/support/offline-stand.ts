// (A second set-up beside device-hub.ts: this one restarts the hub on one data dir and port and keeps a
// browser profile on disk; the page's controls and Chromium flags come from device-hub.ts.)
// The set-up of the browser end-to-end tests: the device page built once, a real hub serving it (and MQTT over
// WebSocket at /mqtt on its HTTP port), headless Chromium, the hub's API, and the device page's own controls
// (enrol from a config, roll a model out, run the inference form).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { startHub, type Hub, type HubOptions } from '@edgefleet/hub';
// @ts-expect-error: a plain .mjs script without declarations
import { buildDevice } from '../../scripts/build.mjs';
import { CHROMIUM_ARGS, inferInPage, modelState } from './device-hub.js';

export const CHROMIUM = { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS };
// the page's controls are read the same way in every browser end-to-end test
export { inferInPage, modelState };

export const launchChromium = (): Promise<Browser> => chromium.launch(CHROMIUM);

/** One browser profile on disk: its IndexedDB and Service Worker survive closing the context (a tab closed, reopened). */
export const launchProfile = (userDataDir: string): Promise<BrowserContext> => chromium.launchPersistentContext(userDataDir, CHROMIUM);

export interface Stand {
  /** A scratch directory removed by `close()`. */
  readonly dir: string;
  /** The built device page, served by every hub started here. */
  readonly pageDir: string;
  hub: Hub | null;
  /** Start a hub serving the device page (data under `dir/hub` unless `dataDir` says otherwise). */
  start(options?: Partial<HubOptions>): Promise<Hub>;
  /** Stop the hub (its data dir stays). */
  stop(): Promise<void>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** Build the device page and make a scratch directory; `start()` a hub on it. */
export async function deviceStand(prefix = 'edgefleet-webdevice-'): Promise<Stand> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const pageDir = join(dir, 'device');
  await buildDevice({ outDir: pageDir });
  const stand: Stand = {
    dir,
    pageDir,
    hub: null,
    async start(options = {}) {
      stand.hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', devicePageDir: pageDir, ...options });
      return stand.hub;
    },
    async stop() {
      const h = stand.hub;
      stand.hub = null;
      await h?.close();
    },
    async api(method, path, body) {
      const hub = stand.hub;
      if (!hub) throw new Error('no hub running');
      const init: RequestInit = { method, headers: { authorization: `Bearer ${hub.adminToken}` } };
      if (body instanceof FormData) init.body = body;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
      const res = await fetch(`${hub.urls.http}/api/v1${path}`, init);
      return { status: res.status, body: (await res.json().catch(() => null)) as any };
    },
    async close() {
      await stand.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stand;
}

/** Open the device page, wait for its Service Worker, enrol it with a new device's config; resolves once online. */
export async function enrolDevice(stand: Stand, page: Page, deviceId: string, tags: Record<string, string> = { site: 'web' }): Promise<void> {
  await page.goto(`${stand.hub!.urls.http}/device/`);
  await page.waitForSelector('#enrol');
  await page.waitForFunction(() => document.getElementById('sw-status')?.textContent === 'works offline');
  const added = await stand.api('POST', '/devices', { id: deviceId, tags });
  expect(added.status).toBe(201);
  await page.fill('#config', JSON.stringify(added.body.agentConfig));
  await page.click('#enrol button[type=submit]');
  await expect.poll(() => page.textContent('#connection'), { timeout: 30_000 }).toBe('online');
}

/** Upload a model version and roll it out to the devices tagged `tags`. */
export async function rollOut(stand: Stand, bytes: Uint8Array, name: string, version: string, tags: Record<string, string> = { site: 'web' }): Promise<void> {
  const form = new FormData();
  form.set('file', new Blob([bytes]), 'model.onnx');
  form.set('name', name);
  form.set('version', version);
  expect((await stand.api('POST', '/models', form)).status).toBe(201);
  expect((await stand.api('POST', '/rollouts', { model: name, version, targets: { tags: [tags] } })).status).toBe(201);
}

