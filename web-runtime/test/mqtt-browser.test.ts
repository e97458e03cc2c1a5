// The shared transport (`@edgefleet/agent/mqtt`) bundled for the browser by esbuild — mqtt.js's own
// browser build, no Node builtins — and run in real Chromium against a real hub's ws listener.

import * as esbuild from 'esbuild';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '@edgefleet/hub';
import { topics } from '@edgefleet/protocol';
import { CHROMIUM } from './support/chromium.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
let hub: Hub;
let browser: Browser;
let dataDir: string;
// a blank page on a loopback origin: Chromium's local network access checks block about:blank → 127.0.0.1
let pageServer: Server;
let pageUrl: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ef-hub-'));
  hub = await startHub({ dataDir, http: '127.0.0.1:0', mqtt: '127.0.0.1:0', ws: '127.0.0.1:0' });
  pageServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>device</title>'));
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  pageUrl = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`;
  browser = await chromium.launch(CHROMIUM);
});
afterAll(async () => {
  await browser?.close();
  await hub?.close();
  await new Promise<void>((resolve) => (pageServer ? pageServer.close(() => resolve()) : resolve()));
  rmSync(dataDir, { recursive: true, force: true });
});

/** The transport as a browser bundle (the package face, resolved like an app's bundler would: `browser` condition). */
async function bundleTransport(): Promise<string> {
  const out = await esbuild.build({
    stdin: {
      contents: "import { createMqttTransport } from '@edgefleet/agent/mqtt'; (globalThis as any).createMqttTransport = createMqttTransport;",
      resolveDir: HERE,
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

describe('mqtt transport in a browser', () => {
  it('bundles without Node builtins and talks to the hub over ws:// from a page, bytes both ways', async () => {
    const code = await bundleTransport();
    expect(code).not.toMatch(/from\s*["']node:|require\(["'](net|tls|fs)["']\)/);

    const api = (path: string, body?: unknown) =>
      fetch(`${hub.urls.http}/api/v1${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }).then((r) => r.json() as Promise<any>);
    const { agentConfig: config } = await api('/devices', { id: 'dev-browser', tags: {} });

    const page = await browser.newPage();
    try {
      await page.goto(pageUrl);
      await page.addScriptTag({ content: code });
      const result = await page.evaluate(
        async ({ url, config, keyringTopic, eventsTopic, statusTopic }) => {
          const createMqttTransport = (globalThis as any).createMqttTransport;
          const t = createMqttTransport({ urls: [url], clientId: config.deviceId, username: config.username, password: config.password, will: { topic: statusTopic, payload: 'offline', retain: true, qos: 1 } });
          const got: Array<{ topic: string; isU8: boolean; text: string }> = [];
          t.onMessage((topic: string, payload: Uint8Array) => got.push({ topic, isU8: payload instanceof Uint8Array, text: new TextDecoder().decode(payload) }));
          await new Promise<void>((resolve) => {
            t.onConnect(resolve);
            t.connect();
          });
          const subscribed = await t.subscribe([keyringTopic]);
          for (let i = 0; i < 200 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
          const event = JSON.stringify({ type: 'error', message: 'from a browser tab', at: new Date().toISOString() });
          await t.publish(eventsTopic, new TextEncoder().encode(event), { qos: 1 });
          await t.close();
          return { subscribed, got, hasBuffer: typeof (globalThis as { Buffer?: unknown }).Buffer !== 'undefined' };
        },
        { url: hub.urls.ws!, config, keyringTopic: topics.keyring(), eventsTopic: topics.events('dev-browser'), statusTopic: topics.status('dev-browser') },
      );
      expect(result.subscribed).toEqual([{ topic: topics.keyring(), ok: true }]);
      expect(result.got[0]).toMatchObject({ topic: topics.keyring(), isU8: true });
      expect(JSON.parse(result.got[0]!.text)).toBeTypeOf('object');
      expect(result.hasBuffer).toBe(false); // the bundle brought its own, the page has none

      let messages: string[] = [];
      for (let i = 0; i < 200 && messages.length === 0; i++) {
        messages = ((await api('/devices/dev-browser')).events ?? []).map((e: { message: string }) => e.message);
        if (messages.length === 0) await new Promise((r) => setTimeout(r, 25));
      }
      expect(messages).toEqual(['from a browser tab']);
    } finally {
      await page.close();
    }
  });
});
