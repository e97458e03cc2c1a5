// Dashboard test resources: real Chromium through playwright-core (fresh profile, offline-friendly flags),
// a watcher for console errors and failed requests, screenshots under test-results/, and a small fleet of
// MQTT devices publishing real status, reported state, events and telemetry windows built with protocol.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { MqttClient } from 'mqtt';
import {
  createFeatureSummary,
  createWindow,
  featureAdd,
  histogramAdd,
  labelAdd,
  createLabelSummary,
  topics,
  type Reference,
  type ReportedState,
  type TelemetryBatch,
} from '@edgefleet/protocol';
import type { Hub } from '@edgefleet/hub';
import { createRng } from '@edgefleet/protocol/testing';
import { apiClient, connectDevice } from './helpers.js';

export const SCREENSHOTS = fileURLToPath(new URL('../../test-results/dashboard/', import.meta.url));

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (own sessionStorage), `width` px wide. */
  context(width?: number, height?: number, timezoneId?: string): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  // playwright gives every launch a fresh temporary profile (and every context its own storage)
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    browser,
    async context(width = 1280, height = 900, timezoneId?: string) {
      const ctx = await browser.newContext({ viewport: { width, height }, ...(timezoneId ? { timezoneId } : {}) });
      ctx.setDefaultTimeout(15_000);
      return ctx;
    },
    async close() {
      await browser.close();
    },
  };
}

/** Everything that went wrong on a page: console errors, uncaught exceptions, failed or refused requests. */
export function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return problems;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export async function signIn(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.fill('#token', token);
  await page.click('#signin');
  await page.waitForSelector('header.top .who');
}

/** Seeded uniform [0, 1) (mulberry32) and standard normal (Box–Muller): telemetry is reproducible. */
export function rng(seed: number): { uniform: () => number; normal: () => number } {
  const uniform = createRng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

/** Validation JSONL for the 3-feature tiny model: standard normal features, label = which class the sum favours. */
export function tinyValidation(rows: number, seed = 1): string {
  const r = rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const x = [r.normal(), r.normal(), r.normal()];
    lines.push(JSON.stringify({ inputs: { features: x }, label: x[0]! - x[1]! > 0 ? 0 : 1 }));
  }
  return lines.join('\n') + '\n';
}

export interface WindowSpec {
  model: string;
  version: string;
  start: number;
  inferences: number;
  /** Mean latency in ms (log-normal spread). */
  latencyMs: number;
  errors?: number;
  /** Per feature name: added to the standard normal values (a shift = drift). */
  shift?: Record<string, number>;
  labelled?: number;
  seed: number;
}

/** One real telemetry window: latency histogram, features binned against the reference, classes and labels. */
export function buildWindow(reference: Reference, s: WindowSpec) {
  const r = rng(s.seed);
  const w = createWindow(s.model, s.version, 'active', s.start, s.start + 60_000);
  w.inferences = s.inferences;
  for (let i = 0; i < s.inferences; i++) histogramAdd(w.latencyMs, s.latencyMs * Math.exp(0.35 * r.normal()));
  if (s.errors) w.errors = { INFERENCE_FAILED: s.errors };
  for (const f of reference.features) {
    const summary = createFeatureSummary(f.edges.length + 1);
    for (let i = 0; i < s.inferences; i++) featureAdd(summary, f.edges, f.mean + f.std * (r.normal() + (s.shift?.[f.name] ?? 0)));
    w.features[f.name] = summary;
  }
  const classes = reference.output?.kind === 'classifier' ? reference.output.classCounts.length : 2;
  const counts = new Array<number>(classes).fill(0);
  const labels = createLabelSummary();
  for (let i = 0; i < s.inferences; i++) {
    const c = r.uniform() < 0.55 ? 0 : 1;
    counts[c]!++;
    if (i < (s.labelled ?? 0)) labelAdd(labels, c, r.uniform() < 0.85 ? c : 1 - c);
  }
  w.outputs = { classCounts: counts };
  if (s.labelled) w.labels = labels;
  return w;
}

export interface FleetDevice {
  id: string;
  token: string;
  tags: Record<string, string>;
  client?: MqttClient;
  telemetrySeq: number;
}

export function reportedState(id: string, models: Record<string, { version: string; release: number; sha256: string; state?: string }>): ReportedState {
  return {
    deviceId: id,
    agentVersion: '0.1.0',
    runtime: 'onnxruntime-node',
    platform: 'linux-x64',
    desiredSequence: 1,
    keyringVersion: 1,
    models: Object.fromEntries(
      Object.entries(models).map(([m, v]) => [
        m,
        { active: { version: v.version, release: v.release, sha256: v.sha256 }, previous: null, shadow: null, pending: null, state: (v.state ?? 'active') as 'active', error: null },
      ]),
    ),
    resources: { diskFreeBytes: 8 * 2 ** 30, rssBytes: 120 * 2 ** 20, uptimeSeconds: 86_400 },
    at: new Date().toISOString(),
  };
}

/** Registers devices through the API; `online` ones connect over MQTT with a last will and say so. */
export async function registerDevices(hub: Hub, specs: Array<{ id: string; tags: Record<string, string>; online: boolean }>): Promise<FleetDevice[]> {
  const api = apiClient(hub.urls.http, hub.adminToken);
  const out: FleetDevice[] = [];
  for (const s of specs) {
    const res = await api.post('/devices', { id: s.id, tags: s.tags });
    if (res.status !== 201) throw new Error(`register ${s.id}: ${JSON.stringify(res.body)}`);
    const d: FleetDevice = { id: s.id, token: res.body.token, tags: s.tags, telemetrySeq: 0 };
    if (s.online) {
      d.client = await connectDevice(hub.urls.mqtt!, s.id, d.token, {
        will: { topic: topics.status(s.id), payload: Buffer.from('offline'), qos: 1, retain: true },
      });
      await d.client.publishAsync(topics.status(s.id), 'online', { qos: 1, retain: true });
    }
    out.push(d);
  }
  return out;
}

export async function publishTelemetry(d: FleetDevice, windows: ReturnType<typeof buildWindow>[]): Promise<void> {
  const batch: TelemetryBatch = { deviceId: d.id, seq: ++d.telemetrySeq, windows, dropped: 0 };
  await d.client!.publishAsync(topics.telemetry(d.id), JSON.stringify(batch), { qos: 1 });
}

export async function publishReported(d: FleetDevice, state: ReportedState): Promise<void> {
  await d.client!.publishAsync(topics.reported(d.id), JSON.stringify(state), { qos: 1, retain: true });
}
