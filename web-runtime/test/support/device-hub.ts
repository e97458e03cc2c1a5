// The stand of the browser end-to-end tests: the device page built into a temp dir, a real hub serving it at
// /device/ (with MQTT over WebSocket at /mqtt), real Chromium, and the steps the tests take with them: the
// admin API, enrolling a tab from the config `POST /devices` returns, pushing and rolling out a model, running
// the page's inference form, asking the agent as another tab does, a bare onnxruntime-web beside it. The hub
// can be stopped and started again on the same data dir and port (offline, reconnect), and a browser profile
// kept on disk (a tab closed and reopened). `close()` takes down what `startDeviceStand` started.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { startHub, type Hub, type HubOptions } from '@edgefleet/hub';
// @ts-expect-error: a plain .mjs script without declarations
import { buildDevice } from '../../scripts/build.mjs';
import { CHROMIUM } from './chromium.js';

export interface ApiAnswer {
  status: number;
  body: any;
}

export interface DeviceStand {
  /** The running hub; throws while none runs (stopped, or the stand was started without one). */
  readonly hub: Hub;
  readonly browser: Browser;
  /** The temp dir: `device/` (the built page), `hub/` (the default data dir, `hub/artifacts/<sha256>`), profiles. */
  readonly dir: string;
  /** The device page's URL on the running hub. */
  readonly base: string;
  /** The hub's API as its admin (or as `token`): JSON (or a FormData upload) in, `{ status, body }` out. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<ApiAnswer>;
  /** Push a model version (201 expected). */
  push(name: string, version: string, bytes: Uint8Array): Promise<ApiAnswer>;
  /** Roll `name@version` out to the devices with these tags (201 expected). */
  rollout(name: string, version: string, tags: Record<string, string>): Promise<ApiAnswer>;
  /**
   * Start a hub serving the page, stopping one that runs. Options go over the stand's `hub` options and the
   * defaults (data dir `dir/hub`, port 0): the same `dataDir` and `http: '127.0.0.1:<port>'` bring a stopped hub back.
   */
  startHub(options?: Partial<HubOptions>): Promise<Hub>;
  /** Stop the hub now (its data dir and the browser stay); a no-op when none runs. */
  stopHub(): Promise<void>;
  /** A browser profile on disk (under `dir`), its IndexedDB and Service Worker kept across closing the context. */
  launchProfile(name: string): Promise<BrowserContext>;
  close(): Promise<void>;
}

export interface StandOptions {
  /** The temp dir's name prefix. */
  prefix?: string;
  /** Hub options besides the data dir, addresses and page dir (e.g. `telemetry` settings), for every hub started. */
  hub?: Partial<HubOptions>;
  /** Start the hub now (default); false: the test calls `startHub()` itself. */
  startHub?: boolean;
}

export async function startDeviceStand(options: StandOptions = {}): Promise<DeviceStand> {
  const dir = mkdtempSync(join(tmpdir(), options.prefix ?? 'edgefleet-webdevice-'));
  const pageDir = join(dir, 'device');
  let hub: Hub | null = null;
  let browser: Browser | null = null;
  const running = (): Hub => {
    if (!hub) throw new Error('no hub running');
    return hub;
  };
  const api = async (method: string, path: string, body?: unknown, token?: string): Promise<ApiAnswer> => {
    const h = running();
    const init: RequestInit = { method, headers: { authorization: `Bearer ${token ?? h.adminToken}` } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const res = await fetch(`${h.urls.http}/api/v1${path}`, init);
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };
  const stand: DeviceStand = {
    get hub() {
      return running();
    },
    get browser() {
      return browser!;
    },
    dir,
    get base() {
      return `${running().urls.http}/device/`;
    },
    api,
    async push(name, version, bytes) {
      const form = new FormData();
      form.set('file', new Blob([new Uint8Array(bytes)]), 'model.onnx');
      form.set('name', name);
      form.set('version', version);
      const r = await api('POST', '/models', form);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r;
    },
    async rollout(name, version, tags) {
      const r = await api('POST', '/rollouts', { model: name, version, targets: { tags: [tags] } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r;
    },
    async startHub(more = {}) {
      await stand.stopHub();
      hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ...options.hub, ...more, devicePageDir: pageDir });
      return hub;
    },
    async stopHub() {
      const h = hub;
      hub = null;
      await h?.close();
    },
    launchProfile: (name) => chromium.launchPersistentContext(join(dir, 'profiles', name), CHROMIUM),
    async close() {
      await browser?.close();
      browser = null;
      await stand.stopHub();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await buildDevice({ outDir: pageDir });
    if (options.startHub !== false) await stand.startHub();
    browser = await chromium.launch(CHROMIUM);
  } catch (err) {
    await stand.close();
    throw err;
  }
  return stand;
}

/**
 * A page at /device/ enrolled as `id` (tags `tags`), online: in a new browser context (its own storage: its own
 * device) unless `page` is given (e.g. one of a profile on disk). Page errors are collected in `errors`.
 */
export async function enrolDevice(stand: DeviceStand, id: string, tags: Record<string, string>, page?: Page): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  let ctx: BrowserContext;
  if (page) ctx = page.context();
  else {
    ctx = await stand.browser.newContext();
    ctx.setDefaultTimeout(30_000);
    page = await ctx.newPage();
  }
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(stand.base);
  await page.waitForSelector('#enrol');
  await page.waitForFunction(() => document.getElementById('sw-status')?.textContent === 'works offline');
  const added = await stand.api('POST', '/devices', { id, tags });
  expect(added.status).toBe(201);
  await page.fill('#config', JSON.stringify(added.body.agentConfig));
  await page.click('#enrol button[type=submit]');
  await expect.poll(() => page.textContent('#connection'), { timeout: 30_000 }).toBe('online');
  return { ctx, page, errors };
}

/** The state cell of a model in the page's models table. */
export const modelState = (page: Page, model: string): Promise<string | null> => page.textContent(`#models tbody tr[data-model=${model}] td:nth-child(2)`);

/** Run the page's (first) inference form with `text` in its first field; the output line (or error) it shows. */
export async function inferInPage(page: Page, text: string): Promise<string> {
  // the text the poll saw: a state change (a rollback, an activation) may rebuild the form, output and all, right
  // after the click — then the new form never ran and shows nothing: run it again (at most 3 times)
  let seen = '';
  for (let attempt = 1; ; attempt++) {
    const form = page.locator('#infer form').first();
    await form.locator('input').first().fill(text);
    const out = form.locator('.outputs');
    await out.evaluate((e) => (e.textContent = ''));
    await form.locator('button').click();
    try {
      await expect.poll(async () => (seen = (await out.textContent()) ?? ''), { timeout: 10_000 }).toMatch(/version|[A-Z_]+:/);
      return seen;
    } catch (err) {
      if (attempt >= 3 || seen !== '') throw err;
    }
  }
}

/** Tensors as they cross into and out of a page: plain arrays (int64 as numbers) beside type and dims; inputs are float32. */
export type PageTensors = Record<string, { type: string; dims: number[]; data: number[] }>;

/**
 * Ask the device's agent to infer as another tab of the device does: a request on the BroadcastChannel
 * `edgefleet-agent:<deviceId>` from `page` (the leader answers; its reply carries the tensors, not the
 * form's rounded text).
 */
export async function inferAsTab(page: Page, deviceId: string, model: string, inputs: PageTensors): Promise<{ version: string; outputs: PageTensors }> {
  return page.evaluate(
    ({ deviceId, model, inputs }) =>
      new Promise((resolve, reject) => {
        const channel = new BroadcastChannel(`edgefleet-agent:${deviceId}`);
        const from = `test-${Math.random().toString(36).slice(2)}`;
        const feeds = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { type: t.type, dims: t.dims, data: Float32Array.from(t.data) }]));
        channel.onmessage = (ev: MessageEvent) => {
          const m = ev.data as { kind?: string; to?: string; ok?: boolean; result?: { version: string; outputs: Record<string, { type: string; dims: number[]; data: ArrayLike<number | bigint> }> }; error?: { code: string; message: string } };
          if (m.kind !== 'reply' || m.to !== from) return;
          channel.close();
          if (!m.ok || !m.result) return reject(new Error(`${m.error?.code}: ${m.error?.message}`));
          const outputs = Object.fromEntries(Object.entries(m.result.outputs).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], data: Array.from(t.data, Number) }]));
          resolve({ version: m.result.version, outputs });
        };
        channel.postMessage({ kind: 'request', from, id: 1, request: { op: 'infer', model, inputs: feeds } });
      }),
    { deviceId, model, inputs },
  ) as Promise<{ version: string; outputs: PageTensors }>;
}

const BARE_ORT = 'bare-ort/ort.wasm.min.mjs';

/**
 * `model` on `feeds` in a bare onnxruntime-web `InferenceSession` in `page`, on the wasm build the device page
 * serves: the same engine as the agent's, without the agent. Its ESM entry (the one the bundle takes in) is put
 * beside the built page, so it loads from the page's own origin under the page's CSP.
 */
export async function bareOrtWebInPage(stand: DeviceStand, page: Page, model: Uint8Array, feeds: PageTensors): Promise<PageTensors> {
  const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  mkdirSync(join(stand.dir, 'device', dirname(BARE_ORT)), { recursive: true });
  copyFileSync(join(ortDist, basename(BARE_ORT)), join(stand.dir, 'device', BARE_ORT));
  // a string, so that vitest does not rewrite the import(); the module is left on the page's global
  await page.evaluate(`import(new URL(${JSON.stringify(BARE_ORT)}, location.href).href).then((m) => { globalThis.bareOrt = m; })`);
  return page.evaluate(
    async ({ model, feeds }) => {
      const assets = JSON.parse(document.getElementById('edgefleet-assets')!.textContent!) as { ort: string };
      const ort = (globalThis as unknown as { bareOrt: typeof import('onnxruntime-web') }).bareOrt;
      ort.env.wasm.wasmPaths = new URL(assets.ort, location.href).href;
      ort.env.wasm.numThreads = 1;
      const session = await ort.InferenceSession.create(Uint8Array.from(model));
      const inputs = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor('float32', Float32Array.from(t.data), t.dims)]));
      const out = (await session.run(inputs)) as unknown as Record<string, { type: string; dims: readonly number[]; data: ArrayLike<number | bigint> }>;
      await session.release();
      return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], data: Array.from(t.data, Number) }]));
    },
    { model: Array.from(model), feeds },
  );
}

/** Records in these object stores of a device's IndexedDB (read in its page, beside the running agent). */
export const idbCount = (page: Page, deviceId: string, stores: string[]): Promise<number> =>
  page.evaluate(
    async ({ name, stores }) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      try {
        let n = 0;
        for (const s of stores) {
          if (!db.objectStoreNames.contains(s)) continue;
          n += await new Promise<number>((resolve, reject) => {
            const r = db.transaction(s, 'readonly').objectStore(s).count();
            r.onsuccess = () => resolve(r.result);
            r.onerror = () => reject(r.error);
          });
        }
        return n;
      } finally {
        db.close();
      }
    },
    { name: `edgefleet-agent:${deviceId}`, stores },
  );
