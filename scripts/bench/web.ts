// Benchmarks of the device page (issue 12, `npm run bench -- web`), headless Chromium:
// - web.bundle_kb.{gzip,raw}: KiB of what the page loads, ort's wasm build apart (goal ≤ 250 KiB gzipped).
// Further figures (inference overhead in the worker, round trip, activation, cold start) come from the stand.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDevice, totals } from '@edgefleet/web-runtime/build';
import { round, type BenchEntry, type Benchmark } from './harness.js';

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

export const benchmarks: Record<string, Benchmark> = {
  'web.bundle_kb': bundleKb,
};
