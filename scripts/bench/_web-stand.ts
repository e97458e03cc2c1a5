// The web bench's stand (issue 12): the device page built into a temp dir with the bench's worker probe
// bundled beside it (<outDir>/bench/probe-worker.js, served at /device/bench/), a real hub serving it, real
// headless Chromium, one tab enrolled as a device and leading (the steps of web-runtime's device-hub test
// support, copied: scripts reach other packages only through their faces). Code handed to the page and
// worker is strings, as tsx would inject `__name` helpers into functions.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type Page, type Worker } from 'playwright-core';
import { startHub, type Hub } from '@edgefleet/hub';
import { buildDevice, type DeviceBuild } from '@edgefleet/web-runtime/build';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const PROBE = fileURLToPath(new URL('./_web-probe-worker.ts', import.meta.url));

export interface WebStand {
  hub: Hub | null;
  built: DeviceBuild;
  /** The device page's URL. */
  base: string;
  page: Page;
  /** The device's agent Worker, with the probe imported as `globalThis.probe`. */
  worker(): Promise<Worker>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  push(name: string, version: string, bytes: Uint8Array): Promise<void>;
  rollout(name: string, version: string): Promise<void>;
  stopHub(): Promise<void>;
  close(): Promise<void>;
}

const TAGS = { bench: 'web' };

/** Polls `expr` on the page until truthy (page.waitForFunction evals its string, which the page's CSP refuses). */
export async function waitTrue(page: Page, expr: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expr).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `files` go to <outDir>/bench/ too (model bytes for the probe's bare sessions, at `${base}bench/<name>`). */
export async function startWebStand(files: Record<string, Uint8Array> = {}): Promise<WebStand> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-webstand-'));
  let hub: Hub | null = null;
  let browser: Browser | null = null;
  const close = async () => {
    await browser?.close();
    browser = null;
    await hub?.close();
    hub = null;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const outDir = join(dir, 'device');
    const built = await buildDevice({ outDir });
    await build({
      entryPoints: [PROBE],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      conditions: ['onnxruntime-web-use-extern-wasm'],
      minify: true,
      outfile: join(outDir, 'bench', 'probe-worker.js'),
      logLevel: 'warning',
    });
    mkdirSync(join(outDir, 'bench'), { recursive: true });
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(outDir, 'bench', name), bytes);
    hub = await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', devicePageDir: outDir });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const h = hub;
    const base = `${h.urls.http}/device/`;
    const api = async (method: string, path: string, body?: unknown) => {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${h.adminToken}` } };
      if (body instanceof FormData) init.body = body;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
      const res = await fetch(`${h.urls.http}/api/v1${path}`, init);
      return { status: res.status, body: (await res.json().catch(() => null)) as any };
    };
    const expect201 = (r: { status: number; body: unknown }, what: string) => {
      if (r.status !== 201) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    };
    const ctx = await browser.newContext();
    ctx.setDefaultTimeout(60_000);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.error(`bench web: page error: ${e.message}`));
    await page.goto(base);
    await page.waitForSelector('#enrol');
    await waitTrue(page, `document.getElementById('sw-status')?.textContent === 'works offline'`);
    const added = await api('POST', '/devices', { id: 'bench-web', tags: TAGS });
    expect201(added, 'add device');
    await page.fill('#config', JSON.stringify(added.body.agentConfig));
    await page.click('#enrol button[type=submit]');
    await waitTrue(page, `document.getElementById('connection')?.textContent === 'online'`);
    await waitTrue(page, `globalThis.edgefleetClient?.role === 'leader'`);
    const stand: WebStand = {
      get hub() {
        return hub;
      },
      built,
      base,
      page,
      async worker() {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const w = page.workers().find((x) => x.url().includes('/assets/worker-'));
          if (w) {
            await w.evaluate(`(async () => { if (!globalThis.edgefleetAgent) throw new Error('agent not started'); globalThis.probe ??= await import(${JSON.stringify(`${base}bench/probe-worker.js`)}); })()`);
            return w;
          }
          if (Date.now() > deadline) throw new Error('no agent worker in the page');
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      api,
      async push(name, version, bytes) {
        const form = new FormData();
        form.set('file', new Blob([new Uint8Array(bytes)]), 'model.onnx');
        form.set('name', name);
        form.set('version', version);
        expect201(await api('POST', '/models', form), `push ${name}@${version}`);
      },
      async rollout(name, version) {
        expect201(await api('POST', '/rollouts', { model: name, version, targets: { tags: [TAGS] } }), `rollout ${name}@${version}`);
      },
      async stopHub() {
        await hub?.close();
        hub = null;
      },
      close,
    };
    return stand;
  } catch (err) {
    await close();
    throw err;
  }
}
