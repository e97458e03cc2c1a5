// The model page's charts in real Chromium against a real hub and MQTT devices sending real telemetry:
// time axes fit minutes of data, compared versions share y scales, drifted bars stand apart, labels show whole.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Reference } from '@edgefleet/protocol';
import { buildMlpClassifier } from '@edgefleet/protocol/onnx';
import type { Hub } from '@edgefleet/hub';
import { apiClient, endClient, startTestHub, tempDir, waitFor } from './helpers.js';
import { buildWindow, launchBrowser, publishReported, publishTelemetry, registerDevices, reportedState, rng, screenshot, signIn, watch, type FleetDevice, type TestBrowser } from './dashboard-support.js';

const MINUTE = 60_000;
const FEATURES = ['rms', 'kurtosis', 'crest_factor', 'peak_frequency', 'band_energy_ratio', 'temperature'];
const DRIFTED = ['kurtosis', 'band_energy_ratio'];

function vibModel(seed: number): Uint8Array {
  const w = Float32Array.from({ length: 12 }, (_, i) => ((i * 7 + seed) % 5) / 5 - 0.4);
  return buildMlpClassifier({ weights: [w], biases: [Float32Array.from([0.1, -0.1])], metadata: { feature_names: JSON.stringify(FEATURES) } });
}

function validation(rows: number): string {
  const r = rng(3);
  const out: string[] = [];
  for (let i = 0; i < rows; i++) {
    const x = FEATURES.map(() => r.normal());
    out.push(JSON.stringify({ inputs: { features: x }, label: x[0]! > x[1]! ? 0 : 1 }));
  }
  return out.join('\n') + '\n';
}

describe('dashboard charts', () => {
  let hub: Hub;
  let dir: ReturnType<typeof tempDir>;
  let browser: TestBrowser;
  let fleet: FleetDevice[];
  let drifted: string[];

  beforeAll(async () => {
    dir = tempDir('edgefleet-charts-');
    hub = await startTestHub(dir.path);
    const admin = apiClient(hub.urls.http, hub.adminToken);
    const versions: Record<string, { release: number; sha256: string }> = {};
    let reference: Reference | undefined;
    for (const [version, seed] of [['1.0.0', 0], ['2.0.0', 1]] as const) {
      const res = await admin.pushModel(vibModel(seed), { name: 'vib', version, validation: validation(600), labels: JSON.stringify(['normal', 'fault']) });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      versions[version] = { release: res.body.release, sha256: res.body.sha256 };
      reference = res.body.manifest.reference;
    }
    expect(reference!.features.map((f) => f.name)).toEqual(FEATURES.map((f) => `features.${f}`));
    fleet = await registerDevices(hub, [
      { id: 'mill-1', tags: { site: 'a' }, online: true },
      { id: 'mill-2', tags: { site: 'a' }, online: true },
      { id: 'mill-3', tags: { site: 'b' }, online: true },
      { id: 'mill-4', tags: { site: 'b' }, online: true },
    ]);
    // three minutes of data in a one-hour range; 2.0.0 is slower and sees two features shifted
    const now = Date.now();
    for (const [i, d] of fleet.entries()) {
      const v = i < 2 ? '1.0.0' : '2.0.0';
      await publishReported(d, reportedState(d.id, { vib: { version: v, ...versions[v]! } }));
      const windows = [3, 2, 1].map((m) =>
        buildWindow(reference!, {
          model: 'vib',
          version: v,
          start: Math.floor((now - m * MINUTE) / MINUTE) * MINUTE,
          inferences: 200,
          latencyMs: v === '2.0.0' ? 30 : 5,
          labelled: 50,
          shift: v === '2.0.0' ? Object.fromEntries(DRIFTED.map((f) => [`features.${f}`, 1.5])) : {},
          seed: i * 10 + m,
        }),
      );
      await publishTelemetry(d, windows);
    }
    await waitFor(async () => {
      await hub.flush();
      const h = (await admin.get('/health?model=vib&version=2.0.0')).body;
      return h.totals?.inferences === 2 * 3 * 200;
    }, 'telemetry merged');
    drifted = (await admin.get('/health?model=vib&version=2.0.0')).body.drift.filter((d: { verdict: string }) => d.verdict === 'drift').map((d: { feature: string }) => d.feature);
    expect(drifted).toEqual(DRIFTED.map((f) => `features.${f}`));
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all((fleet ?? []).map((d) => endClient(d.client)));
    await hub?.close();
    dir?.remove();
  });

  /** Per chart of a version column: where its points lie across the plot, its y top, its category labels. */
  const charts = (page: Page, v: string) =>
    page.locator(`.version-col[data-version="${v}"] figure.chart-box`).evaluateAll((figs) =>
      figs.map((f) => {
        const svg = f.querySelector('svg.chart')!;
        const base = svg.querySelector('.axis-x .baseline')!;
        const [x1, x2] = [Number(base.getAttribute('x1')), Number(base.getAttribute('x2'))];
        const xs = [...svg.querySelectorAll('.plot path.series')].flatMap((p) => [...(p.getAttribute('d') ?? '').matchAll(/[ML]([\d.]+),/g)].map((m) => Number(m[1])));
        const yTicks = [...svg.querySelectorAll('.axis-y .tick')].map((t) => t.textContent);
        const labels = [...svg.querySelectorAll('text.category')].map((t) => {
          const r = t.getBoundingClientRect();
          return { shown: [...t.querySelectorAll('tspan')].map((s) => s.textContent).join(''), full: t.querySelector('title')?.textContent ?? '', left: r.left, right: r.right, rotated: t.hasAttribute('transform') };
        });
        return {
          title: f.querySelector('figcaption')!.textContent,
          zoom: svg.getAttribute('data-zoom'),
          span: svg.querySelector('.axis-span')?.textContent ?? '',
          cover: xs.length ? (Math.max(...xs) - Math.min(...xs)) / (x2 - x1) : 0,
          yMax: svg.getAttribute('data-y-max'),
          yTop: yTicks[yTicks.length - 1],
          xLabel: svg.querySelector('.axis-label-x')?.textContent ?? '',
          labels,
          legend: [...f.querySelectorAll('.legend .key')].map((k) => k.className),
        };
      }),
    );

  const labelsWhole = (labels: Array<{ shown: string | null; full: string; left: number; right: number; rotated: boolean }>) => {
    expect(labels.map((l) => l.shown)).toEqual(FEATURES);
    expect(labels.map((l) => l.full)).toEqual(FEATURES.map((f) => `features.${f}`));
    if (!labels[0]!.rotated) for (let i = 1; i < labels.length; i++) expect(labels[i]!.left).toBeGreaterThanOrEqual(labels[i - 1]!.right);
  };

  it('fits minutes of data to the plot width, shares y scales across compared versions, and sets drifted bars apart', async () => {
    const ctx = await browser.context(1400, 900);
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, hub.adminToken);
    await page.evaluate(() => (location.hash = '#/model/vib?v=1.0.0&v=2.0.0'));
    await page.waitForSelector('.version-col[data-version="2.0.0"] table.drift');
    const [a, b] = [await charts(page, '1.0.0'), await charts(page, '2.0.0')];
    expect(a.map((c) => c.title)).toEqual(b.map((c) => c.title));
    for (const c of [...a, ...b].filter((c) => ['Latency', 'Error rate', 'Accuracy (labelled feedback)'].includes(c.title!))) {
      // three minutes of a one-hour range: zoomed, the points span most of the width, the axis says so
      expect(c.zoom, c.title!).toBe('data');
      expect(c.cover, c.title!).toBeGreaterThan(0.8);
      expect(c.span).toMatch(/^\d+ min shown of 1 h$/);
    }
    // one y scale per chart across the two versions (2.0.0 is six times slower)
    for (const [i, c] of a.entries()) {
      expect(c.yMax, c.title!).toBe(b[i]!.yMax);
      expect(c.yTop, c.title!).toBe(b[i]!.yTop);
    }
    // drifted bars: their own class, hatched fill and word, a legend; thresholds drawn per feature
    const bars = page.locator('.version-col[data-version="2.0.0"] svg.bar-chart').first();
    const drawnBars = await bars.locator('rect.bar').evaluateAll((rs) => rs.map((r) => ({ label: r.getAttribute('data-label'), cls: r.getAttribute('class'), fill: getComputedStyle(r).fill })));
    expect(drawnBars.filter((r) => r.cls!.includes('drifted')).map((r) => r.label)).toEqual(drifted);
    expect(drawnBars.filter((r) => r.cls!.includes('stable'))).toHaveLength(FEATURES.length - drifted.length);
    const fills = new Set(drawnBars.map((r) => r.fill.startsWith('url(') ? 'hatched' : r.fill));
    expect(fills.size).toBe(2);
    expect(await bars.locator('text.flag-mark').allTextContents()).toEqual(['drifted', 'drifted']);
    expect(await bars.locator('.threshold-mark').count()).toBe(FEATURES.length);
    const barChart = b.find((c) => c.title === 'Drift per feature, whole range')!;
    expect(barChart.legend).toEqual(expect.arrayContaining(['key flagged drifted', 'key threshold', 'key s1 stable']));
    expect(barChart.xLabel).toContain('features.');
    labelsWhole(barChart.labels);
    expect(await page.locator('.version-col[data-version="1.0.0"] svg.bar-chart rect.bar.drifted').count()).toBe(0);
    await screenshot(page, 'charts-01-compare-1400');

    // the explicit range is still there: the whole hour, the data in its last minutes
    await page.selectOption('select.zoom', 'range');
    await page.waitForSelector('.version-col svg.line-chart[data-zoom="range"]');
    // the zoom attribute can land a render before the re-drawn data on a loaded machine: wait for the plot
    await expect.poll(async () => (await charts(page, '1.0.0')).find((c) => c.title === 'Latency')?.cover ?? 1, { timeout: 30_000 }).toBeLessThan(0.1);
    const whole = (await charts(page, '1.0.0')).find((c) => c.title === 'Latency')!;
    expect(whole.span).toBe('1 h');
    await screenshot(page, 'charts-02-whole-range');
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it('shows feature labels whole at phone width', async () => {
    const ctx = await browser.context(390, 844);
    const page = await ctx.newPage();
    const problems = watch(page);
    await signIn(page, hub.urls.http, hub.adminToken);
    await page.evaluate(() => (location.hash = '#/model/vib?v=2.0.0'));
    await page.waitForSelector('.version-col[data-version="2.0.0"] table.drift');
    const bar = (await charts(page, '2.0.0')).find((c) => c.title === 'Drift per feature, whole range')!;
    labelsWhole(bar.labels);
    for (const l of bar.labels) expect(l.right).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await screenshot(page, 'charts-03-phone');
    expect(problems).toEqual([]);
    await ctx.close();
  });
});
