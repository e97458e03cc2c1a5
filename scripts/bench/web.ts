// Benchmarks of the device page (issue 12, `npm run bench -- web`), headless Chromium:
// - web.bundle_kb.{gzip,raw}: KiB of what the page loads, ort's wasm build apart (goal ≤ 250 KiB gzipped).
// Further figures (inference overhead in the worker, round trip, activation, cold start) come from the stand.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDevice, totals } from '@edgefleet/web-runtime/build';
import { median, round, type BenchEntry, type Benchmark } from './harness.js';
import { sizedClassifier, trainVibrationModels } from '../sim/models.js';
import { startWebStand, type WebStand } from './_web-stand.js';

async function bundleKb(): Promise<Record<string, BenchEntry>> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-web-'));
  try {
    const r = await buildDevice({ outDir: join(dir, 'device') });
    const t = totals(r.sizes);
    const what = "page, worker, chunks, css, index.html, sw.js; ort's wasm build apart";
    return {
      gzip: { value: round(t.gzip / 1024, 4), unit: 'KiB gz', baseline: 250, ratio: round(t.gzip / 1024 / 250, 4), note: `${what}; baseline is the goal (≤ 250 KiB gzipped)` },
      raw: { value: round(t.bytes / 1024, 4), unit: 'KiB', note: what },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const js = JSON.stringify;

/** agent.run in the worker vs bare ort-web session.run in the same worker, interleaved blocks; medians of µs/call. */
async function overhead(stand: WebStand, model: string, blocks: number, calls: number): Promise<{ agent: number; bare: number }> {
  const w = await stand.worker();
  await w.evaluate(`globalThis.probe.loadBare(${js(model)}, ${js(`${stand.base}bench/${model}.onnx`)}, ${js(stand.base + stand.built.ort)})`);
  await w.evaluate(`(async () => { await globalThis.probe.agentBlock(${js(model)}, ${calls}); await globalThis.probe.bareBlock(${js(model)}, ${calls}); })()`);
  const a: number[] = [];
  const b: number[] = [];
  for (let k = 0; k < blocks; k++) {
    a.push(await w.evaluate<number>(`globalThis.probe.agentBlock(${js(model)}, ${calls})`));
    b.push(await w.evaluate<number>(`globalThis.probe.bareBlock(${js(model)}, ${calls})`));
  }
  return { agent: median(a), bare: median(b) };
}

const overheadEntry = (r: { agent: number; bare: number }, blocks: number, calls: number, bytes: number): BenchEntry => ({
  value: round(r.agent, 4),
  unit: 'µs/call',
  baseline: round(r.bare, 4),
  ratio: round(r.agent / r.bare, 4),
  note: `median of ${blocks} interleaved blocks of ${calls} calls, in the agent's Worker (agent.run vs bare onnxruntime-web session.run, wasm, 1 thread); ${bytes} byte model; goal ratio ≤ 1.05`,
});

/** Page → worker → page: client.infer on the page minus agent.run in the worker, interleaved blocks. */
async function roundtrip(stand: WebStand, model: string, blocks: number, calls: number): Promise<BenchEntry> {
  const w = await stand.worker();
  const pageBlock = `(async () => { const c = globalThis.edgefleetClient; const t0 = performance.now(); for (let i = 0; i < ${calls}; i++) await c.infer(${js(model)}, { features: { type: 'float32', dims: [1, 6], data: new Float32Array([i % 7, 1, 2, 3, 4, 5].map((x) => x / 3)) } }); return ((performance.now() - t0) * 1000) / ${calls}; })()`;
  await stand.page.evaluate(pageBlock);
  const p: number[] = [];
  const a: number[] = [];
  for (let k = 0; k < blocks; k++) {
    p.push(await stand.page.evaluate<number>(pageBlock));
    a.push(await w.evaluate<number>(`globalThis.probe.agentBlock(${js(model)}, ${calls})`));
  }
  const pm = median(p);
  const am = median(a);
  return {
    value: round(pm - am, 4),
    unit: 'µs',
    baseline: round(am, 4),
    ratio: round(pm / am, 4),
    note: `client.infer on the page ${round(pm, 4)} µs/call minus agent.run in the worker (baseline) ${round(am, 4)} µs/call; medians of ${blocks} interleaved blocks of ${calls}; ratio = page/worker`,
  };
}

/** ms from page.reload() to the first client.infer answered (retried until the reloaded agent serves the model). */
async function reloadToFirstInference(stand: WebStand, model: string): Promise<number> {
  const t0 = performance.now();
  await stand.page.reload({ waitUntil: 'commit' });
  const ask = `(async () => { const c = globalThis.edgefleetClient; if (!c || c.role !== 'leader') return false; try { await c.infer(${js(model)}, { features: { type: 'float32', dims: [1, 6], data: new Float32Array(6) } }); return true; } catch { return false; } })()`;
  const deadline = Date.now() + 60_000;
  while (!(await stand.page.evaluate<boolean>(ask).catch(() => false))) {
    if (Date.now() > deadline) throw new Error('no inference answered within 60 s of the reload');
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

async function web(): Promise<Record<string, BenchEntry>> {
  const tiny = trainVibrationModels().v1.bytes;
  const big = sizedClassifier(5 * 1024 * 1024);
  const stand = await startWebStand({ 'tiny.onnx': tiny, 'big.onnx': big });
  const out: Record<string, BenchEntry> = {};
  try {
    const w = await stand.worker();
    await stand.push('tiny', '1.0.0', tiny);
    const tinyActive = w.evaluate(`globalThis.probe.waitInstalled('tiny', '1.0.0', 60000)`);
    await stand.rollout('tiny', '1.0.0');
    await tinyActive;
    out['infer.overhead.tiny'] = overheadEntry(await overhead(stand, 'tiny', 31, 300), 31, 300, tiny.length);
    out['worker_roundtrip_us'] = await roundtrip(stand, 'tiny', 11, 200);

    // ~5 MB: desired state (rollout created) to active, with the download phase timed in the worker
    await stand.push('big', '1.0.0', big);
    const bigActive = w.evaluate<{ activeAt: number; downloadMs: number | null }>(`globalThis.probe.waitInstalled('big', '1.0.0', 120000)`);
    const t0 = Date.now();
    await stand.rollout('big', '1.0.0');
    const t = await bigActive;
    out['activate_s'] = { value: round((t.activeAt - t0) / 1000, 4), unit: 's', note: `${big.length} byte model: POST /rollouts to active in the browser agent (download, sha256, IndexedDB, ort-web session)` };
    if (t.downloadMs !== null && t.downloadMs > 0) {
      out['download_mb_s'] = { value: round(big.length / 1e6 / (t.downloadMs / 1000), 4), unit: 'MB/s', note: `${big.length} bytes over the slot's downloading phase (${round(t.downloadMs, 4)} ms, fetch + incremental sha256), hub on loopback` };
    }
    out['infer.overhead.5mb'] = overheadEntry(await overhead(stand, 'big', 15, 100), 15, 100, big.length);
    await w.evaluate(`globalThis.probe.releaseBare()`);

    // cold start: reload with the hub up (baseline), then with the hub stopped (page from the Service Worker cache, model from IndexedDB)
    const online = await reloadToFirstInference(stand, 'tiny');
    await stand.stopHub();
    const offline = await reloadToFirstInference(stand, 'tiny');
    out['cold_start_offline_ms'] = {
      value: round(offline, 4),
      unit: 'ms',
      baseline: round(online, 4),
      ratio: round(offline / online, 4),
      note: 'page.reload() to the first client.infer answered, hub stopped (shell from the Service Worker cache, models from IndexedDB); baseline: the same reload with the hub up; two models installed (845 B and 5 MB)',
    };
  } finally {
    await stand.close();
  }
  return out;
}

export const benchmarks: Record<string, Benchmark> = {
  'web.bundle_kb': bundleKb,
  web,
};
