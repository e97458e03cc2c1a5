// A real hub serving the freshly built device page at /device (and MQTT over WebSocket at /mqtt), real
// Chromium, and an admin API client: what the end-to-end browser tests share. Pages must come from the hub's
// own /device/ (Chromium refuses a page on another origin a WebSocket to 127.0.0.1).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startHub, type Hub, type HubOptions } from '@edgefleet/hub';
// @ts-expect-error: a plain .mjs script without declarations
import { buildDevice } from '../../scripts/build.mjs';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export interface HubBrowser {
  readonly dir: string;
  readonly browser: Browser;
  /** Null once stopHub() ran. */
  hub: Hub | null;
  /** The hub's API as its admin: JSON (or a FormData upload) in, `{ status, body }` out. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  stopHub(): Promise<void>;
  close(): Promise<void>;
}

export async function startHubBrowser(prefix: string, options: Partial<HubOptions> = {}): Promise<HubBrowser> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  await buildDevice({ outDir: join(dir, 'device') });
  const self: HubBrowser = {
    dir,
    browser: undefined as unknown as Browser,
    hub: await startHub({ dataDir: join(dir, 'hub'), http: '127.0.0.1:0', mqtt: '127.0.0.1:0', devicePageDir: join(dir, 'device'), ...options }),
    async api(method, path, body, token) {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${token ?? self.hub!.adminToken}` } };
      if (body instanceof FormData) init.body = body;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
      const res = await fetch(`${self.hub!.urls.http}/api/v1${path}`, init);
      return { status: res.status, body: (await res.json().catch(() => null)) as any };
    },
    async stopHub() {
      await self.hub?.close();
      self.hub = null;
    },
    async close() {
      await self.browser?.close();
      await self.stopHub();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    (self as { browser: Browser }).browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  } catch (err) {
    await self.close();
    throw err;
  }
  return self;
}
