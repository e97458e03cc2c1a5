// The device page bundle: hashed asset names, an index.html and a Service Worker shell that name only files
// the build wrote, ort's simd-threaded wasm build and no other variant, and the size goal.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without declarations
import { buildDevice, contributors, totals } from '../scripts/build.mjs';

interface Built {
  outDir: string;
  page: string;
  worker: string;
  css: string;
  ort: string;
  sizes: { file: string; bytes: number; gzip: number }[];
  metafile: unknown;
}

describe('the device page build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-device-'));
  const outDir = join(dir, 'device');
  let r: Built;
  beforeAll(async () => {
    r = (await buildDevice({ outDir})) as Built;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes index.html and sw.js at fixed names and everything else under assets/ with hashed names', () => {
    expect(existsSync(join(outDir, 'index.html'))).toBe(true);
    expect(existsSync(join(outDir, 'sw.js'))).toBe(true);
    expect(readdirSync(outDir).sort()).toEqual(['assets', 'index.html', 'sw.js']);
    const js = readdirSync(join(outDir, 'assets')).filter((f) => f.endsWith('.js') || f.endsWith('.css'));
    for (const f of js) expect(f).toMatch(/^(page|worker|style|chunk)-[A-Z0-9]{8}\.(js|css)$/);
    expect(r.page).toMatch(/^assets\/page-[A-Z0-9]{8}\.js$/);
    expect(r.worker).toMatch(/^assets\/worker-[A-Z0-9]{8}\.js$/);
  });

  it('copies only onnxruntime-web simd-threaded .mjs and .wasm, in a content-hashed folder', () => {
    expect(r.ort).toMatch(/^assets\/ort-[0-9a-f]{8}\/$/);
    expect(readdirSync(join(outDir, r.ort)).sort()).toEqual(['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']);
    const all = r.sizes.map((s) => s.file);
    expect(all.filter((f) => /jsep|jspi|asyncify/.test(f))).toEqual([]);
  });

  it('references from index.html only files that exist, and tells the page where the worker and ort are', () => {
    const html = readFileSync(join(outDir, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBe(2);
    for (const ref of refs) {
      expect(ref.startsWith('/device/assets/'), ref).toBe(true);
      expect(existsSync(join(outDir, ref.slice('/device/'.length))), ref).toBe(true);
    }
    expect(html).not.toContain('<base'); // the hub's CSP says base-uri 'none'
    const assets = JSON.parse(/<script type="application\/json" id="edgefleet-assets">([^<]*)<\/script>/.exec(html)![1]!) as { worker: string; ort: string };
    expect(assets.worker).toBe(r.worker);
    expect(existsSync(join(outDir, assets.worker))).toBe(true);
    expect(existsSync(join(outDir, assets.ort, 'ort-wasm-simd-threaded.wasm'))).toBe(true);
    expect(html).not.toMatch(/<script>(?!<)/); // no inline executable script: a strict CSP allows the page
  });

  it('bakes the whole shell into sw.js, each entry a file the build wrote', () => {
    const sw = readFileSync(join(outDir, 'sw.js'), 'utf8');
    const list = /\["\.\/","\.\/index\.html",[^\]]*\]/.exec(sw);
    expect(list).not.toBeNull();
    const shell = JSON.parse(list![0]) as string[];
    const assets = r.sizes.map((s) => s.file).filter((f) => f.startsWith('assets/'));
    expect(shell.slice(2).sort()).toEqual(assets.sort());
    for (const f of shell.slice(2)) expect(existsSync(join(outDir, f)), f).toBe(true);
    expect(sw).toContain('edgefleet-device-');
  });

  it('stays within 250 KB gzipped without the ort wasm build, and names what it pulls in', () => {
    const t = totals(r.sizes) as { bytes: number; gzip: number };
    const top = (contributors(r.metafile) as [string, number][]).slice(0, 6);
    console.log(`device bundle ${(t.bytes / 1024).toFixed(1)} KiB raw, ${(t.gzip / 1024).toFixed(1)} KiB gzipped; top: ${top.map(([k, n]) => `${k} ${(n / 1024).toFixed(0)} KiB`).join(', ')}`);
    expect(t.gzip).toBeLessThanOrEqual(250 * 1024);
    // the page itself takes no agent core: only the worker does
    const outputs = Object.entries((r.metafile as { outputs: Record<string, { inputs: Record<string, unknown> }> }).outputs);
    const page = outputs.find(([k]) => k.endsWith(r.page));
    const worker = outputs.find(([k]) => k.endsWith(r.worker));
    expect(Object.keys(page![1].inputs).some((f) => f.includes('web-runtime/src/page/'))).toBe(true);
    expect(Object.keys(page![1].inputs).some((f) => f.includes('agent/dist/core'))).toBe(false);
    expect(Object.keys(worker![1].inputs).some((f) => f.includes('agent/dist/core'))).toBe(true);
  });
});
