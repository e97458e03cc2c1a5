// The built device page in real Chromium, served by a tiny static server the way the hub serves it at
// /device: the enrolment form refuses bad configs with their code, a pasted config starts the agent in its
// module Worker, and after the server is gone a reload still opens the page and the agent (Service Worker
// cache).
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without declarations
import { buildDevice } from '../scripts/build.mjs';
import { config } from './support.js';
import { CHROMIUM } from './support/chromium.js';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };

function serve(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (!path.startsWith('/device/')) return void res.writeHead(404).end();
      const rel = normalize(path.slice('/device/'.length) || 'index.html');
      if (rel.startsWith('..')) return void res.writeHead(404).end();
      try {
        const body = await readFile(join(root, rel));
        const fixed = rel === 'index.html' || rel === 'sw.js';
        res.writeHead(200, { 'content-type': TYPES[extname(rel)] ?? 'application/octet-stream', 'cache-control': fixed ? 'no-cache' : 'public, max-age=31536000, immutable' });
        res.end(body);
      } catch {
        res.writeHead(404).end();
      }
    })();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('the device page in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-page-'));
  let server: Server | null = null;
  let browser: Browser;
  let base = '';
  beforeAll(async () => {
    await buildDevice({ outDir: join(dir, 'device')});
    server = await serve(join(dir, 'device'));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/device/`;
    browser = await chromium.launch(CHROMIUM);
  });
  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(() => r(null)) : r(null)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('enrols from a pasted config, runs the agent in its Worker, and opens again with the server gone', async () => {
    const ctx = await browser.newContext();
    ctx.setDefaultTimeout(15_000);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base);
    await page.waitForSelector('#enrol');
    await page.waitForFunction(() => document.getElementById('sw-status')?.textContent === 'works offline');

    await page.fill('#config', '{ not json');
    await page.click('#enrol button[type=submit]');
    await expect.poll(() => page.textContent('#enrol-error')).toMatch(/^BAD_JSON: not JSON/);
    await page.fill('#config', JSON.stringify({ ...config, brokers: { tcp: 'mqtt://127.0.0.1:1883' } }));
    await page.click('#enrol button[type=submit]');
    await expect.poll(() => page.textContent('#enrol-error')).toMatch(/^BAD_INPUT: .*brokers\.ws/);

    await page.fill('#config', JSON.stringify(config));
    await page.click('#enrol button[type=submit]');
    await page.waitForSelector('#models');
    await expect.poll(() => page.textContent('#role')).toBe('runs the agent');
    // the Worker started the agent and sent its first snapshot (the config names no live broker)
    await expect.poll(() => page.textContent('#connection')).toBe('offline (serving from this device)');
    expect(await page.textContent('h2 code')).toBe(config.deviceId);
    // the config is in IndexedDB, never in the URL
    expect(page.url()).toBe(base);

    // the server stops: the Service Worker serves the shell and the worker, IndexedDB the config
    server!.closeAllConnections();
    await new Promise((r) => server!.close(() => r(null)));
    server = null;
    await page.reload();
    await page.waitForSelector('#models');
    await expect.poll(() => page.textContent('#connection')).toBe('offline (serving from this device)');
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
